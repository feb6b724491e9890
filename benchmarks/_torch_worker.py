"""The PyTorch contender of benchmarks/speed.py, in a process of its own.

The driver starts `python benchmarks/_torch_worker.py` with the thread counts fixed in the
environment and sends one JSON request per line on stdin; each reply is one JSON line on stdout
(anything else printed goes to stderr). The worker times its own blocks, so the pipe costs
nothing in the measurement.

    {"cmd": "hello", "threads": 1}                       -> versions, threads, BLAS
    {"cmd": "setup_step", "dtype": "float64", ...}      -> builds relu5 in that dtype
    {"cmd": "step", "dtype": "float64", "k": 4}         -> {"seconds": per step, mean of k}
    {"cmd": "chain", "n": 10000}                        -> {"seconds": [forward, backward] per op}
    {"cmd": "quit"}

The network is the same as tinygrad_edu's and the baseline's: the same initial weights (drawn by
models.build), samples as columns (z = W @ a + b, x of shape (12288, 209)), BCE on the sigmoid
output, torch.optim.SGD.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402, N812

from benchmarks.speed import CHAIN_OPS, Problem, blas_threads, make_problem  # noqa: E402

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class TorchStep:
    """relu5 in PyTorch, written like the other contenders: W (out, in), b (out, 1), x (in, m)."""

    def __init__(self, problem: Problem) -> None:
        self.x = torch.from_numpy(problem.x)   # shares the array: no copy
        self.y = torch.from_numpy(problem.y)
        self.layers = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
                       for w, b in problem.weights]
        self.optimizer = torch.optim.SGD([p for pair in self.layers for p in pair], lr=problem.lr)

    def loss(self) -> torch.Tensor:
        a = self.x
        last = len(self.layers) - 1
        for index, (w, b) in enumerate(self.layers):
            z = w @ a + b                                  # (out, in) @ (in, m) -> (out, m)
            a = torch.sigmoid(z) if index == last else torch.relu(z)
        return F.binary_cross_entropy(a, self.y)

    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        loss = self.loss()
        self.optimizer.zero_grad()
        loss.backward()
        return [(w.grad.numpy().copy(), b.grad.numpy().copy()) for w, b in self.layers]

    def step(self) -> None:
        loss = self.loss()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def torch_chain(n: int) -> tuple[float, float]:
    """Seconds per op of the forward and the backward through n ops on (2, 2) float64 tensors."""
    x = torch.full((2, 2), 0.5, dtype=torch.float64, requires_grad=True)
    c = torch.full((2, 2), 0.9, dtype=torch.float64)
    start = time.perf_counter()
    a = x
    for i in range(n):
        kind = CHAIN_OPS[i % 3]
        a = a * c if kind == "mul" else a + c if kind == "add" else torch.sigmoid(a)
    loss = a.sum()
    middle = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    return (middle - start) / n, (end - middle) / n


class Worker:
    def __init__(self) -> None:
        self.steps: dict[str, TorchStep] = {}
        self.limits: Any = None

    def hello(self, threads: int) -> dict[str, Any]:
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        self.limits = blas_threads(threads)   # NumPy's OpenBLAS here too, for good measure
        numpy_blas = self.limits.__enter__()
        return {"torch": torch.__version__, "intra-op threads": torch.get_num_threads(),
                "BLAS": "MKL" if torch.backends.mkl.is_available() else "other",
                "mkldnn": torch.backends.mkldnn.is_available(),
                "NumPy BLAS in the worker": numpy_blas}

    def setup_step(self, dtype: str, data_dir: str | None, seed: int) -> dict[str, Any]:
        self.steps[dtype] = TorchStep(make_problem(getattr(np, dtype), data_dir, seed))
        return {"ok": True}

    # Like the driver's blocks, each block starts with a garbage collection, so that a full
    # collection left pending by earlier work does not land inside one contender's timing.
    def step(self, dtype: str, k: int) -> dict[str, Any]:
        step = self.steps[dtype].step
        gc.collect()
        start = time.perf_counter()
        for _ in range(k):
            step()
        return {"seconds": (time.perf_counter() - start) / k}

    def chain(self, n: int) -> dict[str, Any]:
        gc.collect()
        return {"seconds": list(torch_chain(n))}


COMMANDS = ("hello", "setup_step", "step", "chain")


def main() -> int:
    replies = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not break the protocol
    worker = Worker()
    for line in sys.stdin:
        request = json.loads(line)
        command = request.pop("cmd")
        if command == "quit":
            replies.write(json.dumps({"ok": True}) + "\n")
            replies.flush()
            break
        try:
            if command not in COMMANDS:
                raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")
            reply = getattr(worker, command)(**request)
        except Exception as error:  # report it to the driver, which raises it there
            reply = {"error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps(reply, default=str) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
