"""benchmarks/speed/combine.py: real runs of the speed benchmark combined into one table.

Three short real runs (`--quick --sections perop --no-torch --rounds 2`, about a second each)
are combined; the expected medians and ranges are computed here from the runs' own speed.json.
No timing is asserted: only that the combination is the median and the range of the runs'.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.speed import combine, table
from benchmarks.speed.stats import Stat

ROOT = Path(__file__).resolve().parents[1]
RUN = [sys.executable, "-m", "benchmarks.speed", "--sections", "perop", "--no-torch"]


def speed_run(out: Path, *options: str) -> dict:
    done = subprocess.run([*RUN, *options, "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "speed.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[tuple[Path, dict]]:
    """Three real quick runs of the per-op section, one after the other."""
    base = tmp_path_factory.mktemp("runs")
    return [(base / f"run{i}", speed_run(base / f"run{i}", "--quick", "--rounds", "2"))
            for i in (1, 2, 3)]


def test_three_runs_combine_into_medians_and_ranges(runs, tmp_path):
    out = tmp_path / "combined"
    done = subprocess.run([sys.executable, "-m", "benchmarks.speed.combine",
                           *(str(folder) for folder, _ in runs), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    blob = json.loads((out / "speed-combined.json").read_text())
    combined = {(row["section"], row["label"]): row for row in blob["rows"]}
    rows_of_each = [{(row["section"], row["label"]): row for row in run["rows"]}
                    for _, run in runs]
    assert set(combined) == set(rows_of_each[0]) and len(combined) == 4
    ratios_seen = 0
    for key, row in combined.items():
        values = [rows[key]["value"] for rows in rows_of_each]
        assert row["value"]["median"] == sorted(values)[1]  # the middle one of three
        assert (row["value"]["min"], row["value"]["max"]) == (min(values), max(values))
        assert row["runs"] == 3
        if rows_of_each[0][key]["ratio"] is not None:
            ratios = [rows[key]["ratio"]["median"] for rows in rows_of_each]
            assert row["ratio"]["median"] == sorted(ratios)[1]
            assert (row["ratio"]["min"], row["ratio"]["max"]) == (min(ratios), max(ratios))
            ratios_seen += 1
    assert ratios_seen == 1  # tinygrad_edu forward against NumPy
    assert [run["environment"] for run in blob["runs"]] == [run["environment"] for _, run in runs]
    markdown = (out / "speed-combined.md").read_text()
    forward = combined[next(key for key in combined if key[1] == "tinygrad_edu forward")]
    assert f"| {forward['ratio']['median']:.3f}x NumPy |" in markdown
    assert f"| {forward['ratio']['min']:.3f}-{forward['ratio']['max']:.3f} |" in markdown
    for _, run in runs:  # each run's date is listed
        assert run["environment"]["date"] in markdown
    assert markdown in done.stdout


def rows_run(folder: Path, environment: dict, rows: list[table.Row]) -> Path:
    """A run folder whose speed.json holds these rows (written by the benchmark's own writer)."""
    table.write_tables(folder, rows, environment, raw={})
    return folder


def test_the_median_decides_the_target_and_missing_rows_are_counted(runs, tmp_path):
    environment = runs[0][1]["environment"]
    at_most = table.Target(1.1)
    memory = table.Target(high=1.3, on="value", unit="x")

    def rows(ratio: float, value: float, extra: bool) -> list[table.Row]:
        found = [table.Row("step", "relu5", 5.0, "ms", Stat(ratio, ratio, ratio), "floor",
                           at_most),
                 # judged on its value (a ratio of sizes), not on its ratio of times
                 table.Row("memory", "peak", value, "x", Stat(0.5, 0.5, 0.5), "course",
                           memory)]
        return found + ([table.Row("step", "only in two runs", 1.0, "ms")] if extra else [])

    folders = [rows_run(tmp_path / "a", environment, rows(1.2, 1.4, True)),   # both miss
               rows_run(tmp_path / "b", environment, rows(1.0, 1.0, True)),
               rows_run(tmp_path / "c", environment, rows(1.05, 1.2, False))]
    assert combine.main([*map(str, folders), "--out", str(tmp_path / "out")]) == 0
    combined = {row["label"]: row for row in
                json.loads((tmp_path / "out" / "speed-combined.json").read_text())["rows"]}
    assert combined["relu5"]["ratio"]["median"] == 1.05 and combined["relu5"]["met"] is True
    assert combined["peak"]["value"]["median"] == 1.2 and combined["peak"]["met"] is True
    assert combined["only in two runs"]["runs"] == 2 and combined["relu5"]["runs"] == 3
    assert "| 2 of 3 |" in (tmp_path / "out" / "speed-combined.md").read_text()

    worse = rows_run(tmp_path / "d", environment, rows(1.3, 1.5, False))
    assert combine.main([str(folders[0]), str(worse), "--out", str(tmp_path / "out2")]) == 0
    combined = {row["label"]: row for row in
                json.loads((tmp_path / "out2" / "speed-combined.json").read_text())["rows"]}
    assert combined["relu5"]["ratio"]["median"] == pytest.approx(statistics.median([1.2, 1.3]))
    assert combined["relu5"]["met"] is False and combined["peak"]["met"] is False


def refused(argv: list[str], capsys) -> str:
    """Exit status 2 and one line on stderr; return the line."""
    assert combine.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_refuses_a_folder_without_speed_json(runs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = refused([str(runs[0][0]), str(empty), "--out", str(tmp_path / "out")], capsys)
    assert f"{empty}: no readable speed.json" in line
    assert not (tmp_path / "out").exists()


def test_refuses_fewer_than_two_runs_or_one_run_twice(runs, tmp_path, capsys):
    line = refused([str(runs[0][0]), "--out", str(tmp_path / "out")], capsys)
    assert "at least 2 runs, got 1" in line
    folder = runs[0][0]
    same = folder.parent / ".." / folder.parent.name / folder.name  # another spelling
    line = refused([str(folder), str(same), "--out", str(tmp_path / "out")], capsys)
    assert "are the same run" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options, setting", [
    (["--rounds", "2"], "mode: 'quick' against 'full'"),             # a full run, not --quick
    (["--quick", "--rounds", "3"], "rounds: 2 against 3"),
])
def test_refuses_runs_made_with_other_settings(runs, tmp_path, capsys, options, setting):
    other = tmp_path / "other"
    speed_run(other, *options)
    line = refused([str(runs[0][0]), str(runs[1][0]), str(other), "--out",
                    str(tmp_path / "out")], capsys)
    assert f"{runs[0][0]} and {other} were run with different settings ({setting})" in line
    assert not (tmp_path / "out").exists()


def test_each_run_records_the_commit_it_measured(runs):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode != 0:  # an installed copy, not a checkout
        assert runs[0][1]["environment"]["code"].startswith("unknown")
    else:
        assert runs[0][1]["environment"]["code"].startswith(head.stdout.strip())


def test_refuses_runs_of_different_code(runs, tmp_path, capsys):
    environment = runs[0][1]["environment"]
    rows = [table.Row("step", "relu5", 1.0, "ms")]
    old = rows_run(tmp_path / "old", {**environment, "code": "a" * 40}, rows)
    new = rows_run(tmp_path / "new", {**environment, "code": "b" * 40}, rows)
    unrecorded = {key: value for key, value in environment.items() if key != "code"}
    before = rows_run(tmp_path / "before", unrecorded, rows)  # written before it was recorded
    line = refused([str(old), str(before), str(new), "--out", str(tmp_path / "out")], capsys)
    assert f"the runs measured different code ({'a' * 40} against {'b' * 40})" in line
    assert combine.main([str(old), str(before), "--out", str(tmp_path / "out")]) == 0


def test_refuses_a_row_whose_target_changed_between_runs(runs, tmp_path, capsys):
    environment = runs[0][1]["environment"]
    before = rows_run(tmp_path / "a", environment, [table.Row("step", "relu5", 1.0, "ms",
                                                              target=table.Target(1.1))])
    after = rows_run(tmp_path / "b", environment, [table.Row("step", "relu5", 1.0, "ms",
                                                             target=table.Target(1.0))])
    line = refused([str(before), str(after), "--out", str(tmp_path / "out")], capsys)
    assert "step, relu5: the target differs between runs" in line


def test_refuses_real_data_against_the_synthetic_stand_in(runs, tmp_path, capsys):
    environment = runs[0][1]["environment"]
    rows = [table.Row("step", "relu5", 1.0, "ms")]
    real = rows_run(tmp_path / "real", {**environment, "data": "cat/non-cat files in /d"}, rows)
    fake = rows_run(tmp_path / "fake", {**environment, "data": "SYNTHETIC stand-in"}, rows)
    perop_only = runs[1][0]  # used no data: combines with either
    line = refused([str(real), str(perop_only), str(fake), "--out", str(tmp_path / "out")],
                   capsys)
    assert "some runs used the real data and some the synthetic stand-in" in line
    assert combine.main([str(real), str(perop_only), "--out", str(tmp_path / "out")]) == 0
