"""Speed and memory of the evaluation code (issue 3): ``python -m reidlib.bench eval [--quick]``.

Problems are synthetic but of realistic difficulty: each identity has a random centroid, every
image is centroid + Gaussian noise (``NOISE`` tuned so that rank-1 is about 70 %), cameras are
random; sizes are Market-1501's (3,368 queries x 15,913 gallery, 751 test ids) and MSMT17's
(11,659 x 82,161, 3,060 ids; 93,820 images for re-ranking). Feature dim 512 for re-ranking, 64 for
the distance matrices given to ``evaluate_rank`` (the metric only sees distances).

Each row times one call of ours and, where it fits, of a plain reference written here (the
per-query loop of torchreid's python evaluator with a stable sort; the dense k-reciprocal
re-ranking of Zhong et al.), checks that both agree, and reports the ratio.
``ours_cpu_s`` is the CPU time of the process during our call (all threads; on a busy machine it
tells more than the wall time). Peak memory (``peak_mb``) is the peak increase of the process's resident set size during the call
over its size just before (inputs such as the distance matrix are already resident), sampled every
2 ms by a background thread reading ``/proc/self/statm``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reidlib.metrics import euclidean_distance, evaluate, evaluate_rank, re_ranking
from reidlib.metrics.reference import dense_re_ranking as reference_rerank
from reidlib.utils.io import atomic_path

OUT = Path("results/bench/eval.csv")
#: noise scale per (feature dim, scale) giving rank-1 of about 0.7.
NOISE = {(64, "Market"): 1.28, (64, "MSMT17"): 1.19, (512, "Market"): 2.55, (512, "MSMT17"): 2.37}
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def measure(fn: Callable[[], object]) -> tuple[object, float, float, float]:
    """``(result, wall seconds, peak RSS increase in MB, CPU seconds of the process)`` of one call."""
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        out = fn()
    finally:
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        done.set()
        th.join()
    peak[0] = max(peak[0], _rss())
    return out, secs, (peak[0] - base) / 2**20, cpu


def synthetic(nq: int, ng: int, nid: int, dim: int, noise: float, ncam: int = 6, seed: int = 0):
    """Features ``centroid[pid] + noise * N(0, 1)``; every test identity is in the gallery."""
    rng = np.random.default_rng(seed)
    cent = rng.standard_normal((nid, dim)).astype(np.float32)
    q_pids = rng.integers(0, nid, nq)
    g_pids = np.concatenate([np.arange(nid), rng.integers(0, nid, ng - nid)])
    q_cams, g_cams = rng.integers(0, ncam, nq), rng.integers(0, ncam, ng)
    qf = cent[q_pids] + noise * rng.standard_normal((nq, dim), dtype=np.float32)
    gf = cent[g_pids] + noise * rng.standard_normal((ng, dim), dtype=np.float32)
    return torch.from_numpy(qf), torch.from_numpy(gf), q_pids, g_pids, q_cams, g_cams


def reference_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    """torchreid's python ``eval_market1501`` loop (stable argsort): CMC and mAP."""
    num_g = distmat.shape[1]
    max_rank = min(max_rank, num_g)
    indices = np.argsort(distmat, axis=1, kind="stable")
    all_cmc, all_ap = [], []
    for q in range(distmat.shape[0]):
        order = indices[q]
        keep = ~((g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q]))
        raw = (g_pids[order] == q_pids[q])[keep].astype(np.int64)
        if not raw.any():
            continue
        cmc = raw.cumsum()
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        prec = raw.cumsum() / np.arange(1, raw.size + 1)
        all_ap.append((prec * raw).sum() / raw.sum())
    return np.mean(np.asarray(all_cmc, dtype=np.float32), 0), float(np.mean(all_ap))


def _row(what, size, ours, ref, peak, goal_s, goal_mb, cpu, note):
    goal = f"<= {goal_s:g} s, <= {goal_mb:g} MB" if goal_s else ""
    met = bool(ours <= goal_s and peak <= goal_mb) if goal_s else None
    return {
        "what": what,
        "size": size,
        "ours_s": round(ours, 3),
        "reference_s": None if ref is None else round(ref, 3),
        "ratio": None if ref is None else round(ref / ours, 1),
        "peak_mb": round(peak, 1),
        "goal": goal,
        "met": met,
        "ours_cpu_s": round(cpu, 3),
        "note": note,
    }


def bench_rank(rows, nq, ng, nid, label, goal_s, goal_mb, with_reference):
    qf, gf, qp, gp, qc, gc = synthetic(nq, ng, nid, 64, NOISE[64, "MSMT17" if ng > 20000 else "Market"])
    dist = euclidean_distance(qf, gf).numpy()
    del qf, gf
    res, secs, peak, cpu = measure(lambda: evaluate(dist, qp, gp, qc, gc))
    ref_s, note = None, f"rank-1 {res['rank1']:.3f}, mAP {res['mAP']:.3f}, mINP {res['mINP']:.3f}"
    if with_reference:
        (cmc_r, ap_r), ref_s, _, _ = measure(lambda: reference_rank(dist, qp, gp, qc, gc))
        cmc, m_ap = evaluate_rank(dist, qp, gp, qc, gc)
        same = np.allclose(cmc, cmc_r, atol=1e-6) and abs(m_ap - ap_r) < 1e-9
        note += f"; equal to reference: {same}"
    rows.append(_row("evaluate_rank", f"{label} {nq}x{ng}", secs, ref_s, peak, goal_s, goal_mb, cpu, note))


def bench_rerank(rows, nq, ng, nid, label, goal_s, goal_mb, with_reference):
    noise = NOISE[512, "MSMT17" if ng > 20000 else "Market"]
    qf, gf, qp, gp, qc, gc = synthetic(nq, ng, nid, 512, noise)
    r0 = evaluate(euclidean_distance(qf, gf), qp, gp, qc, gc)["rank1"]  # freed before re-ranking
    out, secs, peak, cpu = measure(lambda: re_ranking(qf, gf))
    r1 = evaluate(out, qp, gp, qc, gc)["rank1"]
    ref_s, note = None, f"rank-1 {r0:.3f} -> {r1:.3f} re-ranked"
    if with_reference:
        ref, ref_s, ref_peak, _ = measure(lambda: reference_rerank(qf, gf))
        note += f"; max |ours - reference| {np.abs(out - ref).max():.1e}, reference peak {ref_peak:.0f} MB"
    rows.append(_row("re_ranking", f"{label} {nq}+{ng}", secs, ref_s, peak, goal_s, goal_mb, cpu, note))


def main(quick: bool = False) -> pd.DataFrame:
    """Run the evaluation benchmarks, write ``results/bench/eval.csv`` atomically, print the table."""
    rows: list[dict] = []
    if quick:
        bench_rank(rows, 1000, 5000, 250, "small", None, None, True)
        bench_rerank(rows, 200, 1000, 50, "small", None, None, True)
    else:
        bench_rank(rows, 3368, 15913, 751, "Market", 0.3, 1024, True)
        bench_rank(rows, 11659, 82161, 3060, "MSMT17", 5.0, 1024, False)
        bench_rerank(rows, 842, 3978, 188, "Market/4", None, None, True)
        bench_rerank(rows, 3368, 15913, 751, "Market", 10.0, 2048, False)
        bench_rerank(rows, 11659, 82161, 3060, "MSMT17", 600.0, 8192, False)
    df = pd.DataFrame(rows)
    with atomic_path(OUT, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    with pd.option_context("display.max_colwidth", 120, "display.width", 250):
        print(df.to_string(index=False))
    return df
