"""CPU speed levers for the cpu profile (issue 11): ``python -m reidlib.bench cpu_profile [--quick]``.

One full training step (forward, CE + triplet, backward, Adam step) of the cpu profile's ResNet-18
models at batch P×K = 8×4 — the amfl baseline (``amfl.table1.a``) and the full MSFL row
(``amfl.table1.f``) — under each lever, in one process:

* ``fp32``: today's step;
* ``channels_last``: model and input in ``torch.channels_last``;
* ``bf16``: ``torch.autocast("cpu", torch.bfloat16)`` around the forward (weights and Adam stay fp32);
* ``bf16+channels_last``;

each with ``t0`` = torch's default intra-op threads (every core) and ``t1`` = one thread, plus
``compile t1`` (``torch.compile(model)``, default mode, first case only; the compile time is
``first_step_s``, not in the step time). The reference (ratio 1) is ``fp32 t0``, today's trainer.

Variants are timed in interleaved rounds (each round runs every variant once), so a load change on
the shared machine hits all of them alike; the step time is the median over rounds, and ``ratio`` is
fp32's median over the variant's (> 1: faster). ``rel_loss_diff``: after the same number of steps from
the same weights on the same batches, |loss − loss_fp32| / loss_fp32 (bf16's precision cost).
Writes ``results/bench/cpu_profile-<cpu>.csv`` (rewritten after each case), ``<cpu>`` = ATen's kernel
set, ``-bf16`` appended where the CPU computes bf16 natively (AVX512-BF16 or AMX;
:func:`reidlib.engine.trainer.native_bf16`): the bf16 lever pays only there (×1.55 on the Xeon of
``cpu_profile-avx512-bf16.csv``), elsewhere oneDNN emulates bf16 and it costs several-fold
(``cpu_profile-avx2.csv``, an AVX2 EPYC), which is why the trainer then trains in float32.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from reidlib import experiments
from reidlib.losses import training_step
from reidlib.models import build_model
from reidlib.utils.io import atomic_path

LEVERS = ("fp32", "channels_last", "bf16", "bf16+channels_last")
VARIANTS = tuple(f"{lv} t{t}" for t in (0, 1) for lv in LEVERS) + ("compile t1",)
CASES = (("amfl.table1.a", (64, 32)), ("amfl.table1.f", (64, 32)), ("amfl.table1.a", (128, 64)))


def out_file() -> Path:
    """``results/bench/cpu_profile-<cpu>.csv`` for this machine (see the module docstring)."""
    from reidlib.engine.trainer import native_bf16

    kind = torch.backends.cpu.get_cpu_capability().lower() + ("-bf16" if native_bf16() else "")
    return Path(f"results/bench/cpu_profile-{kind}.csv")


def _make_step(name: str, variant: str, state: dict, num_classes: int):
    """A closure running one training step of ``name`` under ``variant``; returns the loss."""
    exp = experiments.get(name)
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(exp.model, depth=18), num_classes)
    model.load_state_dict(state)
    model.train()
    cl = "channels_last" in variant
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4)
    net = torch.compile(model) if variant.startswith("compile") else model
    dtype = torch.bfloat16 if variant.startswith("bf16") else None
    threads = int(variant.split(" t")[1]) or torch.get_num_threads()

    def step(x: torch.Tensor, pids: torch.Tensor) -> float:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            out = training_step(net, x, pids, exp.loss, autocast_dtype=dtype)
            opt.step()
            opt.zero_grad(set_to_none=True)
            return out["loss"]
        finally:
            torch.set_num_threads(previous)

    return step


def main(quick: bool = False) -> pd.DataFrame:
    rounds, p, k = (2, 4, 2) if quick else (4, 8, 4)
    rows = []
    for case, (name, size) in enumerate(CASES[:1] if quick else CASES):
        exp = experiments.get(name)
        variants = [v for v in VARIANTS if case == 0 or not v.startswith("compile")]
        torch.manual_seed(0)
        ref = build_model(dataclasses.replace(exp.model, depth=18), 300)
        state = copy.deepcopy(ref.state_dict())
        gen = torch.Generator().manual_seed(0)
        batches = [(torch.rand(p * k, 3, *size, generator=gen) * 2 - 1,
                    torch.randint(0, 300, (p,), generator=gen).repeat_interleave(k))
                   for _ in range(rounds + 1)]
        steps, compile_s, times, losses = {}, {}, {v: [] for v in variants}, {}
        for v in variants:
            steps[v] = _make_step(name, v, state, 300)
            t0 = time.perf_counter()
            steps[v](*batches[0])  # warm-up (compiles under "compile")
            compile_s[v] = time.perf_counter() - t0
        for r in range(rounds):
            for v in variants:
                t0 = time.perf_counter()
                losses[v] = steps[v](*batches[r + 1])
                times[v].append(time.perf_counter() - t0)
        base = statistics.median(times["fp32 t0"])
        for v in variants:
            t = statistics.median(times[v])
            rows.append({"configuration": name, "image_size": f"{size[0]}x{size[1]}", "variant": v,
                         "batch": p * k, "threads": int(v.split(" t")[1]) or torch.get_num_threads(),
                         "step_s": round(t, 4), "images_per_s": round(p * k / t, 1),
                         "ratio": round(base / t, 3), "first_step_s": round(compile_s[v], 2),
                         "rel_loss_diff": abs(losses[v] - losses["fp32 t0"]) / abs(losses["fp32 t0"])})
        print(pd.DataFrame(rows[-len(variants):]).to_string(index=False), flush=True)
        if not quick:  # after each case: a bench cut short still leaves its finished cases
            with atomic_path(out_file(), suffix=".csv") as tmp:
                pd.DataFrame(rows).to_csv(tmp, index=False)
    return pd.DataFrame(rows)
