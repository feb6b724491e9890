"""Losses and penalties: values and gradients against the course's formulas, stability, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, nn
from tinygrad_edu.testing import arrays, assert_grad_close, leaf


# 0, or a strength whose products stay normal floats (no subnormal results to compare).
LAMDAS = st.one_of(st.just(0.0), st.floats(1e-3, 5.0))


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def course_bce(p, y):
    m = p.shape[-1]
    return -(1.0 / m) * np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))



@st.composite
def predictions_and_labels(draw, low=-8.0, high=8.0):
    """(z, y) of shape (1, m): logits and 0/1 labels (soft labels sometimes)."""
    m = draw(st.integers(1, 20))
    z = draw(arrays((1, m), low=low, high=high))
    soft = draw(st.booleans())
    y = draw(arrays((1, m), low=0.0, high=1.0)) if soft else \
        draw(arrays((1, m), low=0.0, high=1.0)).round()
    return z, y


# ==================================================================== binary cross-entropy
@given(predictions_and_labels())
def test_bce_value_and_gradient_are_the_course_formulas(zy) -> None:
    z, y = zy
    p = leaf(np_sigmoid(z))
    loss = nn.binary_cross_entropy(p, y)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(course_bce(p.data, y), rel=1e-12, abs=1e-15)
    loss.backward()
    m = z.shape[-1]
    expected = (1.0 / m) * (p.data - y) / (p.data * (1 - p.data))  # the course's da^[L]
    # Autodiff sums -y/p and (1 - y)/(1 - p): where p ~ y they cancel, so the rounding error is
    # relative to the size of those terms, not of their (small) sum.
    terms = (1.0 / m) * (1 / p.data + 1 / (1 - p.data))
    error = np.abs(p.grad.data - expected)
    assert np.all(error <= 1e-9 * np.abs(expected) + 1e-13 * terms), (p.grad.data, expected)


def test_bce_known_value() -> None:
    p = np.array([[0.9, 0.2, 0.6, 0.5]])
    y = np.array([[1.0, 0.0, 0.0, 1.0]])
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.4) + np.log(0.5)) / 4
    assert nn.binary_cross_entropy(Tensor(p), y).item() == pytest.approx(expected, rel=1e-14)


def test_bce_accepts_tensor_or_array_labels_of_any_numeric_dtype() -> None:
    p = Tensor(np.array([[0.3, 0.8]]))
    expected = course_bce(p.data, np.array([[0.0, 1.0]]))
    for y in (np.array([[0, 1]]), Tensor(np.array([[0, 1]])), [[0.0, 1.0]],
              Tensor(np.array([[False, True]]))):
        assert nn.binary_cross_entropy(p, y).item() == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("p_value, y_value", [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1.0, 1.0)])
def test_bce_at_exactly_zero_or_one_is_finite(p_value, y_value) -> None:
    p = leaf([[p_value, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or invalid-value warnings either
        loss = nn.binary_cross_entropy(p, [[y_value, 1.0]])
        loss.backward()
    assert np.isfinite(loss.item())
    assert np.all(np.isfinite(p.grad.data))
    eps = np.finfo(np.float64).eps
    wrong = p_value != y_value
    # A confidently wrong prediction costs -log(eps) (about 36), not infinity; a right one ~ 0.
    expected_first = -np.log(eps) if wrong else 0.0
    expected = (expected_first + np.log(2)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_bce_saturated_sigmoid_output_is_finite() -> None:
    z = leaf([[40.0, -40.0]])
    loss = nn.binary_cross_entropy(z.sigmoid(), [[0.0, 1.0]])
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() > 30
    assert np.all(np.isfinite(z.grad.data))


@given(predictions_and_labels())
def test_logits_loss_value_and_exact_gradient(zy) -> None:
    z_values, y = zy
    z = leaf(z_values)
    loss = nn.binary_cross_entropy_with_logits(z, y)
    assert loss.item() == pytest.approx(course_bce(np_sigmoid(z_values), y), rel=1e-10,
                                        abs=1e-14)
    loss.backward()
    m = z_values.shape[-1]
    assert_grad_close(z.grad, (np_sigmoid(z_values) - y) / m, rtol=1e-12, atol=1e-16,
                      name="dL/dz")


@given(predictions_and_labels(low=-10.0, high=10.0))
def test_logits_loss_equals_bce_of_the_sigmoid(zy) -> None:
    z_values, y = zy
    z1, z2 = leaf(z_values), leaf(z_values)
    fused = nn.binary_cross_entropy_with_logits(z1, y)
    composed = nn.binary_cross_entropy(z2.sigmoid(), y)
    assert fused.item() == pytest.approx(composed.item(), rel=1e-10, abs=1e-14)
    fused.backward()
    composed.backward()
    assert_grad_close(z1.grad, z2.grad, rtol=1e-7, atol=1e-14, name="dL/dz")


def test_logits_loss_is_stable_at_plus_minus_1000() -> None:
    z = leaf([[1000.0, -1000.0, 1000.0, -1000.0]])
    y = np.array([[1.0, 0.0, 0.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = nn.binary_cross_entropy_with_logits(z, y)
            loss.backward()
    # Two right answers cost 0, two wrong ones cost 1000 each: (0 + 0 + 1000 + 1000) / 4.
    assert loss.item() == 500.0
    # (sigmoid(z) - y) / m exactly: sigmoid(1000) = 1 and sigmoid(-1000) = 0 in float64.
    np.testing.assert_array_equal(z.grad.data, np.array([[0.0, 0.0, 1.0, -1.0]]) / 4)


def test_logits_loss_float32_stays_float32_and_stable() -> None:
    z = leaf([[30.0, -30.0, 0.5]], dtype=np.float32)
    loss = nn.binary_cross_entropy_with_logits(z, np.array([[0.0, 1.0, 1.0]]))
    loss.backward()
    assert loss.dtype == np.float32 and z.grad.dtype == np.float32
    assert loss.item() == pytest.approx((30 + 30 + np.log1p(np.exp(-0.5))) / 3, rel=1e-6)


@pytest.mark.parametrize("loss_fn", [nn.binary_cross_entropy, nn.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("p_shape, y_shape", [((1, 3), (1, 4)), ((1, 3), (3, 1)), ((1, 3), (3,))])
def test_shape_mismatch_is_a_clear_error(loss_fn, p_shape, y_shape) -> None:
    p = Tensor(np.full(p_shape, 0.5))
    with pytest.raises(ValueError) as error:
        loss_fn(p, np.zeros(y_shape))
    message = str(error.value)
    assert loss_fn.__name__ in message
    assert str(p_shape) in message and str(y_shape) in message


@pytest.mark.parametrize("loss_fn", [nn.binary_cross_entropy, nn.binary_cross_entropy_with_logits])
def test_scalar_prediction_is_an_error(loss_fn) -> None:
    with pytest.raises(ValueError, match="sample axis|same shape"):
        loss_fn(Tensor(0.5), np.array(1.0))


@pytest.mark.parametrize("loss_fn", [nn.binary_cross_entropy, nn.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("bad", [2.0, -1.0, 255.0, 1.0000001, float("nan"), float("inf")])
def test_labels_outside_zero_one_are_an_error(loss_fn, bad) -> None:
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        loss_fn(Tensor(np.full((1, 3), 0.5)), np.array([[0.0, bad, 1.0]]))


def test_bce_float32_stays_float32() -> None:
    p = leaf([[0.25, 0.75]], dtype=np.float32)
    loss = nn.binary_cross_entropy(p, np.array([[0.0, 1.0]]))  # float64 labels
    assert loss.dtype == np.float32
    loss.backward()
    assert p.grad.dtype == np.float32
    expected = (1 / 2) * (p.data.astype(np.float64) - [[0, 1]]) / (p.data * (1 - p.data))
    assert_grad_close(p.grad, expected, rtol=1e-6, name="dL/dp float32")


# ==================================================================== penalties
@given(st.integers(1, 4), LAMDAS, st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_l2_penalty_value_and_gradient(count, lamda, m, seed) -> None:
    rng = np.random.default_rng(seed)
    weights = [leaf(rng.standard_normal((int(rng.integers(1, 5)), int(rng.integers(1, 5)))))
               for _ in range(count)]
    penalty = nn.l2_penalty(weights, lamda, m)
    expected = lamda / (2 * m) * sum(np.sum(w.data**2) for w in weights)
    assert penalty.item() == pytest.approx(expected, rel=1e-12, abs=1e-300)
    penalty.backward()
    for index, w in enumerate(weights):
        assert_grad_close(w.grad, lamda / m * w.data, rtol=1e-12, atol=0, name=f"W{index}")


@given(st.integers(1, 4), LAMDAS, st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_l1_penalty_value_and_gradient_with_sign_zero_zero(count, lamda, m, seed) -> None:
    rng = np.random.default_rng(seed)
    weights = []
    for _ in range(count):
        w = rng.standard_normal((int(rng.integers(1, 5)), int(rng.integers(1, 5))))
        w[rng.random(w.shape) < 0.3] = 0.0
        weights.append(leaf(w))
    penalty = nn.l1_penalty(weights, lamda, m)
    expected = lamda / m * sum(np.sum(np.abs(w.data)) for w in weights)
    assert penalty.item() == pytest.approx(expected, rel=1e-12, abs=1e-300)
    penalty.backward()
    for index, w in enumerate(weights):
        assert_grad_close(w.grad, lamda / m * np.sign(w.data), rtol=1e-12, atol=0,
                          name=f"W{index}")


def test_l1_gradient_at_zero_is_zero() -> None:
    w = leaf([[0.0, 2.0, -3.0]])
    nn.l1_penalty(w, 4.0, 2).backward()
    np.testing.assert_array_equal(w.grad.data, [[0.0, 2.0, -2.0]])


def test_penalty_known_values() -> None:
    w = leaf([[1.0, -2.0], [0.0, 3.0]])
    assert nn.l2_penalty(w, 2.0, 4).item() == pytest.approx(2.0 / 8 * 14)
    assert nn.l1_penalty(w, 2.0, 4).item() == pytest.approx(2.0 / 4 * 6)
    assert nn.l2_penalty([w, w], 1.0, 1).item() == pytest.approx(14.0)


def test_penalty_adds_to_the_loss_gradient() -> None:
    """loss + penalty: dW = (data term) + (lamda / m) W, the course's Linear backward."""
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 1, rng=0)
    layer.weight.data[...] = rng.standard_normal((1, 3))
    x, y = rng.standard_normal((3, 6)), (rng.random((1, 6)) < 0.5).astype(float)
    loss = nn.binary_cross_entropy_with_logits(layer(x), y) + nn.l2_penalty(layer.weight, 0.7, 6)
    loss.backward()
    a = np_sigmoid(layer.weight.data @ x + layer.bias.data)
    expected = (a - y) / 6 @ x.T + 0.7 / 6 * layer.weight.data
    assert_grad_close(layer.weight.grad, expected, rtol=1e-12, name="dW")


@pytest.mark.parametrize("penalty", [nn.l1_penalty, nn.l2_penalty])
@pytest.mark.parametrize("lamda", [-0.1, -5, float("nan"), float("inf")])
def test_penalty_rejects_bad_lamda(penalty, lamda) -> None:
    with pytest.raises(ValueError, match="lamda"):
        penalty(leaf([[1.0]]), lamda, 3)


@pytest.mark.parametrize("penalty", [nn.l1_penalty, nn.l2_penalty])
@pytest.mark.parametrize("m", [0, -3, 2.5, None])
def test_penalty_rejects_bad_m(penalty, m) -> None:
    with pytest.raises(ValueError, match="m .*positive integer"):
        penalty(leaf([[1.0]]), 1.0, m)


@pytest.mark.parametrize("penalty", [nn.l1_penalty, nn.l2_penalty])
@pytest.mark.parametrize("weights", [[], [np.ones(2)], "W"])
def test_penalty_rejects_non_tensors_and_empty_lists(penalty, weights) -> None:
    with pytest.raises(ValueError, match="non-empty list of Tensors"):
        penalty(weights, 1.0, 3)


def test_penalty_with_lamda_zero_is_zero_with_zero_gradient() -> None:
    w = leaf([[1.0, -2.0]])
    penalty = nn.l2_penalty(w, 0.0, 5) + nn.l1_penalty(w, 0.0, 5)
    assert penalty.item() == 0.0
    penalty.backward()
    np.testing.assert_array_equal(w.grad.data, [[0.0, 0.0]])


@pytest.mark.parametrize("penalty", [nn.l1_penalty, nn.l2_penalty])
def test_penalty_float32_stays_float32(penalty) -> None:
    w = leaf([[0.5, -1.5, 0.0]], dtype=np.float32)
    value = penalty([w, w], 0.3, 7)
    assert value.dtype == np.float32
    value.backward()
    assert w.grad.dtype == np.float32


# ============================================================ inputs that are not what they seem
@pytest.mark.parametrize("p", [[[2.0, -3.0]], [[0.5, 1.5]], [[-0.1, 0.5]]])
def test_bce_refuses_predictions_outside_zero_one_and_names_the_logits_loss(p) -> None:
    """The issue's case: logits given by mistake gave a loss of 2.2e-16 and a zero gradient."""
    with pytest.raises(ValueError, match=r"binary_cross_entropy: predictions must be "
                                         r"probabilities in \[0, 1\].*"
                                         r"binary_cross_entropy_with_logits"):
        nn.binary_cross_entropy(leaf(p), np.array([[1.0, 0.0]]))


def test_bce_accepts_the_ends_of_zero_one() -> None:
    loss = nn.binary_cross_entropy(leaf([[0.0, 1.0]]), np.array([[0.0, 1.0]]))
    assert 0 < loss.item() < 1e-12


@pytest.mark.parametrize("loss_fn", [nn.binary_cross_entropy, nn.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("labels", [np.array([["cat", "non-cat"]]), [[None, 1]], None,
                                    np.array([[1 + 0j, 0j]])],
                         ids=["strings", "none-inside", "none", "complex"])
def test_labels_that_are_not_numbers_are_a_type_error_naming_the_loss(loss_fn, labels) -> None:
    with pytest.raises(TypeError, match=rf"{loss_fn.__name__}: labels must be numbers 0 or 1"):
        loss_fn(leaf([[0.5, 0.5]]), labels)


def test_bce_float32_at_a_probability_that_rounded_to_one_is_finite() -> None:
    """p is clipped to [eps, 1 - eps] with eps of p's own dtype: in float32 a float64 eps
    rounds 1 - eps to 1.0 and log(1 - p) becomes -inf."""
    p = leaf([[1.0, 0.0]], dtype=np.float32)
    loss = nn.binary_cross_entropy(p, np.array([[0.0, 1.0]]))
    eps = np.finfo(np.float32).eps
    assert loss.dtype == np.float32
    assert loss.item() == pytest.approx(-np.log(eps), rel=1e-5)  # both samples: -log(eps) / 1
    loss.backward()
    assert p.grad.dtype == np.float32 and np.all(np.isfinite(p.grad.data))
