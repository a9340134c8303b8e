"""A model's rank-1 / mAP when its query crops are shifted or rescaled (issue 13; amfl §I, Fig. 1).

amfl §I names "detection misalignment", which "causes the large scale and shift variance", as one of
the challenges multi-scale features answer. SynthReID's generator knows every person's true box and
the scene around it, so a query is **cut again from its own scene** through a perturbed detector box
(:func:`reidlib.data.synthreid.rerender`): same person, pose, camera, background and noise, only the
crop window moves — no border fill, no affine warp of the stored crop (what a real dataset would need).
The gallery stays clean. Perturbations of the query's generated detector box (which already carries
SynthReID's own misalignment; :class:`reidlib.data.synthrender.Box`), by an amount ``a``:

* ``"shift"`` — the window moves by ``a`` of the box's width horizontally *and* ``a`` of its height
  vertically, diagonally: each query's signs (left/right, up/down) are drawn once from
  :data:`SIGN_SEED`, the same for every run and amount, so the evaluations stay paired query by query;
* ``"zoom in"`` — the window is ``1 + a`` times smaller (box scale × 1/(1 + a)) about the box centre:
  head and feet are cut;
* ``"zoom out"`` — the window is ``1 + a`` times larger (box scale × (1 + a)) about the box centre:
  more background, a smaller person.

Our choices, where the paper gives no protocol (it shows examples, Fig. 1, and measures nothing):
diagonal shifts rather than one axis at a time (SynthReID's own misalignment moves boxes along both
axes); zoom amounts symmetric in log scale (``a`` = 0.25: × 0.8 and × 1.25). As for every generated
box, the window stays inside the 220 × 110 scene the crop is cut from (:func:`reidlib.data.synthrender.
render` clamps it) — a detector's box stays inside its frame — so the largest amounts move some
windows less than asked. Measured on the cpu profile's 3,212 test queries (crop windows recorded while
rendering): shifts of 0.05 / 0.1 / 0.2 are realised at 99 / 97 / 90 % of the asked distance on average
(3 / 9 / 36 % of the queries stop ≥ 1 scene pixel short, at the scene's edge); the zooms' window sizes
are as asked on average (× 0.909, 0.800, 1.100, 1.248 for × 0.909, 0.8, 1.1, 1.25), but at zoom out
0.25 22 % of the windows are moved by more than ~1.5 scene pixels to stay inside the scene.

Scoring is :func:`reidlib.engine.evaluate_model`'s — same batches, distances and metrics; amount 0
re-renders the stored files byte for byte (checked here for every query), so it reproduces the clean
evaluation exactly (tested).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from reidlib.data.synthrender import Box

__all__ = ["KINDS", "SIGN_SEED", "misaligned_box", "misaligned_queries", "evaluate_misaligned",
           "misalignment_key", "misaligned_run"]

KINDS = ("shift", "zoom in", "zoom out")
#: The seed of the shift directions (one pair of signs per query, in the dataset's query order).
SIGN_SEED = 13


def _check(kind: str, amount: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"misalignment kind {kind!r} unknown; expected one of {list(KINDS)}")
    if not (math.isfinite(amount) and 0 <= amount < 1):
        raise ValueError(f"misalignment amount for {kind!r} must be a number in [0, 1) (a fraction of the box), "
                         f"got {amount!r}")


def misaligned_box(box: Box, kind: str, amount: float, signs: tuple[int, int] = (1, 1)) -> Box:
    """``box`` perturbed by ``amount`` (see the module doc); ``signs`` (±1, ±1): the shift's horizontal
    and vertical direction (+: right, down). Zooms keep the box centre where it is."""
    _check(kind, amount)
    if kind == "shift":
        # Box.dx is in units of the box width, Box.dy of its height (synthrender.render)
        return replace(box, dx=box.dx + signs[0] * amount, dy=box.dy + signs[1] * amount)
    s = 1 / (1 + amount) if kind == "zoom in" else 1 + amount
    # render() places the centre at dx·(box width) and dy·(box height): both grow with the scale
    return replace(box, dx=box.dx / s, dy=box.dy / s, scale=box.scale * s)


def _synthreid(dataset: str, dataset_kw: dict) -> dict:
    if not dataset.startswith("synthreid"):
        raise ValueError(f"misalignment needs a SynthReID dataset (its generator knows each person's box and "
                         f"scene), got dataset {dataset!r}")
    domain = dataset.split("-", 1)[1] if "-" in dataset else "market"
    return {"domain": domain, **{k: dataset_kw[k] for k in ("seed", "scale", "test_scale") if k in dataset_kw}}


def misaligned_queries(ds, dataset_kw: dict, kind: str, amount: float) -> list[bytes]:
    """JPEG bytes of ``ds``'s queries (a SynthReID dataset built with ``dataset_kw``), in order, cut
    through their perturbed boxes (:func:`misaligned_box`)."""
    from reidlib.data.synthreid import rerender

    _check(kind, amount)
    rels = [f"query/{Path(p).name}" for p, _, _ in ds.query]
    signs = np.random.default_rng(SIGN_SEED).choice([-1, 1], size=(len(rels), 2))
    return rerender(rels, lambda i, box: misaligned_box(box, kind, amount, (int(signs[i, 0]), int(signs[i, 1]))),
                    **_synthreid(ds.name, dataset_kw))


def evaluate_misaligned(model: torch.nn.Module, ds, dataset_kw: dict, recipe: str, image_size: tuple[int, int],
                        device: torch.device, perturbations: Sequence[tuple[str, float]],
                        batch_size: int = 128) -> dict[tuple[str, float], dict]:
    """``{(kind, amount): metrics}`` (as :func:`reidlib.engine.evaluate_model` gives them for ``ds.name``,
    per-query results included) with every query cut through its box perturbed by ``kind`` and
    ``amount`` (:func:`misaligned_box`); the gallery is embedded once, clean. Raises if the queries
    re-rendered at amount 0 differ from ``ds``'s files (data rendered by another environment)."""
    from reidlib.data import ImageDataset, build_transforms
    from reidlib.metrics import euclidean_distance, extract_features

    for kind, a in perturbations:
        _check(kind, float(a))
    clean = misaligned_queries(ds, dataset_kw, "shift", 0.0)
    stale = [p for (p, _, _), b in zip(ds.query, clean) if Path(p).read_bytes() != b]
    if stale:
        raise RuntimeError(f"{len(stale)} query files (e.g. {stale[0]}) differ from what this environment "
                           "renders for them (another Pillow/numpy made the data?): delete that SynthReID folder "
                           "so it is rendered again, then retrain, or evaluate where it was made")
    transform = build_transforms(recipe, tuple(image_size), train=False)

    def embed(items: list, desc: str):
        loader = DataLoader(ImageDataset(items, transform), batch_size=batch_size, shuffle=False)
        return extract_features(model, loader, device=device, desc=desc)

    was_training = model.training
    model.eval()
    out = {}
    try:
        gf, gp, gc = embed(ds.gallery, f"{ds.name} gallery")
        with tempfile.TemporaryDirectory(prefix="reidlib-misaligned-") as tmp:
            for kind, a in perturbations:
                files = clean if a == 0 else misaligned_queries(ds, dataset_kw, kind, float(a))
                items = []
                for i, ((p, pid, cam), b) in enumerate(zip(ds.query, files)):
                    path = Path(tmp) / f"{i:06d}_{Path(p).name}"
                    path.write_bytes(b)
                    items.append((str(path), pid, cam))
                qf, qp, qc = embed(items, f"{ds.name} query, {kind} {a:g}")
                dist = euclidean_distance(qf, gf, squared=False)
                out[(kind, float(a))] = _scores(dist, qp, gp, qc, gc)
    finally:
        model.train(was_training)
    return out


def _scores(dist, qp, gp, qc, gc) -> dict:
    from reidlib.engine.evaluation import scores

    return scores(dist.numpy() if isinstance(dist, torch.Tensor) else np.asarray(dist), qp, gp, qc, gc)


def misalignment_key(dataset: str, kind: str, amount: float) -> str:
    """metrics.json / per_query.json key: ``"<dataset>+shift-0.1"``, ``"+zoomin-0.25"``, ``"+zoomout-0.25"``;
    amount 0 is the clean key ``"<dataset>"``."""
    _check(kind, amount)
    return dataset if amount == 0 else f"{dataset}+{kind.replace(' ', '')}-{amount:.6g}"


def misaligned_run(run_dir, perturbations: Sequence[tuple[str, float]],
                   device: str = "auto") -> dict[tuple[str, float], dict]:
    """``{(kind, amount): metrics}`` of a finished run with its queries misaligned
    (:func:`evaluate_misaligned`) on the SynthReID dataset it was trained on; cached in the run's
    metrics.json / per_query.json under :func:`misalignment_key` (amount 0 is the run's clean
    evaluation), so a committed run answers again without its checkpoint."""
    from reidlib.data import build_dataset
    from reidlib.engine import runs
    from reidlib.engine.distributed import resolve_device
    from reidlib.engine.evaluation import PER_QUERY, dataset_kwargs, evaluate_run, load_model, write_metrics

    wanted = [(kind, float(a)) for kind, a in perturbations]
    for kind, a in wanted:
        _check(kind, a)
    path = Path(run_dir)
    evaluate_run(path)  # the clean evaluation; raises for an unfinished run
    config = runs.read_json(path / runs.CONFIG)
    dataset, profile = config["dataset"], config["profile"]
    _synthreid(dataset, {})

    def cached() -> dict:
        metrics, pq = runs.read_json(path / runs.METRICS), runs.read_json(path / PER_QUERY)
        keys = {p: misalignment_key(dataset, *p) for p in wanted}
        return {p: {**metrics[k], "per_query": pq.get(k)} for p, k in keys.items() if k in metrics}

    have = cached()
    todo = [p for p in wanted if p not in have]
    if todo:
        kw = dataset_kwargs(dataset, profile["dataset_kw"])
        ds = build_dataset(dataset, config.get("data_root"), **kw)
        dev = resolve_device(device)
        res = evaluate_misaligned(load_model(path, device=str(dev)), ds, kw, profile["recipe"],
                                  tuple(profile["image_size"]), dev, todo, batch_size=profile["test_batch_size"])
        write_metrics(path, {misalignment_key(dataset, *p): m for p, m in res.items() if p[1] != 0})
        have = cached()
    return {p: have[p] for p in wanted}
