"""Where things live: the repository root, results, figures, runs. Pure functions (nothing created or
deleted here; :func:`reidlib.reproduce.prune_smoke_runs` removes stale smoke runs).

* ``cpu`` tables are the committed ones, in ``results/<paper>/<table>.*``; ``paper``-profile tables go
  beside them as ``<table>-paper.*``; ``smoke`` tables (CI, nbval) go to the git-ignored
  ``results/tmp/`` so ``make test`` never overwrites committed results; ``output_dir`` moves them all.
* Runs live in ``results/runs/`` — at the smoke profile in ``results/tmp/runs/<hash of reidlib's
  training source>``: the engine reuses a finished run whose *configuration* is unchanged, so without
  the source hash a change to a loss or model would not retrain the smoke runs and nbval would
  compare stale numbers.
* Relative paths are taken against the repository root (found by walking up to ``pyproject.toml``),
  so papermill can run a notebook from the repo root or from ``notebooks/``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["repo_root", "results_root", "figures_dir", "table_stem", "runs_root", "smoke_runs_base",
           "resolve_data_root", "relative"]

#: Modules that present results but do not change what a run computes (left out of the smoke hash).
_NOT_TRAINING = {"viz", "bench", "reports.py", "reproduce.py", "paper_numbers.py", "nbtools.py", "tables.py",
                 "paths.py", "__main__.py", "weight_angles.py"}


def repo_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The repository root: the first folder above ``start`` (default: this file) with a pyproject.toml."""
    here = Path(start or __file__).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "reidlib").is_dir():
            return d
    raise FileNotFoundError(f"no reidlib checkout (pyproject.toml + reidlib/) above {here}")


def results_root(profile: str, output_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where tables go: ``output_dir`` if given (relative = to the repo root), else ``results/``
    (``results/tmp/`` for the smoke profile)."""
    root = repo_root()
    if output_dir is not None:
        out = Path(output_dir)
        return out if out.is_absolute() else root / out
    return root / "results" / "tmp" if profile == "smoke" else root / "results"


def figures_dir(profile: str, output_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results/figures`` (``results/tmp/figures`` at the smoke profile, or under ``output_dir``)."""
    return results_root(profile, output_dir) / "figures"


def table_stem(table: str, profile: str) -> str:
    """File stem of a table: ``table1`` for cpu and smoke, ``table1-paper`` for the paper profile."""
    return table if profile in ("cpu", "smoke") else f"{table}-{profile}"


def _source_hash() -> str:
    h = hashlib.sha256()
    pkg = repo_root() / "reidlib"
    for f in sorted(pkg.rglob("*.py")):
        rel = f.relative_to(pkg).as_posix()
        if rel.split("/")[0] in _NOT_TRAINING:
            continue
        h.update(rel.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def smoke_runs_base() -> Path:
    """``results/tmp/runs``: the parent of the source-hashed smoke run folders."""
    return repo_root() / "results" / "tmp" / "runs"


def runs_root(profile: str) -> Path:
    """``results/runs``; at the smoke profile ``results/tmp/runs/<hash of reidlib's training source>``."""
    if profile != "smoke":
        return repo_root() / "results" / "runs"
    return smoke_runs_base() / _source_hash()


def standin_file(ref: str) -> Path:
    """Where the ImageNet stand-in that ``Profile.pretrained`` names (``"standin-<digest>"``) keeps its
    backbone: ``results/pretrain/<digest>/backbone.pt``, written by :mod:`reidlib.pretrain`."""
    return repo_root() / "results" / "pretrain" / ref.removeprefix("standin-") / "backbone.pt"


def resolve_data_root(data_root: str | os.PathLike[str] | None) -> str | None:
    """A relative ``data_root`` is taken relative to the repo root; None stays None (the data module
    then uses ``$REIDLIB_DATA``, else ``data/``)."""
    if data_root is None or str(data_root) in ("", "None"):
        return None
    p = Path(data_root).expanduser()
    return str(p if p.is_absolute() else repo_root() / p)


def relative(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the repo root when it is inside it (what tables and notebooks print)."""
    try:
        return str(Path(path).resolve().relative_to(repo_root()))
    except ValueError:
        return str(path)
