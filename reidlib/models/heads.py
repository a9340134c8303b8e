"""Classifier heads (mmps Eq. 1 and Eq. 2).

* ``nn.Linear`` is the standard softmax classifier of mmps Eq. 1 (logits ``W^T x + b``).
* :class:`NormalizedLinear` is the normalized softmax of mmps Eq. 2: features and class weights are
  L2-normalised, so a logit is ``s·cos θ_j + b_j`` with ``s = 15`` by default; each logit therefore
  lies in ``[-s + b_j, s + b_j]``. Each class keeps a learnable bias, as written in Eq. 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["NormalizedLinear", "build_classifier", "upcast"]


class NormalizedLinear(nn.Module):
    """``logits = s · normalize(x) · normalize(W)^T + b`` (mmps Eq. 2).

    ``weight`` has nn.Linear's shape (classes × dim), so :func:`reidlib.losses.exclusivity` and
    anything else that reads ``classifier.weight`` treat both heads alike.
    """

    def __init__(self, in_features: int, out_features: int, scale: float = 15.0, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features, self.scale = in_features, out_features, float(scale)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.normal_(self.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in float32: under autocast the cosine is otherwise rounded to bf16/fp16.
        x = F.normalize(upcast(x), dim=1)
        w = F.normalize(upcast(self.weight), dim=1).to(x.dtype)
        logits = self.scale * (x @ w.t())
        return logits if self.bias is None else logits + self.bias.to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, scale={self.scale}"


def build_classifier(head: str, in_features: int, num_classes: int, scale: float = 15.0) -> nn.Module:
    """``head`` = "linear" (mmps Eq. 1; weight N(0, 0.001²), bias 0) or "normalized" (Eq. 2)."""
    if head == "linear":
        fc = nn.Linear(in_features, num_classes)
        nn.init.normal_(fc.weight, std=0.001)
        nn.init.zeros_(fc.bias)
        return fc
    if head == "normalized":
        return NormalizedLinear(in_features, num_classes, scale=scale)
    raise ValueError(f"ModelSpec.head must be 'linear' or 'normalized', got {head!r}")


def upcast(t: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 → float32 (losses under autocast); float32/float64 stay as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
