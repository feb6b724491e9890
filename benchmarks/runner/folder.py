"""The results folder (--out): each run's row and record, and the manifest of the current files.

Each finished run is written as its monitor records `records/<name>_seed<s>.h5`, then its
result row `runs/<name>_seed<s>.json` (which holds the record's checksum), then the manifest,
each atomically (`benchmarks.files`). A run whose row holds the same key and whose record is
intact is reused (`Folder.reusable`); files an earlier call wrote and this one does not keep
are removed (`Folder.remove_stale`).
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.files import PARTIAL, atomic_path, file_sha256, read_json, write_json
from benchmarks.runner.runs import Finished, Run
from tinygrad_edu.monitor import MonitorRecords

RUN_FORMAT = "tinygrad_edu.runner/1"
MANIFEST = "manifest.json"
RUNS_DIR, RECORDS_DIR = "runs", "records"


class Folder:
    """--out: the runs' rows and records, and the manifest of the files of the current results."""

    def __init__(self, out: Path, command: str) -> None:
        self.out = out
        self.command = command
        self.files: set[str] = set()

    def row_path(self, run: Run) -> Path:
        return self.out / RUNS_DIR / f"{run.name}.json"

    def records_path(self, run: Run) -> Path:
        return self.out / RECORDS_DIR / f"{run.name}.h5"

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.out))

    def reusable(self, run: Run, key: str) -> Finished | None:
        """The finished run in the folder with this key, if its row and record are intact."""
        row = read_json(self.row_path(run))
        if not isinstance(row, dict) or row.get("format") != RUN_FORMAT or row.get("key") != key:
            return None
        records_path = self.records_path(run)
        try:
            if file_sha256(records_path) != row.get("records_sha256"):
                return None
        except OSError:
            return None
        return Finished(run, key, row["result"], records_path, reused=True)

    def previous_files(self) -> set[str]:
        """Files an earlier call wrote: its manifest's, and those its result rows name."""
        files: set[str] = set()
        manifest = read_json(self.out / MANIFEST)
        if isinstance(manifest, dict) and isinstance(manifest.get("files"), list):
            files.update(str(name) for name in manifest["files"])
        for row_path in (self.out / RUNS_DIR).glob("*.json"):
            row = read_json(row_path)
            if isinstance(row, dict) and row.get("format") == RUN_FORMAT:
                files.add(self.relative(row_path))
                files.add(str(row.get("records", "")))
        return {name for name in files if name}

    def remove_stale(self, keep: set[str]) -> int:
        """Remove the earlier call's files that this call does not keep (its tables and figures
        are rebuilt at the end), and partial files; return how many earlier RUNS were removed."""
        removed = 0
        root = self.out.resolve()
        for name in sorted(self.previous_files() - keep - {MANIFEST}):
            path = (self.out / name).resolve()
            if root in path.parents and path.is_file():  # never outside --out
                path.unlink()
                removed += name.startswith(f"{RUNS_DIR}/")
        for where in (self.out, self.out / RUNS_DIR, self.out / RECORDS_DIR):  # not deeper:
            for leftover in where.glob(f".*{PARTIAL}*"):  # another run may own a sub-folder
                leftover.unlink(missing_ok=True)
        return removed

    def save(self, finished: Finished, records: MonitorRecords) -> None:
        """Record first, then the row that vouches for it (with its checksum), then manifest."""
        records_path, row_path = self.records_path(finished.run), self.row_path(finished.run)
        with atomic_path(records_path) as tmp:
            records.save(tmp)
        write_json(row_path, {  # what was trained, and what it gave: readable without Python
            "format": RUN_FORMAT, "key": finished.key, "name": finished.run.name,
            "settings": {k: v for k, v in finished.run.settings("").items()
                         if k != "data_sha256"},
            "result": finished.result, "records": self.relative(records_path),
            "records_sha256": file_sha256(records_path)})
        self.add([records_path, row_path])

    def add(self, paths: list[Path], status: str = "running") -> None:
        self.files.update(self.relative(path) for path in paths)
        self.write_manifest(status)

    def write_manifest(self, status: str) -> None:
        write_json(self.out / MANIFEST, {
            "format": RUN_FORMAT, "status": status, "command": self.command,
            "written": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "files": sorted(self.files)})

