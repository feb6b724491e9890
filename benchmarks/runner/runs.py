"""A run, and how it is trained: the same code in this process, a worker process or on Dask.

A run is one network (a `models.ModelSpec`) trained with one weight seed, for a number of
iterations, in one dtype, with a `GradientMonitor` attached. Its key (`Run.key`) is what resume
compares: the sha256 of every setting the result depends on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import models
import tinygrad_edu
from tinygrad_edu.data import CatDataset
from tinygrad_edu.monitor import MonitorRecords


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
