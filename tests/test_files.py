"""benchmarks/files.py: a file is replaced whole or not at all, and leaves no temporary behind.

(A kill at random moments while the runner rewrites its files is tested in test_runner.py.)
"""

from __future__ import annotations

import json
import stat

import pytest

from benchmarks.files import PARTIAL, atomic_path, read_json, write_json, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial_file(tmp_path):
    path = write_text(tmp_path / "table.md", "old\n")
    with pytest.raises(RuntimeError, match="stopped"), atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        assert path.read_text() == "old\n"  # the new text is not visible before the rename
        raise RuntimeError("stopped")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.md"]


def test_a_finished_write_replaces_the_file_as_an_ordinary_file(tmp_path):
    path = write_text(tmp_path / "table.md", "old\n")
    with atomic_path(path) as tmp:
        assert PARTIAL in tmp.name and tmp.parent == tmp_path and tmp.suffix == ".md"
        tmp.write_text("new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.md"]


def test_json_is_written_whole_and_read_back_or_none(tmp_path):
    blob = {"rows": [1.5, None, "a"], "path": tmp_path}  # a Path is written as its text
    path = write_json(tmp_path / "t.json", blob)
    assert json.loads(path.read_text()) == {"rows": [1.5, None, "a"], "path": str(tmp_path)}
    assert read_json(path) == {"rows": [1.5, None, "a"], "path": str(tmp_path)}
    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text('{"rows": [1,')
    assert read_json(tmp_path / "bad.json") is None
