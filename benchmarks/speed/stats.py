"""Interleaved rounds and the median of per-round ratios: how a verdict survives a drifting machine.

The speed of this machine drifts (other jobs, clock frequency) by 1.5x between runs, so a verdict
is never an absolute time: contenders run in short blocks, interleaved in an order that rotates
every round, the ratio of two contenders is taken within each round, and the table gives the
median of those ratios over the rounds with their interquartile range (IQR).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def seconds_per_call(function: Callable[[], Any], calls: int) -> float:
    """Mean wall time of `calls` calls in a row (a block); the garbage collector runs first."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def interleave(blocks: dict[str, Callable[[], Any]], rounds: int,
               settle: float = 0.0) -> dict[str, list[Any]]:
    """Run every block once per round, in an order rotated each round; collect their results.

    Ratios of results from the same round cancel the machine's drift. `settle` seconds of
    sleep before each block let spinning BLAS threads of the previous contender go idle.
    """
    names = list(blocks)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            if settle:
                time.sleep(settle)
            results[name].append(blocks[name]())
    return results


@dataclass(frozen=True)
class Stat:
    """The median of per-round values and their interquartile range."""

    median: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        if len(values) == 1:
            return cls(values[0], values[0], values[0])
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(statistics.median(values), q1, q3)


def ratios(numerators: list[float], denominators: list[float]) -> Stat:
    """The per-round ratios numerator / denominator, summarised."""
    return Stat.of([a / b for a, b in zip(numerators, denominators, strict=True)])
