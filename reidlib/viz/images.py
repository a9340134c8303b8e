"""Images in and figures out: load crops for a model and for display; save a figure atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from reidlib.utils.io import atomic_path

__all__ = ["load_images", "save_figure"]


def load_images(paths: Sequence[str | os.PathLike[str]], size: tuple[int, int], recipe: str = "amfl"
                ) -> tuple[torch.Tensor, list[np.ndarray]]:
    """(normalised batch N×3×H×W through the recipe's test transform, display images H×W×3 in [0, 1])."""
    from PIL import Image

    from reidlib.data import build_transforms

    transform = build_transforms(recipe, tuple(size), train=False)
    batch, shown = [], []
    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGB")
            batch.append(transform(im))
            shown.append(np.asarray(im.resize((size[1], size[0]), Image.BILINEAR), dtype=np.float32) / 255.0)
    return torch.stack(batch), shown


def save_figure(fig, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """``fig.savefig`` to ``path`` atomically (format from the suffix); returns the path."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return path
