"""Dataset readers on fake trees in every layout (torchreid's), and every bad-input case."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from reidlib.data import ImageDataset, ReidDataError, build_dataset, build_transforms

MARKET = {
    "bounding_box_train": ["0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg", "0007_c1s1_000101_01.jpg",
                           "0007_c3s2_000201_02.jpg", "-1_c1s1_000001_00.jpg"],
    "query": ["0001_c1s1_001051_00.jpg", "0003_c2s1_000151_00.jpg"],
    "bounding_box_test": ["0001_c2s1_000301_01.jpg", "0003_c1s1_000401_01.jpg", "0000_c3s1_000501_01.jpg",
                          "-1_c1s1_000601_01.jpg", "0004_c6s1_000701_01.jpg"],
    "gt_bbox": ["0001_c1s1_001051_01.jpg", "0001_c1s1_001052_02.jpg", "0005_c1s1_000001_01.jpg"],
}


def write_image(path: Path, mode: str = "RGB", fmt: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = {"RGB": (200, 30, 30), "L": 128, "CMYK": (0, 255, 255, 0)}[mode]
    Image.new(mode, (4, 8), colour).save(path, format=fmt)
    return path


def make_tree(base: Path, tree: dict[str, list[str]]) -> Path:
    for folder, names in tree.items():
        (base / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            write_image(base / folder / name)
    return base


@pytest.mark.parametrize("where", ["Market-1501-v15.09.15", "market1501/Market-1501-v15.09.15", "market1501",
                                   "."])
def test_market_layouts_parsing_relabel_junk(tmp_path: Path, where: str) -> None:
    data_dir = make_tree(tmp_path / where, MARKET)
    (data_dir / "bounding_box_train" / "Thumbs.db").write_bytes(b"x")  # real Market has these
    ds = build_dataset("market1501", tmp_path)
    assert ds.root.resolve() == data_dir.resolve()
    assert sorted((Path(p).name[:4], pid, cam) for p, pid, cam in ds.train) == [
        ("0002", 0, 0), ("0002", 0, 1), ("0007", 1, 0), ("0007", 1, 2)]  # relabelled, 0-based, no junk
    assert ds.num_train_pids == 2 and ds.num_train_cams == 3
    assert [(pid, cam) for _, pid, cam in ds.query] == [(1, 0), (3, 1)]  # pids kept
    assert sorted(pid for _, pid, _ in ds.gallery) == [0, 1, 3, 4]  # distractor 0 kept, junk dropped
    assert sorted(pid for _, pid, _ in ds.multi_query) == [1, 1]  # gt_bbox, query identities only
    assert all(Path(p).is_file() for p, _, _ in ds.train + ds.query + ds.gallery)


def test_market_without_gt_bbox_and_env_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path / "market1501", {k: v for k, v in MARKET.items() if k != "gt_bbox"})
    monkeypatch.setenv("REIDLIB_DATA", str(tmp_path))
    ds = build_dataset("market1501")
    assert ds.multi_query is None and len(ds.train) == 4


def test_duke_layout(tmp_path: Path) -> None:
    names = {"bounding_box_train": ["0005_c2_f0046182.jpg", "0005_c8_f0046999.jpg", "0012_c5_f0001.jpg"],
             "query": ["0001_c7_f0000101.jpg"],
             "bounding_box_test": ["0001_c1_f0000201.jpg", "0050_c8_f0000301.jpg"]}
    make_tree(tmp_path / "dukemtmc-reid" / "DukeMTMC-reID", names)
    ds = build_dataset("dukemtmcreid", tmp_path)
    assert ds.name == "dukemtmcreid" and ds.num_train_pids == 2
    assert sorted(cam for _, _, cam in ds.train) == [1, 4, 7]
    assert ds.query[0][1:] == (1, 6)


def _msmt_tree(base: Path) -> Path:
    lists = {"train": [("0000/0000_000_01_0303morning_0015_0.jpg", 0), ("0000/0000_001_05_0303morning_0016_0.jpg", 0),
                       ("0001/0001_000_15_0303noon_0001_0.jpg", 1)],
             "val": [("0002/0002_000_03_0303noon_0002_0.jpg", 2)],
             "query": [("0100/0100_000_02_0303noon_0001_0.jpg", 100)],
             "gallery": [("0100/0100_003_09_0303noon_0005_0.jpg", 100), ("0101/0101_000_04_0303_0001_0.jpg", 101)]}
    for split, rows in lists.items():
        folder = "test" if split in ("query", "gallery") else "train"
        for rel, _ in rows:
            write_image(base / folder / rel)
        (base / f"list_{split}.txt").write_text("".join(f"{rel} {pid}\n" for rel, pid in rows))
    return base


def test_msmt17_layout_and_combine_val(tmp_path: Path) -> None:
    _msmt_tree(tmp_path / "msmt17" / "MSMT17_V1")
    ds = build_dataset("msmt17", tmp_path)
    assert sorted((pid, cam) for _, pid, cam in ds.train) == [(0, 0), (0, 4), (1, 14)]
    assert ds.query[0][1:] == (100, 1) and len(ds.gallery) == 2
    merged = build_dataset("msmt17", tmp_path, combine_val=True)
    assert merged.num_train_pids == 3 and len(merged.train) == 4


def _cuhk_tree(base: Path, mode: str, n_ids: int = 4) -> Path:
    """Extracted images + a new-protocol config in the official structure (1-based, cells)."""
    files, labels, cams = [], [], []
    for pid in range(1, n_ids + 1):
        for view in (1, 2):
            for k in range(2):
                name = f"1_{pid:03d}_{view}_{(view - 1) * 5 + k + 1:02d}.png"
                write_image(base / f"images_{mode}" / name, fmt="PNG")
                files.append(name)
                labels.append(pid)
                cams.append(view)
    idx = np.arange(1, len(files) + 1)
    train = idx[np.array(labels) <= n_ids // 2]
    test = idx[np.array(labels) > n_ids // 2]
    query = test[::2]  # one per camera per identity
    gallery = test[1::2]
    cell = np.empty((len(files), 1), dtype=object)
    for i, f in enumerate(files):
        cell[i, 0] = f
    scipy.io.savemat(base / f"cuhk03_new_protocol_config_{mode}.mat", {
        "train_idx": train.reshape(-1, 1).astype(float), "query_idx": query.reshape(-1, 1).astype(float),
        "gallery_idx": gallery.reshape(-1, 1).astype(float), "labels": np.array(labels).reshape(-1, 1).astype(float),
        "filelist": cell, "camId": np.array(cams).reshape(-1, 1).astype(float)})
    return base


@pytest.mark.parametrize(("name", "mode"), [("cuhk03", "labeled"), ("cuhk03-labeled", "labeled"),
                                            ("cuhk03-detected", "detected")])
def test_cuhk03_new_protocol(tmp_path: Path, name: str, mode: str) -> None:
    _cuhk_tree(tmp_path / "cuhk03", mode)
    ds = build_dataset(name, tmp_path)
    assert ds.name == f"cuhk03-{mode}"
    assert ds.num_train_pids == 2 and sorted({pid for _, pid, _ in ds.train}) == [0, 1]
    assert ds.num_train_cams == 2
    assert [(pid, cam) for _, pid, cam in ds.query] == [(3, 0), (3, 1), (4, 0), (4, 1)]
    assert len(ds.gallery) == 4 and all(Path(p).is_file() for p, _, _ in ds.gallery)


def test_cuhk03_official_mat_needs_h5py(tmp_path: Path) -> None:
    base = _cuhk_tree(tmp_path / "cuhk03", "labeled")
    for f in (base / "images_labeled").iterdir():
        f.unlink()
    (base / "images_labeled").rmdir()
    with pytest.raises(ReidDataError, match="cuhk-03.mat"):
        build_dataset("cuhk03", tmp_path)  # neither images nor the official .mat
    (base / "cuhk03_release").mkdir()
    (base / "cuhk03_release" / "cuhk-03.mat").write_bytes(b"\x89HDF\r\n\x1a\n not really")
    try:
        import h5py  # noqa: F401
    except ImportError:
        with pytest.raises(ReidDataError, match="pip install h5py"):
            build_dataset("cuhk03", tmp_path)
    else:
        with pytest.raises(ReidDataError, match="cuhk-03.mat"):
            build_dataset("cuhk03", tmp_path)
    assert not any(p.name.startswith(".images_") for p in base.iterdir())  # nothing half-written


def test_cuhk03_extraction_from_hdf5(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    base = _cuhk_tree(tmp_path / "cuhk03", "labeled", n_ids=2)
    names = sorted(p.name for p in (base / "images_labeled").iterdir())
    for f in (base / "images_labeled").iterdir():
        f.unlink()
    (base / "images_labeled").rmdir()
    (base / "cuhk03_release").mkdir()
    with h5py.File(base / "cuhk03_release" / "cuhk-03.mat", "w") as mat:  # MATLAB v7.3 structure
        refs = mat.create_group("#refs#")
        empty = refs.create_dataset("empty", data=np.zeros(2, dtype=np.uint64))
        cells = np.empty((10, 2), dtype=h5py.ref_dtype)  # stored transposed: 10 images × pids
        for pid in range(2):
            for img in range(10):
                if img in (0, 1, 5, 6):  # the images the config lists
                    data = np.full((3, 4, 8), 50 * (pid + 1), dtype=np.uint8)  # C × W × H
                    cells[img, pid] = refs.create_dataset(f"i{pid}_{img}", data=data).ref
                else:
                    cells[img, pid] = empty.ref
        camp = refs.create_dataset("camp0", data=cells)
        top = np.empty((1, 1), dtype=h5py.ref_dtype)
        top[0, 0] = camp.ref
        mat.create_dataset("labeled", data=top)
    ds = build_dataset("cuhk03", tmp_path)
    assert sorted(p.name for p in (base / "images_labeled").iterdir()) == names
    assert len(ds.train) == 4 and np.asarray(Image.open(ds.train[0][0])).shape == (8, 4, 3)


def test_folder_dataset(tmp_path: Path) -> None:
    make_tree(tmp_path / "mine", {"query": ["0001_c1_a.jpg"], "gallery": ["0001_c12_b.jpg", "0000_c2_x.jpg"]})
    ds = build_dataset("folder", path=tmp_path / "mine")
    assert ds.train == [] and ds.gallery[0][1:] == (0, 1) and ds.gallery[1][1:] == (1, 11)
    make_tree(tmp_path / "mine", {"train": ["0009_c1_a.jpg", "0004_c1_b.jpg"]})
    assert sorted(p for _, p, _ in build_dataset("folder", tmp_path / "mine").train) == [0, 1]


# ---- bad input: ReidDataError naming the path and the expectation ---------------------------------------

def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ReidDataError, match=r"nope.*does not exist"):
        build_dataset("market1501", tmp_path / "nope")
    with pytest.raises(ReidDataError, match="no Market-1501 found"):
        build_dataset("market1501", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        build_dataset("market", tmp_path)


def test_missing_and_empty_split(tmp_path: Path) -> None:
    base = make_tree(tmp_path / "market1501", {k: v for k, v in MARKET.items() if k != "bounding_box_test"})
    with pytest.raises(ReidDataError, match=r"bounding_box_test: split folder is missing"):
        build_dataset("market1501", tmp_path)
    (base / "bounding_box_test").mkdir()
    with pytest.raises(ReidDataError, match=r"bounding_box_test: split folder is empty"):
        build_dataset("market1501", tmp_path)


def test_only_junk_split_is_empty(tmp_path: Path) -> None:
    make_tree(tmp_path / "market1501", {**MARKET, "query": ["-1_c1s1_000001_00.jpg"]})
    with pytest.raises(ReidDataError, match="query split .* is empty"):
        build_dataset("market1501", tmp_path)


def test_unparsable_name(tmp_path: Path) -> None:
    make_tree(tmp_path / "market1501", {**MARKET, "query": [*MARKET["query"], "holiday.jpg"]})
    with pytest.raises(ReidDataError, match=r"holiday\.jpg: file name does not parse"):
        build_dataset("market1501", tmp_path)


def test_query_without_gallery_is_warned(tmp_path: Path) -> None:
    make_tree(tmp_path / "market1501", {**MARKET, "query": [*MARKET["query"], "0042_c1s1_000001_00.jpg"]})
    with pytest.warns(UserWarning, match=r"1 query identities have no gallery image.*42"):
        ds = build_dataset("market1501", tmp_path)
    assert len(ds.query) == 3


def test_corrupt_truncated_grayscale_cmyk_images(tmp_path: Path) -> None:
    good = write_image(tmp_path / "0001_c1s1_000001_00.jpg")
    gray = write_image(tmp_path / "0001_c1s1_000002_00.jpg", mode="L")
    cmyk = write_image(tmp_path / "0001_c1s1_000003_00.jpg", mode="CMYK")
    corrupt = tmp_path / "0001_c1s1_000004_00.jpg"
    corrupt.write_bytes(b"this is not a jpeg")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    truncated = tmp_path / "0001_c1s1_000005_00.jpg"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    items = [(str(p), 1, 0) for p in (good, gray, cmyk, corrupt, truncated)]
    ds = ImageDataset(items, build_transforms("amfl", (16, 8), train=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(3):  # grayscale and CMYK are converted, not fatal
            img, pid, cam, idx = ds[i]
            assert img.shape == (3, 16, 8) and (pid, cam, idx) == (1, 0, i)
    for i, path in ((3, corrupt), (4, truncated)):
        with pytest.raises(ReidDataError, match=str(path.name)):
            ds[i]
    with pytest.raises(ReidDataError, match="missing"):
        ImageDataset([(str(tmp_path / "gone.jpg"), 1, 0)])[0]


def test_wrong_structure_mat(tmp_path: Path) -> None:
    base = _cuhk_tree(tmp_path / "cuhk03", "labeled")
    mat = base / "cuhk03_new_protocol_config_labeled.mat"
    scipy.io.savemat(mat, {"train_idx": np.ones((2, 1)), "labels": np.ones((2, 1))})
    with pytest.raises(ReidDataError, match=r"config_labeled\.mat: wrong structure.*query_idx"):
        build_dataset("cuhk03", tmp_path)
    mat.write_bytes(b"garbage, not a mat file at all")
    with pytest.raises(ReidDataError, match=r"config_labeled\.mat: cannot read"):
        build_dataset("cuhk03", tmp_path)
    _cuhk_tree(tmp_path / "cuhk03", "labeled")
    data = scipy.io.loadmat(mat)
    data["query_idx"] = np.array([[999.0]])
    scipy.io.savemat(mat, {k: v for k, v in data.items() if not k.startswith("__")})
    with pytest.raises(ReidDataError, match="query_idx must be"):
        build_dataset("cuhk03", tmp_path)


def test_msmt17_bad_list_and_missing_image(tmp_path: Path) -> None:
    base = _msmt_tree(tmp_path / "MSMT17_V1")
    (base / "list_query.txt").write_text("0100/badname.jpg 100\n")
    with pytest.raises(ReidDataError, match=r"list_query\.txt:1: .* does not parse"):
        build_dataset("msmt17", tmp_path)
    (base / "list_query.txt").write_text("0100/0100_000_02_0303noon_0099_0.jpg 100\n")
    with pytest.raises(ReidDataError, match=r"0099_0\.jpg: image listed in list_query\.txt is missing"):
        build_dataset("msmt17", tmp_path)


def test_image_dataset_loader_batches(tmp_path: Path) -> None:
    make_tree(tmp_path / "market1501", MARKET)
    ds = build_dataset("market1501", tmp_path)
    loader = torch.utils.data.DataLoader(ImageDataset(ds.train, build_transforms("mmps", (16, 8), True)),
                                         batch_size=4)
    img, pid, cam, idx = next(iter(loader))
    assert img.shape == (4, 3, 16, 8) and pid.tolist() == [p for _, p, _ in ds.train]
