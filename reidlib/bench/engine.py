"""Engine overhead: the trainer's epoch loop and the engine's feature extraction against bare loops.

* **train**: images/s of :func:`reidlib.engine.trainer.train_epoch` (tqdm bar, per-iteration CSV
  row, NaN check, device moves) against a bare ``for x, y in loader: training_step; step; zero_grad``
  on the same model architecture, initial weights, loader and PK batches (goal: overhead ≤ 5 %).
  The checkpoint written once per epoch is timed separately, as a fraction of an epoch's time.
* **features**: images/s of :func:`reidlib.metrics.extract_features` (what evaluation uses)
  against a bare ``torch.no_grad`` forward loop over the same loader (goal: ≤ 5 %).

Full: the cpu profile's model and image size on SynthReID (default data root); ``--quick``: smoke.
Each measurement alternates trainer and bare runs and keeps the best of the repeats.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from reidlib.utils.io import atomic_path

OUT = Path("results/bench/engine.csv")


def _bare_train(model, loader, optimizer, loss_spec, training_step, iters: int) -> None:
    for b, (x, pids, _, _) in enumerate(loader):
        if b >= iters:
            break
        training_step(model, x, pids, loss_spec)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def _bare_features(model, loader) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x) for x, _, _, _ in loader])


def main(quick: bool = False) -> pd.DataFrame:
    from reidlib import experiments
    from reidlib.data import ImageDataset, PKSampler, build_dataset, build_transforms
    from reidlib.engine.checkpoint import save_checkpoint
    from reidlib.engine.distributed import DistInfo
    from reidlib.engine.evaluation import dataset_kwargs
    from reidlib.engine.profiles import get_profile
    from reidlib.engine.trainer import LOG_COLUMNS, train_epoch
    from reidlib.losses import training_step
    from reidlib.metrics import extract_features
    from reidlib.models import build_model

    profile = "smoke" if quick else "cpu"
    exp = experiments.get("amfl.table1.a")
    prof = get_profile(profile, exp.recipe)
    iters, repeats = (4, 3) if quick else (20, 3)
    ds = build_dataset("synthreid", None, **dataset_kwargs("synthreid", prof.dataset_kw))
    spec = dataclasses.replace(exp.model, **prof.model_overrides)
    torch.manual_seed(0)
    model0 = build_model(spec, ds.num_train_pids)
    sampler = PKSampler([pid for _, pid, _ in ds.train], prof.p, prof.k, seed=0)
    loader = DataLoader(ImageDataset(ds.train, build_transforms(exp.recipe, prof.image_size, train=True)),
                        batch_size=prof.batch_size, sampler=sampler, num_workers=prof.num_workers, drop_last=True)
    iters = min(iters, len(loader))
    dev = torch.device("cpu")
    times: dict[str, list[float]] = {"trainer": [], "bare": [], "checkpoint": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for kind in ("trainer", "bare"):
                model = copy.deepcopy(model0).train()
                opt = torch.optim.Adam(model.parameters(), lr=prof.lr)
                sampler.set_epoch(0)
                t = time.perf_counter()
                if kind == "trainer":
                    with open(Path(tmp) / "log.csv", "w", buffering=1) as log:
                        log.write(",".join(LOG_COLUMNS) + "\n")
                        train_epoch(model, loader, sampler, opt, torch.amp.GradScaler("cuda", enabled=False),
                                    exp.loss, training_step, 0, 0, iters, dev, False, log, DistInfo(), True,
                                    1, Path(tmp) / "checkpoint.pt", 0)
                else:
                    _bare_train(model, loader, opt, exp.loss, training_step, iters)
                times[kind].append(time.perf_counter() - t)
            t = time.perf_counter()
            sched = torch.optim.lr_scheduler.MultiStepLR(opt, [1])
            save_checkpoint(Path(tmp) / "checkpoint.pt", model=model, optimizer=opt, scheduler=sched,
                            scaler=torch.amp.GradScaler("cuda", enabled=False), epoch=1, iteration=iters,
                            history=[], config_hash="bench")
            times["checkpoint"].append(time.perf_counter() - t)
    n_train = iters * prof.batch_size
    tr, bare = n_train / min(times["trainer"]), n_train / min(times["bare"])
    epoch_s = len(loader) * prof.batch_size / tr
    ckpt_s = min(times["checkpoint"])

    items = (ds.query + ds.gallery)[: 256 if quick else 2048]
    test_loader = DataLoader(ImageDataset(items, build_transforms(exp.recipe, prof.image_size, train=False)),
                             batch_size=prof.test_batch_size, shuffle=False, num_workers=prof.num_workers)
    model0.eval()
    ft: dict[str, list[float]] = {"engine": [], "bare": []}
    for _ in range(repeats):
        t = time.perf_counter()
        extract_features(model0, test_loader, device="cpu")
        ft["engine"].append(time.perf_counter() - t)
        t = time.perf_counter()
        _bare_features(model0, test_loader)
        ft["bare"].append(time.perf_counter() - t)
    fe, fb = len(items) / min(ft["engine"]), len(items) / min(ft["bare"])

    rows = [
        dict(what="train loop", profile=profile, impl="trainer (train_epoch)", images_per_s=tr,
             overhead_pct=100 * (bare / tr - 1), goal_pct=5.0),
        dict(what="train loop", profile=profile, impl="bare PyTorch loop", images_per_s=bare, overhead_pct=0.0,
             goal_pct=5.0),
        dict(what="checkpoint per epoch", profile=profile, impl="save_checkpoint (atomic)", images_per_s=None,
             overhead_pct=100 * ckpt_s / epoch_s, goal_pct=None),
        dict(what="feature extraction", profile=profile, impl="extract_features", images_per_s=fe,
             overhead_pct=100 * (fb / fe - 1), goal_pct=5.0),
        dict(what="feature extraction", profile=profile, impl="bare forward loop", images_per_s=fb,
             overhead_pct=0.0, goal_pct=5.0),
    ]
    df = pd.DataFrame(rows).round(2)
    with atomic_path(OUT, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    print(df.to_string(index=False))
    return df


if __name__ == "__main__":
    main()
