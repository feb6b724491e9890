"""BatchNorm: its gradient against the hand-derived formula (in NumPy, below) and by gradcheck,
its running statistics and evaluation mode, its buffers in state_dict and checkpoints; and the
course's networks with batch normalization, including what the gradient monitor sees of them.

The formula, for z of shape (n, m), normalized over the m samples (axis 1):
    mu = mean(z), var = mean((z - mu)^2), sigma = sqrt(var + eps), z_hat = (z - mu) / sigma
    out = gamma * z_hat + beta
    dz_hat = dout * gamma
    dz     = (1 / (m sigma)) (m dz_hat - sum(dz_hat) - z_hat sum(dz_hat * z_hat))
    dgamma = sum(dout * z_hat),   dbeta = sum(dout)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import models
from tinygrad_edu import Tensor, gradcheck, nn
from tinygrad_edu.monitor import GradientMonitor
from tinygrad_edu.optim import SGD
from tinygrad_edu.testing import arrays, assert_grad_close, leaf
from tinygrad_edu.training import accuracy, fit

EPS = 1e-5


def np_batchnorm(z, gamma, beta, eps=EPS):
    mu = z.mean(axis=1, keepdims=True)
    sigma = np.sqrt(((z - mu) ** 2).mean(axis=1, keepdims=True) + eps)
    z_hat = (z - mu) / sigma
    return gamma * z_hat + beta, z_hat, sigma


def np_batchnorm_backward(dout, z_hat, sigma, gamma):
    m = dout.shape[1]
    dz_hat = dout * gamma
    dz = (1.0 / (m * sigma)) * (m * dz_hat - dz_hat.sum(axis=1, keepdims=True)
                                - z_hat * (dz_hat * z_hat).sum(axis=1, keepdims=True))
    return dz, (dout * z_hat).sum(axis=1, keepdims=True), dout.sum(axis=1, keepdims=True)


@st.composite
def batches(draw, min_m: int = 2):
    """z (n, m), gamma and beta (n, 1) and an upstream gradient dout (n, m)."""
    n, m = draw(st.integers(1, 5)), draw(st.integers(min_m, 8))
    z = draw(arrays((n, m), low=-4.0, high=4.0))
    gamma = draw(arrays((n, 1), low=-2.0, high=2.0))
    beta = draw(arrays((n, 1)))
    dout = draw(arrays((n, m)))
    return z, gamma, beta, dout


def batchnorm_with(gamma, beta) -> nn.BatchNorm:
    bn = nn.BatchNorm(gamma.shape[0], eps=EPS)
    bn.gamma.data[...] = gamma
    bn.beta.data[...] = beta
    return bn


# ==================================================================== the gradient
@given(batches())
def test_batchnorm_forward_and_gradient_are_the_hand_derived_formula(batch) -> None:
    z, gamma, beta, dout = batch
    bn = batchnorm_with(gamma, beta)
    x = leaf(z)
    out = bn(x)
    expected, z_hat, sigma = np_batchnorm(z, gamma, beta)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)
    out.backward(dout)
    dz, dgamma, dbeta = np_batchnorm_backward(dout, z_hat, sigma, gamma)
    scale = 1.0 / sigma.min()  # dz's terms are of size |dout gamma| / sigma
    assert_grad_close(x.grad, dz, rtol=1e-8, atol=1e-10 * scale, name="dz")
    assert_grad_close(bn.gamma.grad, dgamma, rtol=1e-9, atol=1e-10, name="dgamma")
    assert_grad_close(bn.beta.grad, dbeta, rtol=1e-12, atol=1e-12, name="dbeta")


@given(batches(min_m=3))
def test_batchnorm_gradcheck(batch) -> None:
    z, gamma, beta, _ = batch
    # Keep every unit's spread clear of 0, where sigma ~ sqrt(eps) makes the function so curved
    # that a central difference with step 1e-6 is no longer accurate to 1e-6.
    assume(np.all(z.std(axis=1) > 0.1))
    bn = nn.BatchNorm(z.shape[0], eps=EPS)

    def normalize(x: Tensor, g: Tensor, b: Tensor) -> Tensor:
        bn.gamma, bn.beta = g, b
        return bn(x)

    assert gradcheck(normalize, leaf(z), leaf(gamma), leaf(beta))


def test_batchnorm_normalizes_each_unit_over_the_samples() -> None:
    z = np.random.default_rng(0).normal(3.0, 5.0, size=(4, 50))
    out = nn.BatchNorm(4)(Tensor(z)).data
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=1), np.sqrt(z.var(axis=1) / (z.var(axis=1) + EPS)),
                               rtol=1e-12)


# ==================================================================== running statistics, modes
def test_running_statistics_follow_pytorchs_convention() -> None:
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm(3, momentum=0.25)
    assert [name for name, _ in bn.named_parameters()] == ["gamma", "beta"]
    np.testing.assert_array_equal(bn.running_mean, np.zeros((3, 1)))
    np.testing.assert_array_equal(bn.running_var, np.ones((3, 1)))
    mean, var = np.zeros((3, 1)), np.ones((3, 1))
    for _ in range(3):
        z = rng.normal(2.0, 3.0, size=(3, 7))
        bn(Tensor(z))
        mean = 0.75 * mean + 0.25 * z.mean(axis=1, keepdims=True)
        var = 0.75 * var + 0.25 * z.var(axis=1, ddof=1, keepdims=True)  # unbiased: m - 1
        np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13)
        np.testing.assert_allclose(bn.running_var, var, rtol=1e-13)


def test_eval_mode_uses_the_running_statistics_and_changes_nothing() -> None:
    rng = np.random.default_rng(2)
    bn = batchnorm_with(rng.normal(size=(2, 1)), rng.normal(size=(2, 1)))
    bn(Tensor(rng.normal(1.0, 2.0, size=(2, 9))))
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    bn.eval()
    z = rng.normal(size=(2, 1))  # one sample is fine in eval mode
    x = leaf(z)
    out = bn(x)
    expected = bn.gamma.data * (z - mean) / np.sqrt(var + EPS) + bn.beta.data
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)
    np.testing.assert_array_equal(bn.running_mean, mean)
    np.testing.assert_array_equal(bn.running_var, var)
    out.backward(np.ones((2, 1)))  # the statistics are constants: dz = gamma / sqrt(var + eps)
    np.testing.assert_allclose(x.grad.data, bn.gamma.data / np.sqrt(var + EPS), rtol=1e-13)


def test_float32_stays_float32() -> None:
    bn = nn.BatchNorm(2, dtype=np.float32)
    z = Tensor(np.random.default_rng(3).normal(size=(2, 5)).astype(np.float32))
    assert bn(z).dtype == np.float32 and bn.running_var.dtype == np.float32
    assert bn.eval()(z).dtype == np.float32


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_features=0), "num_features must be a positive integer"),
    (dict(num_features=2.5), "num_features must be a positive integer"),
    (dict(num_features=2, eps=0.0), "eps must be a finite number > 0"),
    (dict(num_features=2, momentum=1.5), r"momentum must be a number in \[0, 1\]"),
    (dict(num_features=2, dtype=np.int64), "dtype must be a floating dtype"),
])
def test_bad_arguments_are_errors(kwargs, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        nn.BatchNorm(**kwargs)


def test_bad_inputs_are_errors() -> None:
    bn = nn.BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm\(3.*input of shape \(2, 4\).*\(3, m\)"):
        bn(Tensor(np.ones((2, 4))))
    with pytest.raises(ValueError, match="at least 2 samples per batch.*m = 1"):
        bn(Tensor(np.ones((3, 1))))


# ==================================================================== buffers and checkpoints
def test_buffers_are_in_state_dict_and_load_state_dict(tmp_path) -> None:
    rng = np.random.default_rng(4)
    net = nn.Sequential(nn.Linear(3, 2, rng=0), nn.BatchNorm(2), nn.ReLU())
    net(Tensor(rng.normal(size=(3, 6))))
    assert [name for name, _ in net.named_buffers()] == ["layers.1.running_mean",
                                                         "layers.1.running_var"]
    state = net.state_dict()
    assert set(state) == {"layers.0.weight", "layers.0.bias", "layers.1.gamma", "layers.1.beta",
                          "layers.1.running_mean", "layers.1.running_var"}
    state["layers.1.running_mean"] += 5.0  # a copy: the model is unchanged
    assert not np.allclose(net.layers[1].running_mean, state["layers.1.running_mean"])
    net.load_state_dict(state)
    np.testing.assert_array_equal(net.layers[1].running_mean, state["layers.1.running_mean"])
    del state["layers.1.running_var"]
    with pytest.raises(nn.CheckpointError, match="missing.*layers.1.running_var"):
        net.load_state_dict(state)


def test_register_buffer_rejects_bad_names() -> None:
    with pytest.raises(ValueError, match="register_buffer: name must be an identifier"):
        nn.Module().register_buffer("running.mean", np.zeros(2))


def test_checkpoint_round_trip_keeps_the_running_statistics(tmp_path) -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 20)), (rng.random((1, 20)) < 0.5).astype(float)
    spec = models.parse_net("bn:depth=2,width=4,norm=batch")
    model = spec.build(seed=0, in_features=6)
    fit(model, x, y, SGD(model.parameters(), 0.1), 5, loss_fn=spec.loss_fn())
    assert not np.allclose(model.bn1.running_var, 1.0)
    model.save(tmp_path / "bn.h5")
    restored = spec.build(seed=1, in_features=6)
    restored.load(tmp_path / "bn.h5")
    for name, values in model.named_buffers():
        np.testing.assert_array_equal(dict(restored.named_buffers())[name], values)
    model.eval()
    restored.eval()
    np.testing.assert_array_equal(restored(Tensor(x)).data, model(Tensor(x)).data)


# ==================================================================== the course's nets with BN
def test_course_net_with_batch_norm_layout() -> None:
    model = models.parse_net("sigmoid5,norm=batch").build(seed=0, in_features=7)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["fc1.weight", "bn1.gamma", "bn1.beta", "fc2.weight", "bn2.gamma",
                     "bn2.beta", "fc3.weight", "bn3.gamma", "bn3.beta", "fc4.weight",
                     "bn4.gamma", "bn4.beta", "fc5.weight", "fc5.bias"]
    assert all(model.linear_layers()[layer].bias is None for layer in range(4))


def test_course_net_with_batch_norm_matches_the_formula_layer_by_layer() -> None:
    """z^[l] = BN(W^[l] a^[l-1]), a^[l] = g(z^[l]), checked in NumPy for the forward and for
    dW^[1] through two BatchNorm layers, with the formula of this file."""
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(4, 9)), (rng.random((1, 9)) < 0.5).astype(float)
    model = models.CourseNet([4, 3, 3, 1], "tanh", rng=0, norm="batch")
    for bn in (model.bn1, model.bn2):
        bn.gamma.data[...] = rng.normal(size=(3, 1))
        bn.beta.data[...] = rng.normal(size=(3, 1))
    w1, w2, w3, b3 = (model.fc1.weight.data, model.fc2.weight.data, model.fc3.weight.data,
                      model.fc3.bias.data)
    z1, h1, s1 = np_batchnorm(w1 @ x, model.bn1.gamma.data, model.bn1.beta.data)
    a1 = np.tanh(z1)
    z2, h2, s2 = np_batchnorm(w2 @ a1, model.bn2.gamma.data, model.bn2.beta.data)
    a2 = np.tanh(z2)
    z3 = w3 @ a2 + b3
    nn.binary_cross_entropy_with_logits(model.logits(Tensor(x)), y).backward()
    dz3 = (1 / (1 + np.exp(-z3)) - y) / x.shape[1]
    du2, dgamma2, _ = np_batchnorm_backward(w3.T @ dz3 * (1 - a2**2), h2, s2,
                                            model.bn2.gamma.data)
    du1, _, _ = np_batchnorm_backward(w2.T @ du2 * (1 - a1**2), h1, s1, model.bn1.gamma.data)
    assert_grad_close(model.bn2.gamma.grad, dgamma2, rtol=1e-9, atol=1e-12, name="dgamma2")
    assert_grad_close(model.fc1.weight.grad, du1 @ x.T, rtol=1e-8, atol=1e-12, name="dW1")


def test_monitor_records_nets_with_batch_norm_and_residual_connections() -> None:
    """The gradient monitor still works: every Linear layer's dW, every hidden activation."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(6, 12)), (rng.random((1, 12)) < 0.5).astype(float)
    for text in ("bnres:depth=4,width=5,norm=batch,residual=on,activation=tanh",
                 "res:depth=4,width=5,residual=on"):
        spec = models.parse_net(text)
        model = spec.build(seed=0, in_features=6)
        with GradientMonitor(model) as monitor:
            fit(model, x, y, SGD(model.parameters(), 0.05), 3, loss_fn=spec.loss_fn(),
                callbacks=[monitor])
        records = monitor.records()
        assert records.layer_names == ["fc1", "fc2", "fc3", "fc4", "fc5"]
        assert records.num_iterations == 3
        assert records.dw_norm.shape == (3, 5)
        assert np.all(np.isfinite(records.dw_norm)) and np.all(records.dw_norm > 0)
        assert records.hidden_names == ["act1", "act2", "act3", "act4"]
        assert np.all(np.isfinite(records.stats["z_std"]))  # z^[l] seen by every hidden hook
        # With BatchNorm the hidden Linear layers have no bias: the monitor records ||dbeta||
        # of the BatchNorm after each as its speed of learning, so no layer is NaN.
        assert np.all(np.isfinite(records.db_norm)) and np.all(records.db_norm > 0)
        if spec.norm == "batch":
            assert records.db_norm[-1, 0] == pytest.approx(
                np.linalg.norm(model.bn1.beta.grad.data), rel=1e-12)
        assert 0.0 <= accuracy(model, x, y) <= 1.0  # predict runs BatchNorm in eval mode
