"""CMC, mAP and mINP from a query x gallery distance matrix — exact, and fast at MSMT17 scale.

Semantics are torchreid's ``eval_market1501`` / ``eval_cuhk03``:

* for each query, gallery entries with the query's pid *and* camera are removed ("junk");
* queries with no remaining true match are skipped; CMC, AP and INP are averaged over the others;
* AP is torchreid's: the mean, over the true matches, of the precision at each match position;
* mINP (Ye et al., "Deep Learning for Person Re-identification: A Survey and Outlook", the AGW
  paper, eq. for INP) is the mean over valid queries of ``#matches / rank of the hardest match``;
* CMC has ``min(max_rank, num_gallery)`` entries (torchreid shortens it the same way); a query whose
  remaining gallery is shorter than a rank keeps its value from the last available rank.

Ties: the gallery is ordered by ``(distance, gallery index)``, i.e. a *stable* sort
(``np.argsort(kind="stable")``); torchreid's ``np.argsort`` default (quicksort) breaks ties
arbitrarily, so only tied distances can differ from it.

How it is fast: every number above depends only on the rank of each true match among the kept
gallery entries. Per chunk of query rows (chunks run in a thread pool; numpy releases the GIL) we
gather the distances of the few same-pid gallery entries and mark the entries not farther than the
query's hardest true match. Usually few: those are extracted and sorted as unique int64 keys
``(row, distance bits, gallery index)`` (float64 input: ``np.lexsort``), and each match's rank is
read off by binary search. When
they are many (> ``SORT_ROWS_ABOVE`` of the chunk), each row's candidates are compressed out and
float-sorted instead (SIMD sort), and ties with a match are counted exactly on the row. Junk entries ordered before a match are subtracted. Nothing of size
``num_query x num_gallery`` is allocated besides the caller's matrix.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

#: entries of the distance matrix handled per chunk of query rows.
CHUNK_ELEMS = 1 << 23
#: when more than this fraction of a chunk precedes the queries' hardest matches, sorting whole rows
#: (SIMD float sort) is cheaper than extracting and key-sorting those candidates.
SORT_ROWS_ABOVE = 0.04


def _as_ids(x: np.ndarray | torch.Tensor | list, name: str, n: int, what: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} entries but distmat has {n} {what}")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)):
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_inputs(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    if isinstance(distmat, torch.Tensor):
        dist = distmat.detach().cpu()
    elif isinstance(distmat, np.ndarray):
        dist = torch.from_numpy(distmat) if distmat.dtype.kind == "f" else None
        if dist is None:
            raise ValueError(f"distmat must be a floating point array, got dtype {distmat.dtype}")
    else:
        raise ValueError(f"distmat must be a numpy array or torch tensor, got {type(distmat).__name__}")
    if not dist.is_floating_point():
        raise ValueError(f"distmat must be floating point, got dtype {dist.dtype}")
    if dist.dim() != 2:
        raise ValueError(f"distmat must be 2-D (num_query x num_gallery), got shape {tuple(dist.shape)}")
    if dist.dtype not in (torch.float32, torch.float64):
        dist = dist.float()
    nq, ng = dist.shape
    if nq == 0 or ng == 0:
        raise ValueError(f"distmat must have at least one query and one gallery entry, got shape {(nq, ng)}")
    if not isinstance(max_rank, (int, np.integer)) or isinstance(max_rank, bool) or max_rank < 1:
        raise ValueError(f"max_rank must be an integer >= 1, got {max_rank!r}")
    q_pids = _as_ids(q_pids, "q_pids", nq, "rows (queries)")
    q_camids = _as_ids(q_camids, "q_camids", nq, "rows (queries)")
    g_pids = _as_ids(g_pids, "g_pids", ng, "columns (gallery entries)")
    g_camids = _as_ids(g_camids, "g_camids", ng, "columns (gallery entries)")
    return dist.numpy(), q_pids, g_pids, q_camids, g_camids


def _keys(rows: np.ndarray, vals: np.ndarray, cols: np.ndarray, ng: int, cb: int) -> np.ndarray:
    """Unique int64 keys ordered like ``(row, value, col)`` for float32 ``vals`` (-0.0 as +0.0).

    The float's bits become an order-preserving uint32 (sign bit flipped for positives, all bits for
    negatives); ``key = row << (32 + cb) | bits << cb | col``. In-place steps: few temporaries.
    """
    b = (vals + np.float32(0)).view(np.int32)
    mask = b >> 31
    mask |= np.int32(-(2**31))
    b ^= mask
    key = b.view(np.uint32).astype(np.int64)
    key <<= cb
    key += cols
    key += rows.astype(np.int64, copy=False) << (32 + cb)
    return key


def _ranks_by_row_sort(sub, cand, pos, junk, gidx, pos_d) -> np.ndarray:
    """Match ranks when many entries precede the hardest match: per row, sort the candidates' values
    (SIMD float sort), count those strictly closer than each match by binary search, add the equal
    ones with a lower gallery index (exact count on the row, only where a tie exists) and subtract
    the junk entries ordered before the match."""
    pr, pc = np.nonzero(pos)
    dp, gp = pos_d[pr, pc], gidx[pr, pc]
    less = np.empty(pr.size, np.int64)
    equal = np.empty(pr.size, np.int64)
    bounds = np.searchsorted(pr, np.arange(sub.shape[0] + 1))
    for r in range(sub.shape[0]):
        seg = np.compress(cand[r], sub[r])
        seg.sort()
        a, b = bounds[r], bounds[r + 1]
        less[a:b] = np.searchsorted(seg, dp[a:b], "left")
        equal[a:b] = np.searchsorted(seg, dp[a:b], "right") - less[a:b]
    ahead = less.copy()
    for i in np.flatnonzero(equal > 1):  # ties: stable order puts lower gallery indices first
        ahead[i] += np.count_nonzero(sub[pr[i], : gp[i]] == dp[i])
    # junk (same pid, same camera) ordered before each match, by (distance, gallery index)
    jrows = np.flatnonzero(junk.any(1))
    junk_ahead = np.zeros(pr.size, np.int64)
    if jrows.size:
        sel = np.flatnonzero(np.isin(pr, jrows))  # matches whose row has junk entries
        d_j, g_j, is_j = pos_d[pr[sel]], gidx[pr[sel]], junk[pr[sel]]
        d_m, g_m = dp[sel, None], gp[sel, None]
        junk_ahead[sel] = np.count_nonzero(is_j & ((d_j < d_m) | ((d_j == d_m) & (g_j < g_m))), axis=1)
    ranks = ahead - junk_ahead + 1
    return ranks[np.lexsort((ranks, pr))]


def _chunk_ranks(row0, block, q_pids, q_camids, starts, counts, g_order, g_pids, g_camids):
    """Match ranks for one chunk of query rows (see :func:`match_ranks`); numpy only, releases the GIL."""
    nb, ng = block.shape
    total = float(block.max())  # max propagates NaN: a cheap first check
    if np.isnan(total) and np.isnan(block).any():
        bad = int(np.flatnonzero(np.isnan(block).any(1))[0])
        return ValueError(f"distmat contains NaN (first in query row {row0 + bad})")
    k = int(counts.max()) if counts.size else 0
    if k == 0:
        return None
    slot = np.arange(k)
    in_group = slot < counts[:, None]
    gidx = g_order[np.minimum(starts[:, None] + slot, ng - 1)]
    same_cam = g_camids[gidx] == q_camids[:, None]
    pos = in_group & ~same_cam
    junk = in_group & same_cam
    rows = np.flatnonzero(pos.any(1))
    if rows.size == 0:
        return None
    pos, junk, gidx = pos[rows], junk[rows], gidx[rows]
    sub = block[rows] if rows.size < nb else block
    pos_d = np.take_along_axis(sub, gidx, 1)
    thr = np.where(pos, pos_d, -np.inf).max(1).astype(sub.dtype)
    # candidates: every entry not farther than the query's hardest true match, in (row, col) order
    cand = sub <= thr[:, None]
    if np.count_nonzero(cand) > SORT_ROWS_ABOVE * cand.size:
        return rows, pos.sum(1), _ranks_by_row_sort(sub, cand, pos, junk, gidx, pos_d)
    flat = np.flatnonzero(cand)
    del cand
    vals = sub.ravel()[flat]
    nrow = rows.size
    row_start = np.searchsorted(flat, np.arange(nrow + 1) * ng)  # candidates of row i: [start_i, start_i+1)
    pr, pc = np.nonzero(pos)
    jr, jc = np.nonzero(junk)
    if sub.dtype == np.float32:
        # unique int64 keys (row, distance, gallery index): sorting them is the stable order per row
        cb = max(1, int(ng - 1).bit_length())
        r = np.repeat(np.arange(nrow, dtype=np.int64), np.diff(row_start))
        keys = flat - r * ng  # column of each candidate, then the full key, sorted in place
        keys = _keys(r, vals, keys, ng, cb)
        del r
        keys.sort()

        def key_of(rr, cc):
            return _keys(rr, pos_d[rr, cc], gidx[rr, cc], ng, cb)

        pkey = key_of(pr, pc)
        jkey = np.sort(key_of(jr, jc))
        before = np.searchsorted(keys, pkey) - row_start[pr]  # entries of the row ahead of the match
        row_lo = pr.astype(np.int64) << (32 + cb)
        junk_before = np.searchsorted(jkey, pkey) - np.searchsorted(jkey, row_lo)
        ranks = before - junk_before + 1
        order = np.lexsort((ranks, pr))
        ranks = ranks[order]
    else:
        r = np.repeat(np.arange(nrow), np.diff(row_start))
        col = flat - r * ng
        order = np.lexsort((col, vals, r))  # stable order: (row, distance, gallery index)
        r, col = r[order], col[order]
        qp = q_pids[rows][r]
        same_pid = g_pids[col] == qp
        is_junk = same_pid & (g_camids[col] == q_camids[rows][r])
        kept_cum = np.cumsum(~is_junk)
        base = np.concatenate([[0], kept_cum])[row_start[:-1]]
        ranks = (kept_cum - base[r])[same_pid & ~is_junk]
    return rows, pos.sum(1), ranks


def match_ranks(
    dist: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank (1-based, among non-junk gallery entries, stable order) of every true match of every query.

    Returns ``(valid_q, offsets, ranks)``: the indices of the queries with at least one true match,
    and their sorted match ranks ``ranks[offsets[i]:offsets[i+1]]``. Raises on NaN distances.
    Chunks of query rows run in a thread pool (numpy releases the GIL) of ``torch.get_num_threads()``.
    """
    nq, ng = dist.shape
    g_order = np.argsort(g_pids, kind="stable")  # same-pid entries stay in ascending gallery index
    g_sorted = g_pids[g_order]
    starts = np.searchsorted(g_sorted, q_pids, "left")
    counts = np.searchsorted(g_sorted, q_pids, "right") - starts
    step = max(1, min(CHUNK_ELEMS // ng, 1 << max(0, 31 - max(1, int(ng - 1).bit_length()) - 1)))

    def work(s: int):
        block = np.ascontiguousarray(dist[s : s + step])
        sl = slice(s, s + step)
        return s, _chunk_ranks(
            s, block, q_pids[sl], q_camids[sl], starts[sl], counts[sl], g_order, g_pids, g_camids
        )

    workers = max(1, min(torch.get_num_threads(), 8))
    chunks = range(0, nq, step)
    if workers == 1 or len(chunks) == 1:
        results = map(work, chunks)
    else:
        pool = ThreadPoolExecutor(workers)
        results = pool.map(work, chunks)
    valid_parts, count_parts, rank_parts = [], [], []
    try:
        for s, res in results:
            if isinstance(res, ValueError):
                raise res
            if res is not None:
                valid_parts.append(res[0] + s)
                count_parts.append(res[1])
                rank_parts.append(res[2])
    finally:
        if workers > 1 and len(chunks) > 1:
            pool.shutdown(cancel_futures=True)
    if not valid_parts:
        return np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64)
    npos = np.concatenate(count_parts)
    offsets = np.concatenate([[0], np.cumsum(npos)])
    return np.concatenate(valid_parts), offsets, np.concatenate(rank_parts)


def _summaries(offsets: np.ndarray, ranks: np.ndarray, max_rank: int) -> tuple[np.ndarray, float, float]:
    """CMC (length max_rank), mAP and mINP from the match ranks of the valid queries."""
    nvalid = offsets.size - 1
    npos = np.diff(offsets)
    qid = np.repeat(np.arange(nvalid), npos)
    within = np.arange(ranks.size) - np.repeat(offsets[:-1], npos) + 1  # 1..npos per query
    ap = np.bincount(qid, weights=within / ranks, minlength=nvalid) / npos
    first = ranks[offsets[:-1]]
    last = ranks[offsets[1:] - 1]
    hist = np.bincount(np.minimum(first, max_rank + 1) - 1, minlength=max_rank + 1)[:max_rank]
    cmc = np.cumsum(hist) / nvalid
    return cmc.astype(np.float32), float(ap.mean()), float((npos / last).mean())


def _cuhk03_cmc(dist, q_pids, g_pids, q_camids, g_camids, valid_q, max_rank, num_repeats, seed):
    """torchreid's ``eval_cuhk03`` CMC: per valid query, one kept gallery image per identity is drawn
    (``numpy.random.default_rng(seed)``; per query and repeat one uniform draw per identity, identities
    in ascending pid order, image = floor(u * count) in rank order), CMC averaged over repeats."""
    rng = np.random.default_rng(seed)
    total = np.zeros(max_rank)
    for q in valid_q:
        row = dist[q]
        order = np.argsort(row, kind="stable")
        keep = ~((g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q]))
        kp = g_pids[order][keep]
        matches = kp == q_pids[q]
        _, inv = np.unique(kp, return_inverse=True)
        cnt = np.bincount(inv)
        grouped = np.argsort(inv, kind="stable")
        first_of = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        for _ in range(num_repeats):
            u = rng.random(cnt.size)
            picked = np.sort(grouped[first_of + np.minimum((u * cnt).astype(np.int64), cnt - 1)])
            hit = int(np.argmax(matches[picked]))  # exactly one sampled image is a match
            if hit < max_rank:
                total[hit:] += 1
    return (total / (num_repeats * len(valid_q))).astype(np.float32)


def _run(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, use_metric_cuhk03, num_repeats, seed):
    dist, q_pids, g_pids, q_camids, g_camids = _check_inputs(
        distmat, q_pids, g_pids, q_camids, g_camids, max_rank
    )
    max_rank = min(int(max_rank), dist.shape[1])
    valid_q, offsets, ranks = match_ranks(dist, q_pids, g_pids, q_camids, g_camids)
    if valid_q.size == 0:
        raise ValueError("no query has a true match in the gallery (after removing same-camera entries)")
    cmc, m_ap, m_inp = _summaries(offsets, ranks, max_rank)
    if use_metric_cuhk03:
        cmc = _cuhk03_cmc(dist, q_pids, g_pids, q_camids, g_camids, valid_q, max_rank, num_repeats, seed)
    return cmc, m_ap, m_inp, int(valid_q.size)


def evaluate_rank(
    distmat: np.ndarray | torch.Tensor,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
    max_rank: int = 50,
    use_metric_cuhk03: bool = False,
    num_repeats: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """CMC curve and mAP, a drop-in for torchreid's ``evaluate_rank`` (see the module docstring).

    ``distmat`` is ``num_query x num_gallery`` (smaller = more similar; float32 or float64, numpy or
    torch). With ``use_metric_cuhk03`` the CMC follows the CUHK03 classic protocol (one gallery image
    per identity, ``num_repeats`` seeded draws); mAP is over the full gallery, as in torchreid.
    Returns ``(cmc, mAP)``, ``cmc`` of length ``min(max_rank, num_gallery)`` with values in [0, 1].
    """
    cmc, m_ap, _, _ = _run(
        distmat, q_pids, g_pids, q_camids, g_camids, max_rank, use_metric_cuhk03, num_repeats, seed
    )
    return cmc, m_ap


def evaluate(
    distmat: np.ndarray | torch.Tensor,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
    max_rank: int = 50,
    use_metric_cuhk03: bool = False,
) -> dict:
    """Table-ready metrics: ``rank1, rank5, rank10, mAP, mINP`` (fractions), ``num_valid_queries``, ``cmc``.

    ``rankK`` for K beyond a short CMC takes its last value (a match found stays found).
    """
    cmc, m_ap, m_inp, nvalid = _run(
        distmat, q_pids, g_pids, q_camids, g_camids, max_rank, use_metric_cuhk03, 10, 0
    )
    at = {k: float(cmc[min(k, cmc.size) - 1]) for k in (1, 5, 10)}
    return {
        "rank1": at[1],
        "rank5": at[5],
        "rank10": at[10],
        "mAP": m_ap,
        "mINP": m_inp,
        "num_valid_queries": nvalid,
        "cmc": [float(x) for x in cmc],
    }


def per_query(
    distmat: np.ndarray | torch.Tensor,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
) -> dict:
    """Per-query rank-1 hit (0/1) and average precision of every *valid* query (one with a true match
    after the Market protocol's removals), for bootstrap CIs over queries (:mod:`reidlib.stats`).

    Returns ``{"query": indices of the valid queries, "rank1": hits, "ap": APs}``; their means are
    :func:`evaluate`'s ``rank1`` and ``mAP``.
    """
    dist, q_pids, g_pids, q_camids, g_camids = _check_inputs(distmat, q_pids, g_pids, q_camids, g_camids, 1)
    valid_q, offsets, ranks = match_ranks(dist, q_pids, g_pids, q_camids, g_camids)
    npos = np.diff(offsets)
    qid = np.repeat(np.arange(valid_q.size), npos)
    within = np.arange(ranks.size) - np.repeat(offsets[:-1], npos) + 1
    ap = np.bincount(qid, weights=within / ranks, minlength=valid_q.size) / np.maximum(npos, 1)
    return {"query": valid_q, "rank1": (ranks[offsets[:-1]] == 1).astype(np.int8), "ap": ap}
