"""Models of both papers behind one factory, :func:`build_model` (from a ``ModelSpec``); by
configuration name and profile: :func:`reidlib.engine.create_model`.

``spec.arch``: "baseline" (amfl §IV-A), "msfl" (amfl §III-A, CSIP + MSFF), "mmps" (mmps §3.1).
Every model follows :class:`reidlib.models.baseline.ReidNet`'s output convention; the classifier
heads are in :mod:`reidlib.models.heads`.
"""

from __future__ import annotations

import torch
from torch import nn

from reidlib.models.backbone import ResNetBackbone, imagenet_weight_files
from reidlib.models.baseline import Baseline, ReidNet
from reidlib.models.double_backward import use_fast_double_backward
from reidlib.models.mmps import MMPS
from reidlib.models.msfl import MSFL

__all__ = ["build_model", "ARCHS", "Baseline", "MSFL", "MMPS", "ReidNet", "ResNetBackbone",
           "imagenet_weight_files"]

ARCHS = {"baseline": Baseline, "msfl": MSFL, "mmps": MMPS}


def build_model(spec, num_classes: int, pretrained: str | None = None,
                dtype: torch.dtype = torch.float32) -> nn.Module:
    """Build the model a ``ModelSpec`` describes, with ``num_classes`` training identities.

    ``pretrained``: None | "imagenet" (torchvision weights from the torch hub cache, never
    downloaded) | a path to a ResNet state dict. Only the backbone is initialised from it.
    ``dtype``: the parameters are created *and initialised* in this precision. Casting a float32
    model afterwards is not the same: torch draws float32 normals (Kaiming init) with a vectorised
    kernel on AVX2/AVX-512 CPUs and a scalar one elsewhere, whose last bits differ, while its float64
    draws agree on every CPU — the smoke profile's CPU-independence rests on that.

    Its ``Conv2d`` and ``BatchNorm2d`` layers are :mod:`reidlib.models.double_backward`'s: the same
    numbers, with a double backward (MSGR's) 1.2–1.5× faster than PyTorch's on CPU.
    """
    if spec.arch not in ARCHS:
        raise ValueError(f"unknown ModelSpec.arch {spec.arch!r}; choose from {sorted(ARCHS)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be ≥ 1, got {num_classes}")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return use_fast_double_backward(ARCHS[spec.arch](spec, num_classes, pretrained))
    finally:
        torch.set_default_dtype(previous)
