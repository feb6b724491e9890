"""The PyTorch contender of the step and per-op sections, run in a worker process of its own.

The driver calls these functions by name through workers.Worker; they time their own blocks,
so the pipe between the processes costs nothing in the measurement. The network is the same as
tinygrad_edu's and the baseline's: the same initial weights (drawn by models.build), samples as
columns (z = W @ a + b, x of shape (12288, 209)), BCE on the sigmoid output, torch.optim.SGD.
"""

from __future__ import annotations

import functools
import gc
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own name)

from benchmarks.speed.perop import CHAIN_OPS
from benchmarks.speed.problem import Problem, make_problem
from benchmarks.speed.workers import blas_description


class TorchStep:
    """relu5 in PyTorch, written like the other contenders: W (out, in), b (out, 1), x (in, m);
    a problem's L2 penalty (lamda / 2m) ||W1||^2 (relu5_he's) is added to the BCE."""

    def __init__(self, problem: Problem) -> None:
        self.x = torch.from_numpy(problem.x)   # shares the array: no copy
        self.y = torch.from_numpy(problem.y)
        self.layers = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
                       for w, b in problem.weights]
        self.optimizer = torch.optim.SGD([p for pair in self.layers for p in pair], lr=problem.lr)
        self.lamda = problem.lamda

    def loss(self) -> torch.Tensor:
        a = self.x
        last = len(self.layers) - 1
        for index, (w, b) in enumerate(self.layers):
            z = w @ a + b                                  # (out, in) @ (in, m) -> (out, m)
            a = torch.sigmoid(z) if index == last else torch.relu(z)
        w1, m = self.layers[0][0], self.x.shape[1]
        return F.binary_cross_entropy(a, self.y) + self.lamda / (2 * m) * (w1 * w1).sum()

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


def info(threads: int) -> dict[str, Any]:
    """Set PyTorch's threads; versions, threads and BLAS of this worker."""
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return {"torch": torch.__version__, "intra-op threads": torch.get_num_threads(),
            "BLAS": "MKL" if torch.backends.mkl.is_available() else "other",
            "mkldnn": torch.backends.mkldnn.is_available(),
            "NumPy BLAS in the worker": blas_description()}


@functools.lru_cache(maxsize=2)
def _step(dtype: str, data_dir: str | None, synthetic: bool, seed: int) -> TorchStep:
    """The relu5 contender of this worker, built once per dtype."""
    return TorchStep(make_problem(getattr(np, dtype), data_dir, seed, synthetic=synthetic))


def steps(dtype: str, data_dir: str | None, synthetic: bool, seed: int, k: int) -> float:
    """Seconds per relu5 training step, the mean of k steps in a row (a block).

    Like the driver's blocks, each starts with a garbage collection, so that a collection left
    pending by earlier work does not land inside one contender's timing."""
    step = _step(dtype, data_dir, synthetic, seed).step
    gc.collect()
    start = time.perf_counter()
    for _ in range(k):
        step()
    return (time.perf_counter() - start) / k


def chain(n: int) -> tuple[float, float]:
    """Seconds per op of the forward and the backward through n ops on (2, 2) float64 tensors."""
    gc.collect()
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
