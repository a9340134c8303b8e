"""``ImageDataset``: a torch Dataset over ``(img_path, pid, camid)`` items."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from reidlib.data.base import Item
from reidlib.data.errors import ReidDataError

__all__ = ["ImageDataset", "read_image"]


def read_image(path: str) -> Image.Image:
    """Load ``path`` as RGB. Grayscale, CMYK, palette and RGBA images are converted (not an error);
    a missing, corrupt or truncated file raises ``ReidDataError`` naming it."""
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so a truncated file fails here
            return img.convert("RGB")
    except FileNotFoundError as exc:
        raise ReidDataError(f"{path}: image file is missing; expected a readable image") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ReidDataError(f"{path}: corrupt or truncated image ({exc}); expected a readable "
                            "JPEG/PNG/BMP") from exc


class ImageDataset(Dataset):
    """``__getitem__(i) -> (transform(image), pid, camid, i)``."""

    def __init__(self, items: Sequence[Item], transform: Callable | None = None) -> None:
        self.items = list(items)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Any, int, int, int]:
        path, pid, camid = self.items[index]
        img = read_image(path)
        if self.transform is not None:
            img = self.transform(img)
        return img, pid, camid, index
