"""The runner the study and the depth sweep share: it trains runs and keeps everything it paid for.

A run is one network (a `models.ModelSpec`) trained with one weight seed, for a number of
iterations, in one dtype, with a `GradientMonitor` attached. The runner

* checks everything before any training (`check_plan`, `check_out`, `check_memory`, the data):
  a failure is one line on stderr and exit status 2;
* writes each run as soon as it finishes, atomically (a temporary file in the same folder, then
  `os.replace`): its monitor records `records/<name>_seed<s>.h5`, then its result row
  `runs/<name>_seed<s>.json`, then the manifest. A kill at any moment leaves every earlier file
  readable;
* resumes: a run whose row holds the same KEY is reused, not trained again. The key is the
  sha256 of the run's settings written as canonical JSON: every field of the ModelSpec, the seed,
  the iterations, the dtype, the data's checksum and `tinygrad_edu.__version__`. A changed
  setting changes the key, so an old result is never taken for a new setting. `--fresh` reuses
  nothing;
* stops cleanly on SIGINT (Ctrl-C) or SIGTERM: the current run is abandoned, the finished ones
  stay, the table of what finished is written, one line says what was kept and how to resume,
  and the exit status is 130 (SIGINT) or 143 (SIGTERM);
* keeps one run per folder: `manifest.json` in --out lists the files of the current results.
  Files that an earlier run's manifest (or result rows) listed and this run does not reuse are
  REMOVED before training starts, so an older run's files are never presented as this one's.
  Files the runner never wrote (not in a manifest) are left alone;
* runs in parallel: `--workers N` on this machine (concurrent.futures.ProcessPoolExecutor), or
  `--scheduler ADDRESS` on a Dask cluster (the data is scattered to every worker once).

BLAS threads. Every run, serial or parallel, trains with the same number of BLAS threads,
`--blas-threads` (default 1), set with threadpoolctl inside the run. That is what makes the
serial and the parallel numbers equal to the last digit: a matrix product split over another
number of threads may add in another order. With `--workers N`, N x threads must not exceed the
machine's cores (refused up front), so that no thread waits for a core. One thread is also the
right choice on a busy machine (measured: two threads made the first layer's product 10 to 50
times slower when another process held a core).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import models
import tinygrad_edu
from tinygrad_edu.data import CatDataset
from tinygrad_edu.monitor import MonitorRecords

RUN_FORMAT = "tinygrad_edu.runner/1"
MANIFEST = "manifest.json"
RUNS_DIR, RECORDS_DIR = "runs", "records"
PARTIAL = ".partial-"  # in the name of every temporary file, so leftovers can be recognised


class CheckFailed(Exception):
    """A check before training failed; the message is the one line shown to the user."""


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# ------------------------------------------------------------------------------------ runs
@dataclass(frozen=True)
class Run:
    """One network trained with one seed: what the runner schedules."""

    spec: models.ModelSpec
    seed: int
    iterations: int
    dtype: str = "float64"

    @property
    def name(self) -> str:
        return f"{self.spec.name}_seed{self.seed}"

    def settings(self, data_checksum: str) -> dict[str, Any]:
        """Everything the result depends on; hashed into the run's key."""
        return {"spec": dataclasses.asdict(self.spec), "seed": self.seed,
                "iterations": self.iterations, "dtype": self.dtype,
                "data_sha256": data_checksum, "version": tinygrad_edu.__version__}

    def key(self, data_checksum: str) -> str:
        # default=str: a setting JSON cannot hold (a field added to ModelSpec later) still
        # enters the key, by its text
        canonical = json.dumps(self.settings(data_checksum), sort_keys=True,
                               separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def data_checksum(data: CatDataset) -> str:
    """sha256 of the arrays' shapes, dtypes and bytes: which data a result was trained on."""
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks of up to 64 MB instead of unmapping them.

    Every iteration allocates and frees a few (30, 12288) arrays of 2.9 MB (dW^[1] and the
    penalty's temporaries). By default glibc hands such blocks back to the kernel on free and
    maps fresh pages on the next allocation, and touching fresh pages costs page faults:
    measured 3,600 faults and 9 to 11 ms of system time per relu5_he iteration, about a third
    of it. With the thresholds raised (mallopt M_MMAP_THRESHOLD = 64 MB, M_TRIM_THRESHOLD =
    256 MB: the same as MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ in the environment),
    the faults disappear. Returns False, changing nothing, where the C library is not glibc.
    """
    import ctypes

    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's <malloc.h>
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(m_mmap_threshold, 64 << 20)
                    and libc.mallopt(m_trim_threshold, 256 << 20))
    except (OSError, AttributeError):
        return False


def train_run(run: Run, data: CatDataset, blas_threads: int = 1,
              progress: bool = False) -> tuple[dict[str, Any], MonitorRecords]:
    """Build, train with the monitor attached, evaluate: the same code in every process.

    Returns the result row (numbers, and the diagnosis of `tinygrad_edu.diagnosis`) and the
    monitor's records. A loss that turns NaN or inf stops the run, which still counts as
    finished: its row says `diverged`.
    """
    from threadpoolctl import threadpool_limits

    from tinygrad_edu.monitor import GradientMonitor
    from tinygrad_edu.optim import SGD
    from tinygrad_edu.training import accuracy, fit

    keep_freed_memory()
    spec, dtype = run.spec, np.dtype(run.dtype)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        model = spec.build(seed=run.seed, in_features=data.x_train.shape[0], dtype=dtype)
        optimizer = SGD(model.parameters(), lr=spec.learning_rate)
        diverged = ""
        with GradientMonitor(model, meta={"experiment": spec.name, "seed": run.seed},
                             learning_rate=spec.learning_rate) as monitor:
            # fit calls the callbacks in order, after backward and before the step. Clipping
            # comes FIRST, so that the monitor records the gradients the step really uses
            # (after clipping) and its update:data ratio is that of the step taken.
            clip = spec.clip_callback()
            callbacks = [monitor] if clip is None else [clip, monitor]
            start = time.perf_counter()
            try:
                fit(model, data.x_train, data.y_train, optimizer, run.iterations,
                    spec.loss_fn(), callbacks=callbacks,
                    progress=f"{spec.name} seed {run.seed}" if progress else False)
            except FloatingPointError as error:  # keep what was recorded up to the divergence
                diverged = str(error)
            seconds = time.perf_counter() - start
            records = monitor.records(architecture=spec.architecture, init=spec.init,
                                      learning_rate=spec.learning_rate)
        recorded = records.num_iterations > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            result = {
                "iterations": run.iterations, "seconds": seconds,
                "train_accuracy": accuracy(model, data.x_train, data.y_train),
                "test_accuracy": accuracy(model, data.x_test, data.y_test),
                "final_loss": float(records.loss[-1]) if recorded else math.nan,
                "grad_ratio_start": records.gradient_ratio(0) if recorded else math.nan,
                "grad_ratio_end": records.gradient_ratio(-1) if recorded else math.nan,
                "diverged": diverged,
                # ||lr dW^[l]||_F / ||W^[l]||_F of every layer at the last iteration
                "final_update_ratio": [float(v) if math.isfinite(v) else None
                                       for v in records.update_ratio[-1]] if recorded else [],
            }
        result.update(diagnosis_of(spec, records, data))
    return result, records


def diagnosis_of(spec: models.ModelSpec, records: MonitorRecords,
                 data: CatDataset) -> dict[str, Any]:
    """The run's diagnosis (`tinygrad_edu.diagnosis.diagnose`): its sentence and labels, the
    L2 penalty taken out of the loss before it is compared with the class prior's entropy. A
    run that cannot be diagnosed (no hidden layer, nothing recorded) says why instead."""
    from tinygrad_edu.diagnosis import class_prior_of, diagnose, l2_penalty_trace

    if records.num_iterations == 0:
        return {"diagnosis": "not diagnosed: nothing was recorded", "diagnosis_labels": []}
    penalty = None
    if spec.lamda and spec.penalized_layers:
        penalty = l2_penalty_trace(records, spec.lamda, data.x_train.shape[1],
                                   spec.penalized_layers)
    try:
        with np.errstate(all="ignore"):  # a diverged run's NaN are reported, not warned about
            found = diagnose(records, class_prior_of(data.y_train), penalty=penalty)
    except ValueError as error:  # e.g. logistic regression: no hidden layer, no gradient flow
        return {"diagnosis": f"not diagnosed: {error}", "diagnosis_labels": []}
    return {"diagnosis": found.sentence, "diagnosis_labels": list(found.labels)}


@dataclass
class Finished:
    """A run whose record and row are on disk (trained now, or reused from an earlier call)."""

    run: Run
    key: str
    result: dict[str, Any]
    records_path: Path
    reused: bool

    def records(self) -> MonitorRecords:
        return MonitorRecords.load(self.records_path)


# ------------------------------------------------------------------------------------ options
class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


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


# ------------------------------------------------------------------------------------ files
@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in `path`'s folder, with its suffix; on success rename it to `path`.

    os.replace is atomic on one file system: a reader (or a kill) sees the old file or the new
    one, never half of one. The temporary file is removed if writing fails or is interrupted.
    (No fsync: this protects against killed processes, not against power loss.)
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}{PARTIAL}",
                                suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are ordinary files
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, blob: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(blob, indent=1, default=str))
    return path


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a finished run is written (record, row, manifest), so a
    Ctrl-C never splits them; a signal that arrived meanwhile is handled right after."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Folder:
    """--out: the runs' rows and records, and the manifest of the files of the current results."""

    def __init__(self, out: Path, command: str) -> None:
        self.out = out
        self.command = command
        self.files: set[str] = set()

    def row_path(self, run: Run) -> Path:
        return self.out / RUNS_DIR / f"{run.name}.json"

    def records_path(self, run: Run) -> Path:
        return self.out / RECORDS_DIR / f"{run.name}.h5"

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.out))

    def reusable(self, run: Run, key: str) -> Finished | None:
        """The finished run in the folder with this key, if its row and record are intact."""
        row = read_json(self.row_path(run))
        if not isinstance(row, dict) or row.get("format") != RUN_FORMAT or row.get("key") != key:
            return None
        records_path = self.records_path(run)
        try:
            if file_sha256(records_path) != row.get("records_sha256"):
                return None
        except OSError:
            return None
        return Finished(run, key, row["result"], records_path, reused=True)

    def previous_files(self) -> set[str]:
        """Files an earlier call wrote: its manifest's, and those its result rows name."""
        files: set[str] = set()
        manifest = read_json(self.out / MANIFEST)
        if isinstance(manifest, dict) and isinstance(manifest.get("files"), list):
            files.update(str(name) for name in manifest["files"])
        for row_path in (self.out / RUNS_DIR).glob("*.json"):
            row = read_json(row_path)
            if isinstance(row, dict) and row.get("format") == RUN_FORMAT:
                files.add(self.relative(row_path))
                files.add(str(row.get("records", "")))
        return {name for name in files if name}

    def remove_stale(self, keep: set[str]) -> int:
        """Remove the earlier call's files that this call does not keep (its tables and figures
        are rebuilt at the end), and partial files; return how many earlier RUNS were removed."""
        removed = 0
        root = self.out.resolve()
        for name in sorted(self.previous_files() - keep - {MANIFEST}):
            path = (self.out / name).resolve()
            if root in path.parents and path.is_file():  # never outside --out
                path.unlink()
                removed += name.startswith(f"{RUNS_DIR}/")
        for where in (self.out, self.out / RUNS_DIR, self.out / RECORDS_DIR):  # not deeper:
            for leftover in where.glob(f".*{PARTIAL}*"):  # another run may own a sub-folder
                leftover.unlink(missing_ok=True)
        return removed

    def save(self, finished: Finished, records: MonitorRecords) -> None:
        """Record first, then the row that vouches for it (with its checksum), then manifest."""
        records_path, row_path = self.records_path(finished.run), self.row_path(finished.run)
        with atomic_path(records_path) as tmp:
            records.save(tmp)
        write_json(row_path, {  # what was trained, and what it gave: readable without Python
            "format": RUN_FORMAT, "key": finished.key, "name": finished.run.name,
            "settings": {k: v for k, v in finished.run.settings("").items()
                         if k != "data_sha256"},
            "result": finished.result, "records": self.relative(records_path),
            "records_sha256": file_sha256(records_path)})
        self.add([records_path, row_path])

    def add(self, paths: list[Path], status: str = "running") -> None:
        self.files.update(self.relative(path) for path in paths)
        self.write_manifest(status)

    def write_manifest(self, status: str) -> None:
        write_json(self.out / MANIFEST, {
            "format": RUN_FORMAT, "status": status, "command": self.command,
            "written": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "files": sorted(self.files)})


# ------------------------------------------------------------------------------------ running
# The process pool's workers receive the data once, when they start (initializer), and keep it
# here: the one piece of per-process state, local to each worker process.
_WORKER_DATA: dict[str, Any] = {}


def _start_worker(data: CatDataset) -> None:
    # Ctrl-C reaches every process of the terminal; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_DATA["data"] = data


def _train_in_worker(run: Run, blas_threads: int) -> tuple[dict[str, Any], MonitorRecords]:
    return train_run(run, _WORKER_DATA["data"], blas_threads)


def _in_pool(todo: list[Run], data: CatDataset, workers: int,
             blas_threads: int) -> Iterator[tuple[Run, dict[str, Any], MonitorRecords]]:
    """Train `todo` in a pool of `workers` processes; yield each run as it finishes."""
    # spawn: a fresh interpreter per worker, not a fork of a process whose BLAS has threads.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(data,))
    pending = {pool.submit(_train_in_worker, run, blas_threads): run for run in todo}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result, records = future.result()
                yield pending.pop(future), result, records
    finally:
        # On an interrupt, stop the runs in progress too: the pool has no public way to end its
        # running tasks (before Python 3.14), so terminate its processes.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _on_dask(todo: list[Run], data: CatDataset, client: Any,
             blas_threads: int) -> Iterator[tuple[Run, dict[str, Any], MonitorRecords]]:
    """Train `todo` on a Dask cluster; the data goes to every worker once (scatter)."""
    from dask.distributed import as_completed

    # A list of one: scatter would send each item of a tuple (CatDataset is one) separately.
    data_future = client.scatter([data], broadcast=True)[0]
    futures = {client.submit(train_run, run, data_future, blas_threads, pure=False): run
               for run in todo}
    try:
        for future in as_completed(futures):
            result, records = future.result()
            yield futures[future], result, records
    finally:
        client.cancel(list(futures))


def connect(args: argparse.Namespace) -> tuple[Any, Any]:
    """The Dask client for --scheduler or --local-cluster (and the cluster we started)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise CheckFailed("--scheduler and --local-cluster need Dask: pip install "
                          "'tinygrad-edu[cluster]'") from None
    if args.local_cluster:
        cluster = LocalCluster(n_workers=args.local_cluster, processes=True,
                               threads_per_worker=1, dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(args.scheduler, timeout="10s"), None
    except (OSError, TimeoutError) as error:
        raise CheckFailed(f"--scheduler {args.scheduler}: cannot connect ({error}); start one "
                          f"with 'dask scheduler' and give its tcp:// address") from None


def describe(finished: Finished) -> str:
    """Two lines: what the run gave, and its diagnosis."""
    result = finished.result
    return (f"{finished.run.spec.name} seed {finished.run.seed}: {result['iterations']} "
            f"iterations in {result['seconds']:.1f} s, train "
            f"{100 * result['train_accuracy']:.2f} %, test {100 * result['test_accuracy']:.2f} %"
            + (f"  DIVERGED: {result['diverged']}" if result["diverged"] else "")
            + f"\n    diagnosis: {result.get('diagnosis', 'not diagnosed')}")


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


WriteOutputs = Callable[[list[Finished], bool, str, CatDataset], list[Path]]


def run_all(args: argparse.Namespace, plan: list[Run], write_outputs: WriteOutputs,
            command: str) -> int:
    """Check, resume, train what is missing, write: the whole life of a study or a sweep.

    `write_outputs(finished, complete, source, data)` writes the tables (and, when complete,
    the figures) from the finished runs in plan order, `source` naming the data (`data` itself
    for what the tables compute from it, such as the study's theory), and returns the paths it
    wrote. `command` is recorded in the manifest. Returns the exit status: 0, 2 (a
    check failed), 130 (SIGINT) or 143 (SIGTERM).
    """
    started = time.perf_counter()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum: int, frame: Any) -> None:
        for sig in previous:  # a second Ctrl-C must not break the writing of what is kept
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    for sig in previous:
        signal.signal(sig, interrupt)
    folder = Folder(args.out, command)
    finished: dict[str, Finished] = {}
    client = cluster = stream = None
    source, prepared = "", False
    try:
        try:
            check_plan(plan)
            check_threads(args)
            check_out(args.out)
            check_memory(plan, args.local_cluster or args.workers)
            data, source = load_data(args)
            if args.scheduler or args.local_cluster:  # before the folder is touched
                client, cluster = connect(args)
        except CheckFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"data: {source}", flush=True)
        checksum = data_checksum(data)
        keys = {run.name: run.key(checksum) for run in plan}
        if not args.fresh:
            for run in plan:
                reused = folder.reusable(run, keys[run.name])
                if reused:
                    finished[run.name] = reused
        keep = {folder.relative(path) for f in finished.values()
                for path in (f.records_path, folder.row_path(f.run))}
        removed = folder.remove_stale(keep)
        folder.files = set(keep)
        folder.write_manifest("running")
        prepared = True
        todo = [run for run in plan if run.name not in finished]
        print(f"reused {len(finished)} runs finished earlier with identical settings"
              f"{' (--fresh: none)' if args.fresh else ''}; training {len(todo)}"
              + (f"; removed {removed} earlier runs with other settings from {args.out}/"
                 if removed else ""), flush=True)
        if client is not None:
            stream = _on_dask(todo, data, client, args.blas_threads)
            where = f"on the Dask cluster at {client.scheduler.address}"
        elif args.workers > 1:
            stream = _in_pool(todo, data, args.workers, args.blas_threads)
            where = f"in {args.workers} worker processes"
        else:
            stream = ((run, *train_run(run, data, args.blas_threads, progress=True))
                      for run in todo)
            where = "in this process"
        print(f"training {len(todo)} runs {where}, {args.blas_threads} BLAS thread(s) each",
              flush=True)
        count = len(finished)
        for run, result, records in stream:
            with signals_deferred():
                done = Finished(run, keys[run.name], result, folder.records_path(run), False)
                folder.save(done, records)
                finished[run.name] = done
                count += 1
                print(f"[{count}/{len(plan)}] {describe(done)}", flush=True)
        in_order = [finished[run.name] for run in plan]
        folder.add(write_outputs(in_order, True, source, data), status="complete")
        print(f"wrote {len(folder.files)} files into {args.out}/ (listed in "
              f"{args.out / MANIFEST}) in {time.perf_counter() - started:.0f} s in all")
        return 0
    except Interrupted as stop:
        if stream is not None:
            stream.close()  # a pool or a cluster stops its runs in progress
        in_order = [finished[run.name] for run in plan if run.name in finished]
        if in_order and prepared:
            folder.add(write_outputs(in_order, False, source, data), status="interrupted")
        elif prepared:
            folder.write_manifest("interrupted")
        print(f"interrupted by {stop}: kept {len(in_order)} of {len(plan)} runs, finished, in "
              f"{args.out}/; run the same command again to resume (--fresh starts over)",
              file=sys.stderr, flush=True)
        return 128 + stop.signum
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
