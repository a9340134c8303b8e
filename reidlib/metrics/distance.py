"""Pairwise distances between feature sets, computed in row chunks with torch.

Which Euclidean: :func:`euclidean_distance` returns the *plain* distance ``||a - b||`` by default
and the *squared* one ``||a - b||^2`` with ``squared=True`` (the k-reciprocal re-ranking of Zhong
et al. works on squared distances). Both are computed as ``||a||^2 + ||b||^2 - 2 a.b`` (one matmul
per chunk) and clamped at 0, in float32 unless the inputs are float64. :func:`cosine_distance` is
``1 - cos(a, b)`` in [0, 2].
"""

from __future__ import annotations

import numpy as np
import torch

#: rows of ``a`` per chunk are chosen so that one chunk of the output holds about this many floats.
CHUNK_ELEMS = 1 << 24


def as_features(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """Return ``x`` as a 2-D floating CPU tensor (float32 unless it is float64); check it is finite."""
    t = torch.as_tensor(x)
    if t.dim() != 2:
        raise ValueError(f"{name} must be a 2-D (N x D) feature matrix, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"{name} must be floating point, got dtype {t.dtype}")
    t = t.detach().cpu()
    if t.dtype != torch.float64:
        t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def _check_pair(
    a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    a = as_features(a, "a")
    b = as_features(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}")
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(dtype)


def _chunk_rows(n_cols: int) -> int:
    return max(1, CHUNK_ELEMS // max(1, n_cols))


def euclidean_distance(
    a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, squared: bool = False
) -> torch.Tensor:
    """Euclidean distance matrix ``(len(a), len(b))`` — plain by default, squared if ``squared``.

    Computed chunk by chunk over the rows of ``a`` as ``||a||^2 + ||b||^2 - 2 a b^T`` clamped at 0
    (so the only full-size allocation is the output).
    """
    a, b = _check_pair(a, b)
    out = torch.empty((a.shape[0], b.shape[0]), dtype=a.dtype)
    b_sq = (b * b).sum(1)
    step = _chunk_rows(b.shape[0])
    for s in range(0, a.shape[0], step):
        ac = a[s : s + step]
        block = out[s : s + step]
        torch.mm(ac, b.t(), out=block)
        block.mul_(-2).add_((ac * ac).sum(1, keepdim=True)).add_(b_sq).clamp_(min=0)
        if not squared:
            block.sqrt_()
    return out


def cosine_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Cosine distance ``1 - a.b / (|a| |b|)`` of shape ``(len(a), len(b))``, chunked over rows of ``a``."""
    a, b = _check_pair(a, b)
    a = torch.nn.functional.normalize(a, dim=1)
    b = torch.nn.functional.normalize(b, dim=1)
    out = torch.empty((a.shape[0], b.shape[0]), dtype=a.dtype)
    step = _chunk_rows(b.shape[0])
    for s in range(0, a.shape[0], step):
        block = out[s : s + step]
        torch.mm(a[s : s + step], b.t(), out=block)
        block.neg_().add_(1)
    return out
