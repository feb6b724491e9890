"""The course's relu5_he in mini-batches of 64: tinygrad_edu against the NumPy floor.

relu5_he (12288-30-30-30-30-1, the course's He init, BCE + (1.5 / 2m) ||W1||^2, SGD at 0.008)
on the 209 training images in mini-batches of 64 columns, in a fixed order: one epoch is 4
steps, the last on the remaining 17 images. Small batches make the per-op overhead a larger
share of a step than the full batch does. Both contenders are checked to give the same costs
on one epoch before any time is taken.
"""

from __future__ import annotations

import functools
import gc
import statistics
import time
from typing import Any

import numpy as np

from benchmarks.speed.config import Config
from benchmarks.speed.problem import CourseStep, TinygradStep, make_problem
from benchmarks.speed.stats import interleave, ratios
from benchmarks.speed.table import Row, Target
from tinygrad_edu.tensor import Tensor

BATCH = 64
RTOL = 1e-10   # the same float64 math in another order of operations: rounding only
SECTION = "6b. relu5_he, mini-batches of 64 (one epoch = 4 steps), float64"


def batches(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Columns 0-63, 64-127, 128-191, 192-208 of x (features, m) and y (1, m), each copied once
    into a contiguous array, the same arrays for every contender.

    A column slice x[:, 0:64] is a strided view (rows 209 values apart); W1 @ x and dZ1 @ x^T
    run about 10% faster on a contiguous copy. The contenders must see the same layout: when
    only tinygrad_edu's batches were copies (Tensor(slice) copies) and the floor's were views,
    the ratio looked 7% better than it is.
    """
    return [(np.ascontiguousarray(x[:, start:start + BATCH]),
             np.ascontiguousarray(y[:, start:start + BATCH]))
            for start in range(0, x.shape[1], BATCH)]


def epoch(contender: Any, data: list[tuple[Any, Any]]) -> list[float]:
    """One pass over the mini-batches: the cost of each step."""
    return [contender.train_step(x, y) for x, y in data]


def seconds_per_epoch(contender: Any, data: list[tuple[Any, Any]]) -> float:
    gc.collect()
    start = time.perf_counter()
    epoch(contender, data)
    return time.perf_counter() - start


def section_minibatch(cfg: Config) -> tuple[list[Row], dict[str, Any]]:
    problem = make_problem(np.float64, cfg.data_dir, cfg.seed, model="relu5_he",
                           synthetic=cfg.synthetic)
    numpy_data = batches(problem.x, problem.y)
    tensor_data = [(Tensor.from_numpy(x), Tensor.from_numpy(y)) for x, y in numpy_data]  # shared
    contenders = {"tinygrad_edu": (TinygradStep(problem), tensor_data),
                  "floor NumPy": (CourseStep(problem, input_grad=False), numpy_data),
                  "course NumPy": (CourseStep(problem), numpy_data)}
    costs = {name: epoch(contender, data) for name, (contender, data) in contenders.items()}
    deviation = max(abs(a / b - 1) for name in costs
                    for a, b in zip(costs[name], costs["floor NumPy"], strict=True))
    if deviation > RTOL:
        return [Row(SECTION, "not timed", note=f"the costs of one epoch disagree: largest "
                                               f"relative deviation {deviation:.1e}")], costs
    blocks = {name: functools.partial(seconds_per_epoch, contender, data)
              for name, (contender, data) in contenders.items()}
    interleave(blocks, rounds=1)
    times = interleave(blocks, cfg.rounds)
    floor = times["floor NumPy"]
    rows = [Row(SECTION, name, 1e3 * statistics.median(t), "ms/epoch", ratios(t, floor),
                "floor NumPy") for name, t in times.items()]
    rows.append(Row(SECTION, "tinygrad_edu / floor NumPy",
                    ratio=ratios(times["tinygrad_edu"], floor), target=Target(1.1),
                    note=f"costs of the first epoch agree to {deviation:.0e}"))
    return rows, {"first epoch costs": costs, "times": times}
