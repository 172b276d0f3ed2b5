"""Atomic writes: the new file appears whole or not at all, and no temporary file is left behind."""
from __future__ import annotations

import pytest

from evonas.files import atomic_write, atomic_write_text


def test_atomic_write_text_replaces_the_file_and_creates_its_folder(tmp_path):
    path = tmp_path / "sub" / "page.html"
    assert atomic_write_text(path, "old") == path
    atomic_write_text(path, "new é")
    assert path.read_text(encoding="utf-8") == "new é"
    assert [p.name for p in path.parent.iterdir()] == ["page.html"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "data.txt"
    atomic_write_text(path, "old")

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["data.txt"]


def test_the_suffix_ends_the_temporary_name(tmp_path):
    seen = []
    atomic_write(tmp_path / "plot.png", lambda tmp: (seen.append(tmp.name), tmp.write_bytes(b"png")), suffix=".tmp.png")
    assert seen == ["plot.png.tmp.png"] and (tmp_path / "plot.png").read_bytes() == b"png"
