"""Section `perop`: per-operation overhead, through a chain of tiny (2, 2) elementwise ops.

On (2, 2) arrays NumPy's own work is negligible: what is measured is the Python around each op
(building the graph in the forward, walking it in the backward).
"""

from __future__ import annotations

import functools
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.speed.config import Config
from benchmarks.speed.stats import interleave, ratios
from benchmarks.speed.table import Row, Target
from benchmarks.speed.workers import Worker
from tinygrad_edu.tensor import Tensor

CHAIN_OPS = ("mul", "add", "sigmoid")  # repeated; sigmoid keeps the values bounded


def tinygrad_chain(n: int) -> tuple[float, float]:
    """Seconds per op of the forward and of the backward through `n` ops on (2, 2) tensors."""
    x = Tensor(np.full((2, 2), 0.5), requires_grad=True)
    c = Tensor(np.full((2, 2), 0.9))
    start = time.perf_counter()
    a = x
    for i in range(n):
        kind = CHAIN_OPS[i % 3]
        a = a * c if kind == "mul" else a + c if kind == "add" else a.sigmoid()
    loss = a.sum()
    middle = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    return (middle - start) / n, (end - middle) / n


def numpy_chain(n: int) -> float:
    """Seconds per op of the same forward in raw NumPy (no graph, no backward)."""
    a, c = np.full((2, 2), 0.5), np.full((2, 2), 0.9)
    start = time.perf_counter()
    for i in range(n):
        kind = CHAIN_OPS[i % 3]
        a = a * c if kind == "mul" else a + c if kind == "add" else 1 / (1 + np.exp(-a))
    a.sum()
    return (time.perf_counter() - start) / n


def collected(function: Callable[..., Any], *args: Any) -> Any:
    """function(*args) after a garbage collection, so that none lands inside its timing."""
    gc.collect()
    return function(*args)


def section_perop(cfg: Config, torch: Worker | None) -> tuple[list[Row], dict[str, Any]]:
    n = cfg.perop_chain
    blocks: dict[str, Callable[[], Any]] = {
        "tinygrad_edu": functools.partial(collected, tinygrad_chain, n),
        "NumPy": functools.partial(collected, numpy_chain, n)}
    if torch is not None:
        blocks["PyTorch"] = functools.partial(torch, "chain", n=n)
    interleave(blocks, rounds=1)
    results = interleave(blocks, cfg.rounds, cfg.settle)
    section = f"2. per-op overhead, chain of {n:,} ops on (2, 2) float64"
    mine_f, mine_b = zip(*results["tinygrad_edu"], strict=True)
    mine_fb = [f + b for f, b in zip(mine_f, mine_b, strict=True)]
    numpy_f = results["NumPy"]
    rows = [Row(section, "tinygrad_edu forward", 1e6 * statistics.median(mine_f), "us/op",
                ratios(mine_f, numpy_f), "NumPy"),
            Row(section, "tinygrad_edu backward", 1e6 * statistics.median(mine_b), "us/op"),
            Row(section, "tinygrad_edu forward + backward", 1e6 * statistics.median(mine_fb),
                "us/op"),
            Row(section, "NumPy forward only", 1e6 * statistics.median(numpy_f), "us/op",
                note="sigmoid as 1 / (1 + exp(-a)): 4 ufuncs")]
    if "PyTorch" in results:
        torch_f, torch_b = zip(*results["PyTorch"], strict=True)
        torch_fb = [f + b for f, b in zip(torch_f, torch_b, strict=True)]
        rows += [
            Row(section, "PyTorch forward", 1e6 * statistics.median(torch_f), "us/op"),
            Row(section, "PyTorch backward", 1e6 * statistics.median(torch_b), "us/op"),
            Row(section, "PyTorch forward + backward", 1e6 * statistics.median(torch_fb), "us/op"),
            Row(section, "tinygrad_edu / PyTorch, forward", ratio=ratios(mine_f, torch_f)),
            Row(section, "tinygrad_edu / PyTorch, backward", ratio=ratios(mine_b, torch_b)),
            Row(section, "tinygrad_edu / PyTorch, forward + backward",
                ratio=ratios(mine_fb, torch_fb), target=Target(1.0)),
        ]
    return rows, {"chain": n, **results}
