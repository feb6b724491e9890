"""Tables of results the study and the depth sweep share: seed statistics, Markdown, JSON.

Each table is written twice into --out, as Markdown for people and as JSON for programs, both
atomically (see `benchmarks.files.atomic_path`), so a kill while writing leaves the previous
table readable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.files import atomic_path


def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation over seeds (sample std; 0 for a single seed)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def geometric_mean(values: list[float]) -> float:
    """Ratios are averaged in log space: 1e-4 and 1e-2 average to 1e-3."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.exp(np.mean(np.log(np.asarray(values, dtype=np.float64)))))


def markdown_table(columns: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    """A Markdown table with padded columns, readable as plain text too."""
    cells = [list(columns)] + rows
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(values) for values in cells[1:])])


def write_tables(out: Path, stem: str, markdown: str, blob: dict[str, Any]) -> list[Path]:
    """Write `stem`.md and `stem`.json into `out`, each atomically; return their paths."""
    paths = [out / f"{stem}.md", out / f"{stem}.json"]
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(markdown)
    with atomic_path(paths[1]) as tmp:
        tmp.write_text(json.dumps(blob, indent=2))
    return paths
