"""Retrieval lists (amfl Fig. 1): each query, then its top-k gallery images, green = same identity,
red = a different one. Gallery entries of the query's own identity *and* camera are left out, as the
Market protocol does when it scores (so the figure shows what rank-1 and mAP count)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["rank_gallery", "retrieval_figure"]


def rank_gallery(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray,
                 g_camids: np.ndarray, topk: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(indices Q×k of the k nearest valid gallery images, matches Q×k bool); rows pad with -1/False
    when fewer than k are valid."""
    distmat = np.asarray(distmat)
    if distmat.shape != (len(q_pids), len(g_pids)):
        raise ValueError(f"rank_gallery: distmat {distmat.shape} vs {len(q_pids)} queries × {len(g_pids)} gallery")
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    idx = np.full((len(q_pids), topk), -1, dtype=np.int64)
    match = np.zeros((len(q_pids), topk), dtype=bool)
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind="stable")
        keep = ~((g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i]))
        order = order[keep][:topk]
        idx[i, :len(order)] = order
        match[i, :len(order)] = g_pids[order] == q_pids[i]
    return idx, match


def _framed(img: np.ndarray, colour: tuple[float, float, float], width: int) -> np.ndarray:
    out = img.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out


def retrieval_figure(query_images: Sequence[np.ndarray], gallery_images: Sequence[Sequence[np.ndarray]],
                     matches: np.ndarray, title: str | None = None, border: int = 3):
    """Figure: a line per query — the query (column P), then its ranked gallery images (A, B, …)
    framed green (true match) or red (false match), as amfl Fig. 1."""
    import matplotlib.pyplot as plt

    n, k = len(query_images), max((len(g) for g in gallery_images), default=0)
    fig, axes = plt.subplots(n, k + 1, figsize=((k + 1) * 0.75, n * 1.45), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(query_images[i])
        for j in range(k):
            ax = axes[i, j + 1]
            if j < len(gallery_images[i]):
                colour = (0.0, 0.75, 0.0) if matches[i, j] else (0.85, 0.0, 0.0)
                ax.imshow(_framed(gallery_images[i][j], colour, border))
            else:
                ax.axis("off")
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title("P" if j == 0 else chr(ord("A") + j - 1), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
