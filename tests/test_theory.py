"""Tests of tinygrad_edu.theory: its predictions against Monte Carlo at large width.

The Monte Carlo here draws R independent nets (fresh weights and fresh inputs each time), runs
them forward and backward in plain NumPy (written out below, not with the theory's code) and
averages. Its tolerance is derived from the sample: R replicates give a standard error SE of the
mean from their own spread, and a prediction must lie within Z_TOLERANCE standard errors.

What the theory claims, and so what is tested:
* forward: E[(z^[l])^2] (over units, samples and weight draws) = the predicted var(z^[l]);
* backward: E ||dW^[l]||_F^2 / E ||dW^[L-1]||_F^2 = the predicted ratio squared, with the
  per-sample gradients added the same way at every layer: the test takes ||dW||_F^2 of one
  sample at a time (||dz_mu||^2 ||a_mu||^2, the rank-one dW of a batch of one), averaged over
  samples, because the theory's factor C (how samples add up) is assumed, not predicted.

The mean-field recursion is exact in expectation for relu and leaky relu at any width; for the
bent activations it neglects a bias of order 1/n (the variance a unit sees fluctuates by
sqrt(2/n) from one draw to the next): below 2 % at the widths drawn here (60 to 200, measured
with 200 replicates), which is less than one standard error of these R = 40 replicates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import CourseNet
from tinygrad_edu import theory
from tinygrad_edu.monitor import GradientMonitor
from tinygrad_edu.nn import init as nn_init
from tinygrad_edu.nn.losses import binary_cross_entropy
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.testing import activation_names, initializers, layer_widths

REPLICATES = 40
SAMPLES = 8
Z_TOLERANCE = 4.0  # standard errors: a correct formula fails one comparison in ~16,000
MC_SEED = 20261129


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def activation_and_slope(name: str, negative_slope: float):
    """f and f' written out here, independently of the theory module."""
    return {
        "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
        "centered_sigmoid": (lambda z: sigmoid(z) - 0.5, lambda z: sigmoid(z) * (1 - sigmoid(z))),
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
        "leaky_relu": (lambda z: np.where(z > 0, z, negative_slope * z),
                       lambda z: np.where(z > 0, 1.0, negative_slope)),
    }[name]


def monte_carlo(widths, activation, stds, negative_slope, seed=MC_SEED):
    """Per replicate: mean of z^2 per layer, mean over samples of ||dz_mu||^2 ||a_mu||^2 per
    layer, and mean of x^2. Inputs are uniform in [0, 1): not centred, like pixels."""
    rng = np.random.default_rng(seed)
    f, f_prime = activation_and_slope(activation, negative_slope)
    depth = len(widths) - 1
    z_square = np.empty((REPLICATES, depth))
    grad_square = np.empty((REPLICATES, depth))
    x_square = np.empty(REPLICATES)
    for r in range(REPLICATES):
        x = rng.random((widths[0], SAMPLES))
        x_square[r] = np.mean(x * x)
        weights = [rng.standard_normal((widths[k], widths[k - 1])) * stds[k - 1]
                   for k in range(1, depth + 1)]
        activations, zs = [x], []
        for k in range(depth):
            z = weights[k] @ activations[-1]                        # (n_k, m)
            zs.append(z)
            z_square[r, k] = np.mean(z * z)
            if k < depth - 1:
                activations.append(f(z))
        dz = rng.standard_normal((widths[-1], SAMPLES))  # any dz^[L]: the ratios cancel it
        for k in range(depth - 1, -1, -1):
            per_sample = np.sum(dz * dz, axis=0) * np.sum(activations[k] ** 2, axis=0)
            grad_square[r, k] = np.mean(per_sample)     # ||dz_mu a_mu^T||_F^2, averaged
            if k > 0:
                dz = (weights[k].T @ dz) * f_prime(zs[k - 1])       # (n_{k}, m)
    return z_square, grad_square, x_square


def ratio_of_means_and_se(numerator: np.ndarray, denominator: np.ndarray):
    """mean(num) / mean(den) and its standard error by the delta method."""
    count = numerator.shape[0]
    mean_n, mean_d = numerator.mean(), denominator.mean()
    ratio = mean_n / mean_d
    covariance = np.cov(numerator, denominator)
    relative_variance = (covariance[0, 0] / mean_n ** 2 + covariance[1, 1] / mean_d ** 2
                         - 2 * covariance[0, 1] / (mean_n * mean_d)) / count
    return ratio, abs(ratio) * math.sqrt(max(relative_variance, 0.0))


@settings(max_examples=12, deadline=None)
@given(widths=layer_widths(min_hidden=1, max_hidden=3, min_width=60, max_width=200, max_out=3),
       activation=activation_names(), init=initializers(min_std=0.03, max_std=0.25),
       negative_slope=st.floats(0.0, 0.5))
def test_predictions_agree_with_monte_carlo_at_large_width(widths, activation, init,
                                                           negative_slope):
    stds = [theory.weight_std(init, widths[k - 1], widths[k]) for k in range(1, len(widths))]
    z_square, grad_square, x_square = monte_carlo(widths, activation, stds, negative_slope)
    prediction = theory.predict(widths, activation, init, float(x_square.mean()),
                                negative_slope)

    # forward: every layer, the output included. The standard error is the replicates' own,
    # but at least that of R * n_l independent Gaussian draws (var(z^2) = 2 v^2): the m samples
    # of one unit can be perfectly correlated (non-centred inputs make them alike, and a
    # sigmoid layer's a ~ 1/2 for every sample), so only the units are sure to be independent,
    # and a spread estimated from 40 skewed chi-square values can come out far too small.
    for k in range(len(widths) - 1):
        estimate = z_square[:, k].mean()
        standard_error = max(z_square[:, k].std(ddof=1) / math.sqrt(REPLICATES),
                             prediction.z_variance[k] * math.sqrt(2 / (REPLICATES * widths[k + 1])))
        assert abs(estimate - prediction.z_variance[k]) <= Z_TOLERANCE * standard_error, (
            f"layer {k + 1}: Monte Carlo E[z^2] {estimate:.5g} +- {standard_error:.2g}, "
            f"predicted {prediction.z_variance[k]:.5g}")

    # backward: every layer's ||dW||^2 relative to the last hidden layer's
    last_hidden = len(widths) - 3
    for k in range(len(widths) - 1):
        if k == last_hidden:
            assert prediction.gradient_ratio[k] == pytest.approx(1.0)
            continue
        estimate, standard_error = ratio_of_means_and_se(grad_square[:, k],
                                                         grad_square[:, last_hidden])
        predicted = prediction.gradient_ratio[k] ** 2
        assert abs(estimate - predicted) <= Z_TOLERANCE * standard_error, (
            f"layer {k + 1}: Monte Carlo ||dW||^2 ratio {estimate:.5g} +- "
            f"{standard_error:.2g}, predicted {predicted:.5g}")


# ---------------------------------------------------------------- the pieces, exactly
@pytest.mark.parametrize("variance", [0.0, 1e-6, 0.3, 1.0, 2.5, 40.0, 1e6])
def test_gaussian_expectation_on_closed_forms(variance):
    # E[z^2] = v, E[z^4] = 3 v^2, E[cos z] = exp(-v/2): both quadrature rules, v = 0 included
    assert theory.gaussian_expectation(lambda z: z ** 2, variance) == pytest.approx(
        variance, rel=1e-9, abs=1e-300)
    assert theory.gaussian_expectation(lambda z: z ** 4, variance) == pytest.approx(
        3 * variance ** 2, rel=1e-9, abs=1e-300)
    if variance <= 40.0:  # beyond, cos oscillates faster than the panels resolve
        assert theory.gaussian_expectation(np.cos, variance) == pytest.approx(
            math.exp(-variance / 2), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("variance", [0.01, 0.5, 0.9, 3.0, 100.0])
def test_closed_forms_agree_with_a_fine_riemann_sum(variance):
    std = math.sqrt(variance)
    z = np.linspace(-12 * std, 12 * std, 400_001)
    density = np.exp(-z * z / (2 * variance)) / math.sqrt(2 * math.pi * variance)
    step = z[1] - z[0]
    for name in ("sigmoid", "centered_sigmoid", "tanh", "relu", "leaky_relu"):
        f, f_prime = activation_and_slope(name, 0.1)
        assert theory.second_moment(name, variance, 0.1) == pytest.approx(
            np.sum(f(z) ** 2 * density) * step, rel=1e-4), name
        assert theory.slope_second_moment(name, variance, 0.1) == pytest.approx(
            np.sum(f_prime(z) ** 2 * density) * step, rel=1e-4), name


def test_known_values_of_the_lesson():
    # relu halves; the centred sigmoid's slope is 1/4 at 0, so E[f'^2] -> 1/16; tanh's is 1
    assert theory.second_moment("relu", 0.8) == pytest.approx(0.4)
    assert theory.slope_second_moment("relu", 123.0) == 0.5
    assert theory.second_moment("leaky_relu", 2.0, 0.2) == pytest.approx(1.04 * 2.0 / 2)
    assert theory.slope_second_moment("centered_sigmoid", 1e-8) == pytest.approx(1 / 16)
    assert theory.slope_second_moment("tanh", 1e-8) == pytest.approx(1.0)
    assert theory.second_moment("sigmoid", 1e-8) == pytest.approx(0.25)  # E[a]^2 counts


@pytest.mark.parametrize("name", ["small", "xavier", "he", "he_course"])
def test_weight_std_is_the_std_the_initializers_draw(name):
    n_out, n_in = 300, 600
    weights = nn_init.INITIALIZERS[name]((n_out, n_in), np.random.default_rng(7))
    predicted = theory.weight_std(name, n_in, n_out)
    # the sample std of N draws has a standard error of std / sqrt(2 N)
    assert abs(weights.std() - predicted) <= Z_TOLERANCE * predicted / math.sqrt(2 * weights.size)
    assert theory.weight_std(0.37, n_in, n_out) == 0.37


def test_he_keeps_the_variance_and_the_course_he_quarters_it():
    widths = (12288, 30, 30, 30, 30, 1)
    he = theory.predict(widths, "relu", "he", 0.23)
    np.testing.assert_allclose(he.z_std, he.z_std[0], rtol=1e-12)
    np.testing.assert_allclose(he.backward_factor[:-1], 1.0, rtol=1e-12)
    course = theory.predict(widths, "relu", "he_course", 0.23)
    np.testing.assert_allclose(course.z_std[1:] / course.z_std[:-1], 0.5, rtol=1e-12)
    # the weight counts: equal per weight, layer 1's Frobenius norm is sqrt(12288 / 30) times
    assert he.gradient_ratio[0] == pytest.approx(math.sqrt(12288 / 30))
    assert he.gradient_ratio_per_weight[0] == pytest.approx(1.0)


def test_refuses_what_it_cannot_predict():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        theory.predict((5, 4, 1), "gelu", "he", 1.0)
    with pytest.raises(ValueError, match="hidden layer"):
        theory.predict((5, 1), "relu", "he", 1.0)
    with pytest.raises(ValueError, match="unknown init 'lecun'"):
        theory.weight_std("lecun", 3, 4)
    with pytest.raises(ValueError, match="variance"):
        theory.gaussian_expectation(np.tanh, float("inf"))


# ---------------------------------------------------------------- against the monitor
def test_measured_at_init_reads_the_monitors_first_iteration_and_compares():
    rng = np.random.default_rng(5)
    x = rng.random((400, 50))
    y = (rng.random((1, 50)) < 0.4).astype(float)
    records = []
    for seed in (0, 1):
        model = CourseNet([400, 120, 120, 1], "tanh", init="xavier", rng=seed)
        with GradientMonitor(model, meta={"seed": seed}) as monitor:
            model.zero_grad()
            binary_cross_entropy(model(Tensor(x)), Tensor(y)).backward()
            monitor(0, model, 0.0)
            records.append(monitor.records())
        z1 = model.fc1.weight.data @ x + model.fc1.bias.data
        assert records[-1].stats["z_std"][0, 0] == pytest.approx(z1.std())
    measured = theory.measured_at_init(records)
    assert measured.z_std.shape == (2, 2) and measured.gradient_ratio.shape == (2, 3)
    np.testing.assert_allclose(measured.gradient_ratio[:, 1], 1.0)
    first = records[0].dw_norm[0, 0] / records[0].dw_norm[0, 1]
    assert measured.gradient_ratio[0, 0] == pytest.approx(first)
    assert measured.gradient_ratio_mean[0] == pytest.approx(
        math.sqrt(measured.gradient_ratio[0, 0] * measured.gradient_ratio[1, 0]))

    prediction = theory.predict((400, 120, 120, 1), "tanh", "xavier",
                                theory.input_second_moment(x))
    rows = theory.comparison_rows(prediction, measured)
    assert [row["layer"] for row in rows] == [1, 2, 3]
    assert rows[2]["z_std_measured"] is None  # the monitor does not see z^[L]
    # the std of z^[1] with 120 units: within a few 1/sqrt(2 * 120) of the prediction
    assert rows[0]["z_std_measured_over_predicted"] == pytest.approx(1.0, abs=0.2)
    table = theory.comparison_table(prediction, measured)
    assert table.count("\n") == 4 and "| 3 |" in table

    later = records[0]
    later.iterations[:] = 5
    with pytest.raises(ValueError, match="iteration 0"):
        theory.measured_at_init(later)


def test_study_columns_for_the_table_and_the_json():
    import json
    from types import SimpleNamespace

    from tinygrad_edu.diagnosis import diagnose, l2_penalty_trace
    from tinygrad_edu.optim import SGD
    from tinygrad_edu.training import fit

    rng = np.random.default_rng(3)
    x = rng.random((100, 40))
    y = (rng.random((1, 40)) < 0.3).astype(float)
    spec = SimpleNamespace(hidden=(20, 20), activation="tanh", init="xavier", lamda=0.7,
                           penalized_layers=(1,))

    def loss_fn(model, x_, y_):
        from tinygrad_edu.nn.losses import l2_penalty
        return (binary_cross_entropy(model(x_), y_)
                + l2_penalty(model.fc1.weight, lamda=0.7, m=40))

    records = []
    for seed in (0, 1):
        model = CourseNet([100, 20, 20, 1], "tanh", init="xavier", rng=seed)
        with GradientMonitor(model, learning_rate=0.2, meta={"seed": seed}) as monitor:
            fit(model, x, y, SGD(model.parameters(), lr=0.2), 30, loss_fn=loss_fn,
                callbacks=[monitor])
            records.append(monitor.records())
    columns = theory.study_columns(spec, records, x, y)
    json.dumps(columns, allow_nan=False)  # JSON-able, no NaN
    prediction = theory.predict((100, 20, 20, 1), "tanh", "xavier", theory.input_second_moment(x))
    assert columns["gradient_ratio_first_predicted"] == pytest.approx(
        prediction.gradient_ratio[0])
    assert columns["gradient_ratio_first_measured"] == pytest.approx(
        theory.measured_at_init(records).gradient_ratio_mean[0])
    assert columns["final_update_ratio"][1] == pytest.approx(list(records[1].update_ratio[-1]))
    expected = diagnose(records[0], float(y.mean()),
                        penalty=l2_penalty_trace(records[0], 0.7, 40, (1,)))
    assert columns["diagnosis"][0] == expected.sentence
    assert columns["diagnosis_labels"][0] == list(expected.labels)
    assert len(columns["comparison"]) == 3
    assert "diagnosis" not in theory.study_columns(spec, records, x)
