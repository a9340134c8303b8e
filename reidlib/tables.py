"""The one declaration of each paper table and figure we reproduce.

A :class:`Table` says everything the rest of the project needs to know about a table: its title, the
notebook that makes it, the make target that runs that notebook, which configurations are its rows
(:mod:`reidlib.experiments` names under its ``id``), on which datasets at each profile, and which
figures it draws. The Makefile's reproduce targets (``tables.mk``, written by
``python -m reidlib tables --makefile``), README's table of targets, the tests and
``python -m reidlib tables`` all read :data:`TABLES`. Adding a table = one declaration here (and its
rows in :mod:`reidlib.experiments`) + one notebook.
"""

from __future__ import annotations

from dataclasses import dataclass

from reidlib import experiments

__all__ = ["Table", "TABLES", "get", "rows", "figure_file", "makefile", "listing"]


@dataclass(frozen=True)
class Table:
    """One paper table or figure.

    ``datasets``: the paper's datasets (used by ``dataset="all"`` at the paper profile; their
    SynthReID stand-ins otherwise); non-empty also makes the make target's default ``DATASET=all``.
    ``smoke_rows`` / ``smoke_datasets``: what the smoke profile runs (CI must stay within minutes on
    2 cores); None / () = every row / the stand-ins. ``rows``: the configurations of a figure (a
    table's are the registry names under its ``id``). ``reference``: configurations of other tables
    run first, as the table's reference rows. ``writes_table`` False: a figure only (the target lists
    its files instead of printing a table). ``selects``: the notebook makes several tables and the
    target passes ``tables: [<id>]``. ``cross_domain``: every row is tested on every dataset it ran
    with; ``train_on``: the paper datasets a cross-domain table's rows are trained on (their stand-ins
    off the paper profile; the first dataset when none of them is given), () = every dataset.
    ``stacked``: each row's Δ is against the row above it, not the first row (a table that adds one
    component per row and claims each step, as amfl Table IV: "we gradually stack them").
    """

    id: str
    title: str
    notebook: str
    target: str
    figures: tuple[str, ...] = ()
    figure_title: str = ""
    datasets: tuple[str, ...] = ()
    smoke_rows: tuple[str, ...] | None = None
    smoke_datasets: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    reference: tuple[str, ...] = ()
    multi_query: bool = False
    cross_domain: bool = False
    in_domain_only: tuple[str, ...] = ()
    train_on: tuple[str, ...] = ()
    writes_table: bool = True
    selects: bool = False
    stacked: bool = False

    @property
    def paper(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def short(self) -> str:
        return self.id.split(".", 1)[1]


TABLES: dict[str, Table] = {t.id: t for t in (
    Table("amfl.table1", "amfl Table I — ablation of multi-scale feature learning (MSFL)", "ablation_msfl",
          "reproduce-table1", ("amfl_table1.png",), "amfl Table I: rank-1 change against row (a)",
          smoke_rows=("a", "f")),
    Table("amfl.table2", "amfl Table II — complexity of MSFL", "complexity", "reproduce-table2",
          ("amfl_table2.png",), "amfl Table II: parameters and GMACs at 256×128 (no training)",
          smoke_rows=("a", "c")),
    Table("amfl.table3", "amfl Table III — ablation of the multi-scale gradient regularizer (MSGR)", "ablation_msgr",
          "reproduce-table3", ("amfl_table3.png",), "amfl Table III: rank-1 change against row (a)",
          smoke_rows=("a", "c", "e")),
    Table("amfl.table4", "amfl Table IV — components stacked on ResNet-50, four datasets, and the published "
          "competitors", "sota", "reproduce-table4", ("amfl_table4.png",),
          "amfl Table IV: rank-1 change of each stacked component (vs the row above)",
          datasets=("market1501", "cuhk03-detected", "dukemtmcreid", "msmt17"),
          smoke_rows=("resnet50", "msgr", "rerank"), smoke_datasets=("synthreid", "synthreid-duke"), stacked=True),
    Table("amfl.fig1", "amfl Fig. 1 — retrieval lists of MSFL+MSGR", "retrieval", "reproduce-fig1",
          ("amfl_fig1.png",), "Fig. 1: top-10 of MSFL+MSGR", rows=("amfl.table4.msgr",), writes_table=False),
    Table("amfl.fig3", "amfl Fig. 3 — activation maps + Grad-CAM, baseline vs MSFL+MSGR", "activation_maps",
          "reproduce-fig3", ("amfl_fig3.png", "amfl_fig3_gradcam.png"),
          "Fig. 3: activation maps, baseline vs MSFL+MSGR", rows=("amfl.table1.a", "amfl.table4.msgr"),
          writes_table=False),
    Table("amfl.fig4", "amfl Fig. 4 — C2/P2/F2/C5/P5 activation maps of MSFL+MSGR", "activation_maps",
          "reproduce-fig4", ("amfl_fig4.png",), "Fig. 4: MSFL+MSGR feature hierarchy",
          rows=("amfl.table4.msgr",), writes_table=False),
    Table("amfl.sigma", "amfl — rank-1 against MSGR σ (first row: no MSGR)", "sweep_sigma", "reproduce-sigma",
          ("amfl_sigma.png",), "rank-1 against σ (||∇x L||₂); σ = 0 is the baseline without MSGR",
          smoke_rows=("1e-2", "1e-1"), reference=("amfl.table3.a",)),
    Table("amfl.robustness", "amfl §III-B — rank-1 / mAP of MSGR models under attack (FGSM, PGD; L∞, L2)",
          "robustness", "reproduce-robustness", ("amfl_robustness.png",),
          "queries attacked within a radius: baseline vs MSGR (input tap at σ 1e-3 / 1e-2 / 1e-1; x+C2+C3)",
          rows=("amfl.table3.a", "amfl.table3.f", "amfl.table3.c", "amfl.table3.e", "amfl.table3.j"),
          smoke_rows=("amfl.table3.a", "amfl.table3.c")),
    Table("amfl.misalignment", "amfl §I — rank-1 / mAP of CSIP and MSFL with shifted / rescaled query boxes",
          "misalignment", "reproduce-misalignment", ("amfl_misalignment.png",),
          "query boxes shifted or zoomed: baseline vs CSIP vs MSFL (Table I rows a, e, f)",
          rows=("amfl.table1.a", "amfl.table1.e", "amfl.table1.f"), smoke_rows=("amfl.table1.a", "amfl.table1.f")),
    Table("mmps.table1", "mmps Table 1 — CUHK03 (767/700)", "mmps_results", "reproduce-mmps-table1",
          ("mmps_table1.png",), datasets=("cuhk03-labeled", "cuhk03-detected"), selects=True),
    Table("mmps.table2", "mmps Table 2 — Market-1501", "mmps_results", "reproduce-mmps-table2",
          ("mmps_table2.png",), datasets=("market1501",), multi_query=True, selects=True),
    Table("mmps.table3", "mmps Table 3 — DukeMTMC-reID", "mmps_results", "reproduce-mmps-table3",
          ("mmps_table3.png",), datasets=("dukemtmcreid",), selects=True),
    Table("mmps.table4", "mmps Table 4 — cross-domain", "mmps_cross_domain", "reproduce-mmps-table4",
          ("mmps_table4.png", "mmps_table4_best.png"),
          "mmps Table 4 (standard softmax): training × testing set",
          datasets=("market1501", "dukemtmcreid", "cuhk03-detected"), smoke_rows=("softmax",),
          smoke_datasets=("synthreid", "synthreid-duke"), cross_domain=True,
          in_domain_only=("mmps.table4.best",)),
    Table("mmps.fig4", "mmps Fig. 4 — rank-1 against λ, trained on Market-1501, tested on three datasets",
          "sweep_lambda", "reproduce-mmps-lambda", ("mmps_fig4.png",),
          "rank-1 against exclusivity λ, trained on the Market-1501 domain",
          datasets=("market1501", "dukemtmcreid", "cuhk03-detected"), smoke_rows=("lam0", "lam1e-7"),
          smoke_datasets=("synthreid", "synthreid-duke"), cross_domain=True, train_on=("market1501",)),
    Table("mmps.ablation", "mmps §4.4–4.5 — ablation: part pooling, multi-scale, λ = 0, plain vs normalized softmax",
          "mmps_ablation", "reproduce-mmps-ablation", ("mmps_ablation.png",),
          "mmps ablation: rank-1 change against the full model", smoke_rows=("full", "lambda0", "softmax")),
    Table("mmps.fig1", "mmps Fig. 1 — angles between the classifiers' class weight vectors, with and without "
          "exclusivity", "mmps_weight_angles", "reproduce-mmps-fig1", ("mmps_fig1.png",),
          "mmps Fig. 1: pairwise angles between class weight vectors (all classifiers, all seeds)",
          rows=tuple(experiments.names("mmps.ablation.")), smoke_rows=("full", "lambda0", "softmax")),
)}


def get(table_id: str) -> Table:
    """The declaration of ``table_id`` (``"amfl.table1"``); unknown ids list the known ones."""
    try:
        return TABLES[table_id]
    except KeyError:
        raise KeyError(f"unknown table {table_id!r}; tables: {', '.join(TABLES)}") from None


def rows(table_id: str, only: list[str] | tuple[str, ...] | None = None, profile: str | None = None) -> list[str]:
    """Registry names of the table's rows (reference rows first), restricted to ``only`` (``["a", "e"]``
    or full names; a figure's ``rows`` also by their last part) — or, at the smoke profile, to its
    ``smoke_rows``; unknown rows raise with the valid ones listed."""
    t = get(table_id)
    for r in t.reference:
        experiments.get(r)  # unknown names raise here, before any training
    names = list(t.rows) or experiments.names(t.id + ".")
    if not names:
        raise ValueError(f"no configurations registered under {t.id!r}")
    if only is None and profile == "smoke":
        only = t.smoke_rows
    if only is None:
        return [*t.reference, *names]
    out, short = [], {n.rsplit(".", 1)[1]: n for n in names}  # a figure's rows by their last part too
    for r in only:
        full = r if r.startswith(t.id + ".") or r in names else short.get(r, f"{t.id}.{r}")
        if full not in names:
            raise ValueError(f"row {r!r} is not in {t.id}; rows: {[n.rsplit('.', 1)[1] for n in names]}")
        out.append(full)
    return [*t.reference, *out]


def figure_file(table_ids: list[str] | tuple[str, ...]) -> str:
    """One figure file per selection of mmps Tables 1–3 (``mmps_table1.png``, ``mmps_tables1-3.png``),
    so that ``make reproduce-mmps-table1`` does not overwrite the figure of all three."""
    if len(table_ids) == 1:
        return get(table_ids[0]).figures[0]
    shorts = [get(t).short for t in table_ids]
    if shorts == ["table1", "table2", "table3"]:
        return "mmps_tables1-3.png"
    return "mmps_" + "_".join(shorts) + ".png"


def _target(t: Table) -> str:
    dataset = "$(ALL_DATASETS)" if t.datasets else "$(DATASET)"
    extra = f",-y 'tables: [{t.id}]'" if t.selects else ""
    show = f"@$(SHOW) {t.paper}/{t.short}" if t.writes_table else \
        "@ls " + " ".join(f"$(FIG_DIR)/{f}" for f in t.figures)
    return (f"{t.target}: install ## {t.title} (notebooks/{t.notebook}.ipynb)\n"
            f"\t$(call papermill,{t.notebook},{t.id.replace('.', '-')},{dataset}{extra})\n\t{show}\n")


def makefile() -> str:
    """``tables.mk``: one reproduce target per declaration, and ``REPRODUCE_ALL`` (included by the Makefile)."""
    targets = " ".join(t.target for t in TABLES.values())
    return ("# Generated by `python -m reidlib tables --makefile` from reidlib/tables.py: edit that, not this.\n"
            f".PHONY: {targets}\n\nREPRODUCE_ALL := {targets}\n\n" + "\n".join(_target(t) for t in TABLES.values()))


def listing() -> str:
    """``python -m reidlib tables``: every table and figure with its target, notebook and rows."""
    lines = []
    for t in TABLES.values():
        names = rows(t.id)
        lines.append(f"{t.id:<14} make {t.target:<24} notebooks/{t.notebook}.ipynb  {t.title}")
        lines.append(f"{'':<14} rows: {', '.join(n if n in t.rows or n in t.reference else n.rsplit('.', 1)[1] for n in names)}")
        if t.figures:
            lines.append(f"{'':<14} figures: {', '.join(t.figures)}")
    return "\n".join(lines)
