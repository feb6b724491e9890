"""The description of a run: machine, versions, threads, data, load. Printed and written."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.speed.config import Config
from benchmarks.speed.workers import blas_description

THREADS = "threads (BLAS and intra-op, every contender)"
# The entries that say how a run was made: runs combined into one table
# (benchmarks.speed.combine) must agree on all of them.
SETTINGS = ("mode", "rounds", THREADS, "OPENBLAS_CORETYPE", "machine")
CODE = "code"  # the commit measured: runs of different code are not combined either
REPOSITORY = Path(__file__).resolve().parents[2]


def code_version() -> str:
    """The git commit of this checkout, marked when tracked files have changes not committed;
    "unknown" outside a git checkout (an installed copy, or no git program)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPOSITORY), *args], capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{commit} with uncommitted changes" if changed else commit


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
        CODE: code_version(),
    }
    if torch_info is not None:
        env["PyTorch (worker process)"] = torch_info
    elif "step" in cfg.sections or "perop" in cfg.sections:
        env["PyTorch"] = "not measured (--no-torch, or torch is not importable)"
    if "peers" in cfg.sections:
        env["peers' data"] = f"two moons, 100 points, generated with seed {cfg.seed}"
    return env
