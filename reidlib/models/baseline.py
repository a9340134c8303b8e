"""The amfl baseline (§IV-A) and the output convention shared by every reidlib model.

Baseline: ResNet → global average pooling of C5 → BN → FC(``embed_dim`` = 512) → ReLU → classifier.
At 256×128 its test-time part (without classifier) has 24.56 M parameters and 2.7 GMACs
(4.05 with last stride 1), amfl Table II: 24.56 M / 2.6 G / 4.1 G (`python -m reidlib profile`).

:class:`ReidNet` is the common frame: ``forward(x)`` in train mode returns ``{"logits": [...],
"embeddings": [...], "feature": B×D, "stages": {"C2".."C5"}}``, in eval mode the B×D test embedding;
``.classifiers`` is an ``nn.ModuleList``; ``.feature_maps(x)`` returns C2..C5 plus the model's own
intermediate maps. Subclasses implement :meth:`ReidNet.embed`.
"""

from __future__ import annotations

import torch
from torch import nn

from reidlib.models.backbone import ResNetBackbone
from reidlib.models.heads import build_classifier

__all__ = ["ReidNet", "Baseline", "EmbeddingHead"]


class EmbeddingHead(nn.Sequential):
    """BN → FC → ReLU on a pooled vector (amfl §IV-A: "append BN-FC-ReLU layers after GAP")."""

    def __init__(self, in_dim: int, out_dim: int):
        fc = nn.Linear(in_dim, out_dim)
        nn.init.kaiming_normal_(fc.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(fc.bias)
        super().__init__(nn.BatchNorm1d(in_dim), fc, nn.ReLU(inplace=True))


class ReidNet(nn.Module):
    """Backbone + model-specific head + one classifier per embedding (see module docstring)."""

    def __init__(self, spec, pretrained: str | None = None):
        super().__init__()
        self.spec = spec
        self.backbone = ResNetBackbone(spec.depth, spec.last_stride, pretrained)
        self.classifiers = nn.ModuleList()

    def _add_classifiers(self, dims: list[int], num_classes: int) -> None:
        for d in dims:
            self.classifiers.append(build_classifier(self.spec.head, d, num_classes, self.spec.scale))

    def embed(self, stages: dict[str, torch.Tensor]
              ) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """(embeddings, one per classifier; test feature; named intermediate maps)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor):
        stages = self.backbone(x)
        embeddings, feature, _ = self.embed(stages)
        if not self.training:
            return feature
        logits = [clf(e) for clf, e in zip(self.classifiers, embeddings)]
        return {"logits": logits, "embeddings": embeddings, "feature": feature, "stages": stages}

    def feature_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """C2..C5 and the model's intermediate maps (P2..P5, F2..F4 for MSFL; M for MMPS)."""
        stages = self.backbone(x)
        _, _, maps = self.embed(stages)
        return {**stages, **maps}


class Baseline(ReidNet):
    """amfl §IV-A baseline: GAP(C5) → BN → FC(512) → ReLU → classifier; test feature = the 512-d."""

    def __init__(self, spec, num_classes: int, pretrained: str | None = None):
        super().__init__(spec, pretrained)
        self.head = EmbeddingHead(self.backbone.out_channels["C5"], spec.embed_dim)
        self._add_classifiers([spec.embed_dim], num_classes)

    def embed(self, stages):
        v = self.head(stages["C5"].mean(dim=(2, 3)))
        return [v], v, {}
