"""The one writer of result tables: the study's, the depth sweep's and the speed benchmark's.

Each table is written twice into --out, as Markdown for people (`markdown_table`) and as JSON for
programs, both atomically (`write_tables`, through `benchmarks.files`), so a kill while writing
leaves the previous table readable. The statistics over seeds the study and the sweep share are
here too (`mean_spread`, `geometric_mean`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.files import write_json, write_text


def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation over seeds (sample std; 0 for a single seed)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def geometric_mean(values: list[float]) -> float:
    """Ratios are averaged in log space: 1e-4 and 1e-2 average to 1e-3."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.exp(np.mean(np.log(np.asarray(values, dtype=np.float64)))))


def markdown_table(columns: tuple[str, ...] | list[str], rows: list[list[str]],
                   padded: bool = True) -> str:
    """A Markdown table. `padded`: every column as wide as its widest cell, so that the text reads
    as a table too (the study's and the sweep's tables, also printed); otherwise one short line
    per row (speed.md, whose notes are long). A "|" inside a cell would end it: it becomes "/"."""
    cells = [[value.replace("|", "/") for value in line] for line in [list(columns), *rows]]
    widths = [max(len(line[i]) for line in cells) if padded else 0 for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2 if padded else 3) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(values) for values in cells[1:])])


def write_tables(out: Path, stem: str, markdown: str, blob: dict[str, Any]) -> list[Path]:
    """Write `stem`.md and `stem`.json into `out` (made if missing), each atomically; return
    their paths."""
    out.mkdir(parents=True, exist_ok=True)
    return [write_text(out / f"{stem}.md", markdown), write_json(out / f"{stem}.json", blob)]
