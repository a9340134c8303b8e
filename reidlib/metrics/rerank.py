"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal
Encoding", CVPR 2017) without any dense N x N matrix (N = num_query + num_gallery).

The algorithm is the paper's (and its reference code's), step by step:

1. original distance: squared Euclidean distance of the concatenated query + gallery features,
   each column divided by its maximum (``original_dist / max(axis=0)``, transposed). The squared
   distance is symmetric, so row ``i`` of the result is row ``i`` of the distance divided by the
   row's own maximum — which we compute chunk by chunk over full rows.
2. ``initial_rank``: each row's nearest neighbours. We keep only the first ``max(k1 + 1, k2)``
   (``torch.topk`` per chunk of rows); ties are broken by the lower index (a stable sort), as in the
   dense reference in the tests and the bench.
3. k-reciprocal set ``R(i, k1)`` = the ``k1 + 1`` nearest neighbours ``j`` of ``i`` that have ``i`` among
   their own ``k1 + 1`` nearest (eq. 3-4); expanded by ``R(c, round(k1 / 2))`` of every candidate
   ``c`` in it whose set overlaps ``R(i, k1)`` in more than 2/3 of its elements (eq. 12).
4. ``V[i, j] = exp(-d(i, j)) / sum`` over the expanded set (eq. 7), stored as a sparse matrix
   (scipy CSR, ~k entries per row); local query expansion: ``V[i] = mean(V[initial_rank[i, :k2]])``.
5. Jaccard distance via the inverted index (eq. 10-11), only for the query x gallery block:
   ``1 - sum min(V_q, V_g) / (2 - sum min(V_q, V_g))``; final = ``jaccard (1 - lambda) + original lambda``
   (eq. 13).

Memory: features, the ``N x max(k1 + 1, k2)`` neighbour lists, sparse ``V`` and the ``q x g`` output.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from reidlib.metrics.distance import as_features

#: distance-matrix entries per chunk of rows in the neighbour pass.
CHUNK_ELEMS = 1 << 23
#: extra neighbours fetched by ``topk`` so that ties at the cut-off can be ordered by index.
TIE_MARGIN = 8


def _sorted_neighbours(
    feats: torch.Tensor, nrm: torch.Tensor, kn: int, nq: int, out: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """First ``kn`` neighbours of every row (stable order) and each row's maximum squared distance.

    Writes the normalised query x gallery block of the original distance into ``out``. Per chunk of
    rows, one ``addmm`` gives ``h[i, j] = |f_j|^2 - 2 f_i.f_j`` (= squared distance - |f_i|^2, same
    order along a row); ``topk`` then runs on ``h``, and only the fetched neighbours are turned into
    normalised distances ``clamp(h + |f_i|^2, 0) / rowmax``, on which ties are ordered by index.
    """
    n = feats.shape[0]
    nbr = torch.empty((n, kn), dtype=torch.int64)
    rowmax = torch.empty(n, dtype=feats.dtype)
    kk = min(kn + TIE_MARGIN, n)
    step = max(1, CHUNK_ELEMS // n)
    for s in range(0, n, step):
        e = min(n, s + step)
        ar = torch.arange(e - s)
        own = nrm[s:e, None]
        h = torch.addmm(nrm[None, :], feats[s:e], feats.t(), alpha=-2)
        h[ar, ar + s] = -nrm[s:e]  # the exact self-distance 0
        mx = (h.amax(1, keepdim=True) + own).clamp_(min=0)
        mx = torch.where(mx > 0, mx, torch.ones_like(mx))
        rowmax[s:e] = mx[:, 0]
        if s < nq:
            m = min(e, nq) - s
            out[s : s + m] = (h[:m, nq:] + own[:m]).clamp_(min=0).div_(mx[:m]).numpy()
        hv, idx = torch.topk(h, kk, dim=1, largest=False, sorted=True)
        vals = (hv + own).clamp_(min=0).div_(mx)
        idx, p = torch.sort(idx, dim=1)  # order ties by index: sort by index, then stably by value
        vals, p2 = torch.sort(vals.gather(1, p), dim=1, stable=True)
        idx = idx.gather(1, p2)
        nbr[s:e] = idx[:, :kn]
        if kk < n:  # a tie group reaching past the fetched neighbours: sort those rows fully
            for r in torch.nonzero(vals[:, kn - 1] == vals[:, kk - 1]).flatten().tolist():
                full = (h[r] + own[r]).clamp_(min=0).div_(mx[r])
                nbr[s + r] = torch.sort(full, stable=True)[1][:kn]
    return nbr, rowmax


def _reciprocal(nb: torch.Tensor) -> torch.Tensor:
    """``mask[i, a]``: is ``i`` among the neighbours of its neighbour ``nb[i, a]``?"""
    n = nb.shape[0]
    out = torch.empty(nb.shape, dtype=torch.bool)
    step = max(1, CHUNK_ELEMS // (nb.shape[1] ** 2))
    for s in range(0, n, step):
        e = min(n, s + step)
        out[s:e] = (nb[nb[s:e]] == torch.arange(s, e)[:, None, None]).any(-1)
    return out


def _build_v(feats, nrm, rowmax, nbr, k1):
    """Sparse V (eq. 7 with the 1/2-k1 expansion of eq. 12) as scipy CSR, in the features' precision."""
    n = feats.shape[0]
    n1 = min(k1 + 1, n)
    nh = min(int(np.around(k1 / 2.0)) + 1, n)
    f1, fh = nbr[:, :n1].contiguous(), nbr[:, :nh].contiguous()
    rec1, rech = _reciprocal(f1), _reciprocal(fh)
    rows_l, cols_l, vals_l = [], [], []
    step = max(1, (1 << 24) // (n1 * nh * n1 + (n1 + n1 * nh) * feats.shape[1]))
    for s in range(0, n, step):
        e = min(n, s + step)
        r1 = torch.where(rec1[s:e], f1[s:e], -1)  # R(i, k1), -1 = not in the set
        cand = f1[s:e]
        rh_mask = rech[cand]  # B x n1 x nh
        rh = torch.where(rh_mask, fh[cand], -2)  # R(c, k1/2) of every candidate c
        overlap = (rh[..., None] == r1[:, None, None, :]).any(-1).sum(-1)
        take = rec1[s:e] & (3 * overlap > 2 * rh_mask.sum(-1))
        extra = torch.where(take[..., None] & rh_mask, fh[cand], -1).flatten(1)
        members = torch.cat([r1, extra], 1)
        members = torch.where(members < 0, n, members).sort(1).values
        members[:, 1:][members[:, 1:] == members[:, :-1]] = n  # drop repeats, then compact
        members = members.sort(1).values
        keep = members < n
        width = int(keep.sum(1).max())
        members, keep = members[:, :width], keep[:, :width]
        j = members.clamp(max=n - 1)
        dot = torch.bmm(feats[j], feats[s:e, :, None]).squeeze(2)
        sq = (nrm[s:e, None] + nrm[j] - 2 * dot).clamp_(min=0)
        sq[j == torch.arange(s, e)[:, None]] = 0
        mx = rowmax[s:e, None]
        w = torch.exp(-sq / torch.where(mx > 0, mx, torch.ones_like(mx))) * keep
        w = w / w.sum(1, keepdim=True)
        r, c = keep.nonzero(as_tuple=True)
        rows_l.append((r + s).numpy())
        cols_l.append(j[r, c].numpy())
        vals_l.append(w[r, c].numpy())
    return sp.csr_matrix(
        (np.concatenate(vals_l), (np.concatenate(rows_l), np.concatenate(cols_l))),
        shape=(n, n),
        dtype=np.float64 if feats.dtype == torch.float64 else np.float32,
    )


def _jaccard_into(v: sp.csr_matrix, nq: int, out: np.ndarray, lambda_value: float) -> None:
    """out (q x g, holding the original distance) <- jaccard * (1 - lambda) + out * lambda (eq. 13)."""
    ng = out.shape[1]
    vq = v[:nq]
    vg = v[nq:].tocsc()
    colcnt = np.diff(vg.indptr)
    pairs_per_q = np.add.reduceat(colcnt[vq.indices], vq.indptr[:-1]) if vq.nnz else np.zeros(nq, np.int64)
    pairs_per_q[np.diff(vq.indptr) == 0] = 0
    max_rows = max(1, (1 << 22) // ng)
    s = 0
    while s < nq:
        cum = np.cumsum(pairs_per_q[s : s + max_rows])
        e = s + max(1, int(np.searchsorted(cum, 1 << 23, "right")))
        lo, hi = vq.indptr[s], vq.indptr[e]
        cols = vq.indices[lo:hi]
        cnt = colcnt[cols]
        total = int(cnt.sum())
        qrow = np.repeat(np.repeat(np.arange(e - s), np.diff(vq.indptr[s : e + 1])), cnt)
        aval = np.repeat(vq.data[lo:hi], cnt)
        pos = np.repeat(vg.indptr[cols] - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
        mins = np.minimum(aval, vg.data[pos])
        tm = np.bincount(qrow * ng + vg.indices[pos], weights=mins, minlength=(e - s) * ng)
        tm = tm.reshape(e - s, ng).astype(out.dtype)
        jac = 1 - tm / (2 - tm)
        out[s:e] = jac * (1 - lambda_value) + out[s:e] * lambda_value
        s = e


def re_ranking(
    q_feats: torch.Tensor | np.ndarray,
    g_feats: torch.Tensor | np.ndarray,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> np.ndarray:
    """Re-ranked ``num_query x num_gallery`` distances, equal to Zhong et al.'s dense
    k-reciprocal algorithm on squared Euclidean feature distances (see the module docstring).

    ``k1``: size of the k-reciprocal neighbourhood, ``k2``: local query expansion, ``lambda_value``:
    weight of the original distance in the final one (eq. 13). Computed in float32 (as the reference
    code), or in float64 when both feature matrices are float64 (the smoke profile, whose results must
    not depend on the CPU's float32 kernels); neighbour ties are broken by the lower index (stable order).
    """
    q = as_features(q_feats, "q_feats")
    g = as_features(g_feats, "g_feats")
    if q.dtype != g.dtype:
        q, g = q.float(), g.float()
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"q_feats and g_feats differ in feature dimension: {q.shape[1]} vs {g.shape[1]}")
    if q.shape[0] == 0 or g.shape[0] == 0:
        raise ValueError(
            f"need at least one query and one gallery feature, got {q.shape[0]} and {g.shape[0]}"
        )
    for name, val in (("k1", k1), ("k2", k2)):
        if not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {val!r}")
    if not 0.0 <= float(lambda_value) <= 1.0:
        raise ValueError(f"lambda_value must be in [0, 1], got {lambda_value!r}")
    nq = q.shape[0]
    feats = torch.cat([q, g]).contiguous()
    n = feats.shape[0]
    nrm = (feats * feats).sum(1)
    npdtype = np.float64 if feats.dtype == torch.float64 else np.float32
    out = np.empty((nq, g.shape[0]), dtype=npdtype)
    kn = min(max(k1 + 1, k2), n)
    nbr, rowmax = _sorted_neighbours(feats, nrm, kn, nq, out)
    v = _build_v(feats, nrm, rowmax, nbr, k1)
    if k2 != 1:
        n2 = min(k2, n)
        qe = sp.csr_matrix(
            (
                np.full(n * n2, 1.0 / n2, npdtype),
                (np.repeat(np.arange(n), n2), nbr[:, :n2].reshape(-1).numpy()),
            ),
            shape=(n, n),
        )
        v = (qe @ v).tocsr()
    del nbr
    _jaccard_into(v, nq, out, float(lambda_value))
    return out
