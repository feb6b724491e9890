"""Several runs of the speed benchmark as one table: per row, the median and the range over runs.

    python -m benchmarks.speed --out results/run1      # three full runs, one after the other
    python -m benchmarks.speed --out results/run2
    python -m benchmarks.speed --out results/run3
    python -m benchmarks.speed.combine results/run1 results/run2 results/run3 --out results

Within one run a ratio is already the median over interleaved rounds (stats.py), but on this
machine two runs differ by more than one run's IQR, so the README quotes several runs: per row
(matched by section and label) the median over runs of each run's median ratio, its range
(min-max) over runs, the target and whether that median meets it, and how many runs had the
row; the same for the value (a time or a size). speed-combined.md / .json in --out also list
each run's environment: date, load average, versions.

Refused, with one line on stderr and exit status 2, before anything is written: a folder
without a readable speed.json, fewer than two runs, one folder given twice, runs made with
different settings (the entries of environment.SETTINGS, and real against synthetic data), or
a row whose target differs between runs (the code changed between them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks import tables
from benchmarks.command_line import CheckFailed, OneLineParser
from benchmarks.files import read_json
from benchmarks.speed.environment import CODE, SETTINGS
from benchmarks.speed.table import Target, environment_lines, format_value

STEM = "speed-combined"
COLUMNS = ["measurement", "value (median over runs)", "range of value", "ratio (median over runs)",
           "range of ratio", "target", "met", "runs", "note"]
RUN_COLUMNS = ["run", "folder", "date", "load average at start", "at end", "python", "numpy",
               "PyTorch"]


def load_run(folder: Path) -> dict[str, Any]:
    """The speed.json of one run, checked to have what combining needs."""
    blob = read_json(folder / "speed.json")
    if (not isinstance(blob, dict) or not isinstance(blob.get("environment"), dict)
            or not isinstance(blob.get("rows"), list)):
        raise CheckFailed(f"{folder}: no readable speed.json with an environment and rows; "
                          f"write one with python -m benchmarks.speed --out {folder}")
    return blob


def data_kind(environment: dict[str, Any]) -> str | None:
    """'synthetic' or 'real' data, or None when no section of the run used the data."""
    text = str(environment.get("data", ""))
    if text.startswith("none"):
        return None
    return "synthetic" if text.startswith("SYNTHETIC") else "real"


def check_folders(folders: list[Path]) -> None:
    """At least two runs, each given once."""
    if len(folders) < 2:
        raise CheckFailed(f"combining needs at least 2 runs, got {len(folders)}; give the "
                          f"folders of several runs of python -m benchmarks.speed")
    seen: dict[Path, Path] = {}
    for folder in folders:
        if folder.resolve() in seen:
            raise CheckFailed(f"{seen[folder.resolve()]} and {folder} are the same run; "
                              f"give each run's folder once")
        seen[folder.resolve()] = folder


def check_settings(folders: list[Path], runs: list[dict[str, Any]]) -> None:
    """Every run made with the first one's settings, on the same kind of data."""
    first = runs[0]["environment"]
    for folder, run in zip(folders[1:], runs[1:], strict=True):
        for key in SETTINGS:
            if run["environment"].get(key) != first.get(key):
                raise CheckFailed(
                    f"{folders[0]} and {folder} were run with different settings ({key}: "
                    f"{first.get(key)!r} against {run['environment'].get(key)!r}); combine only "
                    f"runs of one command")
    # The code measured. Runs written before it was recorded have no entry and are not compared.
    codes = {run["environment"][CODE] for run in runs if CODE in run["environment"]}
    if len(codes) > 1:
        raise CheckFailed(f"the runs measured different code ({' against '.join(sorted(codes))});"
                          f" combine only runs of one commit, with no uncommitted changes between")
    kinds = {data_kind(run["environment"]) for run in runs} - {None}
    if len(kinds) > 1:
        raise CheckFailed("some runs used the real data and some the synthetic stand-in; "
                          "combine only runs on the same data")


def over_runs(values: list[float]) -> dict[str, Any] | None:
    """The median and the range (min-max) of one quantity over the runs that measured it."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def combine(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One combined row per (section, label), in the order the rows first appear."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        for row in run["rows"]:
            found.setdefault((row["section"], row["label"]), []).append(row)
    combined = []
    for (section, label), rows in found.items():
        target = rows[0]["target"]
        if any(row["target"] != target for row in rows):
            raise CheckFailed(f"{section}, {label}: the target differs between runs; combine "
                              f"only runs of the same code")
        value = over_runs([row["value"] for row in rows if row["value"] is not None])
        ratio = over_runs([row["ratio"]["median"] for row in rows if row["ratio"] is not None])
        # As Row.met judges one run: the ratio when the target is on the ratio, else the value.
        judged = ratio if target is not None and target["on"] == "ratio" and ratio else value
        met = None
        if target is not None and judged is not None:
            met = Target(target["high"], target["low"], target["on"],
                         target["unit"]).met(judged["median"])
        combined.append({
            "section": section, "label": label, "unit": rows[0]["unit"],
            "versus": rows[0]["versus"], "value": value, "ratio": ratio, "target": target,
            "met": met, "runs": len(rows),
            "note": "; ".join(dict.fromkeys(row["note"] for row in rows if row["note"]))})
    return combined


def cells(row: dict[str, Any], total_runs: int) -> list[str]:
    value, ratio = row["value"], row["ratio"]
    unit = f" {row['unit']}" if row["unit"] else ""
    return [
        row["label"],
        "" if value is None else f"{format_value(value['median'])}{unit}",
        "" if value is None else f"{format_value(value['min'])}-{format_value(value['max'])}",
        "" if ratio is None else f"{ratio['median']:.3f}x {row['versus']}".strip(),
        "" if ratio is None else f"{ratio['min']:.3f}-{ratio['max']:.3f}",
        "" if row["target"] is None else row["target"]["text"],
        {None: "", True: "yes", False: "NO"}[row["met"]],
        f"{row['runs']} of {total_runs}", row["note"]]


def run_cells(index: int, folder: Path, environment: dict[str, Any]) -> list[str]:
    torch = environment.get("PyTorch (worker process)")
    return [str(index), str(folder), str(environment.get("date", "")),
            str(environment.get("load average at start", "")),
            str(environment.get("load average at end", "")),
            str(environment.get("python", "")), str(environment.get("numpy", "")),
            torch.get("torch", "") if isinstance(torch, dict) else "not measured"]


def markdown(folders: list[Path], runs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    settings = {key: runs[0]["environment"].get(key) for key in SETTINGS}
    out = [f"# tinygrad_edu speed benchmark: {len(runs)} runs combined", "",
           "Per row: the median over runs of each run's ratio (itself a median over interleaved "
           "rounds) and its range (min-max) over runs; met: whether that median meets the "
           "target. Values (times, sizes) are for orientation only.", "",
           "Repeat: `python -m benchmarks.speed --out DIR` once per run, then "
           "`python -m benchmarks.speed.combine DIR1 DIR2 ... --out OUT`.", "",
           *environment_lines(settings), "", "## runs", "",
           tables.markdown_table(RUN_COLUMNS, [run_cells(i, folder, run["environment"])
                                               for i, (folder, run)
                                               in enumerate(zip(folders, runs, strict=True), 1)],
                                 padded=False)]
    for section in dict.fromkeys(row["section"] for row in rows):
        body = [cells(row, len(runs)) for row in rows if row["section"] == section]
        out += ["", f"## {section}", "", tables.markdown_table(COLUMNS, body, padded=False)]
    return "\n".join(out) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="python -m benchmarks.speed.combine",
        description="Combine runs of python -m benchmarks.speed into one table: per row, the "
                    "median and the range over runs.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="a folder holding one run's speed.json (its --out)")
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR",
                        help=f"folder for {STEM}.md and {STEM}.json (default results/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_folders(args.runs)
        runs = [load_run(folder) for folder in args.runs]
        check_settings(args.runs, runs)
        rows = combine(runs)
    except CheckFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = markdown(args.runs, runs, rows)
    blob = {"settings": {key: runs[0]["environment"].get(key) for key in SETTINGS},
            "runs": [{"folder": str(folder), "environment": run["environment"]}
                     for folder, run in zip(args.runs, runs, strict=True)],
            "rows": rows}
    md_path, json_path = tables.write_tables(args.out, STEM, text, blob)
    print(text)
    print(f"wrote {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
