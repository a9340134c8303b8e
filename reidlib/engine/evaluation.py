"""Evaluate a model, or a finished run on any dataset (cross-domain, multi-query, re-ranked).

Protocol: test embeddings (the model's eval-mode output, no flip averaging) of query and gallery;
plain Euclidean distances between them (:func:`reidlib.metrics.euclidean_distance` with
``squared=False`` — the ranking, and so CMC/mAP/mINP, are the same as with squared distances);
:func:`reidlib.metrics.evaluate` (Market protocol: same pid *and* camera removed from the gallery)
gives rank-1/5/10, mAP and mINP. Re-ranking (``rerank``) is k-reciprocal re-ranking (Zhong et al.
2017) of the same features with Zhong et al.'s defaults k1=20, k2=6, λ=0.3: amfl Table IV's
"+RE" row gives no re-ranking settings, so these are our choice, not the paper's. Multi-query (mmps Table 2): each
query's embedding is pooled (mean) with the embeddings of its identity's ``gt_bbox`` images in the
same camera (:func:`reidlib.metrics.pool_multi_query`).

Results are keyed ``"<dataset>[+mq][+rerank]"`` in a run's ``metrics.json``; under the same keys,
``per_query.json`` holds each valid query's rank-1 hit and average precision
(:func:`reidlib.metrics.per_query`), from which the cpu tables' bootstrap CIs are computed
(:mod:`reidlib.stats`) — kept apart so metrics.json stays small and readable.
Under DDP each rank embeds its share of the images and rank 0 gathers and scores them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from reidlib.engine import runs
from reidlib.engine.checkpoint import load_checkpoint
from reidlib.engine.distributed import DistInfo, gather_features, resolve_device

PER_QUERY = "per_query.json"

__all__ = ["evaluate_model", "scores", "write_metrics", "PER_QUERY", "evaluate_run", "load_model", "metric_key", "to_jsonable",
           "RunNotFinishedError"]


class RunNotFinishedError(RuntimeError):
    """A run folder asked for an evaluation before its training finished."""


def metric_key(dataset: str, multi_query: bool = False, rerank: bool = False) -> str:
    return dataset + ("+mq" if multi_query else "") + ("+rerank" if rerank else "")


def to_jsonable(obj):
    """numpy scalars/arrays and tensors → Python floats/lists (for metrics.json)."""
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def _embed(model: torch.nn.Module, items: list, transform, device: torch.device, info: DistInfo,
           batch_size: int, num_workers: int, desc: str):
    """Embeddings of ``items`` in order (on rank 0; None elsewhere); each rank embeds items[rank::world]."""
    from reidlib.data import ImageDataset
    from reidlib.metrics import extract_features

    shard = items[info.rank::info.world_size]
    loader = DataLoader(ImageDataset(shard, transform), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, pin_memory=device.type == "cuda")
    feats, pids, camids = extract_features(model, loader, device=device, desc=desc)
    index = np.arange(info.rank, len(items), info.world_size)
    return gather_features(feats, np.asarray(pids), np.asarray(camids), index, info)


@torch.no_grad()
def evaluate_model(model: torch.nn.Module, ds, recipe: str, image_size: tuple[int, int],
                   device: torch.device, info: DistInfo | None = None, rerank: bool = False,
                   multi_query: bool = False, batch_size: int = 128, num_workers: int = 0) -> dict:
    """Score ``model`` on ``ds``'s query/gallery; ``{"<name>": evaluate-dict, ["<name>+rerank": ...]}``.

    Returns ``{}`` on DDP ranks other than 0. ``model`` may be DDP-wrapped; it is put in eval mode
    and restored to its previous mode afterwards.
    """
    from reidlib.data import build_transforms
    from reidlib.metrics import euclidean_distance, re_ranking

    info = info or DistInfo()
    module = getattr(model, "module", model)
    was_training = module.training
    module.eval()
    try:
        transform = build_transforms(recipe, tuple(image_size), train=False)

        def embed(items: list, split: str):
            return _embed(module, items, transform, device, info, batch_size, num_workers,
                          desc=f"{ds.name} {split}")

        q, g = embed(ds.query, "query"), embed(ds.gallery, "gallery")
        mq = None
        if multi_query:
            if not ds.multi_query:
                raise ValueError(f"{ds.name} ({ds.root}) has no multi-query images (gt_bbox/); "
                                 "multi-query evaluation needs them")
            mq = embed(ds.multi_query, "multi-query")
    finally:
        module.train(was_training)
    if not info.is_main:
        return {}
    qf, qp, qc = q
    gf, gp, gc = g
    if mq is not None:
        from reidlib.metrics import pool_multi_query

        qf = pool_multi_query(qf, qp, qc, *mq, mode="mean")
    key = metric_key(ds.name, multi_query)
    dist = euclidean_distance(qf, gf, squared=False)
    dist = dist.numpy() if isinstance(dist, torch.Tensor) else np.asarray(dist)
    out = {key: scores(dist, qp, gp, qc, gc)}
    if rerank:
        rr = re_ranking(qf, gf, k1=20, k2=6, lambda_value=0.3)
        out[key + "+rerank"] = scores(np.asarray(rr), qp, gp, qc, gc)
    return out


def scores(dist: np.ndarray, qp, gp, qc, gc) -> dict:
    """:func:`reidlib.metrics.evaluate`'s dict plus ``"per_query"`` (valid query indices, rank-1 hits,
    APs rounded to 1e-6; see :func:`write_metrics`)."""
    from reidlib.metrics import evaluate, per_query

    pq = per_query(dist, qp, gp, qc, gc)
    return {**to_jsonable(evaluate(dist, qp, gp, qc, gc)),
            "per_query": {"query": pq["query"].tolist(), "rank1": pq["rank1"].tolist(),
                          "ap": np.round(pq["ap"], 6).tolist()}}


def write_metrics(run_dir: Path, metrics: dict) -> dict:
    """Merge ``metrics`` (keys as :func:`evaluate_model` returns them) into the run's metrics.json,
    their ``per_query`` parts into per_query.json (each written atomically); returns ``metrics``
    without the ``per_query`` parts."""
    run_dir = Path(run_dir)
    per_query = {k: v["per_query"] for k, v in metrics.items() if "per_query" in v}
    summary = {k: {m: x for m, x in v.items() if m != "per_query"} for k, v in metrics.items()}
    for name, new in ((runs.METRICS, summary), (PER_QUERY, per_query)):
        if new:
            old = runs.read_json(run_dir / name) if (run_dir / name).exists() else {}
            runs.write_json(run_dir / name, {**old, **new})
    return summary


def _spec_from_config(config: dict):
    from reidlib.experiments import ModelSpec

    fields = {f.name for f in dataclasses.fields(ModelSpec)}
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in config["model_spec"].items() if k in fields}
    return ModelSpec(**d)


def _read_run(run_dir: str | Path) -> tuple[Path, dict]:
    path = Path(run_dir)
    cfg = path / runs.CONFIG
    if not cfg.exists():
        raise FileNotFoundError(f"{cfg} not found: {path} is not a run folder "
                                "(expected results/runs/<config>/<profile>-<dataset>-s<seed>/)")
    return path, runs.read_json(cfg)


def load_model(run_dir: str | Path, device: str = "cpu") -> torch.nn.Module:
    """The run's trained model (from its last checkpoint), in eval mode, on ``device``, in the
    precision it was trained in (the profile's ``dtype``)."""
    from reidlib.models import build_model

    path, config = _read_run(run_dir)
    ckpt_file = path / runs.CHECKPOINT
    if not ckpt_file.exists():
        if runs.is_finished(path, config):
            raise FileNotFoundError(
                f"{ckpt_file} not found: the run finished (its metrics.json and log are committed; checkpoints "
                "are not in git), so its tables rebuild without it, but a new evaluation or figure needs the "
                f"weights: delete {path} and run the same command again to retrain it (same seed, same numbers "
                "on this machine)")
        raise FileNotFoundError(f"{ckpt_file} not found: the run has not finished an epoch yet")
    ckpt = load_checkpoint(ckpt_file, config["hash"])
    model = build_model(_spec_from_config(config), config["num_classes"], pretrained=None,
                        dtype=getattr(torch, config["profile"].get("dtype", "float32")))  # as trained
    model.load_state_dict(ckpt["model"])
    return model.to(resolve_device(device)).eval()


def evaluate_run(run_dir: str | Path, dataset: str | None = None, data_root: str | Path | None = None,
                 rerank: bool = False, multi_query: bool = False, device: str = "auto") -> dict:
    """Evaluate a finished run on ``dataset`` (default: the one it was trained on); cached in metrics.json.

    Cross-domain (mmps Table 4): pass another dataset, e.g. ``"synthreid-duke"``. Returns the
    evaluate-dict under ``"<dataset>[+mq][+rerank]"``; a result already in metrics.json is returned
    without recomputing. ``data_root`` defaults to the one the run was trained with.
    """
    from reidlib.data import build_dataset

    path, config = _read_run(run_dir)
    if not runs.is_finished(path, config):
        raise RunNotFinishedError(f"{path} has not finished training; run `python -m reidlib train "
                           f"{config['name']} --profile {config['profile']['name']} --dataset "
                           f"{config['dataset']} --seed {config['seed']}` to finish it first")
    dataset = dataset or config["dataset"]
    key = metric_key(dataset, multi_query, rerank)
    metrics = runs.read_json(path / runs.METRICS)
    if key in metrics:
        return metrics[key]
    if data_root is None and dataset == config["dataset"]:
        data_root = config.get("data_root")
    profile = config["profile"]
    ds = build_dataset(dataset, data_root, **dataset_kwargs(dataset, profile["dataset_kw"]))
    dev = resolve_device(device)
    model = load_model(path, device=str(dev))
    res = evaluate_model(model, ds, profile["recipe"], tuple(profile["image_size"]), dev, rerank=rerank,
                         multi_query=multi_query, batch_size=profile["test_batch_size"])
    return write_metrics(path, res)[key]  # merged into what is there: another evaluation may have written


def dataset_kwargs(dataset: str, dataset_kw: dict) -> dict:
    """The profile's dataset keywords apply to the SynthReID datasets only (their size knobs)."""
    return dict(dataset_kw) if dataset.startswith("synthreid") else {}
