"""Every op in ops.py: its gradient against central differences, closed forms, edge cases, errors.

The property tests draw shapes (sides of 1, different ranks, negative axes) and values with the
strategies of tinygrad_edu.testing, and compare the autodiff gradient with finite differences
through `gradcheck` (float64, its default tolerances). Values are kept away from kinks (relu and
|x| at 0, clip bounds, max and maximum ties), where a finite difference means nothing; the kinks
themselves get exact-value tests with the convention each op's docstring states.
"""

from __future__ import annotations

import contextlib
import operator
import re
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, gradcheck, ops
from tinygrad_edu.testing import (
    arrays,
    assert_grad_close,
    away_from,
    axes_for,
    broadcastable_shapes,
    distinct_arrays,
    leaf,
    positive_arrays,
    record_vjp_dtypes,
    shapes,
)



def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@contextlib.contextmanager
def strict_floating_point():
    """Overflow, division by zero and invalid operations raise, and so does any warning.

    Underflow is allowed: e^-1000 rounding to 0 is the harmless, intended part of a stable
    sigmoid (NumPy ignores underflow by default too).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield


# ==================================================================== binary ops, broadcasting
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "maximum": lambda a, b: ops.Maximum.apply(a, b),
}


def binary_operand_values(op: str, shape_a: tuple, shape_b: tuple):
    """A strategy for the two operands' arrays, inside the op's smooth domain."""
    if op == "maximum":  # no ties between any element of a and any of b
        size_a = int(np.prod(shape_a))
        size_b = int(np.prod(shape_b))
        return distinct_arrays((size_a + size_b,)).map(
            lambda v: (v[:size_a].reshape(shape_a), v[size_a:].reshape(shape_b)))
    if op == "div":  # the denominator at least 0.5 away from 0
        return st.tuples(arrays(shape_a), arrays(shape_b).map(away_from([0.0], gap=0.5)))
    if op == "pow":  # a positive base (a ** b is real and d/db = a^b log a exists)
        return st.tuples(positive_arrays(shape_a, low=0.5, high=2.0),
                         arrays(shape_b, low=-2.0, high=2.0))
    return st.tuples(arrays(shape_a), arrays(shape_b))


@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data())
def test_binary_op_gradient_with_broadcasting(op, data):
    shape_a, shape_b = data.draw(broadcastable_shapes(), label="shapes")
    a, b = data.draw(binary_operand_values(op, shape_a, shape_b), label="values")
    gradcheck(BINARY[op], leaf(a), leaf(b))


def python_scalar_case(op: str, scalar_on_left: bool):
    """A strategy for (tensor values, Python float) inside the op's smooth domain."""
    shape = shapes()
    if op == "pow" and scalar_on_left:   # s ** x: the base s is positive
        return st.tuples(arrays(shape, low=-2.0, high=2.0), st.floats(0.5, 2.0))
    if op == "pow":                      # x ** s: the base x is positive
        return st.tuples(positive_arrays(shape, low=0.5, high=2.0), st.floats(-2.0, 2.0))
    if op == "div" and scalar_on_left:   # s / x: x away from 0
        return st.tuples(arrays(shape).map(away_from([0.0], gap=0.5)), st.floats(-3.0, 3.0))
    if op == "div":                      # x / s: s away from 0
        return st.tuples(arrays(shape), st.sampled_from([-2.5, -0.5, 0.5, 1.0, 3.0]))
    if op == "maximum":                  # no ties between x and s
        return st.floats(-2.0, 2.0).flatmap(
            lambda s: st.tuples(arrays(shape).map(away_from([s])), st.just(s)))
    return st.tuples(arrays(shape), st.floats(-3.0, 3.0))


@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data())
def test_binary_op_gradient_with_a_constant_operand(op, data):
    """A Python float or an ndarray, on either side, is a constant: only the tensor gets a
    gradient, summed back to its own shape."""
    constant_on_left = data.draw(st.booleans(), label="constant_on_left")
    if data.draw(st.booleans(), label="python_float"):
        x, constant = data.draw(python_scalar_case(op, constant_on_left), label="x, float")
    else:
        shape_a, shape_b = data.draw(broadcastable_shapes(), label="shapes")
        a, b = data.draw(binary_operand_values(op, shape_a, shape_b), label="a, b")
        x, constant = (b, a) if constant_on_left else (a, b)
    if constant_on_left:
        gradcheck(lambda t: BINARY[op](constant, t), leaf(x))
    else:
        gradcheck(lambda t: BINARY[op](t, constant), leaf(x))


@given(x=arrays(shapes(), low=-5.0, high=5.0), g=st.floats(-2.0, 2.0))
def test_sum_of_squares_is_the_fused_form_of_sum_x_times_x(x, g):
    """Value sum(x^2) and VJP 2 x grad, as (x * x).sum() computes them unfused."""
    fused, unfused = leaf(x), leaf(x)
    value = ops.SumOfSquares.apply(fused)
    reference = (unfused * unfused).sum()
    assert value.item() == pytest.approx(reference.item(), rel=1e-12, abs=1e-300)
    value.backward(np.asarray(g))
    reference.backward(np.asarray(g))
    assert_grad_close(fused.grad, 2 * g * x, rtol=1e-12, atol=1e-15, name="fused")
    assert_grad_close(fused.grad, unfused.grad, rtol=1e-12, atol=1e-15, name="fused vs unfused")


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3, 1), (3, 5)), ((3, 5), (3, 1)), ((5,), (2, 3, 5)), ((2, 3, 5), (5,)),
     ((), (2, 3)), ((2, 3), ()), ((1, 4), (3, 1)), ((2, 1, 4), (3, 1))],
)
def test_add_and_mul_gradients_are_summed_over_broadcast_axes(shape_a, shape_b):
    """Closed form: d(sum(G * (a + b)))/da is G summed down to a's shape (the course's db)."""
    rng = np.random.default_rng(0)
    a, b = leaf(rng.standard_normal(shape_a)), leaf(rng.standard_normal(shape_b))
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    g = rng.standard_normal(out_shape)

    def summed_to(array, shape):
        array = array.sum(axis=tuple(range(array.ndim - len(shape))))
        return array.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)

    (a + b).backward(g)
    assert_grad_close(a.grad, summed_to(g, shape_a), name="d(a+b)/da")
    assert_grad_close(b.grad, summed_to(g, shape_b), name="d(a+b)/db")
    a.grad = b.grad = None
    (a * b).backward(g)
    b_full = np.broadcast_to(b.data, out_shape)
    a_full = np.broadcast_to(a.data, out_shape)
    assert_grad_close(a.grad, summed_to(g * b_full, shape_a), name="d(a*b)/da")
    assert_grad_close(b.grad, summed_to(g * a_full, shape_b), name="d(a*b)/db")


def test_binary_closed_forms_at_a_point():
    a, b = leaf([2.0, -3.0]), leaf([4.0, 0.5])
    (a / b).sum().backward()
    assert_grad_close(a.grad, [1 / 4.0, 1 / 0.5], name="d(a/b)/da")
    assert_grad_close(b.grad, [-2.0 / 16.0, 3.0 / 0.25], name="d(a/b)/db")
    base, exponent = leaf([2.0, 3.0]), leaf([3.0, 0.5])
    (base ** exponent).sum().backward()
    assert_grad_close(base.grad, [3.0 * 4.0, 0.5 / np.sqrt(3.0)], name="d(a^b)/da")
    assert_grad_close(exponent.grad, [8.0 * np.log(2.0), np.sqrt(3.0) * np.log(3.0)],
                      name="d(a^b)/db")
    x = leaf([1.0, 2.0])
    (x - 2 * x).sum().backward()
    assert_grad_close(x.grad, [-1.0, -1.0], name="d(x - 2x)/dx")


def test_maximum_gradient_goes_to_the_larger_input_and_ties_split_half_half():
    a, b = leaf([1.0, 5.0, 2.0]), leaf([3.0, 4.0, 2.0])
    ops.Maximum.apply(a, b).sum().backward()
    assert_grad_close(a.grad, [0.0, 1.0, 0.5], name="d max(a,b)/da")
    assert_grad_close(b.grad, [1.0, 0.0, 0.5], name="d max(a,b)/db")
    # A broadcast tie: the scalar b ties with two of x's elements and collects half from each.
    x, s = leaf([0.0, 1.0, 0.0, -1.0]), leaf(0.0)
    x.maximum(s).sum().backward()
    assert_grad_close(x.grad, [0.5, 1.0, 0.5, 0.0], name="d max(x,s)/dx")
    assert_grad_close(s.grad, 0.5 + 0.5 + 1.0, name="d max(x,s)/ds")


# ==================================================================== matrix product
MATMUL_SHAPES = {
    "2d@2d": ((3, 4), (4, 2)),
    "1d@2d": ((4,), (4, 3)),
    "2d@1d": ((3, 4), (4,)),
    "1d@1d": ((5,), (5,)),
    "3d@2d": ((2, 3, 4), (4, 2)),
    "1d@3d": ((4,), (2, 4, 3)),
}


@pytest.mark.parametrize("case", sorted(MATMUL_SHAPES))
@given(data=st.data())
def test_matmul_gradient(case, data):
    shape_a, shape_b = MATMUL_SHAPES[case]
    a = data.draw(arrays(shape_a), label="a")
    b = data.draw(arrays(shape_b), label="b")
    gradcheck(lambda x, y: x @ y, leaf(a), leaf(b))


@given(sizes=st.tuples(*[st.integers(1, 5)] * 3), data=st.data())
def test_matmul_gradient_closed_form(sizes, data):
    """dL/dA = G @ B^T and dL/dB = A^T @ G (the course's dW = dZ A_prev^T)."""
    n, k, m = sizes
    a_values = data.draw(arrays((n, k)), label="A")
    b_values = data.draw(arrays((k, m)), label="B")
    g = data.draw(arrays((n, m)), label="G")
    a, b = leaf(a_values), leaf(b_values)
    (a @ b).backward(g)
    assert_grad_close(a.grad, g @ b_values.T, name="dA")
    assert_grad_close(b.grad, a_values.T @ g, name="dB")


def test_matmul_with_ndarray_on_either_side():
    rng = np.random.default_rng(1)
    w, x = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    tw, tx = leaf(w), leaf(x)
    (w @ tx).sum().backward()   # ndarray @ Tensor
    (tw @ x).sum().backward()   # Tensor @ ndarray
    assert_grad_close(tx.grad, w.T @ np.ones((2, 4)), name="dX")
    assert_grad_close(tw.grad, np.ones((2, 4)) @ x.T, name="dW")


# ==================================================================== unary, elementwise
UNARY = {
    "neg": (lambda t: -t, arrays(shapes())),
    "exp": (lambda t: t.exp(), arrays(shapes())),
    "log": (lambda t: t.log(), positive_arrays(shapes())),
    "sqrt": (lambda t: t.sqrt(), positive_arrays(shapes())),
    "abs": (lambda t: t.abs(), arrays(shapes()).map(away_from([0.0]))),
    "sigmoid": (lambda t: t.sigmoid(), arrays(shapes(), low=-8.0, high=8.0)),
    "relu": (lambda t: t.relu(), arrays(shapes()).map(away_from([0.0]))),
    "tanh": (lambda t: t.tanh(), arrays(shapes())),
    "sum_of_squares": (lambda t: ops.SumOfSquares.apply(t), arrays(shapes())),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@given(data=st.data())
def test_unary_op_gradient(op, data):
    fn, values = UNARY[op]
    gradcheck(fn, leaf(data.draw(values, label="x")))


@given(x=arrays(shapes(min_dims=1), low=-5.0, high=5.0), g=st.floats(-2.0, 2.0))
def test_unary_closed_forms(x, g):
    """Each op's VJP is grad * f'(x), with f' as its docstring gives it."""
    formulas = {
        "exp": (lambda t: t.exp(), np.exp(x)),
        "sigmoid": (lambda t: t.sigmoid(), sigmoid(x) * (1 - sigmoid(x))),
        "tanh": (lambda t: t.tanh(), 1 - np.tanh(x) ** 2),
        "relu": (lambda t: t.relu(), (x > 0).astype(float)),
        "abs": (lambda t: t.abs(), np.sign(x)),
        "neg": (lambda t: -t, -np.ones_like(x)),
        "log(|x| + 1)": (lambda t: (t.abs() + 1).log(), np.sign(x) / (np.abs(x) + 1)),
        "sqrt(x^2 + 1)": (lambda t: (t * t + 1).sqrt(), x / np.sqrt(x * x + 1)),
    }
    for name, (fn, derivative) in formulas.items():
        t = leaf(x)
        fn(t).backward(np.full(x.shape, g))
        assert_grad_close(t.grad, g * derivative, rtol=1e-12, atol=1e-15, name=name)


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (lambda t: t.sigmoid(), 0.0, 0.25),
        (lambda t: t.tanh(), 0.0, 1.0),
        (lambda t: t.exp(), 0.0, 1.0),
        (lambda t: t.log(), 2.0, 0.5),
        (lambda t: t.sqrt(), 4.0, 0.25),
        (lambda t: t.relu(), 0.0, 0.0),      # relu'(0) = 0
        (lambda t: t.relu(), 2.0, 1.0),
        (lambda t: t.relu(), -2.0, 0.0),
        (lambda t: t.abs(), 0.0, 0.0),       # |x|'(0) = 0
        (lambda t: t.abs(), -2.0, -1.0),
        (lambda t: t.abs(), 3.0, 1.0),
    ],
    ids=["sigmoid'(0)", "tanh'(0)", "exp'(0)", "log'(2)", "sqrt'(4)", "relu'(0)", "relu'(2)",
         "relu'(-2)", "abs'(0)", "abs'(-2)", "abs'(3)"],
)
def test_derivative_at_a_point(fn, x, expected):
    t = leaf(x)
    fn(t).backward()
    assert t.grad.item() == expected


# ==================================================================== clip
@st.composite
def clip_case(draw):
    low = draw(st.none() | st.floats(-2.0, 1.0))
    high = draw(st.none() | st.floats(-1.0, 2.0))
    assume(low is not None or high is not None)
    if low is not None and high is not None:
        low, high = min(low, high), max(low, high)
    kinks = [bound for bound in (low, high) if bound is not None]
    x = draw(arrays(shapes()).map(away_from(kinks)))
    return x, low, high


@given(case=clip_case())
def test_clip_gradient(case):
    x, low, high = case
    gradcheck(lambda t: t.clip(low, high), leaf(x))


def test_clip_bounds_count_as_inside():
    x = leaf([-1.0, 0.0, 0.5, 1.0, 2.0])
    out = x.clip(0.0, 1.0)
    out.sum().backward()
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_with_one_bound():
    x = leaf([-1.0, 0.0, 2.0])
    x.clip(min=0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])
    y = leaf([-1.0, 0.0, 2.0])
    y.clip(max=0.0).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0, 0.0])


# ==================================================================== reductions
@st.composite
def reduction_case(draw, distinct: bool = False):
    shape = draw(shapes(), label="shape")
    x = draw(distinct_arrays(shape) if distinct else arrays(shape), label="x")
    axis = draw(axes_for(len(shape)), label="axis")
    keepdims = draw(st.booleans(), label="keepdims")
    return x, axis, keepdims


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@given(data=st.data())
def test_reduction_gradient(op, data):
    x, axis, keepdims = data.draw(reduction_case(distinct=(op == "max")))
    t = leaf(x)
    out = getattr(t, op)(axis=axis, keepdims=keepdims)
    expected = getattr(np, op)(x, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    gradcheck(lambda u: getattr(u, op)(axis=axis, keepdims=keepdims), t)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@given(data=st.data())
def test_reduction_gradient_closed_form(op, data):
    """sum: G copied along the reduced axes; mean: G / n; max: G at the (unique) maximum."""
    x, axis, keepdims = data.draw(reduction_case(distinct=(op == "max")))
    out_shape = np.sum(x, axis=axis, keepdims=keepdims).shape
    kept_shape = np.sum(x, axis=axis, keepdims=True).shape
    g = data.draw(arrays(out_shape), label="G")
    t = leaf(x)
    getattr(t, op)(axis=axis, keepdims=keepdims).backward(g)
    g_full = np.broadcast_to(g.reshape(kept_shape), x.shape)
    if op == "sum":
        expected = g_full
    elif op == "mean":
        expected = g_full * (np.prod(kept_shape) / x.size)  # 1 / n, n = elements averaged
    else:
        expected = g_full * (x == np.max(x, axis=axis, keepdims=True))
    assert_grad_close(t.grad, expected, rtol=1e-12, atol=1e-15, name=f"d{op}/dx")


def test_max_ties_split_the_gradient_equally():
    x = leaf([1.0, 3.0, 3.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 0.5])
    y = leaf([[2.0, 2.0, 2.0], [1.0, 5.0, 0.0]])
    y.max(axis=1).backward(np.array([3.0, 1.0]))
    np.testing.assert_allclose(y.grad.data, [[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]], rtol=1e-15)
    z = leaf([[4.0, 1.0], [4.0, 4.0]])
    z.max(axis=(0, -1), keepdims=True).backward(np.array([[1.0]]))
    np.testing.assert_allclose(z.grad.data, [[1 / 3, 0.0], [1 / 3, 1 / 3]], rtol=1e-15)


def test_mean_over_negative_axes_with_keepdims():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    out = x.mean(axis=(-1, -3), keepdims=True)
    assert out.shape == (1, 3, 1)
    out.backward(np.ones((1, 3, 1)))
    np.testing.assert_allclose(x.grad.data, np.full((2, 3, 4), 1 / 8), rtol=1e-15)


# ==================================================================== shape ops and indexing
@st.composite
def reshape_case(draw):
    shape = draw(shapes(), label="shape")
    size = int(np.prod(shape))
    target = draw(st.sampled_from(
        [(-1,), (size,), (1, size), (size, 1), shape[::-1], (1, *shape), (-1, 1)]),
        label="target")
    return draw(arrays(shape), label="x"), target


@given(case=reshape_case())
def test_reshape_gradient(case):
    x, target = case
    t = leaf(x)
    assert t.reshape(target).shape == x.reshape(target).shape
    gradcheck(lambda u: u.reshape(target), t)
    gradcheck(lambda u: u.reshape(*target), t)
    gradcheck(lambda u: u.flatten(), t)


@st.composite
def transpose_case(draw):
    shape = draw(shapes(min_dims=1), label="shape")
    ndim = len(shape)
    permutation = draw(st.permutations(range(ndim)), label="permutation")
    negative = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim), label="negative")
    axes = tuple(a - ndim if flip else a for a, flip in zip(permutation, negative, strict=True))
    return draw(arrays(shape), label="x"), axes


@given(case=transpose_case())
def test_transpose_gradient(case):
    """Any permutation, written with non-negative or negative axes (as NumPy accepts)."""
    x, axes = case
    t = leaf(x)
    assert t.transpose(axes).shape == np.transpose(x, axes).shape
    gradcheck(lambda u: u.transpose(*axes), t)
    gradcheck(lambda u: u.transpose(), t)
    gradcheck(lambda u: u.T, t)


def test_transpose_with_negative_axes_gradient():
    """transpose(-1, 0, 1) is transpose(2, 0, 1): its gradient is permuted back by (1, 2, 0)."""
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    out = x.transpose(-1, 0, 1)
    assert out.shape == (4, 2, 3)
    g = np.arange(24.0).reshape(4, 2, 3)
    out.backward(g)
    np.testing.assert_array_equal(x.grad.data, np.transpose(g, (1, 2, 0)))


@st.composite
def basic_index_case(draw):
    shape = draw(shapes(min_dims=1), label="shape")
    index = tuple(draw(st.slices(n) | st.integers(-n, n - 1)) for n in shape)
    x = draw(arrays(shape), label="x")
    assume(x[index].size > 0)
    return x, index


@given(case=basic_index_case())
def test_getitem_basic_slicing_gradient(case):
    x, index = case
    gradcheck(lambda t: t[index], leaf(x))


@st.composite
def integer_array_index_case(draw):
    shape = draw(shapes(min_dims=1, max_dims=2), label="shape")
    axis = draw(st.integers(0, len(shape) - 1), label="axis")
    n = shape[axis]
    index = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8), label="index")
    return draw(arrays(shape), label="x"), axis, index


@given(case=integer_array_index_case())
def test_getitem_integer_array_gradient_with_repeated_indices(case):
    """x[idx] or x[:, idx]: an element picked k times receives the sum of its k gradients."""
    x, axis, index = case
    select = (np.array(index),) if axis == 0 else (slice(None), np.array(index))
    t = leaf(x)
    gradcheck(lambda u: u[select], t)
    t.grad = None
    t[select].sum().backward()
    counts = np.bincount(np.array(index) % x.shape[axis], minlength=x.shape[axis])
    expected = np.broadcast_to(counts if axis == len(x.shape) - 1 else counts[:, None], x.shape)
    np.testing.assert_array_equal(t.grad.data, expected)


def test_getitem_repeated_indices_accumulate():
    x = leaf([10.0, 20.0, 30.0])
    x[[0, 0, 2, 0]].backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [7.0, 0.0, 3.0])
    y = leaf(np.zeros((2, 3)))
    idx = Tensor(np.array([2, 2, 1]))
    y[:, idx].sum().backward()
    np.testing.assert_array_equal(y.grad.data, [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])


# ==================================================================== the course's layers
@given(data=st.data())
def test_two_layer_forward_pass_gradient(data):
    """sigmoid(W2 relu(W1 x + b1) + b2) with x as (features, m): every parameter and the input."""
    features, hidden, m = data.draw(st.tuples(*[st.integers(1, 3)] * 3), label="sizes")
    w1 = leaf(data.draw(arrays((hidden, features)), label="W1"))
    b1 = leaf(data.draw(arrays((hidden, 1)), label="b1"))
    w2 = leaf(data.draw(arrays((1, hidden)), label="W2"))
    b2 = leaf(data.draw(arrays((1, 1)), label="b2"))
    x = leaf(data.draw(arrays((features, m)), label="x"))
    with np.errstate(all="ignore"):
        pre = w1.data @ x.data + b1.data
    assume(np.all(np.abs(pre) > 1e-3))  # keep relu's kink out of the finite differences

    def forward(w1, b1, w2, b2, x):
        return ((w2 @ (w1 @ x + b1).relu() + b2).sigmoid()).mean()

    gradcheck(forward, w1, b1, w2, b2, x)


# ==================================================================== stability at |z| = 1000
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_and_tanh_are_stable_at_large_inputs(dtype):
    z_values = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    with strict_floating_point():
        z = Tensor(z_values, requires_grad=True)
        s = z.sigmoid()
        s.sum().backward()
        z2 = Tensor(z_values, requires_grad=True)
        t = z2.tanh()
        t.sum().backward()
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(z.grad.data))
    assert np.all(np.isfinite(t.data)) and np.all(np.isfinite(z2.grad.data))
    assert s.data[0] == 0.0 and s.data[2] == 0.5 and s.data[-1] == 1.0
    assert t.data[0] == -1.0 and t.data[2] == 0.0 and t.data[-1] == 1.0
    np.testing.assert_array_equal(z.grad.data[[0, -1]], [0.0, 0.0])
    np.testing.assert_array_equal(z2.grad.data[[0, -1]], [0.0, 0.0])
    assert z.grad.data[2] == 0.25 and z2.grad.data[2] == 1.0


def test_sigmoid_keeps_relative_precision_for_very_negative_inputs():
    z = leaf([-30.0, -100.0, -700.0])
    a = z.sigmoid()
    expected = np.exp(z.data) / (1 + np.exp(z.data))
    np.testing.assert_allclose(a.data, expected, rtol=1e-14)
    a.sum().backward()
    np.testing.assert_allclose(z.grad.data, expected * (1 - expected), rtol=1e-14)


def bce_composed(p, y):
    """BCE composed from single ops: the reference BinaryCrossEntropy must equal bit for bit."""
    eps = float(np.finfo(p.dtype).eps)
    q = p.clip(eps, 1 - eps)
    return -(y * q.log() + (1 - y) * (1 - q).log()).sum() / p.shape[-1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_binary_cross_entropy_is_its_composition_to_the_last_bit(dtype, data):
    m = data.draw(st.integers(1, 12))
    p_values = data.draw(arrays((1, m), low=0.0, high=1.0, dtype=dtype))
    eps = np.finfo(dtype).eps  # the clip's bounds and both ends, where the gradient is cut
    edges = data.draw(st.lists(st.sampled_from([0.0, eps, 1 - eps, 1.0]), max_size=m))
    p_values[0, :len(edges)] = edges
    y_values = data.draw(arrays((1, m), low=0.0, high=1.0, dtype=dtype))
    upstream = np.asarray(data.draw(st.sampled_from([1.0, 0.5, -3.0])), dtype=dtype)
    results = []
    for loss_of in (ops.BinaryCrossEntropy.apply, bce_composed):
        p, y = leaf(p_values, dtype), leaf(y_values, dtype)
        loss = loss_of(p, y)
        loss.backward(upstream)
        results.append((loss.data, p.grad.data, y.grad.data))
    for fused, composed in zip(*results, strict=True):
        assert fused.dtype == composed.dtype == dtype
        np.testing.assert_array_equal(fused, composed)


def bce(z, y):
    return ops.BinaryCrossEntropyWithLogits.apply(z, y)


def test_binary_cross_entropy_with_logits_is_stable_at_large_logits():
    z = leaf([[1000.0, -1000.0, 1000.0, -1000.0]])  # (1, m): m = 4 samples
    y = np.array([[0.0, 1.0, 1.0, 0.0]])
    with strict_floating_point():
        loss = bce(z, y)
        loss.backward()
    assert loss.item() == pytest.approx((1000.0 + 1000.0 + 0.0 + 0.0) / 4, rel=1e-15)
    np.testing.assert_array_equal(z.grad.data, [[0.25, -0.25, 0.0, 0.0]])  # (sigma(z) - y) / m


@given(data=st.data())
def test_binary_cross_entropy_with_logits_gradient(data):
    shape = data.draw(shapes(min_dims=1), label="shape")
    z_values = data.draw(arrays(shape, low=-10.0, high=10.0), label="z")
    y_values = data.draw(arrays(shape, low=0.0, high=1.0), label="y")
    m = shape[-1]  # samples are columns: m is the last axis
    z = leaf(z_values)
    loss = bce(z, y_values)
    a = sigmoid(z_values)
    expected_loss = -np.sum(y_values * np.log(a) + (1 - y_values) * np.log(1 - a)) / m
    assert loss.item() == pytest.approx(expected_loss, rel=1e-9, abs=1e-12)
    loss.backward()
    assert_grad_close(z.grad, (a - y_values) / m, rtol=1e-12, atol=1e-15, name="dL/dz")
    gradcheck(bce, leaf(z_values), leaf(y_values))


# ==================================================================== float32 stays float32
def float32_values(shape: tuple) -> np.ndarray:
    """Values in [0.5, 2]: inside every op's domain (log, sqrt, pow) and away from kinks."""
    return np.random.default_rng(3).uniform(0.5, 2.0, size=shape).astype(np.float32)


FLOAT32_CASES = {
    "add": (lambda a, b: a + b, [(3, 1), (4,)]),
    "sub": (lambda a, b: a - b, [(3, 1), (4,)]),
    "mul": (lambda a, b: a * b, [(3, 1), (4,)]),
    "div": (lambda a, b: a / b, [(3, 1), (4,)]),
    "pow": (lambda a, b: a ** b, [(3, 1), (4,)]),
    "maximum": (lambda a, b: a.maximum(b), [(3, 1), (4,)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matmul_1d": (lambda a, b: a @ b, [(4,), (4, 2)]),
    "neg": (lambda a: -a, [(3, 2)]),
    "exp": (lambda a: a.exp(), [(3, 2)]),
    "log": (lambda a: a.log(), [(3, 2)]),
    "sqrt": (lambda a: a.sqrt(), [(3, 2)]),
    "abs": (lambda a: a.abs(), [(3, 2)]),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 2)]),
    "relu": (lambda a: a.relu(), [(3, 2)]),
    "tanh": (lambda a: a.tanh(), [(3, 2)]),
    "clip": (lambda a: a.clip(0.75, 1.5), [(3, 2)]),
    "sum": (lambda a: a.sum(axis=0), [(3, 2)]),
    "mean": (lambda a: a.mean(axis=-1, keepdims=True), [(3, 2)]),
    "max": (lambda a: a.max(axis=1), [(3, 2)]),
    "sum_of_squares": (lambda a: ops.SumOfSquares.apply(a), [(3, 2)]),
    "reshape": (lambda a: a.reshape(2, 3), [(3, 2)]),
    "flatten": (lambda a: a.flatten(), [(3, 2)]),
    "transpose": (lambda a: a.transpose(1, 0), [(3, 2)]),
    "T": (lambda a: a.T, [(3, 2)]),
    "getitem_slice": (lambda a: a[1:, ::-1], [(3, 2)]),
    "getitem_int_array": (lambda a: a[[0, 0, 2]], [(3, 2)]),
    "bce": (lambda z, y: bce(z, y), [(3, 2), (3, 2)]),
    # Python numbers take the tensor's dtype, on either side.
    "tensor_plus_float": (lambda a: a + 1.5, [(3, 2)]),
    "float_plus_tensor": (lambda a: 1.5 + a, [(3, 2)]),
    "tensor_minus_float": (lambda a: a - 1.5, [(3, 2)]),
    "float_minus_tensor": (lambda a: 1.5 - a, [(3, 2)]),
    "tensor_times_float": (lambda a: a * 0.1, [(3, 2)]),
    "float_times_tensor": (lambda a: 0.1 * a, [(3, 2)]),
    "tensor_over_float": (lambda a: a / 3.0, [(3, 2)]),
    "float_over_tensor": (lambda a: 3.0 / a, [(3, 2)]),
    "tensor_pow_float": (lambda a: a ** 1.5, [(3, 2)]),
    "tensor_pow_int": (lambda a: a ** 2, [(3, 2)]),
    "float_pow_tensor": (lambda a: 2.5 ** a, [(3, 2)]),
    "maximum_float": (lambda a: a.maximum(1.0), [(3, 2)]),
    # ints, bools and 0-d arrays take the floating tensor's dtype too (tensor.py's rule).
    "tensor_plus_int_tensor": (lambda a: a + Tensor(np.arange(2)), [(3, 2)]),
    "int_tensor_times_tensor": (lambda a: Tensor(np.arange(2)) * a, [(3, 2)]),
    "tensor_times_0d_array": (lambda a: a * np.array(0.5), [(3, 2)]),
    "matmul_int_tensor": (lambda a: a @ Tensor(np.ones((2, 2), dtype=np.int64)), [(3, 2)]),
    "tensor_pow_0": (lambda a: a ** 0.0, [(3, 2)]),
}


@pytest.mark.parametrize("case", sorted(FLOAT32_CASES))
def test_float32_stays_float32_in_value_and_gradient(case):
    fn, input_shapes = FLOAT32_CASES[case]
    inputs = [Tensor(float32_values(shape), requires_grad=True) for shape in input_shapes]
    out = fn(*inputs)
    assert out.dtype == np.float32, f"{case}: value is {out.dtype}"
    out.backward(np.ones(out.shape, dtype=np.float32))
    for position, tensor in enumerate(inputs):
        assert tensor.grad is not None, f"{case}: input {position} got no gradient"
        assert tensor.grad.dtype == np.float32, (
            f"{case}: gradient of input {position} is {tensor.grad.dtype}")


@pytest.mark.parametrize("case", sorted(FLOAT32_CASES))
def test_float32_every_vjp_in_the_graph_is_float32_and_matches_float64(case):
    """The leaf's .grad is cast to the leaf's dtype, which would hide an op whose backward makes
    float64 inside the graph: look at what every op's backward returns, and at the values."""
    fn, input_shapes = FLOAT32_CASES[case]
    grads = {}
    for dtype in (np.float32, np.float64):
        inputs = [Tensor(float32_values(shape), dtype=dtype, requires_grad=True)
                  for shape in input_shapes]
        out = fn(*inputs)
        with record_vjp_dtypes() as seen:
            out.backward(np.ones(out.shape, dtype=dtype))
        assert seen, f"{case}: no backward ran"
        for name, incoming, outgoing in seen:
            assert incoming == dtype, f"{case}: {name}.backward got a {incoming} gradient"
            assert all(g is None or g == dtype for g in outgoing), (
                f"{case}: {name}.backward returned {outgoing} for {np.dtype(dtype)} inputs")
        grads[dtype] = [tensor.grad.data for tensor in inputs]
    for g32, g64 in zip(grads[np.float32], grads[np.float64], strict=True):
        np.testing.assert_allclose(g32, g64, rtol=2e-6, atol=1e-6)


def test_pow_with_exponent_zero_has_zero_gradient_even_at_zero():
    """d(x^0)/dx = 0 everywhere; the formula b x^(b-1) gives 0 * inf = NaN at x = 0."""
    x = leaf([0.0, 0.0, 2.0, -3.0])
    b = Tensor([0.0, 2.0, 0.0, 0.0])
    with strict_floating_point():
        (x ** b).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0, 0.0])
    y = leaf([0.0, 1.0])
    with strict_floating_point():
        (y ** 0.0).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [0.0, 0.0])


# ==================================================================== errors
@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4,)), ((3, 1), (2, 4, 2))])
def test_shapes_that_do_not_broadcast_raise_naming_both(op, shape_a, shape_b):
    with pytest.raises(ValueError) as error:
        BINARY[op](Tensor(np.ones(shape_a)), Tensor(np.ones(shape_b)))
    message = str(error.value)
    assert str(shape_a) in message and str(shape_b) in message, message


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)),
                                              ((5,), (3, 2))])
def test_matmul_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError) as error:
        Tensor(np.ones(shape_a)) @ Tensor(np.ones(shape_b))
    message = str(error.value)
    assert str(shape_a) in message and str(shape_b) in message, message


@pytest.mark.parametrize("name, apply", [("Add", operator.add), ("Sub", operator.sub),
                                         ("Mul", operator.mul), ("Div", operator.truediv)])
def test_shapes_that_do_not_broadcast_get_the_ops_own_message(name, apply):
    """NumPy refuses them first; the op's check_inputs replaces its message by one naming the op
    and both shapes as tinygrad_edu prints them."""
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(2, 3\) and \(4,\) do not "
                                         rf"broadcast"):
        apply(Tensor(np.ones((2, 3))), Tensor(np.ones(4)))


def test_matmul_of_a_scalar_is_an_error():
    with pytest.raises(ValueError, match=r"MatMul"):
        Tensor(2.0) @ Tensor(np.ones(3))


def test_bad_reshape_names_both_shapes():
    with pytest.raises(ValueError) as error:
        Tensor(np.ones((2, 3))).reshape(4, 2)
    message = str(error.value)
    assert "(2, 3)" in message and "(4, 2)" in message, message


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [2, -3, (0, 5)])
def test_reduction_over_a_bad_axis_raises_naming_it(op, axis):
    bad = axis[-1] if isinstance(axis, tuple) else axis
    with pytest.raises(ValueError, match=rf"axis {bad}\b"):
        getattr(Tensor(np.ones((2, 3))), op)(axis=axis)


@pytest.mark.parametrize("axes", [(0, 0), (0,), (1, 0, 2)])
def test_transpose_with_a_bad_permutation_raises(axes):
    with pytest.raises(ValueError, match=re.escape(str(axes))):
        Tensor(np.ones((2, 3))).transpose(*axes)


def test_index_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=re.escape("(2, 3)")):
        Tensor(np.ones((2, 3)))[:, [0, 3]]


def test_clip_argument_errors():
    with pytest.raises(ValueError, match="clip"):
        Tensor([1.0]).clip()
    with pytest.raises(ValueError, match="clip"):
        Tensor([1.0]).clip(2.0, 1.0)


def test_binary_cross_entropy_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as error:
        bce(Tensor(np.zeros((1, 4))), Tensor(np.zeros((4,))))
    message = str(error.value)
    assert "(1, 4)" in message and "(4,)" in message, message
    with pytest.raises(ValueError, match=re.escape("()")):  # no sample axis: what is m?
        bce(Tensor(0.0), Tensor(0.0))


# ==================================================================== leaky relu
@given(x=arrays(shapes()).map(away_from([0.0])), slope=st.floats(0.0, 1.0))
def test_leaky_relu_gradient(x, slope):
    gradcheck(lambda t: t.leaky_relu(slope), leaf(x))


@given(x=arrays(shapes(min_dims=1), low=-5.0, high=5.0), slope=st.floats(0.0, 1.0),
       g=st.floats(-2.0, 2.0))
def test_leaky_relu_value_and_vjp_are_the_formula(x, slope, g):
    """f(x) = x for x > 0, slope * x otherwise; its VJP is grad * (1 or slope)."""
    t = leaf(x)
    out = t.leaky_relu(slope)
    np.testing.assert_array_equal(out.data, np.where(x > 0, x, slope * x))
    out.backward(np.full(x.shape, g))
    assert_grad_close(t.grad, g * np.where(x > 0, 1.0, slope), rtol=1e-12, atol=1e-15,
                      name="leaky_relu")


@pytest.mark.parametrize("x, expected", [(0.0, 0.1), (2.0, 1.0), (-2.0, 0.1)],
                         ids=["leaky_relu'(0) = slope", "leaky_relu'(2)", "leaky_relu'(-2)"])
def test_leaky_relu_derivative_at_a_point(x, expected):
    t = leaf(x)
    t.leaky_relu(0.1).backward()
    assert t.grad.item() == expected


def test_leaky_relu_default_slope_and_float32():
    t = leaf([-2.0, 3.0], dtype=np.float32)
    out = t.leaky_relu()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.array([-0.02, 3.0], dtype=np.float32))


@pytest.mark.parametrize("slope", [-0.1, float("nan"), float("inf"), "0.1", True])
def test_leaky_relu_bad_slope_is_an_error(slope):
    with pytest.raises(ValueError, match=r"leaky_relu: negative_slope must be a finite number"):
        leaf([1.0]).leaky_relu(slope)
