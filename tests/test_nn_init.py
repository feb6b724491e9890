"""Initializers: their variances (statistically, with fixed seeds), determinism, custom callables.

The weight shape is (out, in) = (300, 600) on purpose: n_in != n_out, so a formula that swaps
fan-in and fan-out, or uses 1/n_in where Xavier wants 2/(n_in + n_out), lands far from the
expected variance. With 180,000 draws the sample variance is within about 0.35 % (one standard
deviation, sqrt(2/n)) of the true one; the 3 % tolerance is more than 8 standard deviations,
while the nearest wrong formula checked below is 33 % off.
"""

from __future__ import annotations

import numpy as np
import pytest

import models
from tinygrad_edu import nn
from tinygrad_edu.nn import init

SHAPE = (300, 600)  # (n_out, n_in)
N_OUT, N_IN = SHAPE
VARIANCES = {
    "small": 0.01**2,
    "xavier": 2.0 / (N_IN + N_OUT),
    "he": 2.0 / N_IN,
    "he_course": 1.0 / (2.0 * N_IN),
}
# Plausible mistakes: every one must be outside the tolerance of the right formula.
WRONG_VARIANCES = {
    "small": [0.01, 0.001**2],
    "xavier": [1.0 / N_IN, 1.0 / N_OUT, 2.0 / N_IN, 1.0 / (N_IN + N_OUT)],
    "he": [1.0 / N_IN, 2.0 / N_OUT, 1.0 / (2.0 * N_IN)],
    "he_course": [2.0 / N_IN, 1.0 / N_IN, 1.0 / (2.0 * N_OUT)],
}
RELATIVE_TOLERANCE = 0.03


@pytest.mark.parametrize("name", sorted(VARIANCES))
def test_initializer_variance_and_mean(name) -> None:
    weights = init.INITIALIZERS[name](SHAPE, np.random.default_rng(2024))
    assert weights.shape == SHAPE
    expected = VARIANCES[name]
    variance = weights.var()
    assert abs(variance / expected - 1) < RELATIVE_TOLERANCE, (name, variance, expected)
    for wrong in WRONG_VARIANCES[name]:  # the test can tell the right formula from these
        assert abs(wrong / expected - 1) > 3 * RELATIVE_TOLERANCE
    # The mean is 0: the sample mean's standard deviation is sqrt(var / n); allow 5 of them.
    assert abs(weights.mean()) < 5 * np.sqrt(expected / weights.size)


def test_he_is_four_times_the_course_variance() -> None:
    he = init.he(SHAPE, np.random.default_rng(1))
    course = init.he_course(SHAPE, np.random.default_rng(1))
    # The same normal draws, scaled: the ratio is exactly 2 in standard deviation.
    np.testing.assert_allclose(he, 2.0 * course, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(VARIANCES))
def test_initializers_are_gaussian(name) -> None:
    """About 68.3 % of a normal's draws lie within one standard deviation (a uniform: 57.7 %)."""
    weights = init.INITIALIZERS[name](SHAPE, np.random.default_rng(7))
    inside = np.mean(np.abs(weights) < np.sqrt(VARIANCES[name]))
    assert abs(inside - 0.6827) < 0.01


@pytest.mark.parametrize("name", sorted(VARIANCES))
def test_same_seed_same_weights_different_seed_different_weights(name) -> None:
    first = nn.Linear(20, 10, init=name, rng=3).weight.data
    again = nn.Linear(20, 10, init=name, rng=np.random.default_rng(3)).weight.data
    other = nn.Linear(20, 10, init=name, rng=4).weight.data
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_linear_draws_its_weight_with_the_named_initializer() -> None:
    layer = nn.Linear(600, 300, init="he", rng=11)
    np.testing.assert_array_equal(layer.weight.data, init.he(SHAPE, np.random.default_rng(11)))
    assert layer.init_name == "he"
    assert np.all(layer.bias.data == 0)


def test_linear_default_is_the_course_small_init() -> None:
    layer = nn.Linear(600, 300, rng=5)
    assert layer.init_name == "small"
    np.testing.assert_array_equal(layer.weight.data,
                                  init.small(SHAPE, np.random.default_rng(5)))


def test_models_build_is_deterministic_per_seed() -> None:
    first = models.build("relu5_he", seed=0).state_dict()
    again = models.build("relu5_he", seed=0).state_dict()
    other = models.build("relu5_he", seed=1).state_dict()
    assert list(first) == list(again) == list(other)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name], err_msg=name)
    for name in first:
        if name.endswith("weight"):
            assert not np.allclose(first[name], other[name]), name


def test_layers_of_a_model_get_different_weights() -> None:
    """One generator feeds every layer in turn: layers of the same shape are not copies."""
    model = models.build("relu5", seed=0, in_features=30)
    weights = [layer.weight.data for layer in model.linear_layers()[:4]]  # all (30, 30)
    for i in range(len(weights)):
        for j in range(i + 1, len(weights)):
            assert not np.allclose(weights[i], weights[j])


def test_custom_callable_initializer() -> None:
    calls = []

    def constant(shape, rng):
        calls.append((shape, rng))
        return np.full(shape, 0.25)

    layer = nn.Linear(3, 2, init=constant, rng=np.random.default_rng(0))
    assert layer.weight.shape == (2, 3)
    np.testing.assert_array_equal(layer.weight.data, np.full((2, 3), 0.25))
    assert len(calls) == 1 and calls[0][0] == (2, 3)
    assert isinstance(calls[0][1], np.random.Generator)
    assert layer.init_name == "constant"
    assert init.get_initializer(constant) is constant


def test_custom_initializer_result_takes_the_layer_dtype() -> None:
    layer = nn.Linear(3, 2, init=lambda shape, rng: np.ones(shape, dtype=np.int64),
                      dtype=np.float32)
    assert layer.weight.dtype == np.float32


def test_custom_initializer_of_wrong_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"returned shape \(3, 2\), expected \(2, 3\)"):
        nn.Linear(3, 2, init=lambda shape, rng: np.zeros(shape[::-1]))


def test_get_initializer_by_name() -> None:
    for name, function in init.INITIALIZERS.items():
        assert init.get_initializer(name) is function


@pytest.mark.parametrize("name", ["glorot", "He", "", "kaiming"])
def test_unknown_initializer_name_is_an_error_listing_the_choices(name) -> None:
    with pytest.raises(ValueError) as error:
        nn.Linear(3, 2, init=name)
    message = str(error.value)
    assert repr(name) in message
    for known in init.INITIALIZERS:
        assert known in message


# ==================================================================== normal(std)
@pytest.mark.parametrize("std", [0.05, 1.0, 3.0])
def test_normal_draws_with_the_chosen_standard_deviation(std) -> None:
    weight = init.normal(std)(SHAPE, np.random.default_rng(0))
    assert weight.shape == SHAPE
    assert weight.var() == pytest.approx(std**2, rel=0.03)
    assert abs(weight.mean()) < 4 * std / np.sqrt(weight.size)


def test_normal_is_named_and_its_name_is_its_string_form() -> None:
    initializer = init.normal(1.0)
    assert initializer.__name__ == "normal(1.0)"
    layer = nn.Linear(30, 30, init=initializer, rng=0)
    assert layer.init_name == "normal(1.0)" and "init=normal(1.0)" in repr(layer)
    by_name = nn.Linear(30, 30, init="normal(1.0)", rng=0)
    np.testing.assert_array_equal(by_name.weight.data, layer.weight.data)
    again = init.get_initializer(initializer.__name__)
    np.testing.assert_array_equal(again(SHAPE, np.random.default_rng(1)),
                                  initializer(SHAPE, np.random.default_rng(1)))
    small = init.get_initializer("normal(0.01)")  # the course's small init is normal(0.01)
    np.testing.assert_array_equal(small(SHAPE, np.random.default_rng(2)),
                                  init.small(SHAPE, np.random.default_rng(2)))


@pytest.mark.parametrize("std", [0.0, -1.0, float("nan"), float("inf"), "1", True])
def test_normal_rejects_bad_standard_deviations(std) -> None:
    with pytest.raises(ValueError, match="init.normal: std must be a finite number > 0"):
        init.normal(std)


@pytest.mark.parametrize("name, message", [
    ("normal(abc)", "the standard deviation must be a number"),
    ("normal(-2)", "std must be a finite number > 0"),
    ("normal()", "the standard deviation must be a number"),
    ("normal", "unknown initializer 'normal'.*normal\\(STD\\)"),
])
def test_bad_normal_strings_are_errors(name, message) -> None:
    with pytest.raises(ValueError, match=message):
        init.get_initializer(name)
