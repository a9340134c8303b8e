"""``ReidDataset`` and the parsing shared by every reader (torchreid conventions).

Conventions (the same as torchreid, so results are comparable): every split is a list of
``(img_path, pid, camid)``; train pids are relabelled to ``0..N-1`` in sorted order of the original
pids; camids are 0-based; query/gallery pids keep their original values (pid ``0`` = Market's
distractors, kept in the gallery; ``-1`` = junk, dropped by the readers).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from reidlib.data.errors import ReidDataError

__all__ = [
    "Item",
    "ReidDataset",
    "IMAGE_EXTENSIONS",
    "MARKET_NAME",
    "resolve_root",
    "find_data_dir",
    "list_images",
    "parse_market_dir",
    "relabel",
]

Item = tuple[str, int, int]
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
# Market-1501 / DukeMTMC-reID file names: ``0002_c1s1_000451_03.jpg``, ``-1_c3s2_...``,
# ``0001_c2_f0046182.jpg``. ``c(\d+)`` (torchreid: ``c(\d)``) also reads SynthReID's 15 cameras.
MARKET_NAME = re.compile(r"^(-?\d+)_c(\d+)")


@dataclass
class ReidDataset:
    """Train / query / gallery splits of one dataset.

    ``multi_query`` holds extra images of the query identities (Market's ``gt_bbox/``) for
    multi-query evaluation (mmps Table 2), or ``None`` when the dataset has none.
    """

    name: str
    root: Path
    train: list[Item]
    query: list[Item]
    gallery: list[Item]
    multi_query: list[Item] | None = None

    @property
    def num_train_pids(self) -> int:
        return len({pid for _, pid, _ in self.train})

    @property
    def num_train_cams(self) -> int:
        return len({cam for _, _, cam in self.train})

    def summary(self) -> str:
        """A small table of images / identities / cameras per split."""
        rows = [("train", self.train), ("query", self.query), ("gallery", self.gallery)]
        if self.multi_query is not None:
            rows.append(("multi_query", self.multi_query))
        lines = [f"{self.name} ({self.root})", f"  {'split':<12}{'images':>8}{'ids':>7}{'cams':>6}"]
        for split, items in rows:
            pids = {p for _, p, _ in items}
            cams = {c for _, _, c in items}
            lines.append(f"  {split:<12}{len(items):>8}{len(pids):>7}{len(cams):>6}")
        return "\n".join(lines)

    def check(self, required: tuple[str, ...] = ("train", "query", "gallery")) -> ReidDataset:
        """Raise on an empty ``required`` split; warn about query identities that have no gallery
        image (they cannot be evaluated). Returns ``self``."""
        for split in required:
            if not getattr(self, split):
                raise ReidDataError(f"{self.root}: the {split} split of {self.name!r} is empty; "
                                    "expected at least one image")
        gallery_pids = {pid for _, pid, _ in self.gallery}
        missing = sorted({pid for _, pid, _ in self.query} - gallery_pids)
        if missing:
            first = next(path for path, pid, _ in self.query if pid == missing[0])
            warnings.warn(f"{self.name}: {len(missing)} query identities have no gallery image and "
                          f"cannot be matched (pids {missing[:10]}, e.g. {first})", stacklevel=3)
        return self


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """``root`` if given, else ``$REIDLIB_DATA``, else ``data/`` (relative to the working folder)."""
    if root is None:
        root = os.environ.get("REIDLIB_DATA") or "data"
    return Path(root).expanduser()


def find_data_dir(root: Path, candidates: list[str], marker: str, name: str) -> Path:
    """The first of ``root/<candidate>`` (and ``root`` itself) that contains ``marker``.

    Readers accept a dataset folder placed under ``root``, under ``root/<name>/`` or given
    directly, as torchreid does.
    """
    if not root.exists():
        raise ReidDataError(f"{root}: data root does not exist; expected a folder holding {name} "
                            f"(one of {candidates})")
    for cand in [*candidates, "."]:
        d = (root / cand) if cand != "." else root
        if (d / marker).exists():
            return d
    tried = ", ".join(str(root / c) for c in candidates)
    raise ReidDataError(f"{root}: no {name} found; expected {marker!r} in one of {tried} or {root}")


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (other files, e.g. Thumbs.db, skipped)."""
    if not folder.is_dir():
        raise ReidDataError(f"{folder}: split folder is missing; expected a folder of images")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def parse_market_dir(folder: Path, drop_junk: bool = True) -> list[Item]:
    """Parse Market-style names ``<pid>_c<cam>...`` in ``folder``: junk pid ``-1`` dropped, camids
    made 0-based. Raises ``ReidDataError`` on an empty folder or a name that does not parse."""
    images = list_images(folder)
    if not images:
        raise ReidDataError(f"{folder}: split folder is empty; expected images named like "
                            "0002_c1s1_000451_03.jpg")
    items: list[Item] = []
    for path in images:
        m = MARKET_NAME.match(path.name)
        if m is None:
            raise ReidDataError(f"{path}: file name does not parse; expected Market-1501 naming "
                                "'<pid>_c<camera>...' such as 0002_c1s1_000451_03.jpg")
        pid, cam = int(m.group(1)), int(m.group(2))
        if pid < -1 or cam < 1:
            raise ReidDataError(f"{path}: pid {pid} / camera {cam} out of range; expected pid >= -1 "
                                "and camera >= 1")
        if pid == -1 and drop_junk:
            continue
        items.append((str(path), pid, cam - 1))
    return items


def relabel(items: list[Item]) -> list[Item]:
    """Map pids to ``0..N-1`` in sorted order (torchreid's train relabelling)."""
    pid2label = {pid: i for i, pid in enumerate(sorted({pid for _, pid, _ in items}))}
    return [(path, pid2label[pid], cam) for path, pid, cam in items]
