"""Section `monitor`: the overhead of tinygrad_edu.monitor.GradientMonitor on relu5_he steps."""

from __future__ import annotations

import functools
import gc
import statistics
import time
from typing import Any

import numpy as np

from benchmarks.speed.config import Config
from benchmarks.speed.problem import TinygradStep, make_problem
from benchmarks.speed.stats import interleave, ratios
from benchmarks.speed.table import Row, Target
from benchmarks.speed.workers import Worker
from tinygrad_edu.monitor import GradientMonitor
from tinygrad_edu.training import fit


def fit_block(run: TinygradStep, callbacks: tuple[Any, ...], steps: int) -> float:
    """Seconds per step of `steps` steps of fit() with these callbacks (the model's own loss:
    relu5_he's BCE + the penalty on W1)."""
    gc.collect()
    start = time.perf_counter()
    fit(run.model, run.x, run.y, run.optimizer, steps, loss_fn=run.loss_fn, callbacks=callbacks)
    return (time.perf_counter() - start) / steps


def section_monitor(cfg: Config, torch: Worker | None) -> tuple[list[Row], dict[str, Any]]:
    section = "5. GradientMonitor overhead, relu5_he float64 steps through fit()"
    problem = make_problem(np.float64, cfg.data_dir, cfg.seed, model="relu5_he",
                           synthetic=cfg.synthetic)
    plain, monitored = TinygradStep(problem), TinygradStep(problem)
    monitor = GradientMonitor(monitored.model)
    blocks = {"without monitor": functools.partial(fit_block, plain, (), cfg.monitor_block),
              "with monitor": functools.partial(fit_block, monitored, (monitor,),
                                                cfg.monitor_block)}
    interleave(blocks, rounds=1)
    times = interleave(blocks, cfg.rounds)
    monitor.close()
    base = times["without monitor"]
    rows = [Row(section, label, 1e3 * statistics.median(t), "ms/step", ratios(t, base),
                "without") for label, t in times.items()]
    rows.append(Row(section, "with / without monitor", ratio=ratios(times["with monitor"], base),
                    target=Target(1.05)))
    return rows, times
