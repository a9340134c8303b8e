"""Batch-hard triplet loss (Hermans et al., "In defense of the triplet loss"; amfl samples P×K).

For each anchor the farthest positive and the nearest negative in the batch (Euclidean distance,
not squared) give ``max(0, d(a, p) − d(a, n) + margin)``; the loss is the batch mean. Anchors
without a positive or without a negative in the batch are skipped (0 when none is left).
"""

from __future__ import annotations

import torch

from reidlib.losses.softmax import upcast

__all__ = ["batch_hard_triplet"]


def batch_hard_triplet(embeddings: torch.Tensor, pids: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Batch-hard triplet loss of ``embeddings`` (B × D) with identity labels ``pids`` (B)."""
    x = upcast(embeddings)
    sq = x.pow(2).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * x @ x.t()).clamp_min(1e-12)
    dist = d2.sqrt()
    same = pids[:, None] == pids[None, :]
    eye = torch.eye(len(pids), dtype=torch.bool, device=pids.device)
    pos = same & ~eye
    neg = ~same
    valid = pos.any(1) & neg.any(1)
    if not bool(valid.any()):
        return x.sum() * 0.0
    hardest_pos = dist.masked_fill(~pos, float("-inf")).amax(1)
    hardest_neg = dist.masked_fill(~neg, float("inf")).amin(1)
    losses = torch.relu(hardest_pos - hardest_neg + margin)
    return losses[valid].mean()
