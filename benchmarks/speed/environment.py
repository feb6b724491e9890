"""The description of a run: machine, versions, threads, data, load. Printed and written."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np

from benchmarks.speed.config import Config
from benchmarks.speed.workers import blas_description

THREADS = "threads (BLAS and intra-op, every contender)"
# The entries that say how a run was made: runs combined into one table
# (benchmarks.speed.combine) must agree on all of them.
SETTINGS = ("mode", "rounds", THREADS, "OPENBLAS_CORETYPE", "machine")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def describe(cfg: Config, data_source: str, torch_info: dict[str, Any] | None) -> dict[str, Any]:
    """What a reader needs to judge the numbers: where they come from and on what."""
    env: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mode": "quick" if cfg.quick else "full",
        "data": data_source,
        "python": platform.python_version(), "numpy": np.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
        "load average at start": load_average(),
        THREADS: cfg.threads,
        "NumPy BLAS": blas_description(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(not set)"),
        "rounds": cfg.rounds,
    }
    if torch_info is not None:
        env["PyTorch (worker process)"] = torch_info
    elif "step" in cfg.sections or "perop" in cfg.sections:
        env["PyTorch"] = "not measured (--no-torch, or torch is not importable)"
    if "peers" in cfg.sections:
        env["peers' data"] = f"two moons, 100 points, generated with seed {cfg.seed}"
    return env
