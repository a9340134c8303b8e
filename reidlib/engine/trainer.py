"""The trainer: one configuration × profile × dataset × seed → a finished, evaluated run folder.

Per epoch: PK batches (:class:`reidlib.data.PKSampler`, a pure function of seed and epoch), the
configuration's losses and MSGR through :func:`reidlib.losses.training_step` (which runs the
backward), an Adam step (fp16 autocast + ``GradScaler`` on CUDA when the profile asks for AMP),
one ``log.csv`` row per iteration, the multi-step schedule stepped per epoch (amfl: ×0.1 at 40
and 70 of 120; mmps: ×0.1 at 70 and 140 of 150; scaled at the cpu profile), an evaluation every
``eval_every`` epochs (into ``history.json``), then the checkpoint. At the end the test set is
evaluated (see :mod:`reidlib.engine.evaluation`; re-ranked too when the configuration's
``rerank`` is set) into ``metrics.json``.

Resume: re-running the same configuration continues from ``checkpoint.pt`` (model, optimizer,
scheduler, scaler, epoch, every rank's RNG states) and truncates ``log.csv`` to the checkpoint's
iteration. Batches are deterministic given (seed, epoch) and augmentation draws from the restored
RNGs, so on CPU a killed-and-resumed run ends with exactly the metrics of an uninterrupted one
(tested by killing a real process). ``num_workers`` = 0 at the smoke/cpu profiles (worker seeds
would also come from the restored torch RNG). On CUDA, cuDNN/atomic-add kernels are not bitwise
reproducible, so a resumed GPU run matches an uninterrupted one statistically, not bit for bit
(we do not force ``torch.use_deterministic_algorithms``: it slows training and is not needed on CPU,
where the kernels used here are already deterministic for a fixed thread count).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from reidlib import experiments
from reidlib.engine import runs
from reidlib.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from reidlib.engine.distributed import DistInfo, barrier, broadcast_object, cleanup, setup, wrap_model
from reidlib.engine.evaluation import dataset_kwargs, evaluate_model, evaluate_run, metric_key, write_metrics
from reidlib.engine.factory import create_model, model_spec
from reidlib.engine.profiles import Profile, get_profile
from reidlib.utils.malloc import keep_freed_memory

__all__ = ["train", "RunResult", "ConfigurationError", "NonFiniteLossError", "validate_experiment"]

LOG_COLUMNS = ("epoch", "iteration", "batch", "lr", "loss", "ce", "triplet", "exclusivity", "msgr", "acc",
               "images_per_s", "time_s")
TAPS = ("x", "C2", "C3", "C4", "C5")
# Fault injection for the resume test: SIGKILL this process right after this global iteration.
_KILL_ENV = "REIDLIB_FAULT_KILL_AT_ITER"


class ConfigurationError(ValueError):
    """A configuration, profile or dataset combination that cannot be trained; raised before any work."""


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN/inf; the message names the epoch, iteration and checkpoint to resume from."""


@dataclass
class RunResult:
    """A finished run: its folder, ``metrics.json`` and ``config.json`` contents."""

    run_dir: Path
    metrics: dict
    config: dict


def validate_experiment(exp: experiments.Experiment) -> None:
    """Refuse loss settings the papers' equations don't define (negative σ or λ, unknown taps, ...)."""
    loss = exp.loss
    for name in ("triplet_weight", "triplet_margin", "exclusivity", "msgr_sigma"):
        v = getattr(loss, name)
        if not (v >= 0 and math.isfinite(v)):
            raise ConfigurationError(f"{exp.name}: LossSpec.{name} = {v}; expected a finite value >= 0 "
                                     "(sigma is MSGR's weight, amfl Eq. 7; lambda = exclusivity, mmps Eq. 5)")
    if not 0 <= loss.label_smoothing < 1:
        raise ConfigurationError(f"{exp.name}: LossSpec.label_smoothing = {loss.label_smoothing}; "
                                 "expected 0 <= value < 1")
    if not loss.msgr_norm >= 1:
        raise ConfigurationError(f"{exp.name}: LossSpec.msgr_norm = {loss.msgr_norm}; expected p* >= 1 "
                                 "(1, 2 or inf in amfl Table III)")
    bad = [t for t in loss.msgr_taps if t not in TAPS]
    if bad:
        raise ConfigurationError(f"{exp.name}: unknown MSGR taps {bad}; expected some of {list(TAPS)}")
    if loss.msgr_sigma > 0 and not loss.msgr_taps:
        raise ConfigurationError(f"{exp.name}: msgr_sigma > 0 but no msgr_taps to regularise")
    if exp.recipe not in ("amfl", "mmps"):
        raise ConfigurationError(f"{exp.name}: unknown recipe {exp.recipe!r}; expected 'amfl' or 'mmps'")


def _train_items(ds, prof: Profile, exp_name: str) -> list:
    """The training items the sampler draws from; with sampling-with-replacement off, identities with
    fewer than K images are left out, and K above every identity's count is an error."""
    counts: dict[int, int] = {}
    for _, pid, _ in ds.train:
        counts[pid] = counts.get(pid, 0) + 1
    if prof.sample_with_replacement:
        return list(ds.train)
    if prof.k > max(counts.values()):
        raise ConfigurationError(
            f"{exp_name}: K = {prof.k} images per identity but no identity of {ds.name} ({ds.root}) has "
            f"more than {max(counts.values())}, and the profile samples without replacement "
            "(sample_with_replacement=False); lower K or allow replacement")
    keep = {pid for pid, n in counts.items() if n >= prof.k}
    if len(keep) < prof.p:
        raise ConfigurationError(f"{exp_name}: only {len(keep)} identities of {ds.name} have >= K = "
                                 f"{prof.k} images; a P = {prof.p} batch cannot be filled without replacement")
    return [item for item in ds.train if item[1] in keep]


def _seed(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _gather_rng(info: DistInfo) -> list:
    """Every rank's RNG states, on rank 0 (a list indexed by rank)."""
    state = rng_state()
    if not info.enabled:
        return [state]
    import torch.distributed as dist

    box = [None] * info.world_size if info.is_main else None
    dist.gather_object(state, box, dst=0)
    return box


def _open_log(path: Path, iteration: int):
    """Open log.csv for appending, dropping rows past ``iteration`` (a resumed run redoes them)."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    if lines:
        kept = [lines[0]] + [ln for ln in lines[1:] if ln.strip() and int(ln.split(",", 2)[1]) <= iteration]
        if len(kept) != len(lines):
            from reidlib.utils.io import atomic_write_text

            atomic_write_text(path, "".join(kept))
    fh = open(path, "a", buffering=1)
    if not lines:
        fh.write(",".join(LOG_COLUMNS) + "\n")
    return fh


def native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX). Elsewhere oneDNN emulates bf16
    convolutions, and a bf16-autocast step is far slower than a float32 one (×6 with channels_last on an AVX2
    EPYC, ``results/bench/cpu_profile-avx2.csv``), against ×1.55 faster on an AVX512-BF16 Xeon."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def cpu_autocast_dtype(prof: Profile, dev: torch.device) -> torch.dtype | None:
    """The forward's autocast dtype on CPU: the profile's ``cpu_autocast`` where the CPU has native bf16
    (:func:`native_bf16`), else None (float32). Our choice: the cpu profile's bf16 autocast is a speed
    lever, not part of the recipe (the calibration's float32 candidate reached the bf16 one's rank-1,
    31.3 % against 31.9 ± 1.8, ``results/calibration.md``), so a CPU on which it would cost instead of
    pay trains in float32; the run's config.json records which (``cpu_autocast_used``, not hashed, so
    both kinds of run have one identity and tables mix them; runs from before this key: bfloat16)."""
    want = prof.torch_cpu_autocast
    if want is None or dev.type != "cpu" or native_bf16():
        return want
    return None


def _make_config(exp, prof: Profile, spec, dataset: str, seed: int, data_root, info: DistInfo, dev,
                 autocast: torch.dtype | None) -> dict:
    return {
        "name": exp.name,
        "experiment": exp.to_dict(),
        "experiment_hash": exp.config_hash(),
        "profile": prof.to_dict(),
        "model_spec": dataclasses.asdict(spec),
        "dataset": dataset,
        "seed": seed,
        "data_root": None if data_root is None else str(data_root),
        "world_size": info.world_size,
        "device": str(dev),
        "cpu_autocast_used": None if autocast is None else str(autocast).removeprefix("torch."),
    }


def train(name: str, profile: str | Profile = "cpu", dataset: str = "synthreid", data_root: str | Path | None = None,
          seed: int = 0, device: str = "auto", runs_root: str | Path = "results/runs",
          progress: bool = True) -> RunResult:
    """Train configuration ``name`` at ``profile`` on ``dataset`` (or reuse/resume its run); see module doc.

    The run is that of :func:`reidlib.experiments.canonical` ``(name)`` — a configuration registered
    under several names is trained once — in ``<runs_root>/<canonical name>/<profile>-<dataset>-s<seed>``,
    whose lock (:func:`reidlib.engine.runs.locked`) this process holds meanwhile: a second process
    asking for the same run waits, then reuses it. A row with ``rerank`` gets the re-ranked
    evaluation of that run too. Bad configurations raise before any work: unknown name
    (``UnknownExperimentError``), unknown profile, negative σ/λ (:class:`ConfigurationError`), a data
    root without the dataset (``ReidDataError``), a run folder of another configuration
    (``RunConfigMismatchError``). Under torchrun every rank calls this; rank 0 writes the files (and
    holds the lock), every rank returns the result.
    ``profile`` may also be a :class:`Profile` object (a calibration candidate, :mod:`reidlib.calibration`);
    its ``name`` names the run folder.
    """
    exp = experiments.get(name)
    source = experiments.canonical(name)
    path = runs.run_dir(runs_root, source, profile.name if isinstance(profile, Profile) else profile, dataset, seed)
    threads = torch.get_num_threads()
    with runs.locked(path) if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext():
        try:
            res = _train(source, profile, dataset, data_root, seed, device, runs_root, progress)
            key = metric_key(dataset, rerank=True)
            if exp.rerank and key not in res.metrics and os.environ.get("RANK", "0") == "0":
                res.metrics[key] = evaluate_run(res.run_dir, rerank=True, device=device)
        finally:
            torch.set_num_threads(threads)
    return res


def _train(name: str, profile: str | Profile, dataset: str, data_root: str | Path | None, seed: int, device: str,
           runs_root: str | Path, progress: bool) -> RunResult:
    exp = experiments.get(name)
    validate_experiment(exp)
    prof = profile if isinstance(profile, Profile) else get_profile(profile, exp.recipe)
    if prof.recipe != exp.recipe:
        raise ConfigurationError(f"{exp.name}: profile {prof.name!r} is for recipe {prof.recipe!r}, "
                                 f"the configuration's recipe is {exp.recipe!r}")
    profile = prof.name
    try:
        spec = model_spec(name, prof)
    except ValueError as e:
        raise ConfigurationError(str(e)) from e
    if prof.threads:
        torch.set_num_threads(prof.threads)  # restored by train()
    info, dev = setup(device)
    if dev.type == "cpu":
        keep_freed_memory()  # large temporaries reused, not page-faulted in anew (reidlib.utils.malloc)
    if info.enabled and (prof.p % info.world_size or (prof.p // info.world_size < 2 and exp.loss.triplet_weight)):
        raise ConfigurationError(
            f"the P = {prof.p} identities of a batch are split over the {info.world_size} processes (the "
            "global batch stays P x K, as the papers' 2-GPU runs); use a world size that divides P and, "
            "with the triplet loss, leaves each process at least 2 identities")
    path = runs.run_dir(runs_root, name, profile, dataset, seed)
    autocast = cpu_autocast_dtype(prof, dev)
    config = _make_config(exp, prof, spec, dataset, seed, data_root, info, dev, autocast)
    config["hash"] = runs.config_hash(config)
    if runs.prepare(path, dict(config), write=False) == "finished":
        return RunResult(path, runs.read_json(path / runs.METRICS), runs.read_json(path / runs.CONFIG))

    from reidlib.data import ImageDataset, PKSampler, build_dataset, build_transforms

    ds = build_dataset(dataset, data_root, **dataset_kwargs(dataset, prof.dataset_kw))
    items = _train_items(ds, prof, name)
    config["num_classes"] = ds.num_train_pids
    runs.prepare(path, config, write=info.is_main)
    barrier(info)
    if prof.torch_cpu_autocast is not None and autocast is None and info.is_main:
        warnings.warn(f"{name}: this CPU has no native bf16 (AVX512-BF16 or AMX), so the {prof.name} profile's "
                      "bf16 autocast would slow training several-fold here: training in float32 instead "
                      "(recorded as cpu_autocast_used in the run's config.json)", stacklevel=3)

    from reidlib.losses import training_step

    _seed(seed)  # identical initial weights on every rank (DDP also broadcasts rank 0's)
    model = create_model(name, prof, ds.num_train_pids).to(dev)
    memory_format = torch.channels_last if prof.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=prof.lr, weight_decay=prof.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(prof.milestones), gamma=prof.gamma)
    use_amp = prof.amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    _seed(seed * 1000 + info.rank)  # each rank its own augmentation stream
    ckpt_file = path / runs.CHECKPOINT
    start_epoch, iteration, history = 0, 0, []
    if ckpt_file.exists():
        ckpt = load_checkpoint(ckpt_file, config["hash"], map_location=dev)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"][info.rank % len(ckpt["rng"])])
        start_epoch, iteration, history = ckpt["epoch"], ckpt["iteration"], list(ckpt["history"])
    model = wrap_model(model, info, dev)

    sampler = PKSampler([pid for _, pid, _ in items], prof.p // info.world_size, prof.k, seed=seed,
                        rank=info.rank, world_size=info.world_size)
    batch = prof.p // info.world_size * prof.k
    loader = DataLoader(ImageDataset(items, build_transforms(exp.recipe, prof.image_size, train=True)),
                        batch_size=batch, sampler=sampler, num_workers=prof.num_workers, drop_last=True,
                        pin_memory=dev.type == "cuda")
    iters = len(loader) if prof.max_iters_per_epoch is None else min(len(loader), prof.max_iters_per_epoch)
    kill_at = int(os.environ.get(_KILL_ENV, "0"))
    log = _open_log(path / runs.LOG, iteration) if info.is_main else None
    eval_kw = dict(recipe=exp.recipe, image_size=prof.image_size, device=dev, info=info,
                   batch_size=prof.test_batch_size, num_workers=prof.num_workers)
    try:
        for epoch in range(start_epoch, prof.epochs):
            iteration = train_epoch(model, loader, sampler, optimizer, scaler, exp.loss, training_step,
                                     epoch, iteration, iters, dev, prof.torch_dtype, use_amp, log, info, progress,
                                     prof.epochs, ckpt_file, kill_at, autocast, memory_format)
            scheduler.step()
            if (epoch + 1) % prof.eval_every == 0 and epoch + 1 < prof.epochs:
                res = evaluate_model(model, ds, **eval_kw)
                if info.is_main:
                    history.append({"epoch": epoch + 1, "iteration": iteration,
                                    **{k: v for k, v in res[ds.name].items() if k not in ("cmc", "per_query")}})
                    runs.write_json(path / runs.HISTORY, {"history": history})
            rngs = _gather_rng(info)
            if info.is_main:
                save_checkpoint(ckpt_file, model=model, optimizer=optimizer, scheduler=scheduler,
                                scaler=scaler, epoch=epoch + 1, iteration=iteration, history=history,
                                config_hash=config["hash"], rng=rngs)
            barrier(info)
        metrics = evaluate_model(model, ds, rerank=exp.rerank, **eval_kw)
        if info.is_main:
            metrics = write_metrics(path, metrics)
        metrics = broadcast_object(metrics, info)
    finally:
        if log is not None:
            log.close()
    cleanup(info)
    return RunResult(path, metrics, config)


def train_epoch(model, loader, sampler, optimizer, scaler, loss_spec, training_step, epoch: int,
                 iteration: int, iters: int, dev: torch.device, dtype: torch.dtype, use_amp: bool, log,
                 info: DistInfo,
                 progress: bool, epochs: int, ckpt_file: Path, kill_at: int,
                 cpu_autocast: torch.dtype | None = None,
                 memory_format: torch.memory_format = torch.contiguous_format) -> int:
    """One epoch of ``iters`` PK batches; returns the global iteration count after it.

    ``cpu_autocast`` (bfloat16 or None): the forward's autocast dtype on CPU (CUDA uses fp16 AMP when
    ``use_amp``); ``memory_format``: the batches' layout (channels_last when the model is)."""
    from tqdm.auto import tqdm

    sampler.set_epoch(epoch)
    model.train()
    lr = optimizer.param_groups[0]["lr"]
    bar = tqdm(total=iters, desc=f"epoch {epoch + 1}/{epochs}", disable=not (progress and info.is_main),
               leave=False, dynamic_ncols=True)
    tick = time.perf_counter()
    for b, (x, pids, _, _) in enumerate(loader):
        if b >= iters:
            break
        x = x.to(dev, dtype, non_blocking=True, memory_format=memory_format)
        pids = pids.to(dev, non_blocking=True)
        autocast = torch.float16 if use_amp else (cpu_autocast if dev.type == "cpu" else None)
        out = training_step(model, x, pids, loss_spec, scaler=scaler if use_amp else None, autocast_dtype=autocast)
        if not math.isfinite(out["loss"]):
            resume = (f"the checkpoint {ckpt_file} (after epoch {epoch})" if ckpt_file.exists()
                      else "scratch (no checkpoint yet)")
            raise NonFiniteLossError(
                f"loss is {out['loss']} at epoch {epoch + 1}, iteration {iteration + 1} (batch {b + 1} of "
                f"the epoch); re-running the same command resumes from {resume}. Lower the learning "
                "rate or the loss weights if it recurs.")
        if use_amp:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        iteration += 1
        now = time.perf_counter()
        ips = x.shape[0] * info.world_size / max(now - tick, 1e-9)
        tick = now
        if log is not None:
            log.write(f"{epoch + 1},{iteration},{b + 1},{lr:.6g},{out['loss']:.6g},{out.get('ce', 0):.6g},"
                      f"{out.get('triplet', 0):.6g},{out.get('exclusivity', 0):.6g},{out.get('msgr', 0):.6g},"
                      f"{out.get('acc', 0):.4f},{ips:.1f},{time.time():.3f}\n")
        bar.set_postfix(loss=f"{out['loss']:.3f}", img_s=f"{ips:.0f}", refresh=False)
        bar.update()
        if iteration == kill_at:
            log.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    bar.close()
    return iteration
