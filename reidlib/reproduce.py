"""Run a paper table's rows through the engine and write its comparison with the paper.

A notebook calls :func:`reproduce` with a table id of :mod:`reidlib.tables` and its parameters; that
trains (or reuses) one run per (row, dataset, seed) with :func:`reidlib.engine.train`, compares the
records with the paper (:func:`reidlib.reports.compare`) and writes
``results/<paper>/<table>.{csv,md}`` (see :mod:`reidlib.paths` for where).

Choices:

* Datasets: ``dataset`` may be one name, a comma-separated list, or ``"all"`` — the table's own
  datasets under the ``paper`` profile, their SynthReID stand-ins (:data:`SYNTH_ANALOGUE
  <reidlib.paper_numbers.SYNTH_ANALOGUE>`) otherwise.
* Rows shared between tables are trained once (:func:`reidlib.experiments.canonical`, applied by the
  engine); a row that only adds re-ranking (amfl Table IV "+RE") is that run re-evaluated with
  re-ranking.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reidlib import experiments, paths, tables
from reidlib.engine import RunResult, evaluate_run, train
from reidlib.engine.evaluation import PER_QUERY, metric_key
from reidlib.engine.profiles import get_profile
from reidlib.engine.runs import is_finished, read_json, run_dir
from reidlib.paper_numbers import SYNTH_ANALOGUE
from reidlib.paths import figures_dir, repo_root, resolve_data_root, results_root, table_stem
from reidlib.pretrain import standin_weights
from reidlib.reports import bullets, compare, competitor_table, format_table, trend_sentences, write_table

__all__ = ["notebook_setup", "paper_dataset", "resolve_datasets", "train_run", "train_at_once", "train_runs",
           "prune_smoke_runs",
           "reproduce", "reproduce_tables", "show_tables", "show_competitors", "findings_tables",
           "paper_vs_ours_figure", "cross_domain_figures", "show", "complexity_table", "TableResult", "RECORD_COLUMNS",
           "repo_root", "figures_dir"]

RECORD_COLUMNS = ["configuration", "train_dataset", "dataset", "eval", "paper_key", "seed", "rank1", "mAP",
                  "run_dir", "hits", "ap"]

_SYNTH_TO_PAPER = {
    "synthreid": "market1501",
    "synthreid-duke": "dukemtmcreid",
    "synthreid-cuhk03": "cuhk03-detected",
    "synthreid-msmt17": "msmt17",
    "cuhk03": "cuhk03-labeled",
}


def notebook_setup() -> Path:
    """Make a notebook independent of where it was started (repo root, ``notebooks/``, nbval, JupyterLab):
    fail on a papermill parameter the notebook does not have, chdir to the repo root, silence tqdm
    bars (they carry timings); returns the root."""
    import warnings

    from reidlib.nbparams import check_injected_parameters

    check_injected_parameters()  # a misspelt papermill -p/-y name fails here, naming the known ones
    os.environ.setdefault("TQDM_DISABLE", "1")
    warnings.filterwarnings("ignore", message="IProgress not found")
    root = repo_root()
    os.chdir(root)
    return root


def paper_dataset(dataset: str) -> str | None:
    """The paper's dataset that ``dataset`` stands for (itself for a real one; None for ``folder``)."""
    if dataset in _SYNTH_TO_PAPER:
        return _SYNTH_TO_PAPER[dataset]
    return None if dataset == "folder" else dataset


def resolve_datasets(dataset: str | Sequence[str], table: str, profile: str) -> list[str]:
    """``"all"`` → the table's datasets (or stand-ins), ``"a,b"`` → ``["a", "b"]``, a list → itself."""
    if isinstance(dataset, str):
        if dataset.strip() == "all":
            t = tables.TABLES.get(table)
            if profile == "smoke" and t and t.smoke_datasets:
                return list(t.smoke_datasets)
            real = t.datasets if t and t.datasets else ("market1501",)
            if profile == "paper":
                return list(real)
            return list(dict.fromkeys(SYNTH_ANALOGUE[d] for d in real))
        items = [d.strip() for d in dataset.split(",")]
    else:
        items = [str(d).strip() for d in dataset]
    items = [d for d in items if d]
    if not items:
        raise ValueError(f"dataset parameter {dataset!r} names no dataset")
    return items


def prune_smoke_runs() -> None:
    """Remove smoke run folders of older reidlib sources (``results/tmp/runs/<other hash>``)."""
    base, current = paths.smoke_runs_base(), paths.runs_root("smoke")
    if base.is_dir() and not current.is_dir():
        for old in base.iterdir():
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)


def train_run(name: str, *, profile: str = "smoke", dataset: str = "synthreid", data_root: str | None = None,
              seed: int = 0, device: str = "auto"):
    """Train (or reuse) one run in the repo's runs folder; the engine's ``RunResult``."""
    if profile == "smoke":
        prune_smoke_runs()
    return train(name, profile=profile, dataset=dataset, data_root=resolve_data_root(data_root),
                 seed=int(seed), device=device, runs_root=paths.runs_root(profile),
                 progress=not os.environ.get("TQDM_DISABLE"))


def _percent(metrics: dict, where: str) -> tuple[float, float]:
    try:
        return 100.0 * float(metrics["rank1"]), 100.0 * float(metrics["mAP"])
    except (KeyError, TypeError) as e:
        raise KeyError(f"metrics of {where} lack rank1/mAP: {sorted(metrics) if metrics else metrics}") from e


def train_at_once(runs: Sequence[tuple[str, str, int]], *, profile: str, data_root: str | None = None,
                  device: str = "auto") -> int:
    """Train the (configuration, dataset, seed) ``runs`` side by side when their profile fixes the
    thread count (``Profile.threads``; cpu: 1): ``cores // threads`` spawned processes, each training
    one run at a time (finished runs are skipped, a run shared by two rows is trained once: its lock
    makes the second wait). The numbers are those of training one after the other, since every run
    uses the same thread count either way. Returns the number of processes used (1: nothing done
    here; :func:`reproduce` then trains them in turn)."""
    threads = {get_profile(profile, experiments.get(n).recipe).threads for n, _, _ in runs}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    jobs = 1 if None in threads or len(runs) < 2 else min(len(runs), cores // max(threads))
    if jobs < 2:
        return 1
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(train, n, profile=profile, dataset=d, data_root=resolve_data_root(data_root),
                               seed=s, device=device, runs_root=paths.runs_root(profile), progress=False)
                   for n, d, s in runs]
        for f in futures:
            f.result()
    return jobs


def train_runs(runs: Sequence[tuple[str, str, int]], *, profile: str, data_root: str | None = None,
               device: str = "auto") -> dict[tuple[str, str, int], RunResult]:
    """Train (or reuse) every (configuration, dataset, seed) of ``runs`` as :func:`reproduce` does: the
    cpu profile's ImageNet stand-in first (pretrained once, and only when a run is left to train: a
    fresh clone rebuilds a table from the committed runs without it), then side by side where the
    profile allows (:func:`train_at_once`), then each run's ``RunResult`` (finished runs are only read)."""
    todo = [(n, d, s) for n, d, s in runs if not is_finished(
        run_dir(paths.runs_root(profile), experiments.canonical(n), profile, d, int(s)), {"dataset": d})]
    for ref in {get_profile(profile, experiments.get(n).recipe).pretrained for n, _, _ in todo}:
        if ref and ref.startswith("standin-"):  # the cpu profile's stand-in, pretrained once before any row
            standin_weights(ref, progress=not os.environ.get("TQDM_DISABLE"))
    train_at_once(todo, profile=profile, data_root=data_root, device=device)
    return {(n, d, int(s)): train(n, profile=profile, dataset=d, data_root=resolve_data_root(data_root), seed=int(s),
                                  device=device, runs_root=paths.runs_root(profile),
                                  progress=not os.environ.get("TQDM_DISABLE"))
            for n, d, s in runs}


def _per_query(run_dir: Path, key: str) -> dict:
    """The run's per-query rank-1 hits and APs under ``key`` (per_query.json); {} when it has none."""
    file = Path(run_dir) / PER_QUERY
    return read_json(file).get(key, {}) if file.is_file() else {}


@dataclass
class TableResult:
    """What a notebook gets back: the table's declaration, the comparison, the raw records and where
    the table was written."""

    table: tables.Table
    frame: pd.DataFrame
    records: pd.DataFrame
    csv: Path
    md: Path

    def show(self, digits: int = 1) -> str:
        """The comparison as Markdown, rounded (the nbval-checked output of the notebooks)."""
        if "ours rank-1" not in self.frame:  # complexity table: plain numbers
            return self.frame.drop(columns=["description"], errors="ignore").to_markdown(
                index=False, floatfmt=f".{digits + 1}f")
        return format_table(self.frame, digits=digits)

    def findings(self) -> str:
        """The trend sentences as a Markdown list."""
        return bullets(trend_sentences(self.frame))

    def sweep_labels(self) -> list[str]:
        """x values of a sweep: each row's last name part ("1e-2"; "lam" dropped), "0 (none)" for a
        reference row from another table (the σ sweep's baseline without MSGR)."""
        return ["0 (none)" if n in self.table.reference else n.rsplit(".", 1)[1].removeprefix("lam")
                for n in self.frame["configuration"]]


def reproduce(table_id: str, *, profile: str = "smoke", dataset: str | Sequence[str] = "synthreid",
              data_root: str | None = None, seeds: Sequence[int] = (0,), device: str = "auto",
              rows: Sequence[str] | None = None, output_dir: str | None = None) -> TableResult:
    """Train (or reuse) every row of ``table_id`` on every dataset and seed, compare with the paper and
    write ``<results>/<paper>/<table>.{csv,md}``.

    One record per evaluation (columns :data:`RECORD_COLUMNS`, rank-1 and mAP in percent; ``hits`` and
    ``ap`` the run's per-query values from its per_query.json, for the paired CIs): ``eval`` is
    ``""``, ``"rerank"`` (rows with ``Experiment.rerank``) or ``"mq"`` (the table's extra multi-query
    evaluation); ``paper_key`` is the key of :data:`reidlib.paper_numbers.PAPER_ROWS` it is compared
    with — ``"<paper train>-><paper test>"`` for a cross-domain table, whose rows are tested on every
    dataset (those in ``in_domain_only`` on their training dataset only, as the paper's are) — and
    trained on the datasets that stand for the table's ``train_on`` only, where it has one (mmps Fig. 4).
    """
    t = tables.get(table_id)
    names = tables.rows(table_id, rows, profile)
    if profile == "smoke":
        prune_smoke_runs()
    datasets = resolve_datasets(dataset, table_id, profile)
    trains = datasets
    if t.cross_domain and t.train_on:
        trains = [d for d in datasets if paper_dataset(d) in t.train_on] or datasets[:1]
    pairs = [(n, d) for n in names for d in trains] if t.cross_domain else \
        [(n, d) for d in datasets for n in names]
    trained = train_runs([(n, d, int(s)) for n, d in pairs for s in seeds], profile=profile, data_root=data_root,
                         device=device)
    recs = []
    for name, train_ds in pairs:
        exp = experiments.get(name)
        tests = datasets if t.cross_domain and name not in t.in_domain_only else [train_ds]
        evals = ["rerank"] if exp.rerank else ["", "mq"] if t.multi_query else [""]
        for seed in seeds:
            run = trained[(name, train_ds, int(seed))]
            for test_ds, ev in ((d, e) for d in tests for e in evals):
                key = metric_key(test_ds, ev == "mq", ev == "rerank")
                m = run.metrics.get(key) or evaluate_run(run.run_dir, dataset=test_ds,
                                                         data_root=resolve_data_root(data_root),
                                                         rerank=ev == "rerank", multi_query=ev == "mq")
                r1, mAP = _percent(m, f"{run.run_dir} ({key})")
                pkey = f"{paper_dataset(train_ds)}->{paper_dataset(test_ds)}" if t.cross_domain else \
                    f"{paper_dataset(test_ds)}+mq" if ev == "mq" else paper_dataset(test_ds)
                pq = _per_query(run.run_dir, key)
                recs.append(dict(configuration=name, train_dataset=train_ds, dataset=test_ds, eval=ev,
                                 paper_key=pkey, seed=int(seed), rank1=r1, mAP=mAP, run_dir=paths.relative(run.run_dir),
                                 hits=pq.get("rank1"), ap=pq.get("ap")))
    records = pd.DataFrame(recs, columns=RECORD_COLUMNS)
    frame = compare(records, profile, stacked=t.stacked)
    stem = results_root(profile, output_dir) / t.paper / table_stem(t.short, profile)
    csv, md = write_table(frame, stem, t.title, notes=trend_sentences(frame))
    return TableResult(t, frame, records, csv, md)


def reproduce_tables(table_ids: Sequence[str], **kw) -> list[TableResult]:
    """:func:`reproduce` of each table (mmps Tables 1–3 share a notebook)."""
    return [reproduce(t, **kw) for t in table_ids]


def show_tables(results: Sequence[TableResult]) -> str:
    """Each table's title, its comparison and a blank line."""
    return "".join(f"{r.table.title}\n{r.show()}\n\n" for r in results)


def show_competitors(results: Sequence[TableResult]) -> str:
    """Each table's title and the paper's published competitor rows (none of them ours)."""
    return "".join(f"{r.table.title}\n{competitor_table(r.table.id).to_markdown(index=False)}\n\n" for r in results)


def paper_vs_ours_figure(results: Sequence[TableResult], figures: Path) -> Path:
    """One bar chart of the paper's and our rank-1 over the rows of ``results`` (mmps Tables 1–3),
    saved under :func:`reidlib.tables.figure_file` of the selection."""
    from reidlib.viz import paper_vs_ours, save_figure

    ids = [r.table.id for r in results]
    label = ", ".join(r.table.short.replace("table", "Table ") for r in results)
    fig = paper_vs_ours(pd.concat([r.frame for r in results], ignore_index=True),
                        title=f"{results[0].table.paper} {label}: paper vs ours (rank-1)")
    return save_figure(fig, figures / tables.figure_file(ids))


def findings_tables(results: Sequence[TableResult]) -> str:
    """Each table's title (italic) and its trend sentences, as Markdown."""
    return "\n\n".join(f"*{r.table.title}*\n\n{r.findings()}" for r in results)


def complexity_table(*, profile: str = "smoke", rows: Sequence[str] | None = None,
                     output_dir: str | None = None, input_size: tuple[int, int] = (256, 128),
                     accuracy: TableResult | None = None) -> TableResult:
    """amfl Table II: test-time params (M) and GMACs of each row at 256×128 (no training, so every row
    at every profile) beside the paper's params and "flops (G)" — which match multiply-accumulates
    (ResNet-50 at 256×128 ≈ 2.6 G MACs), so we compare them with our GMACs. ``accuracy``: the rows'
    trained comparison (:func:`reproduce` of ``amfl.table2``), written below the counts in the same
    file and joined to the CSV by configuration."""
    from reidlib.complexity import profile as cx
    from reidlib.paper_numbers import COMPLEXITY, paper_number
    from reidlib.utils.io import atomic_write_text

    t = tables.get("amfl.table2")
    recs = []
    for name in tables.rows(t.id, rows, "cpu"):  # the cpu profile's rows: all of them (smoke trims)
        ours = cx(name, input_size=input_size)
        paper = COMPLEXITY[name]
        num = paper_number(name, "market1501")
        recs.append({
            "configuration": name, "description": experiments.get(name).description,
            "paper params (M)": paper["params_m"], "ours params (M)": float(ours["params_m"]),
            "paper GFLOPs (= GMACs)": paper["gflops"], "ours GMACs": float(ours["gmacs"]),
            "input": f"{input_size[0]}x{input_size[1]}",
            "paper rank-1 (Market-1501)": num.rank1, "paper mAP (Market-1501)": num.mAP,
        })
    frame = pd.DataFrame(recs)
    stem = results_root(profile, output_dir) / t.paper / table_stem(t.short, profile)
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    body = frame.to_markdown(index=False, floatfmt=".2f")
    text = (f"### {t.title}\n\nDepth-50 backbones at {input_size[0]}×{input_size[1]}, test-time model (classifiers "
            "excluded); computed, not trained, so identical at every profile. The rank-1/mAP columns are the "
            "paper's (Market-1501).\n\n" + body + "\n")
    joined = frame
    if accuracy is not None:
        acc = accuracy.frame.drop(columns=["description"], errors="ignore")
        joined = frame.merge(acc, on="configuration", how="left", suffixes=("", " (accuracy)"))
        text += (f"\n#### Accuracy of the rows, trained (profile `{profile}`)\n\n{accuracy.show()}\n\n"
                 f"{accuracy.findings()}\n")
    atomic_write_text(csv, joined.to_csv(index=False, float_format="%.4f"))
    atomic_write_text(md, text)
    return TableResult(t, frame, frame, csv, md)


def cross_domain_figures(res: TableResult, figures: Path) -> list[Path]:
    """mmps Table 4's heat maps (training × testing set): the standard softmax's, and the full
    model's when it ran (not at the smoke profile); returns the files written."""
    from reidlib.viz import cross_domain_plot, save_figure

    t, ran = res.table, set(res.frame["configuration"])
    out = []
    for name, file, title in (("mmps.table4.softmax", t.figures[0], t.figure_title),
                              ("mmps.table4.best", t.figures[1],
                               "mmps Table 4 (full model, 'Ours best'; the paper has its diagonal only)")):
        if name in ran:
            out.append(save_figure(cross_domain_plot(res.frame, name, title=title), figures / file))
    return out


def show(table: str, profile: str = "cpu", output_dir: str | None = None) -> str:
    """The written Markdown of ``table`` (``"amfl/table1"``); FileNotFoundError naming the file if absent."""
    paper, _, short = table.partition("/")
    md = (results_root(profile, output_dir) / paper / table_stem(short, profile)).with_suffix(".md")
    if not md.is_file():
        raise FileNotFoundError(f"{md} not found: the notebook did not write it")
    return md.read_text(encoding="utf-8")
