"""Cost of MSGR and of the architectures (issue 4): ``python -m reidlib.bench train_step [--quick]``.

Training step (forward + losses + backward, no optimiser step) of the amfl baseline with the
default MSGR taps x, C2, C3 (Table III (j), p* = 2, σ = 1e-2), CE + batch-hard triplet, float32 on
CPU, interleaved (a change of load hits every variant alike): ``plain`` (σ = 0), ``msgr
double_backprop`` (our layers, :mod:`reidlib.models.double_backward`) and the same MSGR step with
``nn.Conv2d`` / ``nn.BatchNorm2d`` (PyTorch's own double backward, the implementation before issue
14), seconds per step (fastest of the timed steps) and ratio to plain (goal ≤ 2.5×), and the
relative difference of the two MSGR parameter gradients (float32 rounding; equal to 1e-10 in
float64, ``tests/test_double_backward.py``).

Where the MSGR step's time went with PyTorch's double backward (torch.profiler, ResNet-50 256×128,
CPU): BatchNorm's double backward ≈ 44 % (``NativeBatchNormBackwardBackward0``, ≈ 28 broadcasting
elementwise kernels per layer, 20× the layer's ordinary backward), and the convolutions' double
backward computing the weight gradient as a transposed, dilated convolution of (ggI, gO) — for a
1×1 layer a convolution with a kernel the size of the feature map, slow on oneDNN — ≈ 12–20 %.
:mod:`reidlib.models.double_backward` writes both out (BatchNorm: two fused kernels + three
elementwise passes; convolution: oneDNN's ``convolution_backward`` for that weight gradient, and no
weight gradient at all in the taps-only ``create_graph`` pass). Profile after (batch 32, 2 threads):
convolutions 67 % (6 convolution-sized passes against the plain step's 3 — the floor of double
backprop), BatchNorm's three backward functions 20 %, ReLU 5 %. Then, at one thread, glibc page
faults: 11.4 M minor faults in a profiled plain + MSGR pair, 1.5 M once freed memory is kept
(:mod:`reidlib.utils.malloc`; every tensor above 32 MiB is otherwise faulted in anew, and an MSGR
step allocates about twice as many). Each variant is timed under glibc's defaults first, then with
the memory kept as the trainer runs on CPU (the goal applies to the latter); the gradients under
the two settings are compared too (bit-identical). Tried before: one
``autograd.grad(create_graph=True)`` w.r.t. taps *and* parameters, then backward of the penalty only
— slower (the parameter gradients' graph is recorded too); eval-mode BN statistics are not an
option (they change the penalty).

Inference: eval-mode forward of the baseline, last stride 1, MSFL (Table II) and MMPS at the same
input size, seconds per batch and ratio to the baseline, beside our GMACs ratio (flop counter) and
amfl Table II's FLOPs ratio.

Full: ResNet-50, 256×128, batch 32 (P=8, K=4). Quick: ResNet-18, 128×64, batch 8, to check it runs.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

import pandas as pd
import torch

from reidlib import experiments
from reidlib.complexity import PAPER, profile
from reidlib.losses import training_step
from reidlib.models import build_model
from reidlib.models.double_backward import BatchNorm2d, Conv2d
from reidlib.utils.io import atomic_path
from reidlib.utils.malloc import keep_freed_memory

OUT = Path("results/bench/train_step.csv")
GOALS = {"msgr double_backprop": 2.5}
TORCH_DB = "msgr, PyTorch's double backward"


def _grad_vector(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]).double()


def main(quick: bool = False) -> pd.DataFrame:
    depth, size, (p, k), steps = (18, (128, 64), (4, 2), 3) if quick else (50, (256, 128), (8, 4), 3)
    torch.manual_seed(0)
    exp = experiments.get("amfl.table3.j")
    loss_db = exp.loss
    specs = {"plain": dataclasses.replace(loss_db, msgr_sigma=0.0, msgr_taps=()),
             "msgr double_backprop": loss_db, TORCH_DB: loss_db}
    model = build_model(dataclasses.replace(exp.model, depth=depth), num_classes=p * 10)
    model.train()
    torch_db = copy.deepcopy(model)  # the same weights with PyTorch's double backward
    for m in torch_db.modules():
        if type(m) in (BatchNorm2d, Conv2d):
            m.__class__ = m.__class__.__mro__[1]  # nn.BatchNorm2d / nn.Conv2d
    models = {name: torch_db if name == TORCH_DB else model for name in specs}
    x = torch.randn(p * k, 3, *size)
    pids = torch.arange(p).repeat_interleave(k)
    rows = []
    state = copy.deepcopy(model.state_dict())
    default_grads = {}
    # first with glibc's malloc as it comes, then as the trainer runs on CPU (reidlib.utils.malloc)
    for allocator in ("glibc malloc defaults", None):
        if allocator is None:
            keep_freed_memory()
        times, grads = {name: [] for name in specs}, {}
        for rep in range(steps + 1):  # interleaved, so that a change of load hits every variant alike
            for name, spec in specs.items():
                net = models[name]
                net.load_state_dict(state)  # BN running statistics move with every step
                net.zero_grad(set_to_none=True)
                t0 = time.perf_counter()
                training_step(net, x, pids, spec)
                if rep == 0:  # warm-up, and the gradient compared below
                    grads[name] = _grad_vector(net)
                else:
                    times[name].append(time.perf_counter() - t0)
        for name in specs:
            t = min(times[name])
            rows.append({"section": "train_step", "item": f"{name} ({allocator})" if allocator else name,
                         "seconds": t, "ratio": t / min(times["plain"]),
                         "goal": None if allocator else GOALS.get(name)})
        if allocator:
            default_grads = grads
    rows.append({"section": "msgr", "item": "gradient: max |difference| between the two allocator settings",
                 "value": float((grads["msgr double_backprop"] - default_grads["msgr double_backprop"]).abs().max())})
    rows.append({"section": "msgr", "item": "penalty / plain gradient norm",
                 "value": float((grads["msgr double_backprop"] - grads["plain"]).norm() / grads["plain"].norm())})
    rows.append({"section": "msgr", "item": "gradient: ours vs PyTorch's double backward (relative)",
                 "value": float((grads["msgr double_backprop"] - grads[TORCH_DB]).norm() / grads[TORCH_DB].norm())})

    # inference
    names = ["amfl.table2.a", "amfl.table2.b", "amfl.table2.c", "mmps.ablation.full"]
    base_t = base_macs = None
    for n in names:
        spec = dataclasses.replace(experiments.get(n).model, depth=depth)
        net = build_model(spec, num_classes=10).eval()
        macs = profile(spec, size)["gmacs"]
        with torch.no_grad():
            net(x)
            ts = []
            for _ in range(steps):
                t0 = time.perf_counter()
                net(x)
                ts.append(time.perf_counter() - t0)
        t = min(ts)
        base_t, base_macs = (t, macs) if base_t is None else (base_t, base_macs)
        paper = PAPER.get(n)
        rows.append({"section": "inference", "item": n, "seconds": t, "ratio": t / base_t,
                     "gmacs": macs, "gmacs_ratio": macs / base_macs,
                     "paper_flops_ratio": paper[1] / PAPER["amfl.table2.a"][1] if paper else None})
    df = pd.DataFrame(rows)
    df.insert(0, "config", f"resnet{depth} {size[0]}x{size[1]} batch {p * k}")
    with atomic_path(OUT, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False))
    return df


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
