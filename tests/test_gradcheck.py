"""gradcheck: it passes on correct gradients and fails loudly on wrong ones.

A checker that never fails proves nothing, so most tests here feed it a deliberately wrong
Function and check that the error names the input, the element and both values.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_edu import Function, GradcheckError, Tensor, gradcheck
from tinygrad_edu.gradcheck import numerical_grad
from tinygrad_edu.testing import (
    assert_grad_close,
    leaf,
)



class WrongSquare(Function):
    """out = x^2 with a wrong backward: grad * x instead of grad * 2x."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved
        return grad * x


class WrongOnlyForPositive(Function):
    """out = 3x with a backward that is right except where x > 0 (there it gives 0)."""

    def forward(self, x):
        self.save_for_backward(x)
        return 3 * x

    def backward(self, grad):
        (x,) = self.saved
        return grad * np.where(x > 0, 0.0, 3.0)


class WrongSecondInput(Function):
    """out = a * b with dL/db wrong (grad * a + 1)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        return grad * b, grad * a + 1.0


class UnreversedFlip(Function):
    """out = x reversed, with a backward that forgets to reverse the gradient back.

    Its error cancels when every output gets the same weight (the seed of ones), so only a
    check of the VJP with a non-uniform vector catches it.
    """

    def forward(self, x):
        return x[::-1].copy()

    def backward(self, grad):
        return grad


def values_in(message: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", message)]


# ==================================================================== gradcheck passes
def test_gradcheck_passes_on_correct_ops():
    x = leaf(np.linspace(-1.0, 1.0, 6).reshape(2, 3))
    w = leaf(np.linspace(0.5, 2.0, 6).reshape(3, 2))
    assert gradcheck(lambda a: (a * a).sigmoid(), x) is True
    assert gradcheck(lambda a, b: (a @ b).tanh().sum(), x, w) is True
    assert gradcheck(lambda a, b: a @ b, x, Tensor(w.data)) is True   # a constant input is fine


# ==================================================================== gradcheck fails
def test_gradcheck_fails_on_a_wrong_backward_naming_input_element_and_values():
    x = leaf([1.5, -2.0])
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda t: WrongSquare.apply(t).sum(), x)
    assert isinstance(error.value, AssertionError)
    message = str(error.value)
    assert "input 0" in message and "(0,)" in message, message
    autodiff, numeric = 1.5, 3.0      # x (wrong) and 2x (finite differences) at element 0
    found = values_in(message)
    assert any(v == autodiff for v in found), message
    assert any(abs(v - numeric) < 1e-6 for v in found), message


def test_gradcheck_names_the_wrong_element():
    x = leaf([-1.0, -2.0, 3.0, -4.0])
    with pytest.raises(GradcheckError, match=r"index \(2,\)") as error:
        gradcheck(lambda t: WrongOnlyForPositive.apply(t).sum(), x)
    found = values_in(str(error.value))
    assert 0.0 in found and any(abs(v - 3.0) < 1e-6 for v in found), str(error.value)


def test_gradcheck_names_the_wrong_input():
    a, b = leaf([[1.0, 2.0]]), leaf([[3.0, 4.0]])
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda x, y: WrongSecondInput.apply(x, y), a, b)


def test_gradcheck_checks_the_vjp_with_non_uniform_weights():
    x = leaf([1.0, 2.0, 3.0])
    assert UnreversedFlip.apply(x).sum().item() == 6.0
    gradcheck(lambda t: UnreversedFlip.apply(t).sum(), x)   # the seed of ones hides the bug...
    with pytest.raises(GradcheckError):                     # ...random weights do not
        gradcheck(lambda t: UnreversedFlip.apply(t), x)


def test_gradcheck_fails_on_a_small_error_its_tolerance_cannot_hide():
    """A gradient off by 1e-4 (relative) is caught at the default atol=1e-6, rtol=1e-5."""

    class SlightlyWrong(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return grad * 2 * (1 + 1e-4)

    with pytest.raises(GradcheckError):
        gradcheck(lambda t: SlightlyWrong.apply(t), leaf([1.0, 2.0]))


# ==================================================================== gradcheck rejects
def test_gradcheck_rejects_float32_inputs():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64") as error:
        gradcheck(lambda t: t * 2, leaf([1.0]), x)
    assert "input 1" in str(error.value) and "float32" in str(error.value)


def test_gradcheck_rejects_inputs_without_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda t: t * 2, Tensor([1.0, 2.0]))


@pytest.mark.parametrize("bad", [np.array([1.0, 2.0]), [1.0, 2.0], 3.0])
def test_gradcheck_rejects_non_tensor_arguments(bad):
    with pytest.raises(TypeError, match="argument 1") as error:
        gradcheck(lambda a, b: a * b, leaf([1.0, 2.0]), bad)
    assert type(bad).__name__ in str(error.value)


def test_gradcheck_rejects_no_arguments_and_non_tensor_results():
    with pytest.raises(ValueError, match="at least one"):
        gradcheck(lambda: Tensor(1.0))
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda t: t.data * 2, leaf([1.0]))


def test_gradcheck_reports_nan_in_the_backward_pass():
    class NanBackward(Function):
        def forward(self, x):
            return x + 1

        def backward(self, grad):
            return grad * np.nan

    with pytest.raises(FloatingPointError, match="NanBackward"):
        gradcheck(lambda t: NanBackward.apply(t).sum(), leaf([1.0]))


def test_gradcheck_reports_nan_in_the_output_itself():
    """log(-1) is NaN in the forward pass; log's backward (grad / x) stays finite there."""
    with np.errstate(invalid="ignore"), pytest.raises(
            FloatingPointError, match=r"the loss, made by Log, shape \(2,\)"):
        gradcheck(lambda t: t.log(), leaf([-1.0, 2.0]))


# ==================================================================== gradcheck leaves no trace
def test_gradcheck_restores_existing_grads_and_data():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    existing = Tensor([10.0, 20.0])
    x.grad = existing
    data_before = x.data.copy(), y.data.copy()
    gradcheck(lambda a, b: (a * b).exp(), x, y)
    assert x.grad is existing
    np.testing.assert_array_equal(existing.data, [10.0, 20.0])
    assert y.grad is None
    np.testing.assert_array_equal(x.data, data_before[0])
    np.testing.assert_array_equal(y.data, data_before[1])


def test_gradcheck_restores_existing_grads_when_it_fails():
    x = leaf([1.0, 2.0])
    existing = Tensor([7.0, 7.0])
    x.grad = existing
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: WrongSquare.apply(t), x)
    assert x.grad is existing
    np.testing.assert_array_equal(existing.data, [7.0, 7.0])
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


def test_numerical_grad_matches_a_known_derivative():
    x = leaf([0.5, 1.0, 2.0])
    estimate = numerical_grad(lambda t: (t * t * t).sum(), (x,), 0)
    assert_grad_close(estimate, 3 * x.data ** 2, rtol=1e-8, atol=1e-9, name="d(x^3)/dx")
    np.testing.assert_array_equal(x.data, [0.5, 1.0, 2.0])
