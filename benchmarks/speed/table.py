"""The rows of the speed table and their targets: what is specific to speed.md and speed.json.

The Markdown tables and the atomic writing of both files are `benchmarks.tables`', the one
writer the study and the depth sweep use too; `benchmarks.speed.combine` reads speed.json back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import tables
from benchmarks.speed.stats import Stat


@dataclass(frozen=True)
class Target:
    """What a measured ratio (or value) should be: at most `high`, at least `low`."""

    high: float | None = None
    low: float | None = None
    on: str = "ratio"   # "ratio" or "value"
    unit: str = "x"

    def met(self, quantity: float) -> bool:
        return ((self.high is None or quantity <= self.high)
                and (self.low is None or quantity >= self.low))

    def text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}-{self.high:g}{self.unit}"
        if self.high is not None:
            return f"<= {self.high:g}{self.unit}"
        return f">= {self.low:g}{self.unit}"


@dataclass
class Row:
    """One line of the table."""

    section: str
    label: str
    value: float | None = None     # in `unit`; a median over rounds for times
    unit: str = ""
    ratio: Stat | None = None      # median over rounds of (this / `versus`), with its IQR
    versus: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        quantity = self.ratio.median if self.target.on == "ratio" and self.ratio else self.value
        return None if quantity is None else self.target.met(quantity)

    def cells(self) -> list[str]:
        value = "" if self.value is None else f"{format_value(self.value)} {self.unit}".strip()
        ratio = spread = ""
        if self.ratio is not None:
            ratio = f"{self.ratio.median:.3f}x {self.versus}".strip()
            if self.ratio.q1 != self.ratio.q3:
                spread = f"{self.ratio.q1:.3f}-{self.ratio.q3:.3f}"
        met = {None: "", True: "yes", False: "NO"}[self.met]
        target = self.target.text() if self.target else ""
        return [self.label, value, ratio, spread, target, met, self.note]

    def to_json(self) -> dict[str, Any]:
        blob = asdict(self)
        blob["met"] = self.met
        blob["target"] = None if self.target is None else {**asdict(self.target),
                                                           "text": self.target.text()}
        return blob


def format_value(value: float) -> str:
    """Three significant digits; whole numbers from 100 on."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


COLUMNS = ["measurement", "value", "ratio (median over rounds)", "IQR of ratio", "target", "met",
           "note"]


def text_table(rows: list[Row]) -> str:
    """The rows as aligned text, one block per section."""
    lines = []
    for section in dict.fromkeys(row.section for row in rows):
        body = [row.cells() for row in rows if row.section == section]
        widths = [max(len(c[i]) for c in [COLUMNS, *body]) for i in range(len(COLUMNS) - 1)]
        lines.append(f"\n== {section} ==")
        for cells in [COLUMNS, *body]:
            padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=True)]
            lines.append("  ".join([*padded, cells[-1]]).rstrip())
    return "\n".join(lines)


def environment_lines(environment: dict[str, Any]) -> list[str]:
    """The description of a run as Markdown bullets, one per key."""
    return [f"- **{key}**: {json.dumps(value) if isinstance(value, (dict, list)) else value}"
            for key, value in environment.items()]


def write_tables(out_dir: Path, rows: list[Row], environment: dict[str, Any],
                 raw: dict[str, Any]) -> list[Path]:
    """Write speed.md (the environment, then one Markdown table per section) and speed.json."""
    out = ["# tinygrad_edu speed benchmark", "",
           "Ratios are medians over interleaved rounds of one run (IQR beside them); times are "
           "medians over the rounds, for orientation only.", "", *environment_lines(environment)]
    for section in dict.fromkeys(row.section for row in rows):
        body = [row.cells() for row in rows if row.section == section]
        out += ["", f"## {section}", "", tables.markdown_table(COLUMNS, body, padded=False)]
    blob = {"environment": environment, "rows": [row.to_json() for row in rows], "raw": raw}
    return tables.write_tables(out_dir, "speed", "\n".join(out) + "\n", blob)
