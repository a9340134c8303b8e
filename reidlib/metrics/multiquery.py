"""Multi-query evaluation (Market-1501's protocol; mmps Table 2).

Market-1501 ships, besides ``query/``, the hand-drawn boxes ``gt_bbox/`` of every query identity.
In its multi-query setting a query is represented by the pooled feature of its identity's images
*taken by the same camera*. Our choice: the pool is the query itself plus every ``gt_bbox`` image
with the query's pid and camera (a query with none keeps its own feature); ``mode`` is ``"mean"``
(average pooling, Market's default) or ``"max"`` (element-wise max pooling).
"""

from __future__ import annotations

import numpy as np
import torch

from reidlib.metrics.distance import as_features


def pool_multi_query(
    q_feats: torch.Tensor | np.ndarray,
    q_pids: np.ndarray,
    q_camids: np.ndarray,
    mq_feats: torch.Tensor | np.ndarray,
    mq_pids: np.ndarray,
    mq_camids: np.ndarray,
    mode: str = "mean",
) -> torch.Tensor:
    """Pooled query features (``num_query x D``, same order as ``q_feats``); see the module docstring."""
    if mode not in ("mean", "max"):
        raise ValueError(f"mode must be 'mean' or 'max', got {mode!r}")
    q = as_features(q_feats, "q_feats")
    mq = as_features(mq_feats, "mq_feats").to(q.dtype)
    if mq.shape[0] and mq.shape[1] != q.shape[1]:
        raise ValueError(f"mq_feats has dimension {mq.shape[1]} but q_feats has {q.shape[1]}")
    ids = {}
    for name, arr, n in (
        ("q_pids", q_pids, q.shape[0]),
        ("q_camids", q_camids, q.shape[0]),
        ("mq_pids", mq_pids, mq.shape[0]),
        ("mq_camids", mq_camids, mq.shape[0]),
    ):
        a = np.asarray(arr)
        if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(
                f"{name} must be a 1-D integer array of length {n}, got shape {a.shape} {a.dtype}"
            )
        ids[name] = a.astype(np.int64)
    # group id of every query's (pid, camera); mq images map to the group with the same key
    keys, q_group = np.unique(np.stack([ids["q_pids"], ids["q_camids"]], 1), axis=0, return_inverse=True)
    q_group = q_group.reshape(-1)
    mq_keys = np.stack([ids["mq_pids"], ids["mq_camids"]], 1)
    lookup = {(int(p), int(c)): g for g, (p, c) in enumerate(keys)}
    mq_group = np.array([lookup.get((int(p), int(c)), -1) for p, c in mq_keys], dtype=np.int64)
    hit = torch.from_numpy(np.flatnonzero(mq_group >= 0))
    grp = torch.from_numpy(mq_group)[hit]
    src = mq[hit]
    ng, dim = len(keys), q.shape[1]
    qg = torch.from_numpy(q_group)
    if mode == "mean":
        total = torch.zeros((ng, dim), dtype=q.dtype).index_add_(0, grp, src)
        count = torch.zeros(ng, dtype=q.dtype).index_add_(0, grp, torch.ones(len(grp), dtype=q.dtype))
        return (q + total[qg]) / (1 + count[qg])[:, None]
    best = torch.full((ng, dim), -torch.inf, dtype=q.dtype)
    best.scatter_reduce_(0, grp[:, None].expand(-1, dim), src, reduce="amax")
    return torch.maximum(q, best[qg])
