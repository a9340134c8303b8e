"""Test-time complexity of a configuration: parameters (M) and GMACs (amfl Table II).

``profile(name_or_spec, input_size)`` builds the model (``num_classes=1``), puts it in eval mode
and runs one 1×3×H×W forward under ``torch.utils.flop_counter.FlopCounterMode``. MACs = FLOPs/2
(the counter counts a multiply-add as 2 FLOPs; amfl's "flops (G)" are MACs: ResNet-50 at 256×128 is
2.7 GMACs). Only convolutions and matrix products are counted (BN, ReLU, pooling, upsampling are
not), as in the usual counters. Parameters exclude the classifiers (not used at test time), so
the baseline has amfl's 24.56 M. The input size defaults to the configuration's recipe: amfl
256×128, mmps 384×128 (mmps §4.2).

CLI: ``python -m reidlib profile NAME [NAME ...] [--size H W] [--json]`` (or
``python -m reidlib.complexity``), printing the paper's numbers beside ours where it gives them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import torch
from torch.utils.flop_counter import FlopCounterMode

from reidlib import experiments, paper_numbers

__all__ = ["profile", "main", "PAPER", "RECIPE_SIZE"]

RECIPE_SIZE = {"amfl": (256, 128), "mmps": (384, 128)}
# amfl Table II: (params M, GFLOPs as printed = GMACs), read from the one transcription of the paper.
PAPER = {name: (row["params_m"], row["gflops"]) for name, row in paper_numbers.COMPLEXITY.items()}


def profile(name_or_spec, input_size: tuple[int, int] | None = None) -> dict:
    """Test-time ``params_m`` (M, classifiers excluded) and ``gmacs`` at ``input_size`` (H, W).

    ``name_or_spec``: a registry name or a ``ModelSpec``. ``input_size`` None: the recipe's size for
    a name, 256×128 for a bare spec. Also returns ``name``, ``input_size``, ``feature_dim``,
    ``gflops`` and, for amfl Table II rows, ``paper_params_m`` / ``paper_gmacs``.
    """
    from reidlib.engine import create_model
    from reidlib.models import build_model

    if isinstance(name_or_spec, str):
        exp = experiments.get(name_or_spec)
        name, size = exp.name, tuple(input_size or RECIPE_SIZE[exp.recipe])
        model = create_model(name, "paper", pretrained=False).eval()  # the paper's depth-50 model
    else:
        name, size = None, tuple(input_size or (256, 128))
        model = build_model(name_or_spec, num_classes=1).eval()
    clf = {id(p) for p in model.classifiers.parameters()}
    params = sum(p.numel() for p in model.parameters() if id(p) not in clf)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        feature = model(torch.zeros(1, 3, *size))
    flops = counter.get_total_flops()
    out = {"name": name, "input_size": list(size), "params_m": params / 1e6, "gmacs": flops / 2e9,
           "gflops": flops / 1e9, "feature_dim": int(feature.shape[1])}
    if name in PAPER:
        out["paper_params_m"], out["paper_gmacs"] = PAPER[name]
    if not isinstance(name_or_spec, str):
        out["spec"] = dataclasses.asdict(name_or_spec)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib profile",
                                     description="test-time params (M) and GMACs of configurations")
    parser.add_argument("names", nargs="+", metavar="NAME", help="configuration name(s), e.g. amfl.table2.c")
    parser.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="input size (default: recipe's)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rows = []
    for n in args.names:
        try:
            rows.append(profile(n, tuple(args.size) if args.size else None))
        except experiments.UnknownExperimentError as exc:
            parser.error(str(exc))
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
        return 0
    print(f"{'name':<24} {'input':>8} {'params (M)':>11} {'GMACs':>7} {'dim':>5}   paper (M / GMACs)")
    for r in rows:
        paper = f"{r['paper_params_m']:.2f} / {r['paper_gmacs']:.1f}" if "paper_gmacs" in r else "-"
        size = "x".join(map(str, r["input_size"]))
        print(f"{r['name']:<24} {size:>8} {r['params_m']:>11.2f} {r['gmacs']:>7.2f} {r['feature_dim']:>5}   {paper}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
