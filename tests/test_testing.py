"""Tests of tinygrad_edu.testing: the shared hypothesis strategies and assert_grad_close."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.testing import (
    activation_names,
    arrays,
    assert_grad_close,
    away_from,
    axes_for,
    broadcastable_shapes,
    distinct_arrays,
    initializers,
    layer_widths,
    leaf,
    positive_arrays,
    record_vjp_dtypes,
    shapes,
)


def test_leaf_copies_and_requires_grad():
    values = np.array([1.0, 2.0])
    x = leaf(values, dtype=np.float32)
    values[0] = 5.0
    assert x.requires_grad and x.dtype == np.float32 and x.data[0] == 1.0


def test_assert_grad_close_accepts_tensors_and_arrays():
    assert_grad_close(Tensor([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))
    assert_grad_close(np.array(3.0), Tensor(3.0))
    assert_grad_close([1.0], [1.0 + 5e-7], rtol=1e-6)


def test_assert_grad_close_names_the_gradient_the_worst_index_and_both_values():
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = np.array([[1.0, 2.5], [3.0, 9.0]])
    with pytest.raises(AssertionError) as error:
        assert_grad_close(actual, expected, name="dW1")
    message = str(error.value)
    assert message.startswith("dW1")
    assert "(1, 1)" in message and "4.0" in message and "9.0" in message, message
    assert "2 of 4" in message


def test_assert_grad_close_fails_on_nan_shape_and_none():
    with pytest.raises(AssertionError, match="nan"):
        assert_grad_close([1.0, np.nan], [1.0, 1.0], name="g")
    with pytest.raises(AssertionError, match=r"\(2,\).*\(2, 1\)"):
        assert_grad_close(np.ones(2), np.ones((2, 1)))
    with pytest.raises(AssertionError, match="None"):
        assert_grad_close(None, np.ones(2))
    with pytest.raises(AssertionError):
        assert_grad_close([1.0], [1.0 + 1e-5])        # the default rtol is 1e-6


@given(arrays(shapes()))
def test_arrays_are_finite_normal_and_in_range(x):
    assert x.dtype == np.float64 and np.all(np.isfinite(x))
    assert np.all((-3.0 <= x) & (x <= 3.0))
    tiny = np.finfo(np.float64).tiny
    assert np.all((x == 0) | (np.abs(x) >= tiny))


@given(arrays((3,), low=-0.5, high=0.5, dtype=np.float32), positive_arrays(shapes()))
def test_arrays_keep_dtype_and_positive_arrays_are_positive(x32, p):
    assert x32.dtype == np.float32 and np.all(np.abs(x32) <= 0.5)
    assert np.all(p >= 0.1)


@given(st.data())
def test_away_from_keeps_every_element_a_gap_from_every_kink(data):
    kinks = data.draw(st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=3))
    x = data.draw(arrays(shapes()).map(away_from(kinks)))
    for kink in kinks:
        assert np.all(np.abs(x - kink) >= 1e-3), (kink, x)


def test_away_from_moves_only_close_elements():
    x = np.array([-1.0, -0.0004, 0.0, 0.0009, 0.5])
    pushed = away_from([0.0])(x)
    np.testing.assert_array_equal(pushed, [-1.0, 0.002, 0.002, 0.002, 0.5])
    np.testing.assert_array_equal(x, [-1.0, -0.0004, 0.0, 0.0009, 0.5])  # input not modified


@given(st.data())
def test_distinct_arrays_have_no_ties(data):
    shape = data.draw(shapes())
    x = data.draw(distinct_arrays(shape))
    assert x.shape == shape
    values = np.sort(x.ravel())
    assert np.all(np.diff(values) >= 1e-3) and values.min() >= -3.0 and values.max() < 3.0


@given(broadcastable_shapes())
def test_broadcastable_shapes_broadcast(pair):
    shape_a, shape_b = pair
    np.broadcast_shapes(shape_a, shape_b)
    assert len(shape_a) <= 3 and len(shape_b) <= 3


@given(st.data())
def test_axes_for_draws_valid_numpy_axes(data):
    shape = data.draw(shapes())
    axis = data.draw(axes_for(len(shape)))
    np.sum(np.zeros(shape), axis=axis)   # NumPy accepts it
    if isinstance(axis, tuple):
        assert len({a % len(shape) for a in axis}) == len(axis)


@given(layer_widths(min_hidden=2, max_hidden=3, min_width=5, max_width=9, max_out=2))
def test_layer_widths_have_the_asked_depth_and_sizes(widths):
    assert 4 <= len(widths) <= 5                  # n_0, 2 or 3 hidden layers, the output
    assert all(5 <= n <= 9 for n in widths[:-1]) and 1 <= widths[-1] <= 2


@given(initializers(min_std=0.1, max_std=0.2), activation_names(leaky=False))
def test_initializers_and_activation_names(init, activation):
    from tinygrad_edu.theory import ACTIVATIONS, weight_std

    assert isinstance(init, str) or 0.1 <= init <= 0.2
    assert weight_std(init, 4, 3) > 0             # every draw is one the theory knows
    assert activation in ACTIVATIONS and activation != "leaky_relu"


def test_record_vjp_dtypes_sees_every_backward_and_restores_the_ops():
    from tinygrad_edu import ops

    original = ops.Mul.backward
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = Tensor(np.array([3.0, 4.0]))  # float64: x * y is float64, its VJP for x too
    with record_vjp_dtypes() as seen:
        (x * y).sum().backward()
    assert seen == [("Sum", np.dtype(np.float64), (np.dtype(np.float64),)),
                    ("Mul", np.dtype(np.float64), (np.dtype(np.float64), None))]
    assert x.grad.dtype == np.float32  # the leaf cast hides what the recorder shows
    assert ops.Mul.backward is original
