"""Tests of tinygrad_edu.monitor: every recorded number against the same number computed here from
the model's own gradients and from a forward pass written out in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import CourseNet
from tinygrad_edu.monitor import (
    ACTIVATION_STATS,
    GradientMonitor,
    MonitorRecords,
    _dead_and_zero_fractions,
    _mean_and_variance,
    _squared_row_norms,
)
from tinygrad_edu.nn.losses import binary_cross_entropy
from tinygrad_edu.optim import SGD
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.testing import arrays, shapes
from tinygrad_edu.training import fit

RNG_SEED = 3


def tiny_problem(activation: str = "sigmoid", m: int = 6):
    """CourseNet 5-4-3-1 with Xavier weights (gradients far from 0), non-zero biases, m samples."""
    rng = np.random.default_rng(RNG_SEED)
    model = CourseNet([5, 4, 3, 1], activation, init="xavier", rng=RNG_SEED)
    for layer in model.linear_layers():
        layer.bias.data[:] = rng.normal(0.0, 0.3, size=layer.bias.shape)
    x = rng.normal(0.0, 1.5, size=(5, m))
    y = (rng.random((1, m)) < 0.5).astype(np.float64)
    y[0, :2] = (0.0, 1.0)  # both classes present
    return model, x, y


def one_step(model, x, y, monitor, iteration: int = 0) -> float:
    """Forward, loss, backward and one monitor call: what fit does before the update."""
    model.zero_grad()
    loss = binary_cross_entropy(model(Tensor(x)), Tensor(y))
    loss.backward()
    monitor(iteration, model, loss.item())
    return loss.item()


def numpy_forward(model, x, activation):
    """z^[l] and a^[l] of each hidden layer, computed here without the engine."""
    g = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0),
         "tanh": np.tanh}[activation]
    zs, activations, a = [], [], x
    for layer in model.linear_layers()[:-1]:
        z = layer.weight.data @ a + layer.bias.data
        a = g(z)
        zs.append(z)
        activations.append(a)
    return zs, activations


# ---------------------------------------------------------------------------- gradients
def test_per_neuron_norms_equal_the_norms_of_the_gradient_rows():
    model, x, y = tiny_problem()
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    assert records.layer_names == ["fc1", "fc2", "fc3"]
    for index, layer in enumerate(model.linear_layers()):
        grad = layer.weight.grad.data
        assert records.dw_neuron_norms[index].shape == (1, layer.out_features)
        for j in range(layer.out_features):
            expected = np.sqrt(sum(value * value for value in grad[j]))  # by hand, row j
            assert records.dw_neuron_norms[index][0, j] == pytest.approx(expected, rel=1e-12)


def test_bias_and_frobenius_norms_equal_the_gradients_norms():
    model, x, y = tiny_problem()
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    for index, layer in enumerate(model.linear_layers()):
        frobenius = np.sqrt(np.sum(layer.weight.grad.data ** 2))
        bias = np.sqrt(np.sum(layer.bias.grad.data ** 2))
        assert frobenius > 0 and bias > 0
        assert records.dw_norm[0, index] == pytest.approx(frobenius, rel=1e-12)
        assert records.db_norm[0, index] == pytest.approx(bias, rel=1e-12)


def test_records_follow_fit_and_see_the_gradients_before_the_update():
    model, x, y = tiny_problem()
    seen = []  # the first layer's gradient norm as fit's callback sees it, after the monitor

    def spy(iteration, model_, loss):
        seen.append(np.linalg.norm(model_.fc1.weight.grad.data))

    with GradientMonitor(model) as monitor:
        losses = fit(model, x, y, SGD(model.parameters(), lr=0.5), 4, callbacks=[monitor, spy])
        records = monitor.records(experiment="tiny")
    np.testing.assert_array_equal(records.iterations, [0, 1, 2, 3])
    np.testing.assert_array_equal(records.loss, losses)
    np.testing.assert_allclose(records.dw_norm[:, 0], seen, rtol=1e-12)
    assert records.meta == {"experiment": "tiny"}
    assert records.gradient_ratio(-1) == pytest.approx(records.dw_norm[-1, 0]
                                                       / records.dw_norm[-1, 1])


# ---------------------------------------------------------------------------- activations
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_activation_stats_equal_those_of_our_own_forward(activation):
    model, x, y = tiny_problem(activation)
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    zs, activations = numpy_forward(model, x, activation)
    assert records.hidden_names == ["act1", "act2"]
    assert records.activations == [activation, activation]
    for layer, (z, a) in enumerate(zip(zs, activations, strict=True)):
        assert records.stats["z_mean"][0, layer] == pytest.approx(z.mean(), rel=1e-10)
        assert records.stats["z_std"][0, layer] == pytest.approx(z.std(), rel=1e-10)
        assert records.stats["a_mean"][0, layer] == pytest.approx(a.mean(), rel=1e-10)
        assert records.stats["a_std"][0, layer] == pytest.approx(a.std(), rel=1e-10)


def test_saturated_fraction_on_constructed_inputs():
    # z^[1] = W x with W picking x's rows: the entries of z are the entries of x (and zeros).
    model = CourseNet([2, 3, 1], "sigmoid", init="small", rng=0)
    model.fc1.weight.data[:] = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    x = np.array([[5.0, 0.0, 1.0, 4.0],      # |5| > 4; exactly 4 is not saturated
                  [0.0, -10.0, 1.0, 4.5]])   # |-10| > 4, |4.5| > 4
    y = np.array([[0.0, 1.0, 0.0, 1.0]])
    with GradientMonitor(model, saturation_threshold=4.0) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    assert records.stats["saturated"][0, 0] == pytest.approx(3 / 12)
    assert records.saturation_threshold == 4.0
    assert np.isnan(records.stats["dead"][0, 0]) and np.isnan(records.stats["zero"][0, 0])

    with GradientMonitor(model, saturation_threshold=0.5) as monitor:  # the threshold is used
        one_step(model, x, y, monitor)
        assert monitor.records().stats["saturated"][0, 0] == pytest.approx(6 / 12)


def test_dead_relu_and_zero_fractions_on_constructed_inputs():
    model = CourseNet([2, 4, 1], "relu", init="small", rng=0)
    model.fc1.weight.data[:] = [[1.0, 0.0],     # z = x0: positive on some samples
                                [-1.0, -1.0],   # z = -(x0 + x1) <= 0 on every sample: dead
                                [0.0, 0.0],     # z = 0 on every sample: dead (relu'(0) = 0)
                                [0.0, 1.0]]     # z = x1 - 1: positive on one sample
    model.fc1.bias.data[:] = [[0.0], [0.0], [0.0], [-1.0]]
    x = np.array([[0.0, 2.0, 3.0],
                  [0.5, 0.0, 2.0]])
    y = np.array([[0.0, 1.0, 1.0]])
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    # a = [[0, 2, 3], [0, 0, 0], [0, 0, 0], [0, 0, 1]]: 8 zeros among 12 entries
    assert records.stats["dead"][0, 0] == pytest.approx(2 / 4)
    assert records.stats["zero"][0, 0] == pytest.approx(9 / 12)
    assert np.isnan(records.stats["saturated"][0, 0])
    # the dead units get no gradient at all: their dW rows are exactly zero
    np.testing.assert_array_equal(records.dw_neuron_norms[0][0, 1:3], [0.0, 0.0])


def test_activation_kinds_include_the_centred_sigmoid():
    model = CourseNet([3, 2, 2, 1], "centered_sigmoid", init="xavier", rng=0)
    with GradientMonitor(model) as monitor:
        assert monitor.activations == ["centered_sigmoid", "centered_sigmoid"]


# ---------------------------------------------------------------------------- saving, hooks
@pytest.mark.parametrize("suffix", [".h5", ".json"])
def test_save_and_load_round_trip(tmp_path, suffix):
    model, x, y = tiny_problem("relu")  # relu: NaN saturation columns must survive too
    with GradientMonitor(model, meta={"experiment": "tiny", "seed": 2}) as monitor:
        fit(model, x, y, SGD(model.parameters(), lr=0.1), 3, callbacks=[monitor])
        records = monitor.records()
    path = records.save(tmp_path / f"records{suffix}")
    loaded = MonitorRecords.load(path)
    for name in ("layer_names", "hidden_names", "activations", "saturation_threshold", "meta"):
        assert getattr(loaded, name) == getattr(records, name), name
    for name in ("iterations", "loss", "dw_norm", "db_norm"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(records, name))
    assert len(loaded.dw_neuron_norms) == len(records.dw_neuron_norms)
    for ours, theirs in zip(records.dw_neuron_norms, loaded.dw_neuron_norms,
                            strict=True):
        np.testing.assert_array_equal(theirs, ours)
    assert set(loaded.stats) == set(ACTIVATION_STATS)
    for name in ACTIVATION_STATS:
        np.testing.assert_array_equal(loaded.stats[name], records.stats[name])  # NaN == NaN


def test_save_refuses_an_unknown_suffix_and_load_a_foreign_file(tmp_path):
    model, x, y = tiny_problem()
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    with pytest.raises(ValueError, match=r"\.csv"):
        records.save(tmp_path / "records.csv")
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="no monitor records"):
        MonitorRecords.load(tmp_path / "other.json")


def test_close_removes_the_hooks_and_stops_recording():
    model, x, y = tiny_problem()
    monitor = GradientMonitor(model)
    assert len(model.act1.__dict__["_forward_hooks"]) == 1
    one_step(model, x, y, monitor)
    monitor.close()
    assert model.act1.__dict__["_forward_hooks"] == []
    assert model.act2.__dict__["_forward_hooks"] == []
    model(Tensor(x))  # a forward after close must not reach the monitor
    assert monitor._z == [None, None]
    with pytest.raises(RuntimeError, match="after close"):
        monitor(1, model, 0.5)
    assert monitor.detach == monitor.close  # the two names do the same


def test_a_monitor_refuses_another_model():
    model, x, y = tiny_problem()
    other, _, _ = tiny_problem()
    with GradientMonitor(model) as monitor:
        with pytest.raises(ValueError, match="another model"):
            monitor(0, other, 0.5)


# ---------------------------------------------------------------------------- update:data ratio
def test_update_ratio_against_a_hand_computation_and_the_step_taken():
    model = CourseNet([2, 2, 1], "relu", init="small", rng=0)
    model.fc1.weight.data[:] = [[3.0, 0.0], [0.0, 4.0]]     # ||W^[1]||_F = 5
    model.fc2.weight.data[:] = [[1.0, -2.0]]                # ||W^[2]||_F = sqrt(5)
    x = np.array([[1.0, 2.0], [0.5, -1.0]])
    y = np.array([[1.0, 0.0]])
    lr = 0.1
    before = [layer.weight.data.copy() for layer in model.linear_layers()]
    with GradientMonitor(model, learning_rate=lr) as monitor:
        fit(model, x, y, SGD(model.parameters(), lr=lr), 1, callbacks=[monitor])
        records = monitor.records()
    assert records.learning_rate == lr
    for index, layer in enumerate(model.linear_layers()):
        weight_norm = np.sqrt(np.sum(before[index] ** 2))
        assert records.weight_norm[0, index] == pytest.approx(weight_norm, rel=1e-12)
        # the SGD step actually taken, W_before - W_after = lr dW, over ||W_before||
        step = np.sqrt(np.sum((before[index] - layer.weight.data) ** 2))
        assert records.update_ratio[0, index] == pytest.approx(step / weight_norm, rel=1e-10)
    assert records.weight_norm[0, 0] == pytest.approx(5.0)
    assert records.weight_norm[0, 1] == pytest.approx(np.sqrt(5.0))
    assert records.layer_in_features == [2, 2]


def test_without_a_learning_rate_the_update_ratio_is_nan_but_the_weight_norm_is_kept():
    model, x, y = tiny_problem()
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    assert records.learning_rate is None
    assert np.all(np.isnan(records.update_ratio))
    np.testing.assert_allclose(records.weight_norm[0],
                               [np.linalg.norm(layer.weight.data)
                                for layer in model.linear_layers()], rtol=1e-12)
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        GradientMonitor(model, learning_rate=0.0)


@pytest.mark.parametrize("suffix", [".h5", ".json"])
def test_update_ratio_round_trip_and_old_files_still_load(tmp_path, suffix):
    import json

    import h5py

    model, x, y = tiny_problem("relu")
    with GradientMonitor(model, learning_rate=0.1) as monitor:
        fit(model, x, y, SGD(model.parameters(), lr=0.1), 3, callbacks=[monitor])
        records = monitor.records()
    loaded = MonitorRecords.load(records.save(tmp_path / f"new{suffix}"))
    np.testing.assert_array_equal(loaded.weight_norm, records.weight_norm)
    np.testing.assert_array_equal(loaded.update_ratio, records.update_ratio)
    assert loaded.learning_rate == 0.1 and loaded.layer_in_features == [5, 4, 3]

    # a file written before these fields existed: no datasets, no header keys
    old = records.save(tmp_path / f"old{suffix}")
    if suffix == ".json":
        blob = json.loads(old.read_text())
        for key in ("weight_norm", "update_ratio", "learning_rate", "layer_in_features"):
            del blob[key]
        old.write_text(json.dumps(blob))
    else:
        with h5py.File(old, "r+") as file:
            del file["weight_norm"], file["update_ratio"]
            header = json.loads(file.attrs["header"])
            del header["learning_rate"], header["layer_in_features"]
            file.attrs["header"] = json.dumps(header)
    loaded = MonitorRecords.load(old)
    np.testing.assert_array_equal(loaded.dw_norm, records.dw_norm)
    assert loaded.weight_norm.shape == records.dw_norm.shape
    assert np.all(np.isnan(loaded.weight_norm)) and np.all(np.isnan(loaded.update_ratio))
    assert loaded.learning_rate is None and loaded.layer_in_features is None


def test_leaky_relu_is_recognised():
    from tinygrad_edu.monitor import activation_kind
    from tinygrad_edu.nn import layers

    assert activation_kind(layers.LeakyReLU(0.1)) == "leaky_relu"
    assert activation_kind(layers.ReLU()) == "relu"


def test_per_neuron_norms_of_a_layer_wider_than_64_neurons():
    """Layers of more than 64 neurons: the per-neuron norms against a hand computation too."""
    rng = np.random.default_rng(RNG_SEED)
    model = CourseNet([5, 100, 70, 1], "tanh", init="xavier", rng=RNG_SEED)
    x = rng.normal(0.0, 1.5, size=(5, 6))
    y = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]])
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    assert [a.shape for a in records.dw_neuron_norms] == [(1, 100), (1, 70), (1, 1)]
    for index, layer in enumerate(model.linear_layers()):
        grad = layer.weight.grad.data
        expected = [np.sqrt(sum(value * value for value in grad[j]))  # by hand, row j
                    for j in range(layer.out_features)]
        np.testing.assert_allclose(records.dw_neuron_norms[index][0], expected, rtol=1e-12)
        assert np.all(records.dw_neuron_norms[index][0] > 0)


def test_per_neuron_norms_of_a_layer_with_long_rows():
    """Few long rows (like fc1's 30 x 12288) and the short rows of the next layer: both against
    a hand computation."""
    rng = np.random.default_rng(RNG_SEED)
    model = CourseNet([1100, 3, 1], "sigmoid", init="xavier", rng=RNG_SEED)
    x = rng.normal(0.0, 1.0, size=(1100, 4))
    y = np.array([[0.0, 1.0, 1.0, 0.0]])
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    for index, layer in enumerate(model.linear_layers()):
        grad = layer.weight.grad.data
        expected = [np.sqrt(sum(value * value for value in grad[j]))  # by hand, row j
                    for j in range(layer.out_features)]
        np.testing.assert_allclose(records.dw_neuron_norms[index][0], expected, rtol=1e-12)


def test_a_dead_relu_unit_is_one_that_is_off_on_every_sample():
    """3 units, 5 samples: unit 0 fires on 3 samples, unit 2 on 1, unit 1 on none. Dead is 1/3
    of the units; counting samples with a live unit (4 of 5) or entries gives other numbers."""
    model = CourseNet([2, 3, 1], "relu", init="small", rng=0)
    model.fc1.weight.data[:] = [[1.0, 0.0], [-1.0, -1.0], [0.0, 1.0]]
    model.fc1.bias.data[:] = 0.0
    x = np.array([[1.0, 2.0, 3.0, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 1.0, 0.0]])
    y = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]])
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    assert records.stats["dead"][0, 0] == pytest.approx(1 / 3)
    assert records.stats["zero"][0, 0] == pytest.approx(11 / 15)


# ---------------------------------------------------------------------------- batch norm, modules()
def test_with_batch_norm_the_speed_of_learning_is_the_norm_of_dbeta():
    """A Linear before a BatchNorm has no bias; its speed of learning is ||dbeta|| of that
    BatchNorm, and the output layer (with its bias) keeps ||db||."""
    rng = np.random.default_rng(RNG_SEED)
    model = CourseNet([5, 4, 3, 1], "sigmoid", init="xavier", rng=RNG_SEED, norm="batch")
    x = rng.normal(0.0, 1.5, size=(5, 8))
    y = (rng.random((1, 8)) < 0.5).astype(np.float64)
    with GradientMonitor(model) as monitor:
        one_step(model, x, y, monitor)
        records = monitor.records()
    for layer in (1, 2):
        assert getattr(model, f"fc{layer}").bias is None
        dbeta = getattr(model, f"bn{layer}").beta.grad.data
        assert records.db_norm[0, layer - 1] == pytest.approx(np.linalg.norm(dbeta), rel=1e-12)
        assert records.db_norm[0, layer - 1] > 0
    assert records.db_norm[0, 2] == pytest.approx(np.linalg.norm(model.fc3.bias.grad.data),
                                                  rel=1e-12)


def test_a_linear_without_bias_and_without_batch_norm_has_no_speed_of_learning():
    from tinygrad_edu.nn.layers import Linear, Sigmoid
    from tinygrad_edu.nn.module import Module

    class NoBias(Module):
        def __init__(self) -> None:
            self.fc1 = Linear(3, 2, bias=False, init="xavier", rng=0)
            self.act1 = Sigmoid()
            self.fc2 = Linear(2, 1, init="xavier", rng=1)

        def forward(self, x):
            return self.fc2(self.act1(self.fc1(x))).sigmoid()

    model = NoBias()
    with GradientMonitor(model) as monitor:
        one_step(model, np.ones((3, 4)), np.array([[0.0, 1.0, 0.0, 1.0]]), monitor)
        records = monitor.records()
    assert np.isnan(records.db_norm[0, 0]) and records.db_norm[0, 1] > 0


def test_the_monitor_finds_the_layers_through_modules_in_course_order():
    """Through modules(), not linear_layers(): a CourseNet whose linear_layers() lies changes
    nothing, and the order is fc1..fcL (also with BatchNorm layers between)."""
    class Liar(CourseNet):
        def linear_layers(self):
            return list(reversed(super().linear_layers()))

    for model in (Liar([5, 4, 3, 3, 1], "relu", init="he", rng=0),
                  CourseNet([5, 4, 3, 3, 1], "relu", init="he", rng=0, norm="batch")):
        with GradientMonitor(model) as monitor:
            assert monitor.layer_names == ["fc1", "fc2", "fc3", "fc4"]
            assert monitor.layers == [model.fc1, model.fc2, model.fc3, model.fc4]


def test_one_table_of_activations_for_the_models_and_the_monitor():
    import models
    from tinygrad_edu import monitor
    from tinygrad_edu.nn import layers

    assert models.make_activation is layers.make_activation
    assert monitor.activation_kind is layers.activation_kind
    assert models.ACTIVATIONS == tuple(layers.ACTIVATIONS)
    for name in layers.ACTIVATIONS:  # every name builds a module of its own kind
        assert layers.activation_kind(layers.make_activation(name)) == name
    leaky = layers.make_activation("leaky_relu(0.3)")
    assert layers.activation_kind(leaky) == "leaky_relu" and leaky.negative_slope == 0.3
    assert layers.activation_kind(layers.Linear(2, 2, rng=0)) is None
    for bad in ("swish", "leaky_relu(x)", "leaky_relu()", 3):
        with pytest.raises(ValueError, match="activation"):
            layers.make_activation(bad)


# ---------------------------------------------------------------------------- the fast formulas
# The monitor computes some numbers in a cheaper way than their definition; each against the
# straightforward formula on random data.
@given(arrays(shapes(min_dims=2, max_dims=2, max_side=8)), st.sampled_from([1, 3, 1100]))
def test_squared_row_norms_are_the_sums_of_squares_of_the_rows(g, repeat):
    g = np.tile(g, (1, repeat))  # rows of 1100 and more too, like fc1's 12288
    expected = np.sum(g * g, axis=1)  # sum_k g_jk^2 for every row j
    np.testing.assert_allclose(_squared_row_norms(g), expected, rtol=1e-12, atol=1e-300)


@given(arrays(shapes(min_dims=2, max_dims=2, max_side=8), low=-2.0, high=4.0),
       st.sampled_from([np.float64, np.float32]))
def test_mean_and_variance_are_those_of_numpy(values, dtype):
    values = values.astype(dtype)
    mean, variance = _mean_and_variance(values)
    exact = values.astype(np.float64)
    assert mean == pytest.approx(exact.mean(), rel=1e-12, abs=1e-12)
    assert variance == pytest.approx(exact.var(), rel=1e-10, abs=1e-12)


@given(arrays(shapes(min_dims=2, max_dims=2, max_side=8)).map(np.round))  # many exact zeros
def test_dead_and_zero_fractions_follow_their_definitions(z):
    a = np.maximum(z, 0.0)  # relu
    dead, zero = _dead_and_zero_fractions(z)
    # dead: the units (rows) whose z is <= 0 for every sample (column); zero: the entries a = 0.
    # (A wrong count is off by 1/64 at least: the tolerance is only for 1 - k/n's rounding.)
    assert dead == pytest.approx(np.mean([np.all(row <= 0) for row in z]), rel=1e-12, abs=1e-15)
    assert zero == pytest.approx(np.mean(a == 0), rel=1e-12, abs=1e-15)
