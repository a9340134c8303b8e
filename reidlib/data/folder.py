"""``folder``: a user's own images named in Market-1501's convention (``<pid>_c<camera>...``).

``path`` holds ``query/`` and a gallery folder (``gallery/`` or ``bounding_box_test/``), and
optionally a train folder (``train/`` or ``bounding_box_train/``); without one the dataset is for
evaluation only (``train`` is empty). Junk ``-1`` is dropped, distractors ``0`` stay in the gallery.
"""

from __future__ import annotations

from pathlib import Path

from reidlib.data.base import ReidDataset, parse_market_dir, relabel
from reidlib.data.errors import ReidDataError

__all__ = ["folder"]


def _first_dir(path: Path, names: tuple[str, ...]) -> Path | None:
    return next((path / n for n in names if (path / n).is_dir()), None)


def folder(path: Path) -> ReidDataset:
    """Read ``path/{query, gallery|bounding_box_test}[, train|bounding_box_train]``."""
    if not path.is_dir():
        raise ReidDataError(f"{path}: folder dataset does not exist; expected a folder with query/ and "
                            "gallery/ (optionally train/) of Market-named images")
    gallery_dir = _first_dir(path, ("gallery", "bounding_box_test"))
    if gallery_dir is None:
        raise ReidDataError(f"{path}: no gallery folder; expected {path / 'gallery'} or "
                            f"{path / 'bounding_box_test'}")
    train_dir = _first_dir(path, ("train", "bounding_box_train"))
    train = relabel(parse_market_dir(train_dir)) if train_dir is not None else []
    query = parse_market_dir(path / "query")
    gallery = parse_market_dir(gallery_dir)
    return ReidDataset("folder", path, train, query, gallery).check(required=("query", "gallery"))
