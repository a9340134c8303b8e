"""Multi-process training through torchrun: DDP, synchronised BN, features gathered on rank 0.

``torchrun --nproc_per_node=N -m reidlib train NAME ...`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
:func:`setup` reads them and joins the process group (NCCL on CUDA, gloo on CPU). Each rank takes
its own share of the PK batches (``PKSampler(rank=, world_size=)`` with P/N identities per rank, so
the global batch stays P×K as in the papers' 2-GPU runs; batch-hard triplet mining is per rank),
the model is wrapped in
``DistributedDataParallel`` and, on CUDA, its BatchNorms become ``SyncBatchNorm`` (amfl §IV-A
trains on 2 GPUs with synchronised BN). On CPU (gloo) PyTorch has no SyncBatchNorm kernel, so each
process keeps its own BN statistics — the documented fallback, for tests and debugging only.

MSGR's double backprop under DDP: the penalty's ``autograd.grad`` is taken w.r.t. the tap
activations only (never parameters), so DDP's gradient hooks do not fire there; the single
``backward`` of loss + penalty then reduces every parameter gradient once. This is tested on 2
CPU processes.

Multi-node: the same command on every node with a rendezvous, e.g.
``torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500
--rdzv_id=reid1 -m reidlib train NAME --profile paper --dataset market1501``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["DistInfo", "DeviceUnavailableError", "resolve_device", "setup", "wrap_model", "gather_features", "barrier", "broadcast_object", "cleanup"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class DeviceUnavailableError(RuntimeError):
    """The asked-for device does not exist on this machine (e.g. ``--device cuda`` without CUDA)."""


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """"auto" → this rank's CUDA device when there is one, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(f"device {device!r} asked for but CUDA is not available; use --device cpu")
        if dev.index is None:
            dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    return dev


def setup(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1; return the rank info and device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), resolve_device(device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local), dev


def wrap_model(model: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """DDP (+ SyncBatchNorm on CUDA) when distributed; the model itself otherwise."""
    if not info.enabled:
        return model
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return torch.nn.parallel.DistributedDataParallel(model)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_object(obj, info: DistInfo):
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_features(feats: torch.Tensor, pids: np.ndarray, camids: np.ndarray, index: np.ndarray,
                    info: DistInfo) -> tuple[torch.Tensor, np.ndarray, np.ndarray] | None:
    """Each rank's share (rows with dataset positions ``index``) → the full set, in dataset order, on rank 0.

    Returns ``None`` on the other ranks.
    """
    if not info.enabled:
        order = np.argsort(index, kind="stable")
        return feats[torch.from_numpy(order)], pids[order], camids[order]
    box = [None] * info.world_size if info.is_main else None
    dist.gather_object((feats.cpu(), pids, camids, index), box, dst=0)
    if not info.is_main:
        return None
    f = torch.cat([b[0] for b in box])
    p, c, i = (np.concatenate([b[k] for b in box]) for k in (1, 2, 3))
    order = np.argsort(i, kind="stable")
    return f[torch.from_numpy(order)], p[order], c[order]


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
