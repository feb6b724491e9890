"""benchmarks/tables.py: the one writer of the study's, the sweep's and speed's tables."""

from __future__ import annotations

import json

import pytest

from benchmarks.tables import geometric_mean, markdown_table, mean_spread, write_tables


def test_a_padded_table_aligns_its_columns():
    text = markdown_table(("name", "n"), [["relu5_he", "3"], ["a", "1234"]])
    assert text.splitlines() == ["| name     | n    |",
                                 "|----------|------|",
                                 "| relu5_he | 3    |",
                                 "| a        | 1234 |"]


def test_an_unpadded_table_is_one_short_line_per_row_and_a_pipe_cannot_split_a_cell():
    text = markdown_table(["measurement", "note"], [["step", "a | b"], ["x", ""]],
                          padded=False)
    assert text.splitlines() == ["| measurement | note |", "|---|---|", "| step | a / b |",
                                 "| x |  |"]


def test_write_tables_writes_both_files_and_a_failed_json_keeps_the_previous_one(tmp_path):
    out = tmp_path / "new" / "folder"  # made if missing
    paths = write_tables(out, "t", "# table\n", {"rows": [1, 2]})
    assert paths == [out / "t.md", out / "t.json"]
    assert (out / "t.md").read_text() == "# table\n"
    assert json.loads((out / "t.json").read_text()) == {"rows": [1, 2]}
    # Replaced by a rename (a new file), never rewritten in place where a reader could see half
    before = [path.stat().st_ino for path in paths]
    write_tables(out, "t", "# table\n", {"rows": [1, 2]})
    assert all(path.stat().st_ino != ino for path, ino in zip(paths, before, strict=True))
    cycle: dict = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match="Circular"):
        write_tables(out, "t", "# second\n", {"rows": cycle})
    assert json.loads((out / "t.json").read_text()) == {"rows": [1, 2]}  # whole, the old one
    assert sorted(p.name for p in out.iterdir()) == ["t.json", "t.md"]  # no partial file


def test_seed_statistics():
    assert mean_spread([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert mean_spread([5.0]) == (5.0, 0.0)
    assert geometric_mean([1e-4, 1e-2]) == pytest.approx(1e-3)
