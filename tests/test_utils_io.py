"""Atomic writes: all or nothing, no temporary left behind, the permissions of a plain open()."""

from __future__ import annotations

import os

import pytest

from reidlib.utils.io import atomic_path, atomic_write_text


def test_atomic_write_replaces_whole_and_keeps_the_old_file_on_error(tmp_path):
    f = tmp_path / "t.csv"
    atomic_write_text(f, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(f) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer died")
    assert f.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]
    atomic_write_text(f, "new\n")
    assert f.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_write_has_the_mode_of_a_plain_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        (tmp_path / "b.json").write_text("{}")
    finally:
        os.umask(old)
    mode = (tmp_path / "a.json").stat().st_mode & 0o777
    assert mode == (tmp_path / "b.json").stat().st_mode & 0o777 == 0o666 & ~umask
