"""Softmax cross-entropy (mmps Eq. 1 and Eq. 2; the heads are in :mod:`reidlib.models.heads`).

:func:`cross_entropy` is the softmax cross-entropy with optional label smoothing (amfl does not use
it, §IV-A; it is a named ``LossSpec`` field, 0 by default).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reidlib.models.heads import upcast

__all__ = ["cross_entropy", "upcast"]


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Batch-mean softmax cross-entropy (at least float32), optional label smoothing ε (targets (1-ε)+ε/N)."""
    return F.cross_entropy(upcast(logits), targets, label_smoothing=label_smoothing)
