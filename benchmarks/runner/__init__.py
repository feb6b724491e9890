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

The modules, one job each:
  runs.py      a run (`Run`), its key, and `train_run`: the same code in every process
  options.py   the options the study and the sweep share, and every check before training
  folder.py    the results folder: rows and records, resume by key, the manifest
  backends.py  a process pool on this machine, or a Dask cluster
  here         `run_all`: check, resume, train what is missing, write, stop on a signal
The atomic writes themselves are in `benchmarks/files.py`, shared with the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.command_line import CheckFailed
from benchmarks.runner.backends import _in_pool, _on_dask, connect
from benchmarks.runner.folder import MANIFEST, Folder
from benchmarks.runner.options import (add_common_options, add_length_options, check_memory,
                                       check_out, check_plan, check_threads, load_data,
                                       monitor_bytes)
from benchmarks.runner.runs import Finished, Run, data_checksum, train_run
from tinygrad_edu.data import CatDataset

__all__ = ["CheckFailed", "Finished", "Folder", "Run", "add_common_options", "add_length_options",
           "check_memory", "check_plan", "data_checksum", "monitor_bytes", "run_all", "train_run"]


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

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


def describe(finished: Finished) -> str:
    """Two lines: what the run gave, and its diagnosis."""
    result = finished.result
    return (f"{finished.run.spec.name} seed {finished.run.seed}: {result['iterations']} "
            f"iterations in {result['seconds']:.1f} s, train "
            f"{100 * result['train_accuracy']:.2f} %, test {100 * result['test_accuracy']:.2f} %"
            + (f"  DIVERGED: {result['diverged']}" if result["diverged"] else "")
            + f"\n    diagnosis: {result.get('diagnosis', 'not diagnosed')}")


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
