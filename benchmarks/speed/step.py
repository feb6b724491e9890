"""Section `step`: one relu5 training step, tinygrad_edu against NumPy and PyTorch.

relu5 (12288-30-30-30-30-1), full batch of the 209 training images, BCE on the sigmoid output,
SGD, in float64 and float32. Contenders: tinygrad_edu; the course's layer math in NumPy (the
BASELINE, which also computes the gradient of the input data at layer 1, as the course does);
the same without that gradient (the FLOOR: only the necessary matrix products); the two big
products alone (a reference line); PyTorch on the CPU in its own process.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.speed.config import Config
from benchmarks.speed.problem import LOCAL_CONTENDERS, make_problem
from benchmarks.speed.stats import interleave, ratios, seconds_per_call
from benchmarks.speed.table import Row, Target
from benchmarks.speed.workers import Worker

DTYPES = (np.float64, np.float32)

# Targets of the issue: tinygrad_edu / contender, per dtype.
STEP_TARGETS = {
    ("course NumPy", "float64"): 0.6, ("course NumPy", "float32"): 0.7,
    ("floor NumPy", "float64"): 1.1, ("floor NumPy", "float32"): 1.1,
    ("PyTorch", "float64"): 1.0, ("PyTorch", "float32"): 1.2,
}


def section_step(cfg: Config, torch: Worker | None) -> tuple[list[Row], dict[str, Any]]:
    rows, raw = [], {}
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        problem = make_problem(dtype, cfg.data_dir, cfg.seed, synthetic=cfg.synthetic)
        contenders = {label: make(problem) for label, make in LOCAL_CONTENDERS.items()}
        blocks: dict[str, Callable[[], float]] = {
            label: functools.partial(seconds_per_call, contender.step, cfg.steps_per_block)
            for label, contender in contenders.items()}
        if torch is not None:
            blocks["PyTorch"] = functools.partial(
                torch, "steps", dtype=name, data_dir=cfg.data_dir, synthetic=cfg.synthetic,
                seed=cfg.seed, k=cfg.steps_per_block)
        interleave(blocks, rounds=1, settle=cfg.settle)      # warm-up: caches, allocator, BLAS
        times = interleave(blocks, cfg.rounds, cfg.settle)
        raw[name] = times
        rows += step_rows(name, times)
    return rows, raw


def step_rows(dtype_name: str, times: dict[str, list[float]]) -> list[Row]:
    section = f"1. relu5 training step, {dtype_name}"
    baseline = times["course NumPy"]
    rows = [Row(section, label, 1e3 * statistics.median(t), "ms/step",
                ratios(t, baseline), "course NumPy",
                note="BASELINE" if label == "course NumPy" else "")
            for label, t in times.items()]
    mine = times["tinygrad_edu"]
    floor_vs_baseline = ratios(times["floor NumPy"], baseline).median
    for other in ("course NumPy", "floor NumPy", "PyTorch"):
        if other not in times:
            continue
        target = Target(STEP_TARGETS[other, dtype_name])
        note = ""
        if other == "course NumPy" and not target.met(floor_vs_baseline):
            note = (f"the floor itself is {floor_vs_baseline:.3f}x: out of reach without "
                    f"beating the floor")
        rows.append(Row(section, f"tinygrad_edu / {other}", ratio=ratios(mine, times[other]),
                        target=target, note=note))
    return rows
