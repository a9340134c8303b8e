"""SynthReID: determinism, Market layout, domains, groups of look-alikes, atomic generation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reidlib.data import build_dataset
from reidlib.data import synthreid as sr

TINY = 0.02  # 6 train + 6 test identities


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_byte_identical_different_seed_differs(tmp_path: Path) -> None:
    a = sr.generate(tmp_path / "a", seed=0, scale=TINY)
    b = sr.generate(tmp_path / "b", seed=0, scale=TINY)
    c = sr.generate(tmp_path / "c", seed=1, scale=TINY)
    assert a.parent.name == f"v{sr.GENERATOR_VERSION}-s0-x{TINY:g}"
    da, db, dc = digest(a.parent), digest(b.parent), digest(c.parent)
    assert len(da) > 100 and da == db
    common = set(da) & set(dc)
    assert sum(da[k] == dc[k] for k in common) == 0
    assert not any(p.name.startswith(".") for p in (tmp_path / "a" / "synthreid").iterdir())


def test_reads_as_market_with_papers_ingredients(tmp_path: Path) -> None:
    ds = build_dataset("synthreid", tmp_path, scale=TINY)
    assert ds.name == "synthreid" and ds.num_train_pids == 6 and ds.num_train_cams <= 6
    assert sorted({p for _, p, _ in ds.train}) == list(range(6))
    gallery_pids = {p for _, p, _ in ds.gallery}
    assert 0 in gallery_pids  # distractors
    assert {p for _, p, _ in ds.query} <= gallery_pids  # every query can be matched
    for _, pid, cam in ds.query:  # ... in another camera
        assert any(p == pid and c != cam for _, p, c in ds.gallery)
    assert ds.multi_query and {p for _, p, _ in ds.multi_query} == {p for _, p, _ in ds.query}
    junk = list((ds.root / "bounding_box_test").glob("-1_*")) + list((ds.root / "bounding_box_train").glob("-1_*"))
    assert junk and not any(p == -1 for _, p, _ in ds.train + ds.gallery)
    mtime = ds.root.stat().st_mtime_ns
    again = build_dataset("synthreid", tmp_path, scale=TINY)  # cached: not regenerated
    assert again.root.stat().st_mtime_ns == mtime and again.train == ds.train


@pytest.mark.parametrize(("name", "cams"), [("synthreid-duke", 8), ("synthreid-cuhk03", 2),
                                            ("synthreid-msmt17", 15)])
def test_domains(tmp_path: Path, name: str, cams: int) -> None:
    ds = build_dataset(name, tmp_path, scale=TINY, seed=2)
    assert ds.name == name and ds.root.parent.parent.name == name
    all_cams = {c for _, _, c in ds.train + ds.query + ds.gallery}
    assert max(all_cams) < cams
    if name == "synthreid-cuhk03":
        assert all_cams == {0, 1} and len(ds.query) == 2 * len({p for _, p, _ in ds.query})


def test_groups_share_look_and_differ_in_details() -> None:
    _, jobs, info = sr._layout(sr.DOMAINS["market"], 0, 0.1)
    people = {j.who.pid: j.who for j in jobs if j.who is not None and j.who.pid > 0}
    groups: dict[int, list] = {}
    for w in people.values():
        groups.setdefault(w.group, []).append(w)
    assert len(people) == info["train_ids"] + info["test_ids"]
    for members in groups.values():
        assert len(members) == 3 and len({m.look for m in members}) == 1
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                assert sum(x != y for x, y in zip(a.details.signature(), b.details.signature())) >= 2
    assert len({m[0].look for m in groups.values()}) == len(groups)


def test_interrupted_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = sr.encode_jpeg

    def flaky(img, quality):
        calls["n"] += 1
        if calls["n"] > 20:
            raise KeyboardInterrupt
        return real(img, quality)

    monkeypatch.setattr(sr, "encode_jpeg", flaky)
    with pytest.raises(KeyboardInterrupt):
        sr.generate(tmp_path, seed=0, scale=TINY)
    assert list((tmp_path / "synthreid").iterdir()) == []


def test_sample_grid(tmp_path: Path) -> None:
    out = sr.save_sample_grid(tmp_path / "grid.png", per_row=3)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_scale_grows_the_test_split_only() -> None:
    dom = sr.DOMAINS["market"]
    _, jobs, info = sr._layout(dom, 0, 1.0, 1.0)
    _, jobs3, info3 = sr._layout(dom, 0, 1.0, 3.0)
    assert info3["train_ids"] == info["train_ids"] and info3["test_ids"] == 3 * info["test_ids"]
    assert "test_scale" not in info and info3["test_scale"] == 3.0  # the default set's synthreid.json is unchanged
    queries = sum(j.rel.startswith("query/") for j in jobs), sum(j.rel.startswith("query/") for j in jobs3)
    assert 2.5 * queries[0] < queries[1] < 3.5 * queries[0]
    assert sr.dataset_dir(Path("r"), "market", 0, 1.0, 1.0) == sr.dataset_dir(Path("r")) == Path("r/synthreid/v1-s0")
    assert sr.dataset_dir(Path("r"), "market", 0, 1.0, 3.0) == Path("r/synthreid/v1-s0-t3")
