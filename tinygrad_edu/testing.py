"""Hypothesis strategies and an assertion for property-testing your own ops.

Write a property test for a new op in a few lines: draw a shape, draw inputs of that shape (away
from the op's kinks, where finite differences are meaningless), and let `gradcheck` compare the
autodiff gradient with central differences:

    from hypothesis import given
    from tinygrad_edu import Tensor, gradcheck
    from tinygrad_edu.testing import arrays, away_from, shapes

    @given(arrays(shapes()).map(away_from([0.0])))
    def test_relu_gradient(x):
        gradcheck(lambda t: t.relu(), Tensor(x, requires_grad=True))

Where the gradient has a closed form, compare with it exactly instead, with `assert_grad_close`.
This module needs hypothesis (`pip install tinygrad-edu[dev]`); the package itself does not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.tensor import Function, Tensor

__all__ = [
    "activation_names", "arrays", "assert_grad_close", "away_from", "axes_for",
    "broadcastable_shapes", "distinct_arrays", "initializers", "layer_widths", "leaf",
    "positive_arrays", "record_vjp_dtypes", "shapes",
]


def leaf(values: Any, dtype: Any = np.float64) -> Tensor:
    """A leaf tensor that requires a gradient, holding a copy of `values` (float64 by default).

        x = leaf(np.random.rand(3, 4));  (x * x).sum().backward();  x.grad   # 2 x
    """
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes such as (), (4,), (1, 3), (2, 1, 5): sides of 1 are drawn often.

        shapes(min_dims=1, max_dims=2)      # draws e.g. (3, 1), (5,), (1, 1)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                            min_side=min_side, max_side=max_side)


def arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]], low: float = -3.0,
    high: float = 3.0, dtype: Any = np.float64,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of `shape` (a tuple or a strategy), finite and normal (or 0) values in [low, high].

    No NaN, no inf and no subnormals: an op's gradient is checked, not NumPy's edge cases.

        arrays((2, 3))                                       # float64 arrays of shape (2, 3)
        arrays(shapes(), low=0.5, high=2.0, dtype=np.float32)   # shape drawn too

    With float32, low and high must be exactly representable in float32 (0.5 is, 0.1 is not).
    """
    dtype = np.dtype(dtype)
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False, width=8 * dtype.itemsize)
    return hnp.arrays(dtype, shape, elements=elements)


def positive_arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]], low: float = 0.1,
    high: float = 3.0,
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with values in [low, high], low > 0: the domain of log, sqrt and a ** b.

        positive_arrays(shapes(), low=0.5)    # for x ** y with x in [0.5, 3]
    """
    if not low > 0:
        raise ValueError(f"positive_arrays: low must be > 0, got {low}")
    return arrays(shape, low=low, high=high)


def away_from(kinks: Sequence[float], gap: float = 1e-3) -> Callable[[np.ndarray], np.ndarray]:
    """A function for `.map()` that moves every element at least `gap` away from each kink.

    A central difference with step eps straddles a kink (relu and |x| at 0, clip at its bounds)
    when an element lies within eps of it, and then agrees with neither one-sided derivative.
    Elements closer than `gap` to a kink are pushed up to kink + 2 * gap (kinks are visited in
    increasing order and elements only move up, so no push lands inside an earlier window; the
    values may exceed the strategy's upper bound by a few gaps).

        arrays((5,)).map(away_from([0.0]))           # for relu and abs
        arrays((5,)).map(away_from([-1.0, 1.0]))     # for clip(-1, 1)
    """
    ordered = sorted(float(k) for k in kinks)

    def push(values: np.ndarray) -> np.ndarray:
        values = np.array(values, copy=True)
        for kink in ordered:
            too_close = np.abs(values - kink) < gap
            values[too_close] = kink + 2 * gap
        return values

    return push


def distinct_arrays(
    shape: tuple[int, ...], low: float = -3.0, high: float = 3.0, gap: float = 1e-3
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of `shape` whose elements are pairwise at least `gap` apart: no ties.

    For max and maximum, whose gradient jumps where two values tie. Built, not filtered: the
    values are a random permutation of evenly spaced slots in [low, high), each jittered within
    the lower half of its slot (so neighbours stay half a slot apart).

        distinct_arrays((2, 3))    # e.g. [[0.9, -2.5, 1.1], [-0.2, 2.0, -1.4]]
    """
    size = int(np.prod(shape, dtype=np.int64))
    step = (high - low) / max(size, 1)
    if step / 2 < gap:
        raise ValueError(f"distinct_arrays: {size} values cannot be {gap} apart in "
                         f"[{low}, {high}]; widen the range or lower the gap")

    def build(ranks_and_jitter: tuple[list[int], np.ndarray]) -> np.ndarray:
        ranks, jitter = ranks_and_jitter
        values = low + (np.asarray(ranks, dtype=np.float64) + jitter / 2) * step
        return values.reshape(shape)

    return st.tuples(
        st.permutations(range(size)), arrays((size,), low=0.0, high=0.99)
    ).map(build)


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
    max_side: int = 5,
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Tuples of `num_shapes` shapes that broadcast together: different ranks, sides of 1.

        broadcastable_shapes()    # draws e.g. ((3, 1), (2, 1, 4)) or ((), (5,))
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda drawn: drawn.input_shapes)


def axes_for(ndim: int) -> st.SearchStrategy[int | tuple[int, ...] | None]:
    """An `axis` argument for a reduction over `ndim` dimensions: None, an int (negative ones
    too) or a tuple of distinct axes (possibly empty, any order, negative ones too).

        axes_for(3)    # draws e.g. None, -1, (), (2, -3)
    """
    if ndim == 0:
        return st.sampled_from([None, ()])
    one_axis = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).flatmap(
        lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes]))
    return st.one_of(st.none(), one_axis, several)


def assert_grad_close(
    actual: Tensor | np.ndarray, expected: Tensor | np.ndarray, rtol: float = 1e-6,
    atol: float = 1e-8, name: str = "",
) -> None:
    """Assert |actual - expected| <= atol + rtol * |expected| elementwise (NaN never passes).

    Accepts Tensors or arrays. The AssertionError names `name`, the worst element's index and
    both values there, so a failing property test says which gradient went wrong and where.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> assert_grad_close(x.grad, 2 * x.data, name="d(x*x)/dx")
    """
    label = f"{name}: " if name else ""
    if actual is None:
        raise AssertionError(f"{label}the gradient is None (did backward reach this tensor?)")
    a = np.asarray(actual.data if isinstance(actual, Tensor) else actual, dtype=np.float64)
    e = np.asarray(expected.data if isinstance(expected, Tensor) else expected,
                   dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{label}gradient of shape {a.shape}, expected shape {e.shape}")
    close = np.isclose(a, e, rtol=rtol, atol=atol)
    if np.all(close):
        return
    with np.errstate(invalid="ignore"):
        excess = np.abs(a - e) - (atol + rtol * np.abs(e))
    excess = np.where(np.isnan(excess), np.inf, excess)  # NaN is the worst
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    worst = tuple(int(i) for i in worst)
    raise AssertionError(
        f"{label}gradients differ at index {worst}: actual {a[worst].item()!r}, expected "
        f"{e[worst].item()!r} ({int((~close).sum())} of {close.size} elements differ; "
        f"rtol={rtol}, atol={atol})"
    )


def activation_names(leaky: bool = True) -> st.SearchStrategy[str]:
    """The hidden activations of the course's nets (and leaky ReLU), by the names the monitor
    and `tinygrad_edu.theory` use.

        activation_names()    # draws e.g. "tanh", "leaky_relu", "centered_sigmoid"
    """
    names = ["sigmoid", "centered_sigmoid", "tanh", "relu"] + (["leaky_relu"] if leaky else [])
    return st.sampled_from(names)


def initializers(min_std: float = 0.02, max_std: float = 0.3) -> st.SearchStrategy[str | float]:
    """An initializer of `tinygrad_edu.nn.init` by name, or a weight std in [min_std, max_std]
    (N(0, std^2) weights), as `tinygrad_edu.theory.weight_std` accepts them.

        initializers()    # draws e.g. "he", "xavier", 0.137
    """
    names = st.sampled_from(["small", "xavier", "he", "he_course"])
    return st.one_of(names, st.floats(min_std, max_std, allow_nan=False))


def layer_widths(min_hidden: int = 1, max_hidden: int = 3, min_width: int = 1,
                 max_width: int = 8, max_out: int = 1) -> st.SearchStrategy[tuple[int, ...]]:
    """Widths (n_0, n_1, ..., n_L) of a fully connected net: min_hidden..max_hidden hidden
    layers, every width in [min_width, max_width] drawn separately (so n_l != n_{l+1} is
    common), an output of 1..max_out units.

        layer_widths(max_width=200, min_width=60)    # e.g. (143, 61, 188, 1)
    """
    width = st.integers(min_width, max_width)
    return st.tuples(width, st.lists(width, min_size=min_hidden, max_size=max_hidden),
                     st.integers(1, max_out)).map(lambda d: (d[0], *d[1], d[2]))


@contextlib.contextmanager
def record_vjp_dtypes() -> Iterator[list[tuple[str, np.dtype, tuple[np.dtype | None, ...]]]]:
    """Record, for every op backward runs inside the block, (op name, dtype of the incoming
    gradient, dtypes of the gradients it returns, None where it skipped an input).

    The engine casts a leaf's gradient to the leaf's dtype, so `x.grad.dtype` alone cannot show
    an op whose VJP silently turns float32 into float64 inside the graph; this can:

        with record_vjp_dtypes() as seen:
            model_loss32.backward()
        assert all(out == np.float32 for _, _, outs in seen for out in outs if out is not None)
    """
    seen: list[tuple[str, np.dtype, tuple[np.dtype | None, ...]]] = []
    patched: list[tuple[type, Callable[..., Any]]] = []
    classes, stack = [], list(Function.__subclasses__())
    while stack:  # every op class, subclasses of subclasses included
        cls = stack.pop()
        classes.append(cls)
        stack.extend(cls.__subclasses__())
    for cls in classes:
        if "backward" not in vars(cls):
            continue
        original = vars(cls)["backward"]

        def recording(ctx: Function, grad: np.ndarray, original: Callable[..., Any] = original):
            result = original(ctx, grad)
            grads = result if isinstance(result, tuple) else (result,)
            seen.append((type(ctx).__name__, grad.dtype,
                         tuple(None if g is None else np.asarray(g).dtype for g in grads)))
            return result

        patched.append((cls, original))
        cls.backward = recording  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        for cls, original in patched:
            cls.backward = original  # type: ignore[method-assign]
