"""The training loop users and the benchmarks share, and accuracy.

One iteration is the course's: forward on the whole training set (full batch), loss, backward,
update. `fit` only orchestrates; the gradients come from autodiff.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from tinygrad_edu.nn.losses import binary_cross_entropy
from tinygrad_edu.nn.module import Module
from tinygrad_edu.optim import Optimizer
from tinygrad_edu.tensor import Tensor, no_grad

LossFunction = Callable[[Module, Tensor, Tensor], Tensor]

# fit warns once when no parameter has received a non-zero gradient for this many iterations in
# a row: the network has stopped learning for good (every unit saturated or dead).
STALLED_ITERATIONS = 100


class NoGradientWarning(RuntimeWarning):
    """Training goes on, but no parameter has received a non-zero gradient for a long time."""


class Callback(Protocol):
    """Called once per iteration after backward and before the update, so it sees the gradients
    that this iteration's step will use: callback(iteration, model, loss)."""

    def __call__(self, iteration: int, model: Module, loss: float) -> None: ...


def bce_loss(model: Module, x: Tensor, y: Tensor) -> Tensor:
    """The default objective: binary cross-entropy of the model's output probabilities."""
    return binary_cross_entropy(model(x), y)


def fit(
    model: Module, x: Tensor | np.ndarray, y: Tensor | np.ndarray, optimizer: Optimizer,
    iterations: int, loss_fn: LossFunction = bce_loss, callbacks: Sequence[Callback] = (),
    progress: bool | str = False,
) -> np.ndarray:
    """Train `model` for `iterations` full-batch steps and return the loss of each iteration.

    x is (features, m) and y is (1, m): samples are columns (ndarrays are used without a copy).
    `loss_fn(model, x, y)` returns the scalar objective, penalties included. `progress` shows a
    progress bar (a string labels it). Training that cannot be right is stopped or reported:
    - a loss that turns NaN or inf stops it with a FloatingPointError naming the iteration;
    - a loss whose graph reaches none of the optimizer's parameters (an optimizer made for
      another model) is a ValueError at the first iteration;
    - STALLED_ITERATIONS iterations in a row in which every gradient is exactly 0 give a
      NoGradientWarning (a learning rate so large that every unit saturated, or a dead network).
    """
    if not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"fit: iterations must be a positive integer, got {iterations!r}")
    x, y = _as_tensor(x), _as_tensor(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"fit: x must be (features, m) and y (1, m) with the same m; got x "
                         f"{x.shape} and y {y.shape}")
    model.train()
    losses = np.empty(iterations)
    steps = range(iterations)
    if progress:
        from tqdm.auto import tqdm

        # disable=None: no bar when the output is not a terminal (a log file, CI)
        steps = tqdm(steps, desc=progress if isinstance(progress, str) else "training",
                     unit="it", leave=False, mininterval=0.5, disable=None)
    # Small tensors first: a bias's gradient is usually non-zero, and finding one ends the test.
    watched = sorted(optimizer.params, key=lambda param: param.size)
    stalled = 0  # iterations in a row without a single non-zero gradient
    for iteration in steps:
        optimizer.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        value = loss.item()
        if not np.isfinite(value):
            raise FloatingPointError(
                f"fit: the loss became {value} at iteration {iteration}; try a smaller learning "
                f"rate, or the stable binary_cross_entropy_with_logits"
            )
        if iteration == 0 and all(param.grad is None for param in optimizer.params):
            raise ValueError(
                f"fit: the loss of {type(model).__name__} reaches none of the "
                f"{len(optimizer.params)} parameters of the {type(optimizer).__name__} "
                f"optimizer, so training would change nothing. Was the optimizer made for "
                f"another model? Pass it model.parameters() of the model you train."
            )
        if any(p.grad is not None and np.any(p.grad.data) for p in watched):
            stalled = 0
        else:
            stalled += 1
            if stalled == STALLED_ITERATIONS:
                rate = f" (now {optimizer.lr:g})" if hasattr(optimizer, "lr") else ""
                warnings.warn(
                    f"fit: no parameter of {type(model).__name__} has received a non-zero "
                    f"gradient for {STALLED_ITERATIONS} iterations (up to iteration "
                    f"{iteration}; loss {value:.6g}): training has stopped. Likely causes: a "
                    f"learning rate{rate} so large that every unit saturated, or a dead "
                    f"network (every ReLU unit <= 0 on every sample).",
                    NoGradientWarning, stacklevel=2)
        losses[iteration] = value
        for callback in callbacks:
            callback(iteration, model, value)
        optimizer.step()
    return losses


def predict(model: Module, x: Tensor | np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """0/1 predictions (1 where the output probability exceeds `threshold`), shape (1, m).

    Evaluated in eval mode (dropout off) and under no_grad (no graph); the model's mode is
    restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            probabilities = model(_as_tensor(x)).data
    finally:
        model.train(was_training)
    return (probabilities > threshold).astype(np.int64)


def accuracy(model: Module, x: Tensor | np.ndarray, y: Tensor | np.ndarray,
             threshold: float = 0.5) -> float:
    """Fraction of samples whose thresholded prediction equals the label (the course's test)."""
    labels = y.data if isinstance(y, Tensor) else np.asarray(y)
    predictions = predict(model, x, threshold)
    if predictions.shape != labels.shape:
        raise ValueError(f"accuracy: predictions of shape {predictions.shape} and labels of shape "
                         f"{labels.shape} differ")
    return float(np.mean(predictions == labels))


def _as_tensor(value: Any) -> Tensor:
    """A Tensor as it is, an ndarray shared without a copy (the data matrix is large), else a new
    Tensor."""
    if isinstance(value, Tensor):
        return value
    return Tensor.from_numpy(value) if isinstance(value, np.ndarray) else Tensor(value)
