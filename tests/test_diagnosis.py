"""Tests of tinygrad_edu.diagnosis: real tiny nets, trained with the monitor attached, built to
vanish, explode, saturate, die, stick at the class prior or learn, and diagnosed from their
records and labels alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import CourseNet
from tinygrad_edu import diagnosis
from tinygrad_edu.diagnosis import class_prior_of, diagnose, l2_penalty_trace, prior_entropy
from tinygrad_edu.monitor import GradientMonitor
from tinygrad_edu.nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    l2_penalty,
)
from tinygrad_edu.optim import SGD
from tinygrad_edu.training import fit

FEATURES, SAMPLES = 64, 60


def data(seed: int = 0, informative: bool = True):
    """x uniform in [0, 1) (non-centred, like pixels), (64, 60); y with 21 positives of 60.
    Informative: y = 1 where feature 0 is among the 21 largest; else y ignores x."""
    rng = np.random.default_rng(seed)
    x = rng.random((FEATURES, SAMPLES))
    y = np.zeros((1, SAMPLES))
    if informative:
        y[0, np.argsort(x[0])[-21:]] = 1.0
    else:
        y[0, rng.permutation(SAMPLES)[:21]] = 1.0
    return x, y


def normal(std: float):
    """An initializer of N(0, std^2) weights."""
    return lambda shape, rng: rng.standard_normal(shape) * std


def run(model, x, y, iterations: int, lr: float, loss_fn=None, learning_rate=True):
    with GradientMonitor(model, learning_rate=lr if learning_rate else None) as monitor:
        kwargs = {"loss_fn": loss_fn} if loss_fn else {}
        fit(model, x, y, SGD(model.parameters(), lr=lr), iterations, callbacks=[monitor],
            **kwargs)
        return monitor.records()


def test_prior_entropy_is_the_course_loss_of_the_stuck_nets():
    assert prior_entropy(72 / 209) == pytest.approx(0.6440, abs=5e-5)
    assert prior_entropy(0.5) == pytest.approx(math.log(2))
    assert class_prior_of(np.array([[0, 1, 1, 0]])) == 0.5
    with pytest.raises(ValueError, match="class prior"):
        prior_entropy(1.0)
    with pytest.raises(ValueError, match="0 and 1"):
        class_prior_of(np.array([0.2, 1.0]))


def test_deep_sigmoid_with_small_weights_vanishes_and_sticks_at_the_prior():
    x, y = data()
    model = CourseNet([FEATURES, 20, 20, 20, 20, 1], "sigmoid", init="small", rng=0)
    records = run(model, x, y, 300, lr=1.0)
    result = diagnose(records, class_prior_of(y))
    assert result.labels == ("vanishing", "stuck at the class prior")
    # per weight: four sigmoid layers of 20 units with 0.01 weights lose ~ 20 * 1e-4 / 16 in
    # variance per layer, 1e-2 in std, so about 1e-6 over three layers
    assert result.numbers["gradient_ratio_start"] < 1e-4
    assert "layer 1 receives" in result.sentence
    assert "of layer 4's gradient per weight" in result.sentence
    assert "predicts the class prior (65.00 %)" in result.sentence
    assert "no unit saturated" in result.sentence
    assert result.numbers["prior_onset_iteration"] <= 225


def test_relu_with_small_weights_vanishes_forward():
    x, y = data()
    model = CourseNet([FEATURES, 20, 20, 20, 20, 1], "relu", init="small", rng=0)
    records = run(model, x, y, 3, lr=0.1)
    result = diagnose(records, class_prior_of(y))
    assert "vanishing" in result.labels
    # relu with 0.01 weights: sqrt(20 * 1e-4 / 2) = 0.03 per layer
    assert result.numbers["signal_factor_per_layer"] < diagnosis.VANISHING_SIGNAL_FACTOR
    assert "the std of z shrinks" in result.sentence


def test_deep_relu_with_unit_normal_weights_explodes():
    x, y = data()
    model = CourseNet([FEATURES, 30, 30, 30, 30, 30, 1], "relu", init=normal(1.0), rng=0)
    records = run(model, x, y, 3, lr=0.01)
    result = diagnose(records, class_prior_of(y))
    assert result.labels[0] == "exploding"
    # sqrt(30 / 2) = 3.9-fold per layer
    assert result.numbers["signal_factor_per_layer"] > diagnosis.EXPLODING_SIGNAL_FACTOR
    assert "the std of z grows 3.9-fold per layer" in result.sentence
    # the output saturates (|z^[L]| ~ 1e3): the clipped cross-entropy passes no gradient at all
    assert np.all(records.dw_norm == 0)


def test_exploding_steps_are_seen_in_the_update_ratio():
    # the same net on the logits loss, whose gradient (sigma(z) - y) / m survives saturation:
    # a^[4] ~ 1e2 makes dW^[5] huge, and every step of layer 5 is larger than its weights
    x, y = data()
    model = CourseNet([FEATURES, 30, 30, 30, 30, 30, 1], "relu", init=normal(1.0), rng=0)

    def logits_loss(model, x_, y_):
        return binary_cross_entropy_with_logits(model.logits(x_), y_)

    records = run(model, x, y, 3, lr=0.01, loss_fn=logits_loss)
    result = diagnose(records, class_prior_of(y))
    assert "exploding" in result.labels
    assert result.numbers["max_median_update_ratio"] > diagnosis.EXPLODING_UPDATE_RATIO
    assert "times its weights (median over the run)" in result.sentence


def test_tanh_with_large_weights_saturates():
    x, y = data()
    model = CourseNet([FEATURES, 20, 20, 1], "tanh", init=normal(3.0), rng=0)
    records = run(model, x, y, 5, lr=0.01)
    result = diagnose(records, class_prior_of(y))
    assert "saturated" in result.labels
    assert result.numbers["max_saturated_fraction"] >= diagnosis.SATURATED_FRACTION
    assert "have |z| > 4" in result.sentence


def test_relu_units_pushed_below_zero_are_dead():
    x, y = data()
    model = CourseNet([FEATURES, 20, 20, 1], "relu", init="he", rng=0)
    model.fc2.bias.data[:14] = -100.0  # 14 of 20 units: z^[2] <= 0 for every sample, forever
    records = run(model, x, y, 20, lr=0.1)
    result = diagnose(records, class_prior_of(y))
    assert "dead units" in result.labels
    assert result.numbers["max_dead_fraction"] == pytest.approx(14 / 20)
    assert "70% of layer 2's units are dead" in result.sentence


def test_a_net_that_cannot_tell_the_samples_apart_sticks_at_the_prior_penalty_aside():
    x, y = data(informative=False)
    x[:] = x[:, :1]  # every sample is the same image: the best answer is the prior
    # tanh, not relu: with identical samples half of a ReLU layer is "dead" for the batch
    model = CourseNet([FEATURES, 16, 16, 1], "tanh", init="xavier", rng=0)

    def loss_fn(model, x_, y_):
        return (binary_cross_entropy(model(x_), y_)
                + l2_penalty(model.fc1.weight, lamda=1.0, m=SAMPLES))

    records = run(model, x, y, 400, lr=0.1, loss_fn=loss_fn)
    penalty = l2_penalty_trace(records, lamda=1.0, m=SAMPLES, layers=(1,))
    expected = 1.0 / (2 * SAMPLES) * np.sum(model.fc1.weight.data ** 2)  # after the last step
    assert penalty[-1] == pytest.approx(expected, rel=1e-2)
    assert penalty[-1] > 2 * diagnosis.PRIOR_LOSS_TOLERANCE  # the penalty matters here
    result = diagnose(records, class_prior_of(y), penalty=penalty)
    assert result.labels == ("stuck at the class prior",)
    assert result.numbers["final_data_loss"] == pytest.approx(prior_entropy(21 / 60), abs=1e-3)
    # without subtracting the penalty, the loss is not at the prior's entropy
    assert "stuck at the class prior" not in diagnose(records, class_prior_of(y)).labels


def test_a_net_that_learns_is_healthy():
    x, y = data()
    model = CourseNet([FEATURES, 16, 16, 1], "relu", init="he", rng=0)
    records = run(model, x, y, 300, lr=0.5)
    result = diagnose(records, class_prior_of(y))
    assert result.labels == ("healthy",)
    assert records.loss[-1] < prior_entropy(21 / 60) - 0.2
    assert result.sentence.startswith("healthy: at the start layer 1 receives")
    assert 0 < result.numbers["final_update_ratio"][0] < diagnosis.EXPLODING_UPDATE_RATIO


def test_without_a_learning_rate_the_update_ratio_is_not_used():
    x, y = data()
    model = CourseNet([FEATURES, 16, 16, 1], "relu", init="he", rng=0)
    records = run(model, x, y, 3, lr=0.5, learning_rate=False)
    result = diagnose(records, class_prior_of(y))
    assert result.numbers["max_median_update_ratio"] is None
    assert result.numbers["final_update_ratio"] is None


def test_refuses_empty_records_and_a_mismatched_penalty():
    x, y = data()
    model = CourseNet([FEATURES, 8, 8, 1], "relu", init="he", rng=0)
    records = run(model, x, y, 4, lr=0.1)
    with pytest.raises(ValueError, match="penalty of shape"):
        diagnose(records, 0.35, penalty=np.zeros(3))
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        l2_penalty_trace(records, 1.0, 60, layers=(5,))
    with GradientMonitor(model) as monitor:
        with pytest.raises(ValueError, match="empty"):
            diagnose(monitor.records(), 0.35)


def test_the_gradient_ratio_is_per_weight():
    x, y = data()
    model = CourseNet([FEATURES, 16, 12, 1], "relu", init="he", rng=0)
    records = run(model, x, y, 2, lr=0.1)
    per_weight = records.dw_norm[0] / np.sqrt([16 * FEATURES, 12 * 16, 1 * 12])
    result = diagnose(records, class_prior_of(y))
    assert result.numbers["gradient_ratio_start"] == pytest.approx(per_weight[0] / per_weight[1])


def test_stuck_means_at_the_prior_for_the_last_quarter_of_the_run():
    x, y = data()
    model = CourseNet([FEATURES, 16, 16, 1], "relu", init="he", rng=0)
    records = run(model, x, y, 100, lr=0.5)
    entropy = prior_entropy(class_prior_of(y))
    records.loss[:] = entropy + 0.3          # far from the prior ...
    records.loss[-20:] = entropy + 0.002     # ... but at it for the last 20 of 100 iterations
    assert "stuck at the class prior" not in diagnose(records, class_prior_of(y)).labels
    records.loss[-30:] = entropy - 0.002     # the last 30: more than a quarter of the run
    result = diagnose(records, class_prior_of(y))
    assert "stuck at the class prior" in result.labels
    assert result.numbers["prior_onset_iteration"] == 70
