"""Worker processes with a fixed number of BLAS threads, and the limit in this process.

Each foreign contender (PyTorch, every peer) runs in a process of its own: OpenBLAS, NumPy's
BLAS, keeps a thread spinning for ~0.1 s after each call, which in a shared process slowed
PyTorch's float64 step nearly 2x. Every contender gets the same number of BLAS threads (on this
2-core machine shared with other jobs, two OpenBLAS threads made W1 @ X up to 40x slower than
one). Processes are spawned, not forked: each starts clean and imports only what it uses.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Limit every thread pool of this process to `threads`: those loaded (threadpoolctl) and
    those a later import loads (the environment variables they read when they start)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    threadpool_limits(limits=threads)


def blas_description() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process: implementation, version, threads."""
    keys = ("internal_api", "version", "num_threads", "architecture", "filepath")
    return [{key: info.get(key) for key in keys}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def start_worker(threads: int) -> concurrent.futures.ProcessPoolExecutor:
    """One spawned worker process whose thread pools are limited to `threads`."""
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"),
        initializer=limit_threads, initargs=(threads,))


def call(module: str, function: str, kwargs: dict[str, Any]) -> Any:
    """module.function(**kwargs), the module imported here: in a worker, only the worker
    imports it (the driver never imports torch or a peer)."""
    return getattr(importlib.import_module(module), function)(**kwargs)


class Worker:
    """A worker process of its own that runs the functions of one module, by name."""

    def __init__(self, module: str, threads: int) -> None:
        self.module = module
        self.pool = start_worker(threads)

    def __call__(self, function: str, **kwargs: Any) -> Any:
        return self.pool.submit(call, self.module, function, kwargs).result()

    def close(self) -> None:
        self.pool.shutdown()


def in_fresh_process(threads: int, function: Callable[..., Any], *args: Any) -> Any:
    """function(*args) in a new process of its own, which ends with it."""
    with start_worker(threads) as worker:
        return worker.submit(function, *args).result()
