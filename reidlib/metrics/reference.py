"""Reference implementations the fast metrics are checked against (tests) and timed against (bench)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["dense_re_ranking"]


def dense_re_ranking(qf, gf, k1: int = 20, k2: int = 6, lambda_value: float = 0.3) -> np.ndarray:
    """Dense k-reciprocal re-ranking (Zhong et al. 2017): N x N matrices, one row at a time, stable
    sorts for ties, exact pairwise distances (no matmul shortcut, so duplicates are at distance 0).
    The reference that :func:`reidlib.metrics.re_ranking` is tested and benchmarked against."""
    feats = torch.cat([torch.as_tensor(qf), torch.as_tensor(gf)]).double()
    nq, n = len(qf), len(feats)
    dist = (torch.cdist(feats, feats, compute_mode="donot_use_mm_for_euclid_dist") ** 2).float().numpy()
    original = (dist / dist.max(axis=0)).T  # each column by its max, transposed
    del dist
    rank = np.argsort(original, axis=1, kind="stable").astype(np.int32)
    kh = int(np.around(k1 / 2.0))
    v = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        fwd = rank[i, : k1 + 1]
        r = fwd[np.flatnonzero((rank[fwd, : k1 + 1] == i).any(1))]
        expanded = r
        for c in r:
            cf = rank[c, : kh + 1]
            rc = cf[np.flatnonzero((rank[cf, : kh + 1] == c).any(1))]
            if len(np.intersect1d(rc, r)) > 2.0 / 3 * len(rc):
                expanded = np.append(expanded, rc)
        expanded = np.unique(expanded)
        w = np.exp(-original[i, expanded])
        v[i, expanded] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(0) for i in range(n)]).astype(np.float32)
    inv = [np.flatnonzero(v[:, j]) for j in range(n)]
    jac = np.zeros((nq, n), dtype=np.float32)
    for i in range(nq):
        tmin = np.zeros(n, dtype=np.float32)
        for j in np.flatnonzero(v[i]):
            tmin[inv[j]] += np.minimum(v[i, j], v[inv[j], j])
        jac[i] = 1 - tmin / (2 - tmin)
    return (jac * (1 - lambda_value) + original[:nq] * lambda_value)[:, nq:]
