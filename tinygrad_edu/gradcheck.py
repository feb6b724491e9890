"""Check autodiff against central finite differences.

For a scalar function L(x), the central difference
    (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)
approximates dL/dx_i with an error of order eps^2 (plus rounding of order 1e-16 / eps), so in
float64 with eps = 1e-6 it agrees with the true derivative to about 1e-8 relative. A function with
a non-scalar output is reduced to a scalar first, L = sum(out * v) with a fixed random v, which
checks every output's vector-Jacobian product at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinygrad_edu.tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Autodiff and finite differences disagree (an AssertionError, so pytest shows it as one)."""


def numerical_grad(
    fn: Callable[..., Tensor], tensors: tuple[Tensor, ...], index: int, eps: float = 1e-6,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Central-difference estimate of d sum(fn(*tensors) * weights) / d tensors[index]."""
    x = tensors[index].data
    grad = np.zeros_like(x)

    def scalar() -> float:
        with no_grad():
            out = fn(*tensors).data
        return float(np.sum(out * weights)) if weights is not None else float(np.sum(out))

    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + eps
        plus = scalar()
        x[i] = original - eps
        minus = scalar()
        x[i] = original  # restore exactly
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(
    fn: Callable[..., Tensor], *tensors: Tensor, eps: float = 1e-6, atol: float = 1e-6,
    rtol: float = 1e-5, seed: int = 0,
) -> bool:
    """Compare the autodiff gradient of `fn` with central differences, for every input that
    requires a gradient. Returns True, or raises GradcheckError naming the input, the element and
    both values. The inputs must be float64 (float32 rounding swamps any finite difference).
    NaN or inf in fn's output or in the backward pass is an error too (backward runs with
    check_finite=True).

    >>> x = Tensor(np.random.rand(3, 4), requires_grad=True)
    >>> gradcheck(lambda x: (x * x).sigmoid(), x)
    True
    """
    if not tensors:
        raise ValueError("gradcheck needs at least one tensor argument")
    for position, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"gradcheck: argument {position} is a {type(tensor).__name__}, "
                            f"not a Tensor")
        if tensor.requires_grad and tensor.dtype != np.float64:
            raise TypeError(f"gradcheck: input {position} is {tensor.dtype}; finite differences "
                            f"need float64 (Tensor(data, dtype=np.float64, requires_grad=True))")
    if not any(tensor.requires_grad for tensor in tensors):
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")

    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).standard_normal(out.shape) if out.size > 1 else None
    saved_grads = [tensor.grad for tensor in tensors]
    for tensor in tensors:
        tensor.grad = None
    try:
        if not out.requires_grad:
            raise GradcheckError("gradcheck: the output does not depend on any input that "
                                 "requires a gradient (was it computed under no_grad?)")
        out.backward(weights if weights is not None else None, check_finite=True)
        for position, tensor in enumerate(tensors):
            if not tensor.requires_grad:
                continue
            analytic = (tensor.grad.data if tensor.grad is not None
                        else np.zeros_like(tensor.data))
            numeric = numerical_grad(fn, tensors, position, eps, weights)
            close = np.isclose(analytic, numeric, atol=atol, rtol=rtol)
            if not np.all(close):
                where = tuple(int(i) for i in np.argwhere(~close)[0])
                raise GradcheckError(
                    f"gradcheck: gradient of input {position} (shape {tensor.shape}) is wrong at "
                    f"index {where}: autodiff {analytic[where]!r}, finite differences "
                    f"{numeric[where]!r} ({int((~close).sum())} of {close.size} elements differ; "
                    f"atol={atol}, rtol={rtol})"
                )
    finally:
        for tensor, grad in zip(tensors, saved_grads, strict=True):
            tensor.grad = grad
    return True
