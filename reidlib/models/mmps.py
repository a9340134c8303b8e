"""Multi-scale multi-patch network (mmps §3.1, Fig. 2; ablation switches of §4.5.1).

* Scale normalisation: on each of conv2_x..conv5_x (C2..C5) a 1×1 conv + BN to a common width,
  *without* the final ReLU (mmps removes it "due to the upsampling step"). Common width =
  ``ModelSpec.pyramid_channels`` (512 by default; the paper gives none).
* The normalised maps are bilinearly upsampled (``align_corners=False``) to C2's size and added
  → the multi-scale map ``M`` (``feature_maps()["M"]``).
* ``multi_scale=False``: ``M`` = the scale-normalised C5 alone (conv5_x only), at C5's own size.
  ``ModelSpec.last_stride`` is honoured as given (the registry keeps 2, the paper's 32×
  downsampling); PCB uses last stride 1 — set it in the spec to get PCB's 1/16 map.
* Global branch: GAP(M). Part branch (``part_pooling``): M is cut into ``num_parts`` = 6 horizontal
  stripes (adaptive average pooling to num_parts×1, PCB). Each pooled vector has its own reduction
  (Linear(width, 256, no bias) → BN → ReLU, PCB's 1×1 conv reduction) and its own classifier
  (``head`` = "linear" or "normalized" with s = ``scale``). Classifier order: global, then parts
  top to bottom.
* Test embedding: each branch's 256-d vector is L2-normalised, then all are concatenated
  (256·(1 + 6) = 1792-d for the full model), so every branch weighs the same in the distance and
  the geometry matches the cosine logits of the normalized softmax. (mmps says only "concatenation".)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reidlib.models.backbone import STAGES
from reidlib.models.baseline import ReidNet

__all__ = ["MMPS", "BRANCH_DIM"]

BRANCH_DIM = 256  # PCB's per-stripe reduction width


def _reduction(in_dim: int) -> nn.Sequential:
    fc = nn.Linear(in_dim, BRANCH_DIM, bias=False)
    nn.init.kaiming_normal_(fc.weight, mode="fan_out", nonlinearity="relu")
    return nn.Sequential(fc, nn.BatchNorm1d(BRANCH_DIM), nn.ReLU(inplace=True))


class MMPS(ReidNet):
    """Multi-scale (summed scale-normalised C2..C5) multi-patch (global + stripes) network."""

    def __init__(self, spec, num_classes: int, pretrained: str | None = None):
        super().__init__(spec, pretrained)
        if spec.num_parts < 1:
            raise ValueError(f"ModelSpec.num_parts must be ≥ 1, got {spec.num_parts}")
        self.inputs = STAGES if spec.multi_scale else ("C5",)
        width = spec.pyramid_channels
        self.scale_norm = nn.ModuleDict()
        for lv in self.inputs:
            conv = nn.Conv2d(self.backbone.out_channels[lv], width, 1, bias=False)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            self.scale_norm[lv] = nn.Sequential(conv, nn.BatchNorm2d(width))
        self.num_parts = spec.num_parts if spec.part_pooling else 0
        self.reductions = nn.ModuleList(_reduction(width) for _ in range(1 + self.num_parts))
        self._add_classifiers([BRANCH_DIM] * (1 + self.num_parts), num_classes)

    def embed(self, stages):
        size = stages[self.inputs[0]].shape[-2:]
        m = None
        for lv in self.inputs:
            y = self.scale_norm[lv](stages[lv])
            if y.shape[-2:] != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            m = y if m is None else m + y
        pooled = [m.mean(dim=(2, 3))]
        if self.num_parts:
            stripes = F.adaptive_avg_pool2d(m, (self.num_parts, 1)).flatten(2)  # B × C × parts
            pooled += list(stripes.unbind(dim=2))
        embeddings = [red(p) for red, p in zip(self.reductions, pooled)]
        feature = torch.cat([F.normalize(e, dim=1) for e in embeddings], dim=1)
        return embeddings, feature, {"M": m}
