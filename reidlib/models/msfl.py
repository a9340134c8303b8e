"""MSFL = CSIP + MSFF (amfl §III-A, Fig. 2, Table I rows b–f; row a is :class:`Baseline`).

Switches (``ModelSpec``):

* ``fuse="direct"`` (rows b, c): a 1×1 lateral conv maps each of ``levels`` to
  ``pyramid_channels``; each is globally average-pooled, the vectors are concatenated.
* ``fuse="topdown"`` (rows d, e, f), CSIP on ``levels`` (a contiguous run ending at C5):
  ``P5 = lateral(C5)``; ``P_k = lateral(C_k) + smooth_k(up2(P_{k+1}))`` with ``up2`` nearest-neighbour
  ×2 upsampling and ``smooth_k`` the 3×3 conv "to reduce the aliasing effect of upsampling".
  ``lateral=False`` (row d): no C_k is injected below the top, ``P_k = smooth_k(up2(P_{k+1}))``;
  the 1×1 conv on C5 stays because the top-down path needs ``pyramid_channels`` channels (it is
  the start of the path, not a lateral *connection*). Row d is thus C5 seen at four resolutions,
  which is consistent with the paper finding it no better than the baseline (90.3 vs 90.4).
* ``msff_blocks=(n2, n3, n4)`` (row f: 3, 2, 1): ResNet bottleneck blocks stacked on P2, P3, P4 →
  F2, F3, F4; the embedding concatenates F2, F3, F4, P5 (levels with 0 blocks use P_k).

Embedding (all rows): GAP of each fused map → concatenate → BN → FC(``embed_dim``) → ReLU, exactly
the baseline's head, so rows differ only in what is pooled; the 512-d vector is the test feature.

Widths the paper leaves open, chosen to stay near Table II (c) (27 M params, 5.9 GFLOPs = GMACs):

* ``smooth_k`` is a *depthwise* 3×3 conv (one learned 3×3 filter per channel, i.e. a learned
  anti-aliasing blur). A dense 3×3 512→512 conv on P2..P4 would add 7.1 M params and 6.3 GMACs at
  256×128 (35 M / 11.5 G in all), contradicting the paper's "roughly equivalent" to last stride 1.
* MSFF blocks are torchvision ``Bottleneck(512, 128)`` (expansion 4, width 512/4), with the last BN
  of each block zero-initialised so an untrained MSFF block starts as F_k = ReLU(P_k): the residual
  branch is zero, and torchvision's Bottleneck applies its ReLU after the addition (not the identity).
* Result (ResNet-50, 256×128, without classifier): row f = 28.2 M params, 5.2 GMACs (paper 27 M,
  5.9 G); see ``python -m reidlib profile amfl.table2.c``. No width choice matches both numbers:
  the 1×1 laterals alone add 2.0 M params, leaving ~0.4 M for the six MSFF blocks and the smoothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck

from reidlib.models.backbone import STAGES
from reidlib.models.baseline import EmbeddingHead, ReidNet

__all__ = ["MSFL"]


def _msff_block(channels: int) -> Bottleneck:
    block = Bottleneck(channels, max(channels // 4, 1))
    nn.init.zeros_(block.bn3.weight)  # residual branch starts at 0: F_k = ReLU(P_k)
    return block


class MSFL(ReidNet):
    """Multi-scale feature learning network; ``spec.fuse`` ∈ {"direct", "topdown"}."""

    def __init__(self, spec, num_classes: int, pretrained: str | None = None):
        super().__init__(spec, pretrained)
        levels = tuple(spec.levels)
        if not levels or any(lv not in STAGES for lv in levels) or list(levels) != sorted(set(levels)):
            raise ValueError(f"ModelSpec.levels must be increasing names from {STAGES}, got {levels}")
        if spec.fuse == "topdown" and levels != STAGES[STAGES.index(levels[0]):]:
            raise ValueError(f"top-down fusion needs contiguous levels ending at C5, got {levels}")
        if spec.fuse not in ("direct", "topdown"):
            raise ValueError(f"ModelSpec.fuse for arch 'msfl' must be 'direct' or 'topdown', got {spec.fuse!r}")
        self.levels, self.fuse = levels, spec.fuse
        ch, out = spec.pyramid_channels, self.backbone.out_channels
        with_lateral = spec.fuse == "direct" or spec.lateral
        self.lateral = nn.ModuleDict({
            lv: nn.Conv2d(out[lv], ch, 1) for lv in levels if with_lateral or lv == "C5"
        })
        self.smooth = nn.ModuleDict()
        self.msff = nn.ModuleDict()
        if spec.fuse == "topdown":
            for lv in levels[:-1]:
                self.smooth[lv] = nn.Conv2d(ch, ch, 3, padding=1, groups=ch)
            for lv, n in zip(("C2", "C3", "C4"), spec.msff_blocks):
                if n > 0 and lv in levels:
                    self.msff[lv] = nn.Sequential(*[_msff_block(ch) for _ in range(n)])
        elif any(spec.msff_blocks):
            raise ValueError("ModelSpec.msff_blocks needs fuse='topdown' (MSFF refines P2..P4)")
        for m in [*self.lateral.values(), *self.smooth.values()]:
            nn.init.kaiming_uniform_(m.weight, a=1)
            nn.init.zeros_(m.bias)
        self.head = EmbeddingHead(ch * len(levels), spec.embed_dim)
        self._add_classifiers([spec.embed_dim], num_classes)

    def _pyramid(self, stages: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Named maps that are pooled, in level order, plus P_k when MSFF replaced them."""
        if self.fuse == "direct":
            return {"L" + lv[1]: self.lateral[lv](stages[lv]) for lv in self.levels}
        maps: dict[str, torch.Tensor] = {}
        p = self.lateral["C5"](stages["C5"])
        maps["P5"] = p
        for lv in reversed(self.levels[:-1]):
            c = stages[lv]
            up = F.interpolate(p, size=c.shape[-2:], mode="nearest")  # ×2 (sizes from odd inputs too)
            p = self.smooth[lv](up)
            if lv in self.lateral:
                p = p + self.lateral[lv](c)
            maps["P" + lv[1]] = p
        for lv, blocks in self.msff.items():
            maps["F" + lv[1]] = blocks(maps["P" + lv[1]])
        return maps

    def embed(self, stages):
        maps = self._pyramid(stages)
        if self.fuse == "direct":
            pooled = [maps["L" + lv[1]] for lv in self.levels]
        else:
            pooled = [maps.get("F" + lv[1], maps["P" + lv[1]]) for lv in self.levels]
        v = self.head(torch.cat([m.mean(dim=(2, 3)) for m in pooled], dim=1))
        return [v], v, maps
