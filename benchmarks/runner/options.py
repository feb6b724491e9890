"""The options the study and the sweep share, and every check made before any training.

Each check raises `CheckFailed` with one line that names the option, the bad value and what to
do; `run_all` prints it and exits with status 2, before the results folder is touched.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import models
from benchmarks.command_line import CheckFailed, positive_int
from benchmarks.runner.folder import RECORDS_DIR, RUNS_DIR
from benchmarks.runner.runs import Run
from tinygrad_edu.data import CatDataset


# ----------------------------------------------------------------------------------- options
def add_length_options(parser: argparse.ArgumentParser, iterations_help: str,
                       quick_help: str) -> Any:
    """--iterations N or --quick (a smoke run); returns their exclusive group for more."""
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--iterations", type=positive_int, metavar="N", help=iterations_help)
    length.add_argument("--quick", action="store_true", help=quick_help)
    return length


def add_common_options(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The options the study and the sweep share: seeds, output, data, dtype, and the runner's."""
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                        help="train each network with weight seeds 0..N-1 (default 1)")
    parser.add_argument("--out", type=Path, default=Path(default_out), metavar="DIR",
                        help=f"folder for the tables, records and plots (default {default_out}/)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder holding train_catvnoncat.h5 and test_catvnoncat.h5")
    source.add_argument("--synthetic", action="store_true",
                        help="train on the labelled synthetic stand-in, not the cat photos")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="floating type of data and weights (default float64)")
    runner = parser.add_argument_group("the runner (resume, parallel runs)")
    runner.add_argument("--fresh", action="store_true",
                        help="train every run again instead of reusing the finished ones in --out")
    where = runner.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int, default=1, metavar="N",
                       help="train N runs at once in worker processes on this machine")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="train on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs the "
                            "'cluster' extra)")
    where.add_argument("--local-cluster", type=positive_int, metavar="N",
                       help="start a Dask LocalCluster of N worker processes and train on it")
    runner.add_argument("--blas-threads", type=positive_int, default=1, metavar="T",
                        help="BLAS threads per run, the same in every mode so that results "
                             "agree to the last digit (default 1)")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def check_threads(args: argparse.Namespace) -> None:
    """N workers x T BLAS threads must fit the cores of this machine (local runs only)."""
    if args.scheduler:
        return  # the cluster's workers set their own thread counts
    processes = args.local_cluster or args.workers
    if processes * args.blas_threads > cores():
        raise CheckFailed(
            f"{processes} worker processes x --blas-threads {args.blas_threads} = "
            f"{processes * args.blas_threads} threads, but this machine has {cores()} cores; "
            f"lower --workers or --blas-threads")


# ------------------------------------------------------------------------------------ checks
def check_plan(plan: list[Run]) -> None:
    """Every run's settings, before any training: the network builds, the settings are sane."""
    if not plan:
        raise CheckFailed("nothing to run (no network or no seed)")
    names = [run.name for run in plan]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CheckFailed(f"two runs share the name {repeated[0]!r}; give the networks "
                          f"different names")
    for spec in dict.fromkeys(run.spec for run in plan):
        lr = spec.learning_rate
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise CheckFailed(f"network {spec.name}: learning rate must be a finite number > 0, "
                              f"got {lr!r}")
        try:
            spec.build(seed=0, in_features=2)  # an unknown activation or init fails here
            spec.loss_fn()
        except (ValueError, TypeError, KeyError) as error:
            raise CheckFailed(f"network {spec.name}: {error}") from None
    for run in plan:
        if not isinstance(run.iterations, int) or run.iterations < 1:
            raise CheckFailed(f"{run.name}: iterations must be a positive integer, got "
                              f"{run.iterations!r}")


def check_out(out: Path) -> None:
    """--out must be a folder we can create and write into, with folders where we put files."""
    if out.exists() and not out.is_dir():
        raise CheckFailed(f"--out {out} is a file, not a folder; name a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for sub in (RUNS_DIR, RECORDS_DIR):
            if (out / sub).exists() and not (out / sub).is_dir():
                raise CheckFailed(f"--out {out} holds a file named {sub!r} where the runner "
                                  f"keeps a folder; move it away or choose another --out")
            (out / sub).mkdir(exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CheckFailed(f"--out {out}: cannot create or write there ({reason}: "
                          f"{error.filename or out}); choose a folder you can write to") from None


def monitor_bytes(spec: models.ModelSpec, iterations: int,
                  in_features: int = models.IMAGE_FEATURES) -> int:
    """Bytes a run keeps in memory for its records, at most (an estimate from above).

    Per iteration the monitor keeps one small array per layer (the n_l row norms of dW^[l]:
    ~112 bytes of header + 8 n_l), one (3, L) array of layer norms (||dW||_F, the speed of
    learning, ||W||_F), one (7, L-1) array of activation statistics, the loss and the
    iteration number. `records()` stacks them into arrays (one more copy) and adds the (T, L)
    update:data ratio; the result travels back from a worker (pickled: one more), and `fit`
    keeps one float of loss per iteration. A clipping callback keeps one float per iteration.
    """
    del in_features  # the records do not grow with the input size
    widths = [*spec.hidden, 1]
    layers = len(widths)
    # row norms, dw_norm, db_norm, weight_norm, update_ratio, statistics, loss, iteration
    numbers = sum(widths) + 4 * layers + 7 * max(layers - 1, 0) + 2
    lists = sum(112 + 8 * width + 8 for width in widths) + 2 * (112 + 8) + 3 * 40
    return iterations * (lists + 3 * 8 * numbers + 8)


def available_memory() -> int:
    """Bytes of memory available to new processes on this machine (Linux: MemAvailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.3g} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def check_memory(plan: list[Run], at_once: int, available: int | None = None) -> None:
    """Refuse, with the numbers, records that cannot fit: the `at_once` largest runs together."""
    available = available_memory() if available is None else available
    needs = sorted(((monitor_bytes(run.spec, run.iterations), run) for run in plan),
                   key=lambda pair: pair[0], reverse=True)[:at_once]
    total = sum(need for need, _ in needs)
    if total > available:
        biggest = needs[0][1]
        together = f" ({len(needs)} runs at once)" if len(needs) > 1 else ""
        raise CheckFailed(
            f"{biggest.name} with {biggest.iterations} iterations: the gradient monitor would "
            f"need {human_bytes(total)} of memory{together}, but {human_bytes(available)} is "
            f"available; train fewer iterations")


def load_data(args: argparse.Namespace) -> tuple[CatDataset, str]:
    """The real data (or the stand-in under --synthetic) and a description of which it is.

    Files that cannot be found or read stop the run before training (CheckFailed, one line):
    the stand-in is used only when asked for.
    """
    from tinygrad_edu.data import DatasetFormatError, DatasetNotFoundError, load_cat_or_synthetic

    try:
        return load_cat_or_synthetic(args.data_dir, np.dtype(args.dtype),
                                     synthetic=args.synthetic)
    except (DatasetNotFoundError, DatasetFormatError) as error:
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        raise CheckFailed(f"{message} Give --data-dir DIR, or --synthetic for the labelled "
                          f"stand-in (not cat photos).") from None
