"""The relu5 training problem and the contenders that train it in this process.

relu5 is 12288-30-30-30-30-1, ReLU, the course's 0.01 * randn weights, trained on the 209 cat /
non-cat training images with BCE on the sigmoid output and SGD. Samples are COLUMNS:
x is (12288, m), each layer computes z = W @ a + b with W (out, in), b (out, 1).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import models
from tinygrad_edu import optim
from tinygrad_edu.data import load_cat_or_synthetic
from tinygrad_edu.tensor import Tensor

MODEL = "relu5"


@functools.lru_cache(maxsize=4)
def load_data(dtype: type, data_dir: str | None = None,
              synthetic: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """x_train (12288, 209), y_train (1, 209) and which data they are: the real files
    (DatasetNotFoundError without them), the synthetic stand-in only when asked for."""
    dataset, source = load_cat_or_synthetic(data_dir, dtype, synthetic=synthetic)
    return dataset.x_train, dataset.y_train, source


@dataclass
class Problem:
    """One training problem: data (samples as columns), initial weights, learning rate."""

    x: np.ndarray                                  # (features, m)
    y: np.ndarray                                  # (1, m)
    weights: list[tuple[np.ndarray, np.ndarray]]   # [(W1, b1), ...]: W (out, in), b (out, 1)
    lr: float
    model: str                                     # the name in models.SPECS
    lamda: float = 0.0                             # L2 penalty (lamda / 2m) ||W1||^2

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype


def make_problem(dtype: type = np.float64, data_dir: str | None = None, seed: int = 0,
                 model: str = MODEL, synthetic: bool = False) -> Problem:
    """The cat data and the weights models.build(model, seed) draws, in `dtype`."""
    x, y, _ = load_data(dtype, data_dir, synthetic)
    net = models.build(model, seed=seed, in_features=x.shape[0], dtype=dtype)
    weights = [(fc.weight.data.copy(), fc.bias.data.copy()) for fc in net.linear_layers()]
    spec = models.SPECS[model]
    lamda = spec.lamda if spec.penalized_layers == (1,) else 0.0
    return Problem(x, y, weights, spec.learning_rate or 0.0075, model, lamda)


class TinygradStep:
    """tinygrad_edu: models.build, the model's loss, optim.SGD, as a user writes it."""

    def __init__(self, problem: Problem) -> None:
        self.model = models.build(problem.model, seed=0, in_features=problem.x.shape[0],
                                  dtype=problem.dtype)
        for layer, (w, b) in zip(self.model.linear_layers(), problem.weights, strict=True):
            layer.weight.data[...] = w
            layer.bias.data[...] = b
        self.loss_fn = models.SPECS[problem.model].loss_fn()   # BCE (+ relu5_he's penalty on W1)
        self.optimizer = optim.SGD(self.model.parameters(), lr=problem.lr)
        self.x, self.y = Tensor(problem.x), Tensor(problem.y)

    def loss_and_backward(self, x: Tensor, y: Tensor) -> Tensor:
        loss = self.loss_fn(self.model, x, y)  # forward, loss
        self.optimizer.zero_grad()
        loss.backward()
        return loss

    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        self.loss_and_backward(self.x, self.y)
        return [(fc.weight.grad.data, fc.bias.grad.data) for fc in self.model.linear_layers()]

    def train_step(self, x: Tensor, y: Tensor) -> float:
        loss = self.loss_and_backward(x, y)
        self.optimizer.step()
        return loss.item()

    def step(self) -> None:
        self.train_step(self.x, self.y)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class CourseStep:
    """The course's layer math, written out in NumPy: the BASELINE (input_grad=True).

    Forward caches (a_prev, z) per layer. Backward starts from the course's
        da^[L] = (1/m) (a - y) / (a (1 - a)),
    then per layer dz = da * g'(z), dW = dz a_prev^T, db = sum of dz over the columns and
    da_prev = W^T dz, which the course computes at layer 1 as well: the gradient with respect
    to the input data, a (12288, 209) product nobody uses. With input_grad=False that product
    is skipped: the FLOOR, only the necessary matrix products. A problem's L2 penalty
    (lamda / 2m) ||W1||^2 adds (lamda / m) W1 to dW1.
    """

    def __init__(self, problem: Problem, input_grad: bool = True) -> None:
        self.params = [(w.copy(), b.copy()) for w, b in problem.weights]
        self.x, self.y, self.lr, self.lamda = problem.x, problem.y, problem.lr, problem.lamda
        self.input_grad = input_grad

    def gradients(self, x: np.ndarray | None = None,
                  y: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        x, y = (self.x, self.y) if x is None else (x, y)
        m = x.shape[1]
        last = len(self.params) - 1
        caches = []
        a = x
        for layer, (w, b) in enumerate(self.params):
            z = w @ a + b                                   # (out, in) @ (in, m) -> (out, m)
            caches.append((a, z))
            a = _sigmoid(z) if layer == last else np.maximum(z, 0)
        w1 = self.params[0][0]
        self.cost = (-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / m
                     + self.lamda / (2 * m) * np.sum(w1 * w1))
        da = (1 / m) * (a - y) / (a * (1 - a))
        grads = []
        for layer in range(last, -1, -1):
            w, _ = self.params[layer]
            a_prev, z = caches[layer]
            if layer == last:
                s = _sigmoid(z)
                dz = da * s * (1 - s)                       # sigmoid'(z) = s (1 - s)
            else:
                dz = np.array(da, copy=True)                # relu'(z) = [z > 0]
                dz[z <= 0] = 0
            dw = dz @ a_prev.T                              # (out, m) @ (m, in) -> (out, in)
            if layer == 0 and self.lamda:
                dw += (self.lamda / m) * w
            grads.append((dw, np.sum(dz, axis=1, keepdims=True)))
            if layer > 0 or self.input_grad:
                da = w.T @ dz                               # (in, out) @ (out, m) -> (in, m)
        self.input_gradient = da if self.input_grad else None
        return grads[::-1]

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        for (w, b), (dw, db) in zip(self.params, self.gradients(x, y), strict=True):
            w -= self.lr * dw
            b -= self.lr * db
        return float(self.cost)

    def step(self) -> None:
        self.train_step(self.x, self.y)


class BigProducts:
    """The reference line: only the two big products of a step, W1 @ X and dZ1 @ X^T."""

    def __init__(self, problem: Problem) -> None:
        self.w1, self.x = problem.weights[0][0], problem.x
        rng = np.random.default_rng(0)
        self.dz1 = rng.standard_normal((self.w1.shape[0], self.x.shape[1])).astype(problem.dtype)

    def step(self) -> None:
        self.w1 @ self.x          # (30, 12288) @ (12288, 209)
        self.dz1 @ self.x.T       # (30, 209) @ (209, 12288)


LOCAL_CONTENDERS: dict[str, Callable[[Problem], Any]] = {
    "tinygrad_edu": TinygradStep,
    "course NumPy": CourseStep,
    "floor NumPy": functools.partial(CourseStep, input_grad=False),
    "W1@X + dZ1@X^T": BigProducts,
}
