"""The training loop users and the benchmarks share, and accuracy.

One iteration is the course's: forward on the whole training set (full batch), loss, backward,
update. `fit` only orchestrates; the gradients come from autodiff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from tinygrad_edu.nn.losses import binary_cross_entropy
from tinygrad_edu.nn.module import Module
from tinygrad_edu.optim import Optimizer
from tinygrad_edu.tensor import Tensor, no_grad

LossFunction = Callable[[Module, Tensor, Tensor], Tensor]


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

    x is (features, m) and y is (1, m): samples are columns. `loss_fn(model, x, y)` returns the
    scalar objective, penalties included. A loss that turns NaN or inf stops training with a
    FloatingPointError naming the iteration. `progress` shows a progress bar (a string labels it).
    """
    if not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"fit: iterations must be a positive integer, got {iterations!r}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    y = y if isinstance(y, Tensor) else Tensor(y)
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
            probabilities = model(x if isinstance(x, Tensor) else Tensor(x)).data
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
