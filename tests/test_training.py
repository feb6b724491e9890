"""fit() and accuracy(): the loop's contract (losses, callbacks, NaN stop, errors), evaluation."""

from __future__ import annotations

import numpy as np
import pytest

import models
from tinygrad_edu import Tensor, is_grad_enabled, nn
from tinygrad_edu.optim import SGD
from tinygrad_edu.training import (
    STALLED_ITERATIONS,
    NoGradientWarning,
    accuracy,
    bce_loss,
    fit,
    predict,
)


def separable_problem(m: int = 40, seed: int = 0):
    """Two features, labels 1 where x1 + x2 > 0, with a margin: a logistic regression learns it."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(2, m))
    x = x[:, np.abs(x.sum(axis=0)) > 0.2]
    y = (x.sum(axis=0, keepdims=True) > 0).astype(np.float64)
    return x, y


def logistic_model() -> models.CourseNet:
    return models.CourseNet([2, 1], "sigmoid", rng=0)


class Probabilities(nn.Module):
    """A 'model' whose output is its input: accuracy() on given probabilities."""

    def forward(self, x):
        return x * 1.0


# ==================================================================== fit
def test_fit_returns_one_loss_per_iteration_and_learns() -> None:
    x, y = separable_problem()
    model = logistic_model()
    losses = fit(model, x, y, SGD(model.parameters(), lr=2.0), iterations=60)
    assert isinstance(losses, np.ndarray) and losses.shape == (60,)
    assert np.all(np.isfinite(losses))
    assert losses[0] == pytest.approx(np.log(2), abs=0.01)  # tiny initial weights: p ~ 0.5
    # Gradient descent on a convex loss with a small enough step never goes up.
    assert np.all(np.diff(losses) <= 1e-12)
    assert losses[-1] < 0.4 * losses[0]
    assert accuracy(model, x, y) == 1.0


def test_fit_losses_are_the_loss_before_each_step() -> None:
    x, y = separable_problem()
    model = logistic_model()
    first = bce_loss(model, Tensor(x), Tensor(y)).item()
    losses = fit(model, x, y, SGD(model.parameters(), lr=1.0), iterations=3)
    assert losses[0] == first
    after = bce_loss(model, Tensor(x), Tensor(y)).item()
    assert after < losses[-1]  # the last recorded loss is before the last step


def test_fit_accepts_tensors_and_puts_the_model_in_training_mode() -> None:
    x, y = separable_problem()
    model = logistic_model().eval()
    fit(model, Tensor(x), Tensor(y), SGD(model.parameters(), lr=1.0), iterations=1)
    assert model.training


def test_fit_uses_the_given_loss_fn() -> None:
    x, y = separable_problem()
    model = logistic_model()
    seen = []

    def loss_fn(model_, x_, y_):
        seen.append((model_, x_.shape, y_.shape))
        return nn.binary_cross_entropy_with_logits(model_.logits(x_), y_)

    losses = fit(model, x, y, SGD(model.parameters(), lr=1.0), iterations=2, loss_fn=loss_fn)
    assert len(seen) == 2 and seen[0][0] is model
    assert seen[0][1] == x.shape and seen[0][2] == y.shape
    assert losses[1] < losses[0]


def test_callbacks_run_every_iteration_after_backward_before_step() -> None:
    x, y = separable_problem()
    model = logistic_model()
    lr = 0.5
    records = []

    def callback(iteration, model_, loss):
        assert model_ is model
        grads = {name: None if p.grad is None else p.grad.data.copy()
                 for name, p in model_.named_parameters()}
        records.append((iteration, loss, model_.state_dict(), grads))

    other_calls = []
    losses = fit(model, x, y, SGD(model.parameters(), lr=lr), iterations=4,
                 callbacks=[callback, lambda i, m_, loss: other_calls.append(i)])
    assert [r[0] for r in records] == [0, 1, 2, 3]
    assert other_calls == [0, 1, 2, 3]
    assert [r[1] for r in records] == list(losses)
    for index, (_, _, params, grads) in enumerate(records):
        assert all(g is not None for g in grads.values()), index
        # The parameters the callback saw, moved by its gradients, are the next ones.
        following = records[index + 1][2] if index + 1 < len(records) else model.state_dict()
        for name in params:
            np.testing.assert_allclose(following[name], params[name] - lr * grads[name],
                                       rtol=1e-13, atol=1e-15, err_msg=name)


def test_callback_sees_the_gradient_of_this_iteration_only() -> None:
    """zero_grad runs each iteration: the callback's gradient is not a running sum."""
    x, y = separable_problem()
    model = logistic_model()
    seen = []
    fit(model, x, y, SGD(model.parameters(), lr=1e-12), iterations=3,
        callbacks=[lambda i, m_, loss: seen.append(m_.fc1.weight.grad.data.copy())])
    np.testing.assert_allclose(seen[2], seen[0], rtol=1e-6)  # ~ same weights, same gradient


def test_nan_loss_stops_with_floating_point_error_naming_the_iteration() -> None:
    x, y = separable_problem()
    model = logistic_model()
    calls = []

    def loss_fn(model_, x_, y_):
        calls.append(len(calls))
        loss = bce_loss(model_, x_, y_)
        return loss * float("nan") if len(calls) == 4 else loss  # iteration 3

    callback_iterations = []
    with pytest.raises(FloatingPointError, match="iteration 3"):
        fit(model, x, y, SGD(model.parameters(), lr=0.5), iterations=10, loss_fn=loss_fn,
            callbacks=[lambda i, m_, loss: callback_iterations.append(i)])
    assert calls == [0, 1, 2, 3]
    assert callback_iterations == [0, 1, 2]
    # The NaN gradients never reached the weights.
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_infinite_loss_stops_too() -> None:
    x, y = separable_problem()
    model = logistic_model()

    def loss_fn(model_, x_, y_):
        return bce_loss(model_, x_, y_) * float("inf")

    with pytest.raises(FloatingPointError, match="iteration 0"):
        fit(model, x, y, SGD(model.parameters(), lr=0.5), iterations=3, loss_fn=loss_fn)


@pytest.mark.parametrize("iterations", [0, -1, 2.5, "10", None])
def test_bad_iterations_is_an_error(iterations) -> None:
    x, y = separable_problem()
    model = logistic_model()
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        fit(model, x, y, SGD(model.parameters(), lr=0.1), iterations=iterations)


@pytest.mark.parametrize("x_shape, y_shape", [((2, 10), (1, 9)), ((2, 10), (10,)),
                                              ((10,), (1, 10)), ((2, 10, 1), (1, 10))])
def test_mismatched_x_and_y_are_an_error_naming_the_shapes(x_shape, y_shape) -> None:
    model = logistic_model()
    with pytest.raises(ValueError) as error:
        fit(model, np.zeros(x_shape), np.zeros(y_shape), SGD(model.parameters(), lr=0.1), 1)
    assert str(x_shape) in str(error.value) and str(y_shape) in str(error.value)


# ==================================================================== accuracy and predict
def test_accuracy_thresholds_at_one_half() -> None:
    probabilities = np.array([[0.2, 0.5, 0.500001, 0.9, 0.7, 0.1]])
    labels = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 1.0]])
    # predictions: 0, 0 (0.5 is not above 0.5: the course's rule), 1, 1, 1, 0
    np.testing.assert_array_equal(predict(Probabilities(), probabilities), [[0, 0, 1, 1, 1, 0]])
    assert accuracy(Probabilities(), probabilities, labels) == pytest.approx(3 / 6)
    assert accuracy(Probabilities(), probabilities, Tensor(labels)) == pytest.approx(3 / 6)
    # threshold 0.8: predictions 0, 0, 0, 1, 0, 0
    assert accuracy(Probabilities(), probabilities, labels, threshold=0.8) == pytest.approx(1 / 6)


def test_accuracy_label_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="accuracy"):
        accuracy(Probabilities(), np.array([[0.2, 0.8]]), np.array([0.0, 1.0]))


def test_accuracy_runs_in_eval_mode_without_a_graph_and_restores_the_mode() -> None:
    model = nn.Sequential(nn.Linear(3, 8, rng=0, init="he"), nn.ReLU(), nn.Dropout(0.5, rng=0),
                          nn.Linear(8, 1, rng=1, init="he"), nn.Sigmoid())
    seen = []
    model.register_forward_hook(lambda module, inputs, output: seen.append(
        (module.training, module[2].training, output._ctx, output.requires_grad,
         is_grad_enabled())))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 200)), (rng.random((1, 200)) < 0.5).astype(float)

    model.train()
    first = accuracy(model, x, y)
    assert model.training and model[2].training  # restored
    assert seen[-1] == (False, False, None, False, False)
    assert is_grad_enabled()
    second = accuracy(model, x, y)
    assert first == second  # dropout off: deterministic

    model.eval()
    assert accuracy(model, x, y) == first
    assert not model.training and not model[2].training  # stays in eval mode

    model.train()
    expected = np.mean((model.eval()(Tensor(x)).data > 0.5) == y)
    assert first == pytest.approx(expected)


def test_accuracy_restores_the_mode_when_the_forward_fails() -> None:
    model = nn.Sequential(nn.Linear(3, 1, rng=0), nn.Sigmoid())
    with pytest.raises(ValueError):
        accuracy(model, np.zeros((4, 5)), np.zeros((1, 5)))  # wrong feature count
    assert model.training and model[0].training
    assert is_grad_enabled()


# ============================================================ training that cannot be right
def small_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(20, 50)), (rng.random((1, 50)) < 0.5).astype(np.float64)


def test_a_learning_rate_that_saturates_every_unit_is_reported() -> None:
    """The issue's case: at lr = 1e6 the loss jumps and stays, every gradient exactly 0."""
    x, y = small_problem()
    model = models.build("sigmoid4", seed=0, in_features=20)
    with pytest.warns(NoGradientWarning, match=rf"CourseNet.*for {STALLED_ITERATIONS} "
                                               rf"iterations.*learning rate \(now 1e\+06\)"):
        losses = fit(model, x, y, SGD(model.parameters(), lr=1e6), STALLED_ITERATIONS + 10)
    assert np.all(losses[1:] == losses[1])  # what the warning is about: nothing moves


def test_a_healthy_run_gives_no_warning(recwarn) -> None:
    x, y = small_problem()
    model = models.build("sigmoid4", seed=0, in_features=20)
    fit(model, x, y, SGD(model.parameters(), lr=0.1), STALLED_ITERATIONS + 10)
    assert not [w for w in recwarn if issubclass(w.category, NoGradientWarning)]


def test_an_optimizer_of_another_model_is_an_error_naming_both() -> None:
    x, y = separable_problem()
    trained, other = logistic_model(), logistic_model()
    before = other.state_dict()
    with pytest.raises(ValueError, match=r"loss of CourseNet reaches none of the 2 parameters "
                                         r"of the SGD optimizer"):
        fit(trained, x, y, SGD(other.parameters(), lr=0.5), iterations=5)
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_fit_uses_the_callers_arrays_without_a_copy() -> None:
    x, y = separable_problem()
    model = logistic_model()
    seen = []

    def loss_fn(model_, x_, y_):
        seen.append((x_.data is x, y_.data is y))
        return bce_loss(model_, x_, y_)

    fit(model, x, y, SGD(model.parameters(), lr=0.5), iterations=2, loss_fn=loss_fn)
    assert seen == [(True, True), (True, True)]
