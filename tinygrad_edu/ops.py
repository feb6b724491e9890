"""Every differentiable operation: its forward and its backward (vector-Jacobian product) together.

Notation, as in the course: for an op `out = f(x)` inside a network with loss L,
    grad = dL/d(out)    (same shape as out)
and backward returns dL/dx = grad * f'(x) for elementwise ops, or the matching matrix formula.
Each docstring gives f, the VJP, and the convention at kinks.

Rules every op follows (they are what makes the engine in tensor.py correct):
- backward returns one entry per input, None where `needs_input_grad` says nobody wants it;
- a gradient has exactly its input's shape (`unbroadcast` undoes NumPy broadcasting);
- backward never writes into `grad`: other ops may hold the same array.

Constants in the formulas are floats (1.0 - a, not 1 - a) where the array is floating anyway:
NumPy 2 converts a Python float faster than an int: 1,200 to 1,600 instructions less per ufunc
call with a scalar (callgrind, on (2, 2) arrays, where such a call costs about 5,000).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.tensor import Function


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    If x of shape (30, 1) was broadcast against (30, 209) (the bias in W @ x + b), every column
    of the output used the same x, so dL/dx sums dL/dout over the columns: the course's
    db = sum(dz, axis=1, keepdims=True) is exactly this.
    """
    if grad.shape == shape:
        return grad
    # Leading axes that broadcasting added, then axes that were 1 in `shape`.
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(axis for axis, size in enumerate(shape)
                      if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _normalize_axes(axis: int | tuple[int, ...] | list[int] | None, ndim: int) -> tuple[int, ...]:
    """Reduction axes as a sorted tuple of non-negative ints (None means every axis)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(a) % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"axis {axis} names the same axis twice")
    return tuple(sorted(normalized))


def _expand_reduced(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Put back the axes a reduction removed, as size 1, so `grad` broadcasts against its input."""
    return grad if keepdims else np.expand_dims(grad, axes)


# ==================================================================== binary, broadcasting
class BroadcastingOp(Function):
    """Base for elementwise ops of two inputs: checks up front that the shapes broadcast."""

    def check_inputs(self, a: np.ndarray, b: np.ndarray) -> None:
        if a.shape == b.shape or not a.ndim or not b.ndim:  # the common cases, checked fast
            return
        try:
            np.broadcast(a, b)  # 0.55 us; np.broadcast_shapes(a.shape, b.shape) takes 2.1 us
        except ValueError:
            raise ValueError(
                f"{type(self).__name__}: shapes {a.shape} and {b.shape} do not broadcast "
                f"(trailing dimensions must be equal or 1). Reshape one of them."
            ) from None


class Add(BroadcastingOp):
    """out = a + b.   dL/da = grad,  dL/db = grad  (each summed back to its own shape)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.save_for_backward(a.shape, b.shape)
        return a + b

    def backward(self, grad: np.ndarray):
        a_shape, b_shape = self.saved
        return (unbroadcast(grad, a_shape) if self.needs_input_grad[0] else None,
                unbroadcast(grad, b_shape) if self.needs_input_grad[1] else None)


class Sub(BroadcastingOp):
    """out = a - b.   dL/da = grad,  dL/db = -grad."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.save_for_backward(a.shape, b.shape)
        return a - b

    def backward(self, grad: np.ndarray):
        a_shape, b_shape = self.saved
        return (unbroadcast(grad, a_shape) if self.needs_input_grad[0] else None,
                unbroadcast(-grad, b_shape) if self.needs_input_grad[1] else None)


class Mul(BroadcastingOp):
    """out = a * b (elementwise).   dL/da = grad * b,  dL/db = grad * a."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad: np.ndarray):
        a, b = self.saved
        return (unbroadcast(grad * b, a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(grad * a, b.shape) if self.needs_input_grad[1] else None)


class Div(BroadcastingOp):
    """out = a / b.   dL/da = grad / b,  dL/db = -grad * a / b^2."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad: np.ndarray):
        a, b = self.saved
        return (unbroadcast(grad / b, a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(-grad * a / (b * b), b.shape) if self.needs_input_grad[1] else None)


class Pow(BroadcastingOp):
    """out = a ** b.   dL/da = grad * b * a^(b-1),  dL/db = grad * a^b * log(a)  (needs a > 0).

    For b = 0, a^0 = 1 is constant, so dL/da = 0 everywhere, also at a = 0, where the formula
    would give 0 * 0^(-1) = 0 * inf = NaN.
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a**b
        self.save_for_backward(a, b, out)
        return out

    def backward(self, grad: np.ndarray):
        a, b, out = self.saved
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):  # 0^(negative) is inf: kept
                local = b * a ** (b - 1)  # d(a^b)/da
            if not np.all(b):
                local = np.where(b == 0, np.zeros_like(local), local)
            grad_a = unbroadcast(grad * local, a.shape)
        if self.needs_input_grad[1]:
            grad_b = unbroadcast(grad * out * np.log(a), b.shape)
        return grad_a, grad_b


class Maximum(BroadcastingOp):
    """out = max(a, b) elementwise. The gradient goes to the larger input; a tie splits it 50/50."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.maximum(a, b)
        self.save_for_backward(a, b)
        return out

    def backward(self, grad: np.ndarray):
        a, b = self.saved
        half = np.asarray(0.5, dtype=grad.dtype)  # keeps float32 float32
        share_a = (a > b) + half * (a == b)  # 1 where a wins, 0.5 at ties, 0 where b wins
        return (unbroadcast(grad * share_a, a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(grad * (1 - share_a), b.shape) if self.needs_input_grad[1] else None)


# ==================================================================== matrix product
class MatMul(Function):
    """out = A @ B.   dL/dA = grad @ B^T,  dL/dB = A^T @ grad.

    In a Linear layer z = W @ a_prev + b this is the course's pair
        dW = dz @ a_prev^T            (out, m) @ (m, in) -> (out, in)
        da_prev = W^T @ dz            (in, out) @ (out, m) -> (in, m)
    and the second is skipped when a_prev is the data, which needs no gradient.
    A 1-D operand is treated as a row (left) or a column (right), as NumPy does.
    """

    fresh_gradients = True  # each is a new product (or a view of one nobody else holds)

    def check_inputs(self, a: np.ndarray, b: np.ndarray) -> None:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"MatMul: operands must have at least one dimension; got shapes "
                             f"{a.shape} and {b.shape} (use * for a scalar product)")
        inner_a = a.shape[-1]
        inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise ValueError(
                f"MatMul: shapes {a.shape} and {b.shape} do not multiply: the columns of the left "
                f"({inner_a}) must equal the rows of the right ({inner_b}). Samples are columns "
                f"here: x is (features, m) and W is (out, in)."
            )
        if a.ndim <= 2 and b.ndim <= 2:  # no batch dimensions (a Linear layer): 1.5 us saved
            return
        try:  # batch dimensions (all but the last two) broadcast like elementwise shapes
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"MatMul: the batch dimensions of shapes {a.shape} and {b.shape} "
                             f"do not broadcast") from None

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad: np.ndarray):
        a, b = self.saved
        if a.ndim == 2 and b.ndim == 2:  # a Linear layer: exactly the course's two products
            return (grad @ b.T if self.needs_input_grad[0] else None,   # dW = dz a_prev^T
                    a.T @ grad if self.needs_input_grad[1] else None)   # da_prev = W^T dz
        a2 = a[np.newaxis, :] if a.ndim == 1 else a       # (1, n): a row
        b2 = b[:, np.newaxis] if b.ndim == 1 else b       # (n, 1): a column
        grad2 = grad.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
                             + (a2.shape[-2], b2.shape[-1]))
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = unbroadcast(grad2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ grad2, b2.shape).reshape(b.shape)
        return grad_a, grad_b


# ==================================================================== unary, elementwise
class Neg(Function):
    """out = -x.   dL/dx = -grad."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

    def backward(self, grad: np.ndarray):
        return -grad


class Exp(Function):
    """out = e^x.   dL/dx = grad * e^x  (the output is its own derivative, so we keep it)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: np.ndarray):
        (out,) = self.saved
        return grad * out


class Log(Function):
    """out = log x (natural).   dL/dx = grad / x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad: np.ndarray):
        (x,) = self.saved
        return grad / x


class Sqrt(Function):
    """out = sqrt(x).   dL/dx = grad / (2 sqrt(x))."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: np.ndarray):
        (out,) = self.saved
        return grad / (2.0 * out)


class Abs(Function):
    """out = |x|.   dL/dx = grad * sign(x), with |x|'(0) = 0."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, grad: np.ndarray):
        (x,) = self.saved
        return grad * np.sign(x)


def stable_sigmoid(z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + e^-z) = exp(-log(1 + e^-z)) = exp(-softplus(-z)).

    np.logaddexp(0, t) = log(e^0 + e^t) is a stable softplus: it never overflows (t = 1000 gives
    1000), so neither does the exp of its negative (e^-1000 underflows to 0, harmlessly). 4 ufuncs
    instead of the 7 of the two-branch form e^-|z| / (1 + e^-|z|): 2.2 us instead of 5.6 on a
    (2, 2) array. Relative error at most 3.7e-15 (16 ulps, near z = -33: exp turns the rounding
    of softplus(-z) ~ |z| into a relative error; measured on 2.2 million z in [-745, 40] against
    extended precision) where the two-branch form had 3.5e-16: tiny outputs keep 14 digits.
    """
    return np.exp(-np.logaddexp(0.0, -z))


class Sigmoid(Function):
    """a = sigma(z) = 1 / (1 + e^-z).   dL/dz = grad * a * (1 - a)  (the course's sigma'(z)).

    Computed as exp(-softplus(-z)) (see `stable_sigmoid`): no overflow warning and no NaN even at
    |z| = 1000, and 14 correct digits for very negative z, where a ~ e^z is tiny.
    """

    def forward(self, z: np.ndarray) -> np.ndarray:
        a = stable_sigmoid(z)
        self.save_for_backward(a)
        return a

    def backward(self, grad: np.ndarray):
        (a,) = self.saved
        return grad * a * (1.0 - a)


class ReLU(Function):
    """a = max(z, 0).   dL/dz = grad * [z > 0], with relu'(0) = 0."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        a = np.maximum(z, 0)
        self.save_for_backward(a)
        return a

    def backward(self, grad: np.ndarray):
        (a,) = self.saved
        return grad * (a > 0.0)


class LeakyReLU(Function):
    """a = z for z > 0, and slope * z otherwise (slope = `negative_slope`, 0.01 by default).
    dL/dz = grad * [z > 0] + grad * slope * [z <= 0], with leaky_relu'(0) = slope (the z <= 0
    branch, as PyTorch takes it). Unlike ReLU, a unit with z < 0 still passes slope * grad
    back, so it cannot die."""

    def forward(self, z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
        if (not isinstance(negative_slope, (int, float, np.integer, np.floating))
                or isinstance(negative_slope, bool) or not np.isfinite(negative_slope)
                or negative_slope < 0):
            raise ValueError(f"leaky_relu: negative_slope must be a finite number >= 0, got "
                             f"{negative_slope!r}")
        positive = z > 0
        slope = np.asarray(negative_slope, dtype=z.dtype)  # keeps float32 float32
        self.save_for_backward(positive, slope)
        return np.where(positive, z, slope * z)

    def backward(self, grad: np.ndarray):
        positive, slope = self.saved
        return np.where(positive, grad, slope * grad)


class Tanh(Function):
    """a = tanh(z).   dL/dz = grad * (1 - a^2)  (np.tanh saturates to +-1 without overflow)."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        a = np.tanh(z)
        self.save_for_backward(a)
        return a

    def backward(self, grad: np.ndarray):
        (a,) = self.saved
        return grad * (1.0 - a * a)


class Clip(Function):
    """out = min(max(x, low), high).   dL/dx = grad where low <= x <= high, else 0.

    The bounds count as inside (the derivative of the identity part), as in PyTorch's clamp.
    """

    def forward(self, x: np.ndarray, low: float | None = None, high: float | None = None):
        if low is None and high is None:
            raise ValueError("clip needs at least one of min and max")
        if low is not None and high is not None and low > high:
            raise ValueError(f"clip: min ({low}) is larger than max ({high})")
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.save_for_backward(inside)
        return np.clip(x, low, high).astype(x.dtype, copy=False)

    def backward(self, grad: np.ndarray):
        (inside,) = self.saved
        return grad * inside


# ==================================================================== reductions
class Sum(Function):
    """out = sum of x over `axis`.   dL/dx = grad, copied along every summed axis."""

    def forward(self, x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
        axes = _normalize_axes(axis, x.ndim)
        self.save_for_backward(x.shape, axes, keepdims)
        return np.asarray(x.sum(axis=axes, keepdims=keepdims))

    def backward(self, grad: np.ndarray):
        shape, axes, keepdims = self.saved
        return np.broadcast_to(_expand_reduced(grad, axes, keepdims), shape)


class Mean(Function):
    """out = mean of x over `axis` (n elements each).   dL/dx = grad / n along the averaged axes."""

    def forward(self, x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
        axes = _normalize_axes(axis, x.ndim)
        count = int(np.prod([x.shape[a] for a in axes]))
        if count == 0:
            raise ValueError(f"mean over an empty axis of a tensor of shape {x.shape}")
        self.save_for_backward(x.shape, axes, keepdims, count)
        return np.asarray(x.mean(axis=axes, keepdims=keepdims))

    def backward(self, grad: np.ndarray):
        shape, axes, keepdims, count = self.saved
        return np.broadcast_to(_expand_reduced(grad, axes, keepdims) / count, shape)


class SumOfSquares(Function):
    """out = sum of x^2 over all elements (the L2 penalty's ||W||^2).   dL/dx = 2 x grad.

    The same value as (x * x).sum(), fused: the forward makes no (out, in) temporary and the
    backward makes one array instead of four. On the (30, 12288) first layer of the course's
    networks that is 12 MB less to allocate every iteration.
    """

    fresh_gradients = True  # (2 grad) x is a new array

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        flat = x.reshape(-1)
        return np.asarray(np.dot(flat, flat))

    def backward(self, grad: np.ndarray):
        (x,) = self.saved
        return (2 * grad) * x


class Max(Function):
    """out = max of x over `axis`.   dL/dx = grad at the maximum; tied maxima share it equally."""

    def forward(self, x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
        axes = _normalize_axes(axis, x.ndim)
        if x.size == 0:
            raise ValueError(f"max of an empty tensor (shape {x.shape})")
        out = x.max(axis=axes, keepdims=True)
        self.save_for_backward(x == out, axes, keepdims)
        return out if keepdims else np.squeeze(out, axis=axes)

    def backward(self, grad: np.ndarray):
        is_max, axes, keepdims = self.saved
        is_max = is_max.astype(grad.dtype)
        share = is_max / is_max.sum(axis=axes, keepdims=True)
        return _expand_reduced(grad, axes, keepdims) * share


# ==================================================================== shape and indexing
class Reshape(Function):
    """out = x with a new shape (same elements, C order).   dL/dx = grad reshaped back."""

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            out = x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into {tuple(shape)}") from None
        self.save_for_backward(x.shape)
        return out

    def backward(self, grad: np.ndarray):
        (shape,) = self.saved
        return grad.reshape(shape)


class Transpose(Function):
    """out = x with its axes permuted (reversed by default).   dL/dx = grad, permuted back."""

    def forward(self, x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
        if axes is not None:
            # Normalized (-1 -> ndim - 1) so that argsort in backward inverts the permutation.
            normalized = tuple(a + x.ndim if -x.ndim <= a < 0 else a for a in axes)
            if sorted(normalized) != list(range(x.ndim)):
                raise ValueError(f"transpose: {tuple(axes)} is not a permutation of the "
                                 f"{x.ndim} axes of a tensor of shape {x.shape}")
            axes = normalized
        self.save_for_backward(axes)
        return np.transpose(x, axes)

    def backward(self, grad: np.ndarray):
        (axes,) = self.saved
        return np.transpose(grad, None if axes is None else np.argsort(axes))


class GetItem(Function):
    """out = x[index] (basic slicing or integer-array indexing).

    dL/dx = zeros of x's shape with grad added at the selected places; an element picked twice
    (x[[0, 0]]) receives both gradients, which is why np.add.at is used and not assignment.
    The index arrays are copied: the caller may change theirs before backward runs.
    """

    def forward(self, x: np.ndarray, index: Any) -> np.ndarray:
        index = _index_arrays(index)
        try:
            out = x[index]
        except IndexError as error:
            raise IndexError(f"indexing a tensor of shape {x.shape}: {error}") from None
        self.save_for_backward(x.shape, x.dtype, index)
        return out

    def backward(self, grad: np.ndarray):
        shape, dtype, index = self.saved
        grad_x = np.zeros(shape, dtype=dtype)
        np.add.at(grad_x, index, grad)
        return grad_x


def _index_arrays(index: Any) -> Any:
    """The index with Tensors replaced by their arrays, and every array and list copied (backward
    uses the index later; an alias of the caller's array would follow their later writes)."""
    from tinygrad_edu.tensor import Tensor

    def own(i: Any) -> Any:
        if isinstance(i, Tensor):
            i = i.data
        if isinstance(i, list):  # x[[0, 2]] or x[[Tensor(0), Tensor(2)]]: an integer array
            return np.array([item.data if isinstance(item, Tensor) else item for item in i])
        return i.copy() if isinstance(i, np.ndarray) else i

    return tuple(own(i) for i in index) if isinstance(index, tuple) else own(index)


# ==================================================================== fused loss
class BinaryCrossEntropy(Function):
    """L = -(1/m) sum [y log p + (1 - y) log(1 - p)], from probabilities p of shape (.., m).

    dL/dp = (1/m) [(1 - y) / (1 - p) - y / p]: the course's dA^[L] = -(y/A - (1 - y)/(1 - A)),
    divided by m because L is the mean over the m samples (the last axis). p is clipped to
    [eps, 1 - eps] (eps the dtype's machine epsilon) so that log never sees 0; where the clip
    changed p the gradient is 0. One op instead of the eleven it takes composed from clip, log,
    *, -, +, sum and / (the same numbers to the last bit: the formulas below are the chain rule
    through those ops, written out in the same order). On a (1, 64) batch, forward and backward
    with `nn.binary_cross_entropy`'s checks took 137 us composed and 55 us as one op (timeit,
    best of 7; a bare p.sum().backward() takes 21).
    """

    def forward(self, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        # Checked here, not in check_inputs: NumPy would broadcast (1, m) against (m, 1) silently.
        if p.shape != y.shape or p.ndim == 0:
            raise ValueError(f"binary_cross_entropy: predictions of shape {p.shape} and labels "
                             f"of shape {y.shape} must have the same shape, (1, m)")
        eps = float(np.finfo(p.dtype).eps)
        inside = (p >= eps) & (p <= 1 - eps)
        q = np.clip(p, eps, 1 - eps)
        log_q, log_not_q = np.log(q), np.log(1.0 - q)
        self.save_for_backward(q, y, inside, log_q, log_not_q)
        total = (y * log_q + (1.0 - y) * log_not_q).sum(axis=tuple(range(p.ndim)))
        return np.asarray(-total / p.shape[-1])

    def backward(self, grad: np.ndarray):
        q, y, inside, log_q, log_not_q = self.saved
        c = -(grad / q.shape[-1])  # dL/dt for each term t = y log q + (1 - y) log(1 - q)
        grad_p = grad_y = None
        if self.needs_input_grad[0]:
            grad_p = ((c * y) / q + -((c * (1.0 - y)) / (1.0 - q))) * inside
        if self.needs_input_grad[1]:  # exact, rarely wanted
            grad_y = c * log_q + -(c * log_not_q)
        return grad_p, grad_y


class BinaryCrossEntropyWithLogits(Function):
    """L = -(1/m) sum [y log sigma(z) + (1 - y) log(1 - sigma(z))], from logits z of shape (.., m).

    Written stably as (1/m) sum [max(z, 0) - z y + log(1 + e^-|z|)], finite for any z. Its
    gradient is the famous dL/dz = (sigma(z) - y) / m: the sigmoid's derivative a (1 - a) cancels
    the loss's 1 / (a (1 - a)), so no division by a tiny a (1 - a) is ever made.
    m is the number of samples, the last axis (samples are columns).
    """

    def forward(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        # Checked here, not in check_inputs: NumPy would broadcast (1, m) against (m, 1) silently.
        if z.shape != y.shape or z.ndim == 0:
            raise ValueError(f"binary_cross_entropy_with_logits: logits of shape {z.shape} and "
                             f"labels of shape {y.shape} must have the same shape, (1, m)")
        m = z.shape[-1]
        losses = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
        self.save_for_backward(z, y)
        return np.asarray(losses.sum() / m)

    def backward(self, grad: np.ndarray):
        z, y = self.saved
        m = z.shape[-1]
        grad_z = grad * (stable_sigmoid(z) - y) / m if self.needs_input_grad[0] else None
        grad_y = -grad * z / m if self.needs_input_grad[1] else None  # exact, rarely wanted
        return grad_z, grad_y
