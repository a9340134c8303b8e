"""Checkpoints: everything needed to continue a run exactly where it stopped.

One file, ``checkpoint.pt``, rewritten atomically (temp file + fsync + rename, via
:func:`reidlib.utils.io.atomic_torch_save`) at the end of every epoch, after that epoch's
evaluation, so a killed run leaves the previous epoch's checkpoint intact. It holds the model
(unwrapped from DDP, so a single process loads it), optimizer, scheduler, AMP scaler, the number
of finished epochs and iterations (the sampler position: PK batches are a pure function of
seed and epoch), the periodic evaluations, and every RNG state: Python, NumPy, torch CPU and
every CUDA device. Only tensors and primitive containers are stored, so it loads with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reidlib.utils.io import atomic_torch_save

__all__ = ["rng_state", "set_rng_state", "save_checkpoint", "load_checkpoint", "CheckpointError"]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the run."""


def rng_state() -> dict[str, Any]:
    """Every RNG state as tensors and primitives (weights_only-loadable)."""
    py = random.getstate()  # (version, tuple of 625 ints, gauss_next)
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [py[0], torch.tensor(py[1], dtype=torch.int64), py[2]],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos), int(np_has_gauss),
                  float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in keys.tolist()), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:  # another GPU count than when saved: seed what exists from what was saved
            for i in range(min(len(cuda), torch.cuda.device_count())):
                torch.cuda.set_rng_state(cuda[i], i)


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: Any, epoch: int, iteration: int, history: list[dict],
                    config_hash: str, rng: list[dict] | None = None) -> None:
    """Write the state after ``epoch`` finished epochs (``iteration`` finished iterations) atomically.

    ``rng``: every DDP rank's :func:`rng_state` in rank order (default: this process's only).
    """
    module = getattr(model, "module", model)
    atomic_torch_save({
        "format": 1,
        "config_hash": config_hash,
        "epoch": int(epoch),
        "iteration": int(iteration),
        "model": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng if rng is not None else [rng_state()],
        "history": history,
    }, path)


def load_checkpoint(path: str | Path, config_hash: str | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint (weights_only); check it belongs to the run with ``config_hash`` when given."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated file, wrong format: name it
        raise CheckpointError(f"cannot read checkpoint {path}: {e}. Delete it to restart the run "
                              "from scratch.") from e
    if config_hash is not None and ckpt.get("config_hash") != config_hash:
        raise CheckpointError(f"checkpoint {path} belongs to configuration {ckpt.get('config_hash')}, "
                              f"not {config_hash}; delete it (or its run folder) to retrain.")
    return ckpt
