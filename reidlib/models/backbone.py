"""ResNet backbone returning the stage outputs C2..C5 (amfl §III-A; mmps §3.1 conv2_x..conv5_x).

``ResNetBackbone(depth, last_stride, pretrained)`` wraps torchvision's ResNet-18/34/50/101 without
its classifier. ``forward(x)`` returns ``{"C2": ..., "C5": ...}`` with strides 4, 8, 16, 32
(16 for C5 when ``last_stride == 1``, the "last stride" trick of amfl Table II (b)).

``pretrained``:

* ``None``: random initialisation (torchvision's default).
* ``"imagenet"``: torchvision's ImageNet weights, read from the torch hub cache
  (``$TORCH_HOME/hub/checkpoints/<file>``, ``torch.hub.get_dir()``). The ``IMAGENET1K_V1`` file
  (the "official" weights the papers used) is preferred, ``IMAGENET1K_V2`` accepted; when neither
  file is there, ``IMAGENET1K_V1`` is downloaded into that cache through torchvision's weights API
  (with a progress bar; ``make weights`` does it ahead). When the download fails (offline), the
  error names the file and the folder to put it in.
* a path: a state dict (``torch.load(..., weights_only=True)``) of a torchvision ResNet or of this
  backbone; ``module.`` / ``backbone.`` prefixes and ``fc.*`` keys are ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from torch import nn

__all__ = ["ResNetBackbone", "STAGES", "imagenet_weight_files", "download_imagenet_weights",
           "load_backbone_weights"]

STAGES = ("C2", "C3", "C4", "C5")
_ARCH = {
    18: (torchvision.models.resnet18, torchvision.models.ResNet18_Weights),
    34: (torchvision.models.resnet34, torchvision.models.ResNet34_Weights),
    50: (torchvision.models.resnet50, torchvision.models.ResNet50_Weights),
    101: (torchvision.models.resnet101, torchvision.models.ResNet101_Weights),
}


def imagenet_weight_files(depth: int) -> list[str]:
    """File names of torchvision's ImageNet weights for ResNet-``depth``, preferred first (V1, V2)."""
    _, weights = _ARCH[depth]
    return [os.path.basename(w.url) for w in weights]


def download_imagenet_weights(depth: int, progress: bool = True) -> Path:
    """Fetch ResNet-``depth``'s ``IMAGENET1K_V1`` weights into the torch hub cache (torchvision's
    weights API, hash-checked); return the file. Offline: FileNotFoundError naming file and folder."""
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    files = imagenet_weight_files(depth)
    try:
        _ARCH[depth][1].IMAGENET1K_V1.get_state_dict(progress=progress)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a hash mismatch a RuntimeError
        raise FileNotFoundError(
            f"ImageNet weights for ResNet-{depth} not found and the download failed ({exc}): put "
            f"torchvision's file {files[0]!r} (or {', '.join(map(repr, files[1:])) or 'none'}) into "
            f"{folder} (the torch hub cache, $TORCH_HOME/hub/checkpoints)."
        ) from exc
    return folder / files[0]


class ResNetBackbone(nn.Module):
    """torchvision ResNet trunk: stem + layer1..layer4 → C2..C5.

    ``out_channels`` maps stage name → channels (64..512 for depth 18/34, 256..2048 for 50/101).
    """

    def __init__(self, depth: int = 50, last_stride: int = 2, pretrained: str | os.PathLike | None = None):
        super().__init__()
        if depth not in _ARCH:
            raise ValueError(f"ModelSpec.depth must be one of {sorted(_ARCH)}, got {depth}")
        if last_stride not in (1, 2):
            raise ValueError(f"ModelSpec.last_stride must be 1 or 2, got {last_stride}")
        net = _ARCH[depth][0](weights=None)
        self.depth = depth
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        if pretrained is not None:
            load_backbone_weights(self, pretrained)
        if last_stride == 1:
            block = self.layer4[0]
            # Bottleneck strides in conv2 (torchvision v1.5), BasicBlock in conv1; both in downsample.
            conv = block.conv2 if hasattr(block, "conv3") else block.conv1
            conv.stride = (1, 1)
            block.downsample[0].stride = (1, 1)
        expansion = 4 if depth >= 50 else 1
        self.out_channels = {f"C{k + 2}": 64 * 2**k * expansion for k in range(4)}

    def stages(self) -> dict[str, nn.Module]:
        """Stage name → module whose output is that stage (forward hooks for MSGR taps)."""
        return {"C2": self.layer1, "C3": self.layer2, "C4": self.layer3, "C5": self.layer4}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return {"C2": c2, "C3": c3, "C4": c4, "C5": c5}


def _torchvision_to_backbone(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    stem = {"conv1.": "stem.0.", "bn1.": "stem.1."}
    for key, value in state.items():
        for prefix in ("module.", "backbone."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key.startswith("fc."):
            continue
        for old, new in stem.items():
            if key.startswith(old):
                key = new + key[len(old):]
        out[key] = value
    return out


def load_backbone_weights(backbone: ResNetBackbone, pretrained: str | os.PathLike) -> None:
    """Load ImageNet or file weights into ``backbone`` (strict); errors name the file involved."""
    if pretrained == "imagenet":
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        files = imagenet_weight_files(backbone.depth)
        found = [folder / f for f in files if (folder / f).is_file()]
        path = found[0] if found else download_imagenet_weights(backbone.depth)
    else:
        path = Path(pretrained)
        if not path.is_file():
            raise FileNotFoundError(
                f"pretrained weights file {str(path)!r} does not exist (pretrained= None, 'imagenet' "
                f"or the path of a ResNet-{backbone.depth} state dict)"
            )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors: say which file
        raise ValueError(f"cannot read weights file {str(path)!r}: {exc}") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"weights file {str(path)!r} holds a {type(state).__name__}, not a state dict")
    state = _torchvision_to_backbone(state)
    own = backbone.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    bad_shape = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or bad_shape:
        raise ValueError(
            f"weights file {str(path)!r} does not fit a ResNet-{backbone.depth} backbone: "
            f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}, "
            f"{len(bad_shape)} with other shapes {bad_shape[:3]}"
        )
    backbone.load_state_dict(state, strict=True)
