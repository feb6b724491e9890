"""Section `memory`: peak memory of training, each contender in a fresh process, and no growth
of the live memory from iteration 100 on (the graph is released every step)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import gc
import os
import resource
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.speed.config import Config
from benchmarks.speed.problem import BigProducts, CourseStep, Problem, TinygradStep, make_problem
from benchmarks.speed.stats import Stat
from benchmarks.speed.table import Row, Target
from benchmarks.speed.workers import Worker, in_fresh_process

MiB = 2**20
MEMORY_CONTENDERS: dict[str, Callable[[Problem], Any]] = {
    "tinygrad_edu": TinygradStep,
    "course NumPy": CourseStep,
    "floor NumPy": functools.partial(CourseStep, input_grad=False),
}


def current_rss() -> int:
    """Resident memory now, in bytes (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """The resident high-water mark of this process, in bytes: VmHWM where /proc exists.

    Not ru_maxrss: on Linux getrusage(RUSAGE_SELF).ru_maxrss also keeps the high-water mark of
    the process image before exec, i.e. of the driver that spawned this child (measured: every
    child then reported the driver's 185 MiB), which would hide the child's own peak.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def reset_peak_rss() -> bool:
    """Reset this process's resident high-water mark, so that `peak_rss` measures from now.

    Linux: writing 5 to /proc/self/clear_refs resets VmHWM. Without it the peak would be that of
    loading the data, the same for every contender.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: train one contender and measure its memory.

    spec: contender, iterations, trace (bool: tracemalloc on, started after the setup),
    checkpoints (iterations after which the live memory is recorded), data_dir, synthetic, seed.
    """
    problem = make_problem(np.float64, spec["data_dir"], spec["seed"],
                           synthetic=spec["synthetic"])
    contender = MEMORY_CONTENDERS[spec["contender"]](problem)
    # OpenBLAS touches its work buffers (tens of MiB) at its first big product: do that in the
    # setup, the same for every contender, so that the peak measures what the steps allocate.
    BigProducts(problem).step()
    del problem
    gc.collect()
    peak_was_reset = reset_peak_rss()
    rss_setup = current_rss()
    if spec["trace"]:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if spec["trace"] else 0
    checkpoints, records = set(spec.get("checkpoints", ())), {}
    for iteration in range(1, spec["iterations"] + 1):
        contender.step()
        if iteration in checkpoints:
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] - base if spec["trace"] else None
            records[iteration] = {"rss": current_rss(), "traced": traced}
    result = {"rss_setup": rss_setup, "peak_was_reset": peak_was_reset,
              "peak_rss": peak_rss(), "records": records}
    if spec["trace"]:
        result["traced_peak"] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return result


def section_memory(cfg: Config, torch: Worker | None) -> tuple[list[Row], dict[str, Any]]:
    n = cfg.memory_iterations
    first, last = cfg.growth_checkpoints
    common = {"iterations": n, "data_dir": cfg.data_dir, "synthetic": cfg.synthetic,
              "seed": cfg.seed}
    specs: dict[Any, dict[str, Any]] = {
        (name, trace): {**common, "contender": name, "trace": trace}
        for name in MEMORY_CONTENDERS for trace in (False, True)}
    specs["growth"] = {**common, "contender": "tinygrad_edu", "trace": True, "iterations": last,
                       "checkpoints": [first, last]}
    # Memory does not depend on timing, so the fresh processes may run side by side.
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(in_fresh_process, cfg.threads, memory_child, spec)
                   for key, spec in specs.items()}
        results = {key: future.result() for key, future in futures.items()}

    section = f"4a. peak memory, {n} relu5 training iterations, float64, each in a fresh process"
    base = "course NumPy"
    rss = {name: results[name, False] for name in MEMORY_CONTENDERS}
    traced = {name: results[name, True]["traced_peak"] for name in MEMORY_CONTENDERS}
    reset = all(r["peak_was_reset"] for r in rss.values())
    scope = "high-water mark reset after setup" if reset else "whole process, setup included"
    rows = []
    for name in MEMORY_CONTENDERS:
        target = Target(1.3) if name == "tinygrad_edu" else None
        above = (rss[name]["peak_rss"] - rss[name]["rss_setup"]) / MiB
        rows += [
            Row(section, f"{name}: peak RSS (VmHWM)", rss[name]["peak_rss"] / MiB, "MiB",
                Stat.of([rss[name]["peak_rss"] / rss[base]["peak_rss"]]), base, target,
                note=f"{scope}; {above:+.1f} MiB above the RSS after setup"),
            Row(section, f"{name}: tracemalloc peak of the loop", traced[name] / MiB, "MiB",
                Stat.of([traced[name] / traced[base]]), base, target,
                note="arrays and objects allocated by the steps, above the setup"),
        ]
    growth = results["growth"]
    start, end = growth["records"][first], growth["records"][last]
    section_g = (f"4b. growth of live memory, tinygrad_edu relu5 float64, iteration {first} -> "
                 f"{last}")
    rows += [
        Row(section_g, "tracemalloc current: change", (end["traced"] - start["traced"]) / MiB,
            "MiB", target=Target(0.1, on="value", unit=" MiB")),
        Row(section_g, "RSS: change", (end["rss"] - start["rss"]) / MiB, "MiB",
            note="allocator-dependent; for orientation"),
    ]
    raw = {f"{key[0]}, {'tracemalloc' if key[1] else 'rss'}" if isinstance(key, tuple) else key:
           value for key, value in results.items()}
    return rows, raw
