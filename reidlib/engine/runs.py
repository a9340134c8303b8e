"""The run registry: one folder per (configuration, profile, dataset, seed), reused, never mixed.

``<runs_root>/<config>/<profile>-<dataset>-s<seed>/`` holds

* ``config.json`` — the experiment (``Experiment.to_dict()``) and its ``config_hash()``, the profile
  (every field), the model spec actually built (the configuration's with the profile's overrides),
  dataset, seed and ``hash``: a digest of all of these (the experiment's name and description
  excluded, and informational keys such as ``data_root``, ``device``, ``world_size``). It is written before training starts.
* ``log.csv`` — one row per iteration; ``history.json`` — the periodic evaluations;
* ``checkpoint.pt`` — the last epoch's state (see :mod:`reidlib.engine.checkpoint`);
* ``metrics.json`` — ``{"<dataset>": evaluate-dict, "<dataset>+rerank": ..., ...}``, written when
  training has finished; its presence with the training dataset's key marks a finished run.

A finished run is reused, never retrained; a configuration registered under several names (amfl
Table I (a) = Table III (a) = Table IV "resnet50") is trained once, in the folder of the first of
them (:func:`reidlib.experiments.canonical`). The same name with a different configuration (the
registry entry, the profile or the code defaults changed) is refused with an error naming the
folder to delete. A run folder is written by one process at a time (:func:`locked`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reidlib.utils.io import atomic_write_text

__all__ = ["RunConfigMismatchError", "run_dir", "config_hash", "read_json", "write_json", "prepare",
           "is_finished", "locked", "CONFIG", "METRICS", "CHECKPOINT", "LOG", "HISTORY"]

CONFIG = "config.json"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
LOG = "log.csv"
HISTORY = "history.json"
# config.json keys that describe a run without changing what it trains (not hashed)
_INFO_KEYS = ("hash", "name", "experiment", "data_root", "num_classes", "world_size", "device", "copied_from",
              "cpu_autocast_used")


class RunConfigMismatchError(RuntimeError):
    """A run folder exists for this name but was made by a different configuration."""


def run_dir(runs_root: str | Path, name: str, profile: str, dataset: str, seed: int) -> Path:
    """``<runs_root>/<name>/<profile>-<dataset>-s<seed>``."""
    return Path(runs_root) / name / f"{profile}-{dataset}-s{seed}"


def config_hash(config: dict) -> str:
    """sha256 (16 hex digits) of the config without its informational keys."""
    d = {k: v for k, v in config.items() if k not in _INFO_KEYS}
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise RuntimeError(f"{path} is not valid JSON ({e}); delete it to let the run rewrite it") from e


def write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False, default=float) + "\n")


def is_finished(path: Path, config: dict) -> bool:
    """True when ``metrics.json`` holds the training dataset's final evaluation."""
    m = Path(path) / METRICS
    return m.exists() and config["dataset"] in read_json(m)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on run folder ``path`` (``.<folder>.lock`` beside it) until the block
    ends: two processes never train into one folder; the second waits, then finds the run finished.
    The operating system releases the lock when the holder dies (a killed run can be resumed). A
    block that created no run folder (refused before any work) leaves no lock file or folder behind."""
    import fcntl
    import os

    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    made = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # the lock file may be removed by a holder that wrote nothing: lock the current one
        fh = open(lock, "a")
        fcntl.flock(fh, fcntl.LOCK_EX)
        if lock.exists() and os.fstat(fh.fileno()).st_ino == os.stat(lock).st_ino:
            break
        fh.close()
    try:
        yield
    finally:
        if not path.exists():
            lock.unlink(missing_ok=True)
            for d in made:
                try:
                    d.rmdir()
                except OSError:
                    break
        fh.close()


def prepare(path: Path, config: dict, write: bool = True) -> str:
    """Check ``path`` against ``config`` (which gets its ``hash``); returns "new" | "resume" | "finished".

    Raises :class:`RunConfigMismatchError` when ``path/config.json`` has another hash. ``write``
    (False on non-zero DDP ranks) writes config.json for a new run.
    """
    path = Path(path)
    config["hash"] = config_hash(config)
    cfg_file = path / CONFIG
    if cfg_file.exists():
        old = read_json(cfg_file)
        if old.get("hash") != config["hash"]:
            changed = sorted(k for k in set(old) | set(config)
                             if k not in _INFO_KEYS and old.get(k) != config.get(k))
            raise RunConfigMismatchError(
                f"{path} was trained with a different configuration (hash {old.get('hash')} there, "
                f"{config['hash']} now; differing: {', '.join(changed) or 'hash'}). Results are never "
                f"mixed: delete the folder ({path}) to retrain, or keep it and use another seed or runs_root."
            )
        return "finished" if is_finished(path, old) else "resume"
    if write:
        path.mkdir(parents=True, exist_ok=True)
        write_json(cfg_file, config)
    return "new"
