"""A model's rank-1 / mAP when its queries are attacked (issue 13; amfl §III-B's robustness argument).

The gallery is embedded once, clean; each query batch is perturbed by :func:`reidlib.attacks.attack`
(FGSM for ``steps`` = 1, PGD otherwise) toward the ball's worst case for the distance to its true
matches' clean centroid, then embedded and scored like :func:`reidlib.engine.evaluate_model`: same
batches, same distances, same metrics, so radius 0 reproduces the clean evaluation exactly (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from reidlib.attacks import attack, gradient_norms, match_centroids
from reidlib.engine.evaluation import scores

__all__ = ["evaluate_attacked", "attack_key", "attacked_run", "gradient_norm_run"]


def _targets(model, ds, transform, device, batch_size):
    """The gallery's clean embeddings and, per query, its true matches' centroid (the attack's target)."""
    from reidlib.data import ImageDataset
    from reidlib.metrics import extract_features

    loader = DataLoader(ImageDataset(ds.gallery, transform), batch_size=batch_size, shuffle=False)
    gf, gp, gc = extract_features(model, loader, device=device, desc=f"{ds.name} gallery")
    qp = np.asarray([it[1] for it in ds.query])
    qc = np.asarray([it[2] for it in ds.query])
    return gf, gp, gc, qp, qc, match_centroids(qp, qc, gf, gp, gc)


def evaluate_attacked(model: torch.nn.Module, ds, recipe: str, image_size: tuple[int, int], device: torch.device,
                      radii: Sequence[float], norm: str = "inf", steps: int = 1,
                      batch_size: int = 128) -> dict[float, dict]:
    """``{radius: metrics}`` (metrics as :func:`reidlib.engine.evaluate_model` gives them for
    ``ds.name``, per-query results included) with every query attacked within ``radius`` (pixel units,
    images in [0, 1]) in ``norm`` ("inf" or "2")."""
    from reidlib.data import ImageDataset, build_transforms
    from reidlib.metrics import euclidean_distance

    transform = build_transforms(recipe, tuple(image_size), train=False)
    was_training = model.training
    model.eval()
    try:
        gf, gp, gc, qp, qc, targets = _targets(model, ds, transform, device, batch_size)
        dtype = next(model.parameters()).dtype
        out = {}
        for radius in radii:
            feats = []
            loader = DataLoader(ImageDataset(ds.query, transform), batch_size=batch_size, shuffle=False)
            for b, (img, _, _, _) in enumerate(loader):
                x = img.to(device, dtype)
                t = targets[b * batch_size: b * batch_size + x.shape[0]].to(device, dtype)
                xa = attack(model, x, t, float(radius), norm=norm, steps=steps)
                with torch.no_grad():
                    f = model(xa)
                feats.append((f if f.dtype == torch.float64 else f.float()).cpu())
            dist = euclidean_distance(torch.cat(feats), gf, squared=False)
            out[float(radius)] = scores(np.asarray(dist), qp, gp, qc, gc)
    finally:
        model.train(was_training)
    return out


def attack_key(dataset: str, radius: float, norm: str, steps: int) -> str:
    """metrics.json / per_query.json key of an attacked evaluation: ``"<dataset>+fgsm-inf-0.0156863"``
    (``pgd<steps>`` for more than one step); radius 0 is the clean key ``"<dataset>"``."""
    if radius == 0:
        return dataset
    return f"{dataset}+{'fgsm' if steps == 1 else f'pgd{steps}'}-{norm}-{radius:.6g}"


def attacked_run(run_dir, radii: Sequence[float], norm: str = "inf", steps: int = 1, device: str = "auto") -> dict:
    """``{radius: metrics}`` of a finished run with its queries attacked (:func:`evaluate_attacked`)
    on the dataset it was trained on; cached in the run's metrics.json / per_query.json under
    :func:`attack_key` like any evaluation (radius 0 is the run's clean evaluation), so a committed
    run answers again without its checkpoint."""
    from pathlib import Path

    from reidlib.data import build_dataset
    from reidlib.engine import runs
    from reidlib.engine.distributed import resolve_device
    from reidlib.engine.evaluation import PER_QUERY, dataset_kwargs, evaluate_run, load_model, write_metrics

    path = Path(run_dir)
    evaluate_run(path)  # the clean evaluation; raises for an unfinished run
    config = runs.read_json(path / runs.CONFIG)
    dataset, profile = config["dataset"], config["profile"]

    def cached() -> dict:
        metrics, pq = runs.read_json(path / runs.METRICS), runs.read_json(path / PER_QUERY)
        keys = {r: attack_key(dataset, r, norm, steps) for r in radii}
        return {r: {**metrics[k], "per_query": pq.get(k)} for r, k in keys.items() if k in metrics}

    have = cached()
    todo = [float(r) for r in radii if r not in have]
    if todo:
        ds = build_dataset(dataset, config.get("data_root"), **dataset_kwargs(dataset, profile["dataset_kw"]))
        dev = resolve_device(device)
        res = evaluate_attacked(load_model(path, device=str(dev)), ds, profile["recipe"], tuple(profile["image_size"]),
                                dev, todo, norm=norm, steps=steps, batch_size=profile["test_batch_size"])
        write_metrics(path, {attack_key(dataset, r, norm, steps): m for r, m in res.items() if r != 0})
        have = cached()
    return {float(r): have[r] for r in radii}


def input_gradient_norms(model: torch.nn.Module, ds, recipe: str, image_size: tuple[int, int], device: torch.device,
                         batch_size: int = 128) -> dict[str, float]:
    """``{"l1": mean, "l2": mean, "queries": n}``: the mean over ``ds``'s queries of
    :func:`reidlib.attacks.gradient_norms` (‖∇ₓ‖₁ and ‖∇ₓ‖₂ of the attack's objective, pixel units)."""
    from reidlib.data import ImageDataset, build_transforms

    transform = build_transforms(recipe, tuple(image_size), train=False)
    was_training = model.training
    model.eval()
    try:
        *_, targets = _targets(model, ds, transform, device, batch_size)
        dtype = next(model.parameters()).dtype
        loader = DataLoader(ImageDataset(ds.query, transform), batch_size=batch_size, shuffle=False)
        norms = torch.cat([gradient_norms(model, img.to(device, dtype),
                                          targets[b * batch_size: b * batch_size + img.shape[0]].to(device, dtype)).cpu()
                           for b, (img, _, _, _) in enumerate(loader)]).double()
    finally:
        model.train(was_training)
    return {"l1": float(norms[:, 0].mean()), "l2": float(norms[:, 1].mean()), "queries": int(norms.shape[0])}


def gradient_norm_run(run_dir, device: str = "auto") -> dict[str, float]:
    """:func:`input_gradient_norms` of a finished run on the dataset it was trained on, cached in its
    metrics.json under ``"<dataset>+input-grad"`` (so a committed run answers without its checkpoint)."""
    from pathlib import Path

    from reidlib.data import build_dataset
    from reidlib.engine import runs
    from reidlib.engine.distributed import resolve_device
    from reidlib.engine.evaluation import dataset_kwargs, evaluate_run, load_model, write_metrics

    path = Path(run_dir)
    evaluate_run(path)  # raises for an unfinished run
    config = runs.read_json(path / runs.CONFIG)
    dataset, profile = config["dataset"], config["profile"]
    key = f"{dataset}+input-grad"
    metrics = runs.read_json(path / runs.METRICS)
    if key not in metrics:
        ds = build_dataset(dataset, config.get("data_root"), **dataset_kwargs(dataset, profile["dataset_kw"]))
        dev = resolve_device(device)
        res = input_gradient_norms(load_model(path, device=str(dev)), ds, profile["recipe"],
                                   tuple(profile["image_size"]), dev, batch_size=profile["test_batch_size"])
        write_metrics(path, {key: res})
        metrics = runs.read_json(path / runs.METRICS)
    return metrics[key]
