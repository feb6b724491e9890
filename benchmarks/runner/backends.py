"""Where runs are trained besides this process: a process pool on this machine, or Dask.

Each backend yields (run, result row, records) as runs finish, in any order; the caller
(`run_all`) writes each one as it arrives. Closing the generator stops the runs in progress.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from benchmarks.command_line import CheckFailed
from benchmarks.runner.runs import Run, train_run
from tinygrad_edu.data import CatDataset
from tinygrad_edu.monitor import MonitorRecords

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

