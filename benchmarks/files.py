"""Files written so that a kill never leaves half of one: every result the benchmarks write.

A file is written under a temporary name in its own folder, then renamed over its real name
(`atomic_path`): a reader, or a kill at any moment, finds the old file or the new one, never
half of one. The runner's rows and manifest, the study's and the sweep's tables and the speed
benchmark's speed.md / speed.json are all written this way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PARTIAL = ".partial-"  # in the name of every temporary file, so leftovers can be recognised


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in `path`'s folder, with its suffix; on success rename it to `path`.

    os.replace is atomic on one file system: a reader (or a kill) sees the old file or the new
    one, never half of one. The temporary file is removed if writing fails or is interrupted.
    (No fsync: this protects against killed processes, not against power loss.)
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}{PARTIAL}",
                                suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are ordinary files
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, blob: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(blob, indent=1, default=str) + "\n")
    return path


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
