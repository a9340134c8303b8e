"""evaluate_rank / evaluate against an obviously-correct per-query loop (torchreid semantics,
stable tie order), on random problems with distractors, ties, single-camera galleries, queries with
no valid match and max_rank larger than the gallery."""

import numpy as np
import pytest
import torch

from reidlib.metrics import evaluate, evaluate_rank


def reference(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, cuhk03=False, seed=0, repeats=10):
    """Per-query loop: stable sort, drop same pid & same camera, torchreid AP, AGW mINP."""
    nq, ng = distmat.shape
    max_rank = min(max_rank, ng)
    cmcs, aps, inps = [], [], []
    rng = np.random.default_rng(seed)
    for q in range(nq):
        order = np.argsort(distmat[q], kind="stable")
        keep = [not (g_pids[j] == q_pids[q] and g_camids[j] == q_camids[q]) for j in order]
        kept = [j for j, k in zip(order, keep) if k]
        matches = np.array([g_pids[j] == q_pids[q] for j in kept], dtype=np.int64)
        if matches.sum() == 0:
            continue
        cmc = np.zeros(max_rank)
        if not cuhk03:
            first = int(np.argmax(matches))
            cmc[first:] = 1
        else:
            pids = np.array([g_pids[j] for j in kept])
            groups = {p: [i for i in range(len(kept)) if pids[i] == p] for p in sorted(set(pids.tolist()))}
            for _ in range(repeats):
                u = rng.random(len(groups))
                picked = sorted(
                    idx[min(int(x * len(idx)), len(idx) - 1)] for x, idx in zip(u, groups.values())
                )
                hit = [i for i, p in enumerate(picked) if matches[p]][0]
                cmc[hit:] += 1.0 / repeats
        cmcs.append(cmc)
        hits = np.flatnonzero(matches)
        aps.append(np.mean([(i + 1) / (h + 1) for i, h in enumerate(hits)]))
        inps.append(len(hits) / (hits[-1] + 1))
    if not cmcs:
        raise ValueError("no valid query")
    return np.mean(cmcs, 0), float(np.mean(aps)), float(np.mean(inps)), len(cmcs)


def random_problem(rng, nq, ng, nid, ncam, ties=False, dtype=np.float32, g_ncam=None):
    q_pids = rng.integers(0, nid, nq)
    g_pids = rng.integers(-1, nid + 3, ng)  # -1 and pids >= nid: distractors no query matches
    q_camids = rng.integers(0, ncam, nq)
    g_camids = rng.integers(0, g_ncam or ncam, ng)
    d = rng.random((nq, ng))
    d += 0.6 * (q_pids[:, None] != g_pids[None, :])  # informative distances
    if ties:
        d = np.round(d * 4) / 4  # many exact ties, including distance 0
    return d.astype(dtype), q_pids, g_pids, q_camids, g_camids


@pytest.fixture(params=["candidates", "row-sort"])
def path(request, monkeypatch):
    """Run a test with each of the two ways of counting ranks (candidate keys / whole-row sort)."""
    import reidlib.metrics.rank as rank

    monkeypatch.setattr(rank, "SORT_ROWS_ABOVE", 2.0 if request.param == "candidates" else -1.0)
    return request.param


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(seed, ties, dtype, path):
    rng = np.random.default_rng(seed)
    ncam = 1 + seed % 4  # seed 0, 4: one camera everywhere -> every match is junk, no valid query
    g_ncam = 1 if seed % 4 == 1 else ncam  # seed 1, 5: single-camera gallery, queries from 2 cameras
    nq, ng = int(rng.integers(1, 30)), int(rng.integers(5, 80))
    args = random_problem(rng, nq, ng, 8, ncam, ties, dtype, g_ncam)
    max_rank = int(rng.choice([1, 5, 50, 200]))
    try:
        ref_cmc, ref_ap, ref_inp, nvalid = reference(*args, max_rank)
    except ValueError:  # no valid query at all
        with pytest.raises(ValueError, match="no query"):
            evaluate_rank(*args, max_rank=max_rank)
        return
    cmc, m_ap = evaluate_rank(*args, max_rank=max_rank)
    assert cmc.shape == (min(max_rank, args[0].shape[1]),)
    np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6)
    assert m_ap == pytest.approx(ref_ap, abs=1e-9)
    res = evaluate(*args, max_rank=max_rank)
    assert res["mINP"] == pytest.approx(ref_inp, abs=1e-9)
    assert res["num_valid_queries"] == nvalid
    assert res["rank1"] == pytest.approx(ref_cmc[0])


def test_larger_chunks_and_torch_input(monkeypatch, path):
    """Many chunks (small CHUNK_ELEMS) and a torch tensor give the same result as one chunk."""
    import reidlib.metrics.rank as rank

    rng = np.random.default_rng(11)
    d, qp, gp, qc, gc = random_problem(rng, 300, 400, 40, 3, ties=True)
    ref_cmc, ref_ap, _, _ = reference(d, qp, gp, qc, gc, 20)
    monkeypatch.setattr(rank, "CHUNK_ELEMS", 400 * 7)
    cmc, m_ap = evaluate_rank(torch.from_numpy(d), qp, gp, qc, gc, max_rank=20)
    np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6)
    assert m_ap == pytest.approx(ref_ap, abs=1e-9)


def test_single_nan_is_found(monkeypatch):
    import reidlib.metrics.rank as rank

    monkeypatch.setattr(rank, "CHUNK_ELEMS", 30)
    d, qp, gp, qc, gc = random_problem(np.random.default_rng(5), 20, 10, 4, 2)
    d[13, 7] = np.nan
    with pytest.raises(ValueError, match="NaN.*row 13"):
        evaluate_rank(d, qp, gp, qc, gc)


def test_query_without_valid_match_is_skipped():
    d = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], dtype=np.float32)
    q_pids, g_pids = np.array([1, 2]), np.array([1, 2, 3])
    q_cam, g_cam = np.array([0, 0]), np.array([1, 0, 0])  # query 1's only match is in its own camera
    res = evaluate(d, q_pids, g_pids, q_cam, g_cam, max_rank=5)
    assert res["num_valid_queries"] == 1
    assert res["cmc"] == [1.0, 1.0, 1.0]
    assert res["mAP"] == 1.0 and res["rank10"] == 1.0


def test_known_values_and_stable_ties(path):
    # gallery 0 and 2 tie at 0.5; stable order puts the match (index 0) first
    d = np.array([[0.5, 0.1, 0.5, 0.9]], dtype=np.float32)
    cmc, m_ap = evaluate_rank(d, np.array([7]), np.array([7, 1, 2, 7]), np.array([0]), np.array([1, 1, 1, 2]))
    np.testing.assert_allclose(cmc, [0, 1, 1, 1])
    assert m_ap == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_cuhk03_protocol_matches_reference():
    rng = np.random.default_rng(3)
    args = random_problem(rng, 25, 120, 10, 2)
    ref_cmc, ref_ap, _, _ = reference(*args, 20, cuhk03=True, seed=5)
    cmc, m_ap = evaluate_rank(*args, max_rank=20, use_metric_cuhk03=True, seed=5)
    np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6)
    assert m_ap == pytest.approx(ref_ap, abs=1e-9)


def test_cuhk03_one_image_per_identity_equals_plain_cmc():
    rng = np.random.default_rng(4)
    g_pids = np.arange(30)
    q_pids = rng.integers(0, 30, 12)
    d = rng.random((12, 30)).astype(np.float32)
    args = (d, q_pids, g_pids, np.zeros(12, int), np.ones(30, int))
    np.testing.assert_allclose(evaluate_rank(*args, use_metric_cuhk03=True)[0], evaluate_rank(*args)[0])


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(distmat=np.full((2, 3), np.nan, np.float32)), "NaN"),
        (dict(q_pids=np.array([1, 2, 3])), "q_pids"),
        (dict(g_camids=np.array([0, 1])), "g_camids"),
        (dict(g_pids=np.array([0.5, 1.0, 2.0])), "g_pids"),
        (dict(distmat=np.zeros(3, np.float32)), "distmat"),
        (dict(distmat=np.zeros((2, 3), np.int64)), "distmat"),
        (dict(max_rank=0), "max_rank"),
    ],
)
def test_bad_inputs_raise_value_error(bad, match):
    kw = dict(
        distmat=np.zeros((2, 3), np.float32),
        q_pids=np.array([1, 2]),
        g_pids=np.array([1, 2, 3]),
        q_camids=np.array([0, 0]),
        g_camids=np.array([1, 1, 1]),
    )
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        evaluate_rank(**kw)


@pytest.mark.parametrize("seed, ties", [(0, False), (1, True)])
def test_per_query_matches_a_per_query_loop(seed, ties):
    from reidlib.metrics import per_query

    d, qp, gp, qc, gc = random_problem(np.random.default_rng(seed), 40, 120, 15, 3, ties=ties)
    want_q, want_hit, want_ap = [], [], []
    for q in range(d.shape[0]):  # independent: stable sort, drop same pid & camera, torchreid AP
        kept = [j for j in np.argsort(d[q], kind="stable") if not (gp[j] == qp[q] and gc[j] == qc[q])]
        hits = np.flatnonzero([gp[j] == qp[q] for j in kept])
        if hits.size:
            want_q.append(q)
            want_hit.append(int(hits[0] == 0))
            want_ap.append(np.mean([(i + 1) / (h + 1) for i, h in enumerate(hits)]))
    got = per_query(d, qp, gp, qc, gc)
    assert got["query"].tolist() == want_q and got["rank1"].tolist() == want_hit
    np.testing.assert_allclose(got["ap"], want_ap, rtol=1e-12)
    full = evaluate(d, qp, gp, qc, gc)
    assert got["rank1"].mean() == pytest.approx(full["rank1"]) and got["ap"].mean() == pytest.approx(full["mAP"])
