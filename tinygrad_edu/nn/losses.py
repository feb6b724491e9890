"""Losses and penalties, in the course's form: averages over the m samples (the columns).

The penalty is part of the loss *value* and autodiff derives its gradient. (The course's loss
loops over attribute *names* looking for a penalty, never finds one, and so never adds it; its
hand-written backward adds the L2 gradient but the printed loss lacks the term.)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu._checks import check_number
from tinygrad_edu.tensor import Tensor


def _check_pair(name: str, prediction: Tensor, y: Tensor) -> None:
    if prediction.shape != y.shape:
        raise ValueError(f"{name}: predictions of shape {prediction.shape} and labels of shape "
                         f"{y.shape} must have the same shape (labels are (1, m) as well)")
    if prediction.ndim == 0:
        raise ValueError(f"{name}: predictions must have a sample axis, e.g. shape (1, m)")


def _labels(name: str, y: Tensor | np.ndarray, like: Tensor) -> Tensor:
    """Labels as a constant tensor in the predictions' dtype, checked to lie in [0, 1]."""
    if not isinstance(like, Tensor):
        raise TypeError(f"{name}: predictions must be a Tensor, got {type(like).__name__}")
    data = y.data if isinstance(y, Tensor) else np.asarray(y)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{name}: labels must be numbers 0 or 1 (1 = cat), got "
                        f"{type(y).__name__} of dtype {data.dtype}: {data.ravel()[:5]}")
    inside = (data >= 0) & (data <= 1)  # False for NaN too
    if not np.all(inside):
        raise ValueError(f"{name}: labels must lie in [0, 1] (1 = cat); got {data[~inside][:5]} "
                         f"({int((~inside).sum())} bad labels)")
    return y if isinstance(y, Tensor) and y.dtype == like.dtype else Tensor(data, dtype=like.dtype)


def binary_cross_entropy(p: Tensor, y: Tensor | np.ndarray) -> Tensor:
    """L = -(1/m) sum [ y log p + (1 - y) log(1 - p) ], p the predicted probabilities (1, m).

    p must lie in [0, 1] (logits are refused: they belong in `binary_cross_entropy_with_logits`).
    dL/dp = (1/m) (p - y) / (p (1 - p)): the course's da^[L]. p is clipped to
    [eps, 1 - eps] (eps the dtype's machine epsilon) so that log never sees 0; inside that range
    (every p a sigmoid output does not round to exactly 0 or 1) the gradient is exact.
    Prefer `binary_cross_entropy_with_logits` on z, which never loses the gradient.
    """
    y = _labels("binary_cross_entropy", y, p)
    _check_pair("binary_cross_entropy", p, y)
    outside = (p.data < 0) | (p.data > 1)
    if np.any(outside):
        raise ValueError(
            f"binary_cross_entropy: predictions must be probabilities in [0, 1]; got "
            f"{p.data[outside][:5]} ({int(outside.sum())} outside). If these are logits (before "
            f"the sigmoid), use binary_cross_entropy_with_logits(z, y) instead."
        )
    return ops.BinaryCrossEntropy.apply(p, y)


def binary_cross_entropy_with_logits(z: Tensor, y: Tensor | np.ndarray) -> Tensor:
    """The same loss from the logits z (p = sigma(z)), stable for any z; dL/dz = (sigma(z) - y)/m.

    One fused op (see ops.BinaryCrossEntropyWithLogits): no division by a tiny p (1 - p).
    """
    y = _labels("binary_cross_entropy_with_logits", y, z)
    _check_pair("binary_cross_entropy_with_logits", z, y)
    return ops.BinaryCrossEntropyWithLogits.apply(z, y)


def _check_penalty(name: str, lamda: float, m: int) -> None:
    check_number(name, "lamda", lamda, 0.0)
    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 1:
        raise ValueError(f"{name}: m (the number of samples) must be a positive integer, "
                         f"got {m!r}")


def _as_list(name: str, weights: Tensor | Iterable[Tensor]) -> list[Tensor]:
    weights = [weights] if isinstance(weights, Tensor) else list(weights)
    if not weights or not all(isinstance(w, Tensor) for w in weights):
        raise ValueError(f"{name}: weights must be a Tensor or a non-empty list of Tensors")
    return weights


def l2_penalty(weights: Tensor | Iterable[Tensor], lamda: float, m: int) -> Tensor:
    """(lamda / 2m) * sum of squared weights; its gradient is (lamda / m) W."""
    _check_penalty("l2_penalty", lamda, m)
    total = sum(ops.SumOfSquares.apply(w) for w in _as_list("l2_penalty", weights))
    return total * (lamda / (2 * m))


def l1_penalty(weights: Tensor | Iterable[Tensor], lamda: float, m: int) -> Tensor:
    """(lamda / m) * sum of |weights|; its gradient is (lamda / m) sign(W), with sign(0) = 0.

    (The course's backward uses sign(0) = 1; |w| has no derivative at 0, and 0 is the usual
    subgradient choice.)
    """
    _check_penalty("l1_penalty", lamda, m)
    total = sum(w.abs().sum() for w in _as_list("l1_penalty", weights))
    return total * (lamda / m)
