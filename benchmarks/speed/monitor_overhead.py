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


class TimedCallback:
    """Calls `callback` and adds up the seconds spent inside it: the monitor's own time within
    fit, measured in the same blocks (two perf_counter reads per step, ~0.1 us). Its ratio to
    the plain step varies much less between runs than the ratio of two whole step times."""

    def __init__(self, callback: Any) -> None:
        self.callback, self.seconds = callback, 0.0

    def __call__(self, iteration: int, model: Any, loss: float) -> None:
        start = time.perf_counter()
        self.callback(iteration, model, loss)
        self.seconds += time.perf_counter() - start


def timed_fit_block(run: TinygradStep, timer: TimedCallback, steps: int,
                    inside: list[float]) -> float:
    """fit_block with the timed callback; appends the seconds per step spent inside it."""
    before = timer.seconds
    seconds = fit_block(run, (timer,), steps)
    inside.append((timer.seconds - before) / steps)
    return seconds


def section_monitor(cfg: Config, torch: Worker | None) -> tuple[list[Row], dict[str, Any]]:
    section = "5. GradientMonitor overhead, relu5_he float64 steps through fit()"
    problem = make_problem(np.float64, cfg.data_dir, cfg.seed, model="relu5_he",
                           synthetic=cfg.synthetic)
    plain, monitored = TinygradStep(problem), TinygradStep(problem)
    monitor = GradientMonitor(monitored.model)
    inside: list[float] = []  # seconds per step inside the monitor's call, one per block
    blocks = {"without monitor": functools.partial(fit_block, plain, (), cfg.monitor_block),
              "with monitor": functools.partial(timed_fit_block, monitored,
                                                TimedCallback(monitor), cfg.monitor_block,
                                                inside)}
    interleave(blocks, rounds=1)
    inside.clear()  # the warm-up round
    times = interleave(blocks, cfg.rounds)
    monitor.close()
    base = times["without monitor"]
    rows = [Row(section, label, 1e3 * statistics.median(t), "ms/step", ratios(t, base),
                "without") for label, t in times.items()]
    rows.append(Row(section, "with / without monitor", ratio=ratios(times["with monitor"], base),
                    target=Target(1.05)))
    rows.append(Row(section, "monitor's call inside fit", 1e3 * statistics.median(inside),
                    "ms/step", ratios(inside, base), "without",
                    note="the time spent in the callback alone, per step"))
    return rows, {**times, "monitor call": inside}
