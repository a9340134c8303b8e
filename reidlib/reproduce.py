"""Run a paper table's rows through the engine and collect one record per (row, dataset, seed).

The notebooks are thin: each calls one function here, then :mod:`reidlib.reports` to compare with
the paper and write ``results/<paper>/<table>.{csv,md}``.

Choices:

* Where outputs go (:func:`results_root`): ``cpu`` tables are the committed ones, in
  ``results/<paper>/<table>.*``; ``paper``-profile tables go beside them as ``<table>-paper.*``;
  ``smoke`` tables (CI, nbval) go to the git-ignored ``results/tmp/`` so ``make test`` never
  overwrites committed results. Runs live in ``results/runs/`` (the engine's run registry).
* Datasets: ``dataset`` may be one name, a comma-separated list, or ``"all"`` — the paper table's own
  datasets under the ``paper`` profile, their SynthReID stand-ins (:data:`SYNTH_ANALOGUE
  <reidlib.paper_numbers.SYNTH_ANALOGUE>`) otherwise.
* A row is trained under its :func:`canonical` name — the first registered configuration that trains
  the same thing — so rows shared between tables are trained once; a row that only adds re-ranking
  (amfl Table IV "+RE") re-evaluates that run with ``evaluate_run(..., rerank=True)``.
* Paths are resolved against the repository root (found by walking up to ``pyproject.toml``), so
  papermill can run a notebook from the repo root or from ``notebooks/``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reidlib import experiments
from reidlib.paper_numbers import SYNTH_ANALOGUE

__all__ = [
    "repo_root",
    "results_root",
    "table_stem",
    "paper_dataset",
    "resolve_datasets",
    "table_rows",
    "run_records",
    "cross_domain_records",
    "RECORD_COLUMNS",
    "TableResult",
    "train_run",
    "canonical",
    "runs_root",
    "SMOKE_ROWS",
    "SMOKE_DATASETS",
    "notebook_setup",
    "figures_dir",
    "resolve_data_root",
    "complexity_table",
    "reproduce_table",
]

RECORD_COLUMNS = ["configuration", "train_dataset", "dataset", "eval", "paper_key", "seed", "rank1", "mAP",
                  "run_dir"]

#: The datasets of each paper table (paper profile); other profiles use their SynthReID stand-ins.
TABLE_DATASETS: dict[str, tuple[str, ...]] = {
    "amfl.table4": ("market1501", "cuhk03-detected", "dukemtmcreid", "msmt17"),
    "mmps.table1": ("cuhk03-labeled", "cuhk03-detected"),
    "mmps.table2": ("market1501",),
    "mmps.table3": ("dukemtmcreid",),
    "mmps.table4": ("market1501", "dukemtmcreid", "cuhk03-detected"),
}

#: ``"all"`` at the smoke profile, where the full set would not fit CI's minutes.
SMOKE_DATASETS: dict[str, tuple[str, ...]] = {
    "amfl.table4": ("synthreid", "synthreid-duke"),
    "mmps.table4": ("synthreid", "synthreid-duke"),
}

_SYNTH_TO_PAPER = {
    "synthreid": "market1501",
    "synthreid-duke": "dukemtmcreid",
    "synthreid-cuhk03": "cuhk03-detected",
    "synthreid-msmt17": "msmt17",
    "cuhk03": "cuhk03-labeled",
}


def repo_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The repository root: the first folder above ``start`` (default: this file) with a pyproject.toml."""
    here = Path(start or __file__).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "reidlib").is_dir():
            return d
    raise FileNotFoundError(f"no reidlib checkout (pyproject.toml + reidlib/) above {here}")


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


def resolve_data_root(data_root: str | os.PathLike[str] | None) -> str | None:
    """A relative ``data_root`` is taken relative to the repo root; None stays None (the data module
    then uses ``$REIDLIB_DATA``, else ``data/``; :func:`notebook_setup` makes that the repo's)."""
    if data_root is None or str(data_root) in ("", "None"):
        return None
    p = Path(data_root).expanduser()
    return str(p if p.is_absolute() else repo_root() / p)


def figures_dir(profile: str, output_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results/figures`` (``results/tmp/figures`` at the smoke profile, or under ``output_dir``)."""
    return results_root(profile, output_dir) / "figures"


def results_root(profile: str, output_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where tables go: ``output_dir`` if given (relative = to the repo root), else ``results/``
    (``results/tmp/`` for the smoke profile)."""
    root = repo_root()
    if output_dir is not None:
        out = Path(output_dir)
        return out if out.is_absolute() else root / out
    return root / "results" / "tmp" if profile == "smoke" else root / "results"


def table_stem(table: str, profile: str) -> str:
    """File stem of a table: ``table1`` for cpu and smoke, ``table1-paper`` for the paper profile."""
    return table if profile in ("cpu", "smoke") else f"{table}-{profile}"


def paper_dataset(dataset: str) -> str | None:
    """The paper's dataset that ``dataset`` stands for (itself for a real one; None for ``folder``)."""
    if dataset in _SYNTH_TO_PAPER:
        return _SYNTH_TO_PAPER[dataset]
    return None if dataset == "folder" else dataset


def resolve_datasets(dataset: str | Sequence[str], table: str, profile: str) -> list[str]:
    """``"all"`` → the table's datasets (or stand-ins), ``"a,b"`` → ``["a", "b"]``, a list → itself."""
    if isinstance(dataset, str):
        if dataset.strip() == "all":
            if profile == "smoke" and table in SMOKE_DATASETS:
                return list(SMOKE_DATASETS[table])
            real = TABLE_DATASETS.get(table, ("market1501",))
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


#: Rows run at the smoke profile when ``rows`` is None (CI and nbval must stay within minutes on
#: 2 cores): the table's reference row and its headline row. Any other profile runs every row.
SMOKE_ROWS: dict[str, tuple[str, ...]] = {
    "amfl.table1": ("a", "f"),
    "amfl.table3": ("a", "c", "e"),
    "amfl.table4": ("resnet50", "msgr", "rerank"),
    "amfl.sigma": ("1e-2", "1e-1"),
    "mmps.table4": ("softmax",),
    "mmps.fig4": ("lam0", "lam1e-7"),
    "mmps.ablation": ("full", "lambda0", "softmax"),
}


def table_rows(table: str, rows: Sequence[str] | None = None, profile: str | None = None) -> list[str]:
    """Registry names of ``table`` (``"amfl.table1"``), restricted to ``rows`` (``["a", "e"]`` or full
    names) when given — or, at the smoke profile, to :data:`SMOKE_ROWS`; unknown rows raise with the
    valid ones listed."""
    names = experiments.names(table + ".")
    if not names:
        raise ValueError(f"no configurations registered under {table!r}")
    if rows is None and profile == "smoke" and table in SMOKE_ROWS:
        rows = SMOKE_ROWS[table]
    if rows is None:
        return names
    out = []
    for r in rows:
        full = r if r.startswith(table + ".") else f"{table}.{r}"
        if full not in names:
            raise ValueError(f"row {r!r} is not in {table}; rows: {[n.rsplit('.', 1)[1] for n in names]}")
        out.append(full)
    return out


def _engine():
    """The training engine (imported lazily so this module loads without it)."""
    from reidlib import engine

    return engine


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(repo_root()))
    except ValueError:
        return str(path)


def _percent(metrics: dict, where: str) -> tuple[float, float]:
    try:
        return 100.0 * float(metrics["rank1"]), 100.0 * float(metrics["mAP"])
    except (KeyError, TypeError) as e:
        raise KeyError(f"metrics of {where} lack rank1/mAP: {sorted(metrics) if metrics else metrics}") from e


def canonical(name: str) -> str:
    """The first registered configuration that trains exactly what ``name`` trains (same model, loss
    and recipe; re-ranking is an evaluation option, not training). Rows that several tables share —
    amfl's baseline is Table I (a), II (a), III (a) and IV's ResNet50; mmps's full model is in Tables
    1–4, the ablation and Fig. 4 — are trained once, under the canonical name, and reused."""
    exp = experiments.get(name)
    for other in experiments.REGISTRY.values():
        if other.model == exp.model and other.loss == exp.loss and other.recipe == exp.recipe:
            return other.name
    return name


def train_run(name: str, *, profile: str = "smoke", dataset: str = "synthreid", data_root: str | None = None,
              seed: int = 0, device: str = "auto"):
    """Train (or reuse) one run in the repo's run registry (under :func:`canonical` ``(name)``); the
    engine's ``RunResult``."""
    return _train(canonical(name), profile=profile, dataset=dataset, data_root=data_root, seed=int(seed), device=device)


def _train(name: str, *, profile: str, dataset: str, data_root, seed: int, device: str):
    import inspect

    train = _engine().train
    kw = {}
    if os.environ.get("TQDM_DISABLE") and "progress" in inspect.signature(train).parameters:
        kw["progress"] = False  # notebooks: no progress bars (they carry timings) in the outputs
    return train(name, profile=profile, dataset=dataset, data_root=resolve_data_root(data_root), seed=seed,
                 device=device, runs_root=str(runs_root(profile)), **kw)


#: Modules that present results but do not change what a run computes (left out of the smoke hash).
_NOT_TRAINING = {"viz", "bench", "reports.py", "reproduce.py", "paper_numbers.py", "nbtools.py"}


def _source_hash() -> str:
    import hashlib

    h = hashlib.sha256()
    pkg = repo_root() / "reidlib"
    for f in sorted(pkg.rglob("*.py")):
        rel = f.relative_to(pkg).as_posix()
        if rel.split("/")[0] in _NOT_TRAINING:
            continue
        h.update(f.relative_to(pkg).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def runs_root(profile: str) -> Path:
    """Where runs live: ``results/runs`` — except at the smoke profile, ``results/tmp/runs/<hash of
    reidlib's source>``: the engine reuses a finished run whose *configuration* is unchanged, so
    without the source hash a change to a loss or model would not retrain the smoke runs and nbval
    would compare stale numbers. Older smoke run folders are removed when a new hash appears."""
    root = repo_root()
    if profile != "smoke":
        return root / "results" / "runs"
    base = root / "results" / "tmp" / "runs"
    current = base / _source_hash()
    if not current.is_dir() and base.is_dir():
        import shutil

        for old in base.iterdir():
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    return current


def run_records(names: Sequence[str], datasets: Sequence[str], *, profile: str = "smoke",
                seeds: Sequence[int] = (0,), data_root: str | None = None, device: str = "auto",
                multi_query: bool = False) -> pd.DataFrame:
    """Train (or reuse) every ``name`` on every dataset and seed; one record per evaluation.

    Records (columns :data:`RECORD_COLUMNS`): rank-1 and mAP in percent; ``eval`` is ``""``,
    ``"rerank"`` (rows with ``Experiment.rerank``) or ``"mq"`` (an extra multi-query evaluation when
    ``multi_query`` and the dataset has ``gt_bbox``); ``paper_key`` is the key of
    :data:`reidlib.paper_numbers.PAPER_ROWS` the record is compared with.
    """
    recs = []
    for ds in datasets:
        pds = paper_dataset(ds)
        for name in names:
            exp = experiments.get(name)
            source = canonical(name)
            for seed in seeds:
                run = _train(source, profile=profile, dataset=ds, data_root=data_root, seed=int(seed),
                             device=device)
                base = dict(configuration=name, train_dataset=ds, dataset=ds, seed=int(seed),
                            run_dir=_rel(run.run_dir))
                if exp.rerank:
                    m = run.metrics.get(f"{ds}+rerank") or \
                        _engine().evaluate_run(run.run_dir, dataset=ds, data_root=data_root, rerank=True)
                    r1, mAP = _percent(m, f"{run.run_dir} (re-ranked)")
                    recs.append({**base, "eval": "rerank", "paper_key": pds, "rank1": r1, "mAP": mAP})
                    continue
                m = run.metrics.get(ds) or _engine().evaluate_run(run.run_dir, dataset=ds, data_root=data_root)
                r1, mAP = _percent(m, str(run.run_dir))
                recs.append({**base, "eval": "", "paper_key": pds, "rank1": r1, "mAP": mAP})
                if multi_query:
                    m = _engine().evaluate_run(run.run_dir, dataset=ds, data_root=data_root, multi_query=True)
                    r1, mAP = _percent(m, f"{run.run_dir} (multi-query)")
                    recs.append({**base, "eval": "mq", "paper_key": f"{pds}+mq", "rank1": r1, "mAP": mAP})
    return pd.DataFrame(recs, columns=RECORD_COLUMNS)


def cross_domain_records(names: Sequence[str], datasets: Sequence[str], *, profile: str = "smoke",
                         seeds: Sequence[int] = (0,), data_root: str | None = None, device: str = "auto",
                         in_domain_only: Sequence[str] = ()) -> pd.DataFrame:
    """mmps Table 4: train each ``name`` on each dataset and test it on every dataset (``evaluate_run``).

    Names in ``in_domain_only`` ("Ours best") are tested on their training dataset only, as the paper's
    row is. ``paper_key`` is ``"<paper train>-><paper test>"``.
    """
    recs = []
    for name in names:
        for train_ds in datasets:
            for seed in seeds:
                run = _train(canonical(name), profile=profile, dataset=train_ds, data_root=data_root,
                             seed=int(seed), device=device)
                tests = [train_ds] if name in in_domain_only else list(datasets)
                for test_ds in tests:
                    m = run.metrics.get(test_ds) if test_ds == train_ds else None
                    if m is None:
                        m = _engine().evaluate_run(run.run_dir, dataset=test_ds, data_root=data_root)
                    r1, mAP = _percent(m, f"{run.run_dir} on {test_ds}")
                    recs.append(dict(configuration=name, train_dataset=train_ds, dataset=test_ds, eval="",
                                     paper_key=f"{paper_dataset(train_ds)}->{paper_dataset(test_ds)}",
                                     seed=int(seed), rank1=r1, mAP=mAP, run_dir=_rel(run.run_dir)))
    return pd.DataFrame(recs, columns=RECORD_COLUMNS)



@dataclass
class TableResult:
    """What a notebook gets back: the comparison, the raw records and where the table was written."""

    frame: pd.DataFrame
    records: pd.DataFrame
    csv: Path
    md: Path

    def show(self, digits: int = 1) -> str:
        """The comparison as Markdown, rounded (the nbval-checked output of the notebooks)."""
        from reidlib.reports import format_table

        if "ours rank-1" not in self.frame:  # complexity table: plain numbers
            return self.frame.drop(columns=["description"], errors="ignore").to_markdown(
                index=False, floatfmt=f".{digits + 1}f")
        return format_table(self.frame, digits=digits)


def reproduce_table(table: str, title: str, *, profile: str = "smoke", dataset: str | Sequence[str] = "synthreid",
                    data_root: str | None = None, seeds: Sequence[int] = (0,), device: str = "auto",
                    rows: Sequence[str] | None = None, output_dir: str | None = None, multi_query: bool = False,
                    cross_domain: bool = False, in_domain_only: Sequence[str] = (), file_stem: str | None = None,
                    notes: Sequence[str] = (), reference: Sequence[str] = ()) -> TableResult:
    """Run ``table``'s rows (``"amfl.table1"``) and write the comparison to
    ``<results>/<paper>/<file_stem or table>.{csv,md}`` (see :func:`results_root`).

    ``reference``: registry names from other tables run first, as the table's first rows — e.g. the
    σ sweep starts from ``amfl.table3.a`` (no MSGR), so its rows are compared with the baseline."""
    from reidlib.reports import compare, trend_sentences, write_table

    for r in reference:
        experiments.get(r)  # unknown names raise here, before any training
    names = [*reference, *table_rows(table, rows, profile)]
    data_root = resolve_data_root(data_root)
    datasets = resolve_datasets(dataset, table, profile)
    seeds = [int(s) for s in seeds]
    if cross_domain:
        recs = cross_domain_records(names, datasets, profile=profile, seeds=seeds, data_root=data_root,
                                    device=device, in_domain_only=[n for n in names if n in in_domain_only])
    else:
        recs = run_records(names, datasets, profile=profile, seeds=seeds, data_root=data_root, device=device,
                           multi_query=multi_query)
    frame = compare(recs, profile)
    paper, short = table.split(".", 1)
    stem = results_root(profile, output_dir) / paper / table_stem(file_stem or short, profile)
    csv, md = write_table(frame, stem, title, notes=[*notes, *trend_sentences(frame)])
    return TableResult(frame, recs, csv, md)


def complexity_table(title: str, *, profile: str = "smoke", rows: Sequence[str] | None = None,
                     output_dir: str | None = None, input_size: tuple[int, int] = (256, 128)) -> TableResult:
    """amfl Table II: test-time params (M) and GMACs of each row at 256×128 (no training) beside the
    paper's params and "flops (G)" — which match multiply-accumulates (ResNet-50 at 256×128 ≈ 2.6 G
    MACs), so we compare them with our GMACs."""
    from reidlib.complexity import profile as cx
    from reidlib.paper_numbers import COMPLEXITY, paper_number
    from reidlib.utils.io import atomic_write_text

    recs = []
    for name in table_rows("amfl.table2", rows, profile):
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
    stem = results_root(profile, output_dir) / "amfl" / table_stem("table2", profile)
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    atomic_write_text(csv, frame.to_csv(index=False, float_format="%.4f"))
    body = frame.to_markdown(index=False, floatfmt=".2f")
    atomic_write_text(md, f"### {title}\n\nDepth-50 backbones at {input_size[0]}×{input_size[1]}, test-time "
                          "model (classifiers excluded); computed, not trained, so identical at every profile. "
                          "The rank-1/mAP columns are the paper's (Market-1501).\n\n" + body + "\n")
    return TableResult(frame, frame, csv, md)
