"""MSMT17 reader (torchreid layout): ``MSMT17_V1/`` or ``MSMT17_V2/`` (under ``root``, under
``root/msmt17/`` or given directly) holding ``train/ test/`` and ``list_{train,val,query,gallery}.txt``
whose lines are ``<relative image path> <pid>``; the camera is the third ``_`` field of the file
name (``0000_000_01_0303morning_0015_0.jpg`` → camera 1, 0-based 0). V2's ``mask_train_v2/`` and
``mask_test_v2/`` folders are accepted too.

``combine_val`` merges ``list_val.txt`` into train (off by default: the published protocol trains on
``list_train.txt`` alone, as torchreid does without ``combineall``).
"""

from __future__ import annotations

from pathlib import Path

from reidlib.data.base import Item, ReidDataset, find_data_dir, relabel
from reidlib.data.errors import ReidDataError

__all__ = ["msmt17", "read_list"]


def read_list(list_path: Path, img_dir: Path) -> list[Item]:
    """Parse one ``list_*.txt`` (images under ``img_dir``)."""
    if not list_path.is_file():
        raise ReidDataError(f"{list_path}: split list is missing; expected lines '<image path> <pid>'")
    items: list[Item] = []
    for lineno, line in enumerate(list_path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            rel, pid = parts[0], int(parts[1])
            cam = int(Path(rel).name.split("_")[2]) - 1
        except (IndexError, ValueError) as exc:
            raise ReidDataError(f"{list_path}:{lineno}: {line.strip()!r} does not parse; expected "
                                "'0000/0000_000_01_0303morning_0015_0.jpg 0'") from exc
        if cam < 0:
            raise ReidDataError(f"{list_path}:{lineno}: camera {cam + 1} out of range; expected >= 1")
        items.append((str(img_dir / rel), pid, cam))
    if not items:
        raise ReidDataError(f"{list_path}: split list is empty; expected lines '<image path> <pid>'")
    first = Path(items[0][0])
    if not first.is_file():
        raise ReidDataError(f"{first}: image listed in {list_path.name} is missing; expected it under "
                            f"{img_dir}")
    return items


def msmt17(root: Path, combine_val: bool = False) -> ReidDataset:
    """MSMT17 (Wei et al. 2018): 1041 train / 3060 test identities, 15 cameras."""
    data_dir = find_data_dir(root, ["MSMT17_V1", "MSMT17_V2", "msmt17/MSMT17_V1", "msmt17/MSMT17_V2",
                                    "msmt17"], "list_query.txt", "MSMT17")
    train_dir, test_dir = data_dir / "train", data_dir / "test"
    if not train_dir.is_dir() and (data_dir / "mask_train_v2").is_dir():
        train_dir, test_dir = data_dir / "mask_train_v2", data_dir / "mask_test_v2"
    for d in (train_dir, test_dir):
        if not d.is_dir():
            raise ReidDataError(f"{d}: split folder is missing; expected MSMT17's train/ and test/")
    train = read_list(data_dir / "list_train.txt", train_dir)
    if combine_val:
        train += read_list(data_dir / "list_val.txt", train_dir)
    query = read_list(data_dir / "list_query.txt", test_dir)
    gallery = read_list(data_dir / "list_gallery.txt", test_dir)
    return ReidDataset("msmt17", data_dir, relabel(train), query, gallery).check()
