"""Figures of a trained run: activation maps and Grad-CAM of chosen queries (amfl Fig. 3–4) and
retrieval lists (amfl Fig. 1). A run is a folder of the engine's registry
(``results/runs/<config>/<profile>-<dataset>-s<seed>/``); its config.json says which dataset,
image size and recipe it used, so the figures see the images exactly as the model did at test time.

Query choice (deterministic): the query identities sorted, ``n`` of them evenly spaced, the first
query image of each; Grad-CAM's reference is the first gallery image of the same identity from
another camera (so the map shows what makes the cross-camera pair match).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reidlib.viz.activation import activation_map, gradcam_similarity
from reidlib.viz.images import load_images
from reidlib.viz.retrieval import rank_gallery, retrieval_figure

__all__ = ["RunImages", "describe_queries", "pick_queries", "level_maps", "cam_stage", "similarity_cams", "retrieval"]


class RunImages:
    """A finished run's model (eval mode, CPU), config and test split."""

    def __init__(self, run_dir: str | Path, data_root: str | None = None):
        from reidlib.data import build_dataset
        from reidlib.engine import load_model
        from reidlib.engine.evaluation import dataset_kwargs

        self.run_dir = Path(run_dir)
        cfg = self.run_dir / "config.json"
        if not cfg.is_file():
            raise FileNotFoundError(f"{cfg} not found: {self.run_dir} is not a finished run folder")
        self.config = json.loads(cfg.read_text())
        prof = self.config["profile"]
        self.size = tuple(prof["image_size"])
        self.recipe = prof["recipe"]
        ds_name = self.config["dataset"]
        self.dataset = build_dataset(ds_name, data_root or self.config.get("data_root"),
                                     **dataset_kwargs(ds_name, prof.get("dataset_kw", {})))
        self.model = load_model(self.run_dir, device="cpu")
        self.dtype = next(self.model.parameters()).dtype  # the run's precision (float64 at smoke)

    def images(self, items: list) -> tuple[torch.Tensor, list[np.ndarray]]:
        """(the model's input batch, in the model's precision; the images for display)."""
        batch, shown = load_images([it[0] for it in items], self.size, self.recipe)
        return batch.to(self.dtype), shown


def describe_queries(queries: list, dataset: str) -> str:
    """"8 queries of identities [3, 17, …] on synthreid" (what the activation-map notebook prints)."""
    return f"{len(queries)} queries of identities {[q[1] for q in queries]} on {dataset}"


def pick_queries(dataset, n: int = 8) -> tuple[list, list]:
    """(n queries of distinct identities, for each a same-identity gallery image from another camera
    — or any camera if there is none); identities evenly spaced over the sorted query pids."""
    by_pid: dict[int, list] = {}
    for it in dataset.query:
        by_pid.setdefault(it[1], []).append(it)
    gal: dict[int, list] = {}
    for it in dataset.gallery:
        gal.setdefault(it[1], []).append(it)
    pids = [p for p in sorted(by_pid) if p in gal]
    if not pids:
        raise ValueError(f"{dataset.name}: no query identity has a gallery image")
    chosen = [pids[i] for i in np.linspace(0, len(pids) - 1, min(n, len(pids))).round().astype(int)]
    queries, refs = [], []
    for p in dict.fromkeys(chosen):
        q = by_pid[p][0]
        other = [g for g in gal[p] if g[2] != q[2]] or gal[p]
        queries.append(q)
        refs.append(other[0])
    return queries, refs


@torch.no_grad()
def level_maps(run: RunImages, items: list, levels: list[str]) -> dict[str, list[np.ndarray]]:
    """Activation maps (amfl §IV-C) of ``levels`` (e.g. C2, P2, F2, C5, P5) for ``items``, at image size."""
    batch, _ = run.images(items)
    maps = run.model.feature_maps(batch)
    missing = [lv for lv in levels if lv not in maps]
    if missing:
        raise KeyError(f"{run.run_dir}: the model has no feature maps {missing}; it has {sorted(maps)}")
    return {lv: list(activation_map(maps[lv], size=run.size).numpy()) for lv in levels}


def cam_stage(run: RunImages, min_height: int = 8) -> str:
    """The deepest backbone stage whose map is at least ``min_height`` rows at the run's image size:
    C5 at 256×128 (8×4), C3 at the cpu profile's 64×32 (C5 would be 2×1 there, too coarse for a map),
    C2 at the smoke profile's 32×16."""
    with torch.no_grad():
        stages = run.model.backbone(torch.zeros(1, 3, *run.size, dtype=next(run.model.parameters()).dtype))
    for name in ("C5", "C4", "C3", "C2"):
        if stages[name].shape[-2] >= min_height:
            return name
    return "C2"


def similarity_cams(run: RunImages, items: list, refs: list, stage: str | None = None) -> list[np.ndarray]:
    """Grad-CAM (at ``stage``, default :func:`cam_stage`) of each item's embedding for its cosine
    similarity to its reference's embedding."""
    stage = stage or cam_stage(run)
    layer = run.model.backbone.stages()[stage]
    batch, _ = run.images(items)
    ref_batch, _ = run.images(refs)
    with torch.no_grad():
        ref_emb = run.model(ref_batch)
    return list(gradcam_similarity(run.model, batch, ref_emb, target_layer=layer))


def retrieval(run: RunImages, n_queries: int = 4, topk: int = 10, title: str | None = None):
    """(amfl Fig. 1-style figure for ``n_queries`` chosen queries, a table of their top-k matches:
    query, pid, ✓/✗ string, rank of the first true match)."""
    from torch.utils.data import DataLoader

    from reidlib.data import ImageDataset, build_transforms
    from reidlib.metrics import euclidean_distance, extract_features

    ds = run.dataset
    tf = build_transforms(run.recipe, run.size, train=False)

    def feats(items):
        loader = DataLoader(ImageDataset(items, tf), batch_size=64, shuffle=False)
        return extract_features(run.model, loader, device="cpu", desc="retrieval")

    qf, qp, qc = feats(ds.query)
    gf, gp, gc = feats(ds.gallery)
    dist = euclidean_distance(qf, gf, squared=False)
    dist = dist.numpy() if isinstance(dist, torch.Tensor) else np.asarray(dist)
    chosen, _ = pick_queries(ds, n_queries)
    qidx = [ds.query.index(q) for q in chosen]
    idx, match = rank_gallery(dist[qidx], np.asarray(qp)[qidx], gp, np.asarray(qc)[qidx], gc, topk)
    _, q_show = run.images(chosen)
    g_show = [run.images([ds.gallery[j] for j in row if j >= 0])[1] for row in idx]
    fig = retrieval_figure(q_show, g_show, match, title=title)
    table = pd.DataFrame({
        "query": [f"q{i}" for i in range(len(chosen))],
        "pid": [q[1] for q in chosen],
        f"top-{topk}": ["".join("✓" if m else "✗" for m in row) for row in match],
        "first match": [int(np.argmax(row)) + 1 if row.any() else None for row in match],
    })
    return fig, table
