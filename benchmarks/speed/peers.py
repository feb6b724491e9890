"""Section `peers`: the small-net workload every autodiff peer demonstrates (see moons.py),
tinygrad_edu against NumPy, PyTorch, micrograd, HIPS autograd, MyGrad and tinygrad, each in a
worker process of its own; and the course's relu5_he in mini-batches (minibatch.py).

The loss curves are checked first: every contender trains from the same initial weights and
its losses must equal NumPy's to RTOL at every step. Only then is it timed; a contender whose
curve disagrees is reported as disagreeing, one that cannot run as not run, with the reason.
"""

from __future__ import annotations

import functools
import importlib.util
import statistics
from typing import Any

from benchmarks.speed.config import Config
from benchmarks.speed.minibatch import section_minibatch
from benchmarks.speed.moons import STEPS, Moons, curves_agree, make_moons
from benchmarks.speed.moons_trainers import train
from benchmarks.speed.stats import interleave, ratios
from benchmarks.speed.table import Row, Target
from benchmarks.speed.workers import Worker

# micrograd's scalar engine sums in another order than BLAS: its curve differs by rounding,
# measured at most 1e-15 relative over the 100 steps; 1e-9 leaves room, and a real error in the
# loss or the update (a wrong sign, a factor) moves the curve by far more.
RTOL = 1e-9
PEER_MODULES = {"tinygrad_edu": "tinygrad_edu", "NumPy": "numpy", "PyTorch": "torch",
                "micrograd": "micrograd", "autograd": "autograd", "MyGrad": "mygrad",
                "tinygrad": "tinygrad"}
SECTION = ("6a. micrograd's demo: 2-16-16-1 ReLU MLP, 100 two-moons points, full batch, "
           "hinge loss + L2, SGD, float64")


def check_agreement(worker: Worker, framework: str, moons: Moons, steps: int,
                    reference: list[float]) -> tuple[bool, str]:
    """Train `steps` steps in the worker (also its warm-up); does its curve match NumPy's?"""
    try:
        result = worker("train", framework=framework, moons=moons, steps=steps)
    except Exception as error:  # any failure of a foreign framework: reported, not raised
        return False, f"not run: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
    agree, detail = curves_agree(result["losses"], reference, RTOL)
    return agree, (detail if agree else f"DISAGREES with NumPy, not timed: {detail}")


def section_peers(cfg: Config, torch: Worker | None) -> tuple[list[Row], dict[str, Any]]:
    moons = make_moons(cfg.seed)
    reference = train("NumPy", moons, STEPS)["losses"]
    steps = {name: cfg.micrograd_steps if name == "micrograd" else STEPS for name in PEER_MODULES}
    check_steps = {**steps, "micrograd": cfg.micrograd_steps if cfg.quick else STEPS}
    rows, notes, workers = [], {}, {}
    try:
        for name, module in PEER_MODULES.items():
            if importlib.util.find_spec(module) is None or (name == "PyTorch" and not cfg.torch):
                notes[name] = f"not run: {module} is not installed (pip install -e '.[bench]')"
                continue
            workers[name] = Worker("benchmarks.speed.moons_trainers", cfg.threads)
            agree, notes[name] = check_agreement(workers[name], name, moons, check_steps[name],
                                                 reference)
            if not agree:
                workers.pop(name).close()
        blocks = {name: functools.partial(_seconds, worker, name, moons, steps[name])
                  for name, worker in workers.items()}
        times = interleave(blocks, cfg.rounds, cfg.settle)
    finally:
        for worker in workers.values():
            worker.close()
    mine = times.get("tinygrad_edu")
    for name, note in notes.items():
        if name not in times:
            rows.append(Row(SECTION, name, note=note))
            continue
        rows.append(Row(SECTION, name, 1e3 * statistics.median(times[name]), "ms/step",
                        ratios(times[name], mine) if mine else None, "tinygrad_edu",
                        note=f"{steps[name]} steps per block; loss curve: {note}"))
    comparisons = [  # (label, numerator, denominator, target, note)
        ("tinygrad_edu / NumPy", "tinygrad_edu", "NumPy", None,
         "the floor: the gradient written out by hand"),
        ("tinygrad_edu / PyTorch", "tinygrad_edu", "PyTorch", Target(1.0), ""),
        ("micrograd / tinygrad_edu: speed-up", "micrograd", "tinygrad_edu", Target(low=100), "")]
    rows += [Row(SECTION, label, ratio=ratios(times[top], times[bottom]), target=target,
                 note=note)
             for label, top, bottom, target, note in comparisons
             if top in times and bottom in times]
    minibatch_rows, minibatch_raw = section_minibatch(cfg)
    return rows + minibatch_rows, {"moons": {"reference": reference, "times": times,
                                             "notes": notes}, "minibatch": minibatch_raw}


def _seconds(worker: Worker, framework: str, moons: Moons, steps: int) -> float:
    return worker("train", framework=framework, moons=moons, steps=steps)["seconds"]
