"""Cost of MSGR and of the architectures (issue 4): ``python -m reidlib.bench train_step [--quick]``.

Training step (forward + losses + backward, no optimiser step) of the amfl baseline with the
default MSGR taps x, C2, C3 (Table III (j), p* = 2, σ = 1e-2), CE + batch-hard triplet, float32 on
CPU: ``plain`` (σ = 0) and ``msgr double_backprop``, seconds per step (fastest of the timed steps:
the least disturbed on a shared machine) and ratio to plain (goal ≤ 2.5×, issue 14: not met yet).

Where the MSGR step's time goes (issue 14, ResNet-50 256×128 batch 16, CPU, one run per line of
three, shared heavily-loaded machine, so only the ratios within a line mean anything): forward ≈ the
plain forward; the ``create_graph`` backward to the taps ≈ 0.6–0.8× the plain backward; the final
backward of ``L + penalty`` ≈ 4–5× the plain backward, of which backpropagating L alone is ≈ 1×
and the double backward through the penalty's graph ≈ 4–6×. torch.profiler on that double backward
(ResNet-50, batch 8): convolutions ≈ 60 % (``mkldnn_convolution`` 34 %, two per conv layer;
``convolution_backward`` 27 %, the weight gradients) and BatchNorm's double backward ≈ 27 %
(``NativeBatchNormBackwardBackward0``, a composite of ≈ 1,500 elementwise mul/sum/sub calls); ReLU,
copies and the rest ≈ 13 %. Tried: one ``autograd.grad(create_graph=True)`` w.r.t. taps *and*
parameters, then backward of the penalty only (saves L's second backward) — slower (3.4× against
today's 3.0× in the same run, batch 8) because the parameter gradients' graph is recorded too, and
its parameter gradient differs by 4.7e-6 relative (summation order); not adopted. What is left to
try: a BatchNorm with a hand-written double backward, eval-mode BN statistics are not an option
(they change the penalty).

Inference: eval-mode forward of the baseline, last stride 1, MSFL (Table II) and MMPS at the same
input size, seconds per batch and ratio to the baseline, beside our GMACs ratio (flop counter) and
amfl Table II's FLOPs ratio.

Full: ResNet-50, 256×128, batch 32 (P=8, K=4). Quick: ResNet-18, 128×64, batch 8, to check it runs.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pandas as pd
import torch

from reidlib import experiments
from reidlib.complexity import PAPER, profile
from reidlib.losses import training_step
from reidlib.models import build_model
from reidlib.utils.io import atomic_path

OUT = Path("results/bench/train_step.csv")
GOALS = {"msgr double_backprop": 2.5}


def _grad_vector(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]).double()


def main(quick: bool = False) -> pd.DataFrame:
    depth, size, (p, k), steps = (18, (128, 64), (4, 2), 3) if quick else (50, (256, 128), (8, 4), 3)
    torch.manual_seed(0)
    exp = experiments.get("amfl.table3.j")
    loss_db = exp.loss
    specs = {"plain": dataclasses.replace(loss_db, msgr_sigma=0.0, msgr_taps=()),
             "msgr double_backprop": loss_db}
    model = build_model(dataclasses.replace(exp.model, depth=depth), num_classes=p * 10)
    model.train()
    x = torch.randn(p * k, 3, *size)
    pids = torch.arange(p).repeat_interleave(k)
    rows = []
    times, grads = {}, {}
    for name, spec in specs.items():
        model.zero_grad(set_to_none=True)
        training_step(model, x, pids, spec)  # warm-up, and the gradient compared below
        grads[name] = _grad_vector(model)
        ts = []
        for _ in range(steps):
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            training_step(model, x, pids, spec)
            ts.append(time.perf_counter() - t0)
        times[name] = min(ts)
    for name in specs:
        rows.append({"section": "train_step", "item": name, "seconds": times[name],
                     "ratio": times[name] / times["plain"], "goal": GOALS.get(name)})
    rows.append({"section": "msgr", "item": "penalty / plain gradient norm",
                 "value": float((grads["msgr double_backprop"] - grads["plain"]).norm() / grads["plain"].norm())})

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
