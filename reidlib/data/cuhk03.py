"""CUHK03 under the new protocol (Zhong et al. 2017, "re-ranking" paper): 767 train / 700 test
identities, ``labeled`` (hand-drawn boxes) or ``detected`` (DPM boxes), 2 cameras.

Layout (torchreid's): ``root/cuhk03/`` (or ``root`` directly) holding
``cuhk03_new_protocol_config_{labeled,detected}.mat`` and either the extracted images
``images_{labeled,detected}/`` (``<campair>_<pid:03d>_<view>_<img:02d>.png``, torchreid's names) or
the official ``cuhk03_release/cuhk-03.mat``, from which the images are extracted on first use.

The official ``cuhk-03.mat`` is MATLAB v7.3 (HDF5): reading it needs ``h5py``, which reidlib does
not depend on; without it a ``ReidDataError`` says to ``pip install h5py`` (or to extract the
images with torchreid). The protocol files are classic .mat, read with ``scipy.io.loadmat``:
fields ``train_idx, query_idx, gallery_idx`` (1-based indices into the next three), ``labels``
(pids), ``filelist`` (image names), ``camId`` (1-based cameras).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from reidlib.data.base import Item, ReidDataset, find_data_dir, relabel
from reidlib.data.errors import ReidDataError

__all__ = ["cuhk03", "extract_cuhk03_images", "read_protocol"]

FIELDS = ("train_idx", "query_idx", "gallery_idx", "labels", "filelist", "camId")


def cuhk03(root: Path, mode: str = "labeled") -> ReidDataset:
    """CUHK03 new protocol, ``mode`` = ``labeled`` or ``detected``."""
    if mode not in ("labeled", "detected"):
        raise ValueError(f"cuhk03: mode must be 'labeled' or 'detected', got {mode!r}")
    config = f"cuhk03_new_protocol_config_{mode}.mat"
    data_dir = find_data_dir(root, ["cuhk03"], config, "CUHK03")
    img_dir = data_dir / f"images_{mode}"
    if not img_dir.is_dir():
        extract_cuhk03_images(data_dir, mode)
    splits = read_protocol(data_dir / config, img_dir)
    return ReidDataset(f"cuhk03-{mode}", data_dir, relabel(splits["train"]), splits["query"],
                       splits["gallery"]).check()


def _as_str(x: object) -> str:
    while isinstance(x, np.ndarray):
        x = x.ravel()[0] if x.size else ""
    return str(x).strip()


def read_protocol(mat_path: Path, img_dir: Path) -> dict[str, list[Item]]:
    """Read a ``cuhk03_new_protocol_config_*.mat`` into train/query/gallery items (pids as stored)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(mat_path))
    except Exception as exc:  # scipy raises many kinds on a file that is not a classic .mat
        raise ReidDataError(f"{mat_path}: cannot read as a classic MATLAB .mat file ({exc}); "
                            f"expected the CUHK03 new-protocol config with fields {FIELDS}") from exc
    missing = [f for f in FIELDS if f not in mat]
    if missing:
        raise ReidDataError(f"{mat_path}: wrong structure, fields {missing} missing; expected "
                            f"fields {FIELDS} (found {sorted(k for k in mat if not k.startswith('__'))})")
    labels = np.asarray(mat["labels"]).ravel().astype(np.int64)
    cams = np.asarray(mat["camId"]).ravel().astype(np.int64)
    files = [_as_str(x) for x in np.asarray(mat["filelist"], dtype=object).ravel()]
    if not (len(labels) == len(cams) == len(files)) or not files:
        raise ReidDataError(f"{mat_path}: wrong structure; expected labels, camId and filelist of one "
                            f"non-zero length, got {len(labels)}, {len(cams)}, {len(files)}")
    out: dict[str, list[Item]] = {}
    for split in ("train", "query", "gallery"):
        idx = np.asarray(mat[f"{split}_idx"]).ravel().astype(np.int64) - 1
        if idx.size == 0 or idx.min() < 0 or idx.max() >= len(files):
            raise ReidDataError(f"{mat_path}: {split}_idx must be non-empty 1-based indices into "
                                f"filelist (1..{len(files)})")
        items = []
        for i in idx:
            path = img_dir / files[i]
            if not path.is_file():
                raise ReidDataError(f"{path}: image listed in {mat_path.name} is missing; expected the "
                                    f"images extracted from cuhk-03.mat in {img_dir}")
            items.append((str(path), int(labels[i]), int(cams[i]) - 1))
        out[split] = items
    return out


def extract_cuhk03_images(data_dir: Path, mode: str) -> Path:
    """Extract ``images_<mode>/`` from the official ``cuhk-03.mat`` (HDF5) with torchreid's names.

    Written to a temporary folder and renamed, so an interrupted extraction leaves nothing half.
    """
    candidates = [data_dir / "cuhk03_release" / "cuhk-03.mat", data_dir / "cuhk-03.mat"]
    mat_path = next((p for p in candidates if p.is_file()), None)
    out = data_dir / f"images_{mode}"
    if mat_path is None:
        raise ReidDataError(f"{out}: extracted images missing and no cuhk-03.mat to extract them from; "
                            f"expected {candidates[0]} or {candidates[1]}")
    try:
        import h5py
    except ImportError as exc:
        raise ReidDataError(f"{mat_path}: is MATLAB v7.3 (HDF5) and reading it needs h5py: "
                            f"`pip install h5py`, or extract the images into {out} with torchreid") from exc
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix=f".images_{mode}.", dir=data_dir))
    try:
        with h5py.File(mat_path, "r") as mat:
            if mode not in mat:
                raise ReidDataError(f"{mat_path}: no {mode!r} dataset; expected the official "
                                    "cuhk-03.mat with 'labeled' and 'detected'")
            for campid, camp_ref in enumerate(mat[mode][0]):
                camp = mat[camp_ref][:].T  # num_pids x 10 references
                for pid in range(camp.shape[0]):
                    for imgid, ref in enumerate(camp[pid, :]):
                        img = mat[ref][:].T
                        if img.size == 0 or img.ndim < 3:
                            continue
                        view = 1 if imgid < 5 else 2
                        name = f"{campid + 1}_{pid + 1:03d}_{view}_{imgid + 1:02d}.png"
                        Image.fromarray(img.astype(np.uint8)).save(tmp / name)
        os.replace(tmp, out)
    except OSError as exc:
        raise ReidDataError(f"{mat_path}: cannot read as HDF5 ({exc}); expected the official "
                            "cuhk-03.mat") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out
