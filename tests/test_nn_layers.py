"""Layers: autodiff through whole networks against the course's hand-derived backprop formulas.

The heart of this file draws networks with hypothesis (depth, widths, batch size, hidden
activation, L1/L2 penalties on any subset of layers, dropout with a fixed mask) and checks the
gradient of EVERY layer's W and b against a reference written here in plain NumPy, a loop from
the last layer back, exactly as the course derives it:

    da^[L]   = (1/m) (a - y) / (a (1 - a))                (no epsilon)
    dz^[l]   = da^[l] * g'(z^[l])
    dW^[l]   = dz^[l] a^[l-1]^T  (+ (lamda/m) W  for L2,  + (lamda/m) sign(W)  for L1, sign(0)=0)
    db^[l]   = sum of dz^[l] over the samples (axis 1, keepdims)
    da^[l-1] = W^[l]^T dz^[l],   and through dropout  da_before = da_after * mask

The rest covers Linear's shapes and errors, the centred sigmoid, Dropout and float32.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import models
from tinygrad_edu import Tensor, nn

ACTIVATIONS = ("sigmoid", "centered_sigmoid", "relu", "tanh")
GRAD_RTOL = 1e-7


# ==================================================================== the reference, in NumPy
def np_sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def np_activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return np_sigmoid(z)
    if name == "centered_sigmoid":
        return np_sigmoid(z) - 0.5
    if name == "relu":
        return np.maximum(z, 0.0)
    return np.tanh(z)


def np_activation_derivative(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """g'(z) written from the activation a = g(z), as the course does."""
    if name == "sigmoid":
        return a * (1 - a)
    if name == "centered_sigmoid":
        s = a + 0.5
        return s * (1 - s)
    if name == "relu":
        return (z > 0).astype(z.dtype)
    return 1 - a**2


@dataclass
class Net:
    """A drawn network: weights, biases, and what the loss adds on each layer."""

    activation: str
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    penalties: list[tuple[str, float] | None]  # per layer: None, ("L1", lamda) or ("L2", lamda)
    keep_probs: list[float | None]  # per hidden layer: dropout after it, or None
    dropout_seed: int
    use_course_net: bool
    x: np.ndarray
    y: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def m(self) -> int:
        return self.x.shape[1]


def reference_forward(net: Net, masks: list[np.ndarray | None]):
    """The forward pass in NumPy; per layer the cache (a_prev, z, a_activation, mask)."""
    cache = []
    a = net.x
    for layer in range(net.depth):
        z = net.weights[layer] @ a + net.biases[layer]
        if layer < net.depth - 1:
            act = np_activation(net.activation, z)
            mask = masks[layer]
            cache.append((a, z, act, mask))
            a = act * mask if mask is not None else act
        else:
            cache.append((a, z, None, None))
    return cache


def reference_loss(net: Net, z_last: np.ndarray) -> float:
    """The course's cross-entropy plus the penalties (lamda/2m sum W^2, lamda/m sum |W|)."""
    a, y, m = np_sigmoid(z_last), net.y, net.m
    value = -(1.0 / m) * np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    for weight, penalty in zip(net.weights, net.penalties, strict=True):
        if penalty is None:
            continue
        kind, lamda = penalty
        if kind == "L2":
            value += lamda / (2 * m) * np.sum(weight**2)
        else:
            value += lamda / m * np.sum(np.abs(weight))
    return float(value)


def reference_gradients(net: Net, cache, from_logits: bool):
    """dW and db of every layer by the course's formulas, from the last layer back."""
    m, y = net.m, net.y
    z_last = cache[-1][1]
    a_last = np_sigmoid(z_last)
    if from_logits:
        dz = (a_last - y) / m
    else:
        da = (1.0 / m) * (a_last - y) / (a_last * (1 - a_last))  # exact, no epsilon
        dz = da * (a_last * (1 - a_last))  # the output sigmoid's derivative
    d_weights: list[np.ndarray] = [None] * net.depth  # type: ignore[list-item]
    d_biases: list[np.ndarray] = [None] * net.depth  # type: ignore[list-item]
    for layer in reversed(range(net.depth)):
        a_prev = cache[layer][0]
        weight = net.weights[layer]
        dw = dz @ a_prev.T
        penalty = net.penalties[layer]
        if penalty is not None:
            kind, lamda = penalty
            dw = dw + (lamda / m) * (weight if kind == "L2" else np.sign(weight))  # sign(0) = 0
        d_weights[layer] = dw
        d_biases[layer] = np.sum(dz, axis=1, keepdims=True)
        if layer > 0:
            da = weight.T @ dz  # da^[l-1], after the dropout of layer l-1 (if any)
            _, z_prev, act_prev, mask_prev = cache[layer - 1]
            if mask_prev is not None:
                da = da * mask_prev  # the mask holds d / keep_prob already
            dz = da * np_activation_derivative(net.activation, z_prev, act_prev)
    return d_weights, d_biases


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """||actual - expected|| / (||actual|| + ||expected||), 0 when both are 0."""
    scale = np.linalg.norm(actual) + np.linalg.norm(expected)
    return float(np.linalg.norm(actual - expected) / max(scale, 1e-300))


def assert_relative_close(actual, expected, name: str, rtol: float = GRAD_RTOL) -> None:
    assert actual is not None, f"{name}: no gradient"
    actual = actual.data if isinstance(actual, Tensor) else np.asarray(actual)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    error = relative_error(actual, expected)
    assert error <= rtol, f"{name}: relative error {error:.3e} > {rtol:.0e}"


# ==================================================================== drawing networks
@st.composite
def networks(draw, allow_dropout: bool = True) -> Net:
    depth = draw(st.integers(1, 6), label="depth")
    sizes = [draw(st.integers(1, 8)) for _ in range(depth)] + [1]  # n_0 ... n_{L-1}, 1
    m = draw(st.integers(1, 16), label="m")
    activation = draw(st.sampled_from(ACTIVATIONS), label="activation")
    penalties = []
    for _ in range(depth):
        kind = draw(st.sampled_from([None, "L1", "L2"]))
        lamda = draw(st.one_of(st.just(0.0), st.floats(1e-3, 3.0))) if kind else 0.0
        penalties.append((kind, lamda) if kind else None)
    keep_probs: list[float | None] = []
    for _ in range(depth - 1):
        dropout = allow_dropout and draw(st.booleans())
        keep_probs.append(draw(st.sampled_from([0.3, 0.5, 0.8, 0.95, 1.0])) if dropout else None)
    use_course_net = not any(keep_probs) and draw(st.booleans(), label="course_net")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")

    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        weight = rng.standard_normal((n_out, n_in)) * 1.2 / np.sqrt(n_in)
        if penalties[layer] is not None and penalties[layer][0] == "L1":
            weight[rng.random(weight.shape) < 0.2] = 0.0  # |w|'(0) = 0 is part of the check
        weights.append(weight)
        biases.append(rng.standard_normal((n_out, 1)) * 0.5)
    x = rng.standard_normal((sizes[0], m))
    y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return Net(activation, weights, biases, penalties, keep_probs, int(rng.integers(2**31)),
               use_course_net, x, y)


def activation_module(name: str) -> nn.Module:
    return {"sigmoid": nn.Sigmoid, "centered_sigmoid": lambda: nn.Sigmoid(centered=True),
            "relu": nn.ReLU, "tanh": nn.Tanh}[name]()


def build_model(net: Net):
    """The network as our modules; returns (model, linear layers, dropouts, logits function)."""
    sizes = [w.shape[1] for w in net.weights] + [1]
    if net.use_course_net:
        model = models.CourseNet(sizes, net.activation, rng=0)
        linears = model.linear_layers()
        dropouts: list[nn.Dropout | None] = [None] * (net.depth - 1)
        logits = model.logits
    else:
        layers: list[nn.Module] = []
        linears, dropouts = [], []
        for layer in range(net.depth):
            linear = nn.Linear(sizes[layer], sizes[layer + 1], rng=0)
            linears.append(linear)
            layers.append(linear)
            if layer < net.depth - 1:
                layers.append(activation_module(net.activation))
                keep = net.keep_probs[layer]
                dropout = nn.Dropout(keep, rng=net.dropout_seed + layer) if keep else None
                dropouts.append(dropout)
                if dropout is not None:
                    layers.append(dropout)
        model = nn.Sequential(*layers)
        logits = model
    for linear, weight, bias in zip(linears, net.weights, net.biases, strict=True):
        linear.weight.data[...] = weight
        linear.bias.data[...] = bias
    return model, linears, dropouts, logits


def penalty_terms(net: Net, linears) -> Tensor | float:
    total: Tensor | float = 0.0
    for linear, penalty in zip(linears, net.penalties, strict=True):
        if penalty is not None:
            kind, lamda = penalty
            function = nn.l2_penalty if kind == "L2" else nn.l1_penalty
            total = total + function(linear.weight, lamda, net.m)
    return total


def check_network(net: Net, from_logits: bool) -> None:
    model, linears, dropouts, logits = build_model(net)
    model.train()
    z_last = logits(Tensor(net.x))
    if from_logits:
        loss = nn.binary_cross_entropy_with_logits(z_last, net.y)
    else:
        loss = nn.binary_cross_entropy(z_last.sigmoid(), net.y)
    loss = loss + penalty_terms(net, linears)
    # The masks this forward used (each already divided by keep_prob), for the reference.
    masks = [d.last_mask if d is not None and d.keep_prob < 1 else None for d in dropouts]
    masks += [None] * (net.depth - 1 - len(masks))
    cache = reference_forward(net, masks)
    for _, z, _, _ in cache[:-1]:
        if net.activation == "relu":  # relu'(0) is a convention; keep clear of it
            assume(np.all(np.abs(z) > 1e-6))
    np.testing.assert_allclose(z_last.data, cache[-1][1], rtol=1e-12, atol=1e-12)
    assert loss.item() == pytest.approx(reference_loss(net, cache[-1][1]), rel=1e-12, abs=1e-14)

    loss.backward()
    d_weights, d_biases = reference_gradients(net, cache, from_logits)
    for layer, linear in enumerate(linears, start=1):
        assert_relative_close(linear.weight.grad, d_weights[layer - 1], f"dW{layer}")
        assert_relative_close(linear.bias.grad, d_biases[layer - 1], f"db{layer}")


@given(networks())
def test_network_gradients_match_course_formulas_with_bce(net: Net) -> None:
    check_network(net, from_logits=False)


@given(networks())
def test_network_gradients_match_course_formulas_with_logits_loss(net: Net) -> None:
    check_network(net, from_logits=True)


def test_reference_checks_every_layer_of_a_known_network() -> None:
    """A fixed 4-layer case with every feature at once (a regression anchor for the above)."""
    rng = np.random.default_rng(7)
    sizes = [5, 4, 3, 3, 1]
    net = Net(
        activation="sigmoid",
        weights=[rng.standard_normal((b, a)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)],
        biases=[rng.standard_normal((b, 1)) for b in sizes[1:]],
        penalties=[("L2", 0.7), None, ("L1", 1.3), ("L2", 0.2)],
        keep_probs=[0.5, None, 0.8], dropout_seed=3, use_course_net=False,
        x=rng.standard_normal((5, 9)), y=(rng.random((1, 9)) < 0.5).astype(float),
    )
    net.weights[2][0, 0] = 0.0  # an L1 weight at the kink
    check_network(net, from_logits=False)
    check_network(net, from_logits=True)


# ==================================================================== Linear
def test_linear_shapes_and_parameters() -> None:
    layer = nn.Linear(4, 3, rng=0)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3, 1)
    assert layer.weight.requires_grad and layer.bias.requires_grad
    assert np.all(layer.bias.data == 0)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    x = np.random.default_rng(1).standard_normal((4, 6))
    out = layer(Tensor(x))
    assert out.shape == (3, 6)
    np.testing.assert_allclose(out.data, layer.weight.data @ x + layer.bias.data, rtol=1e-14)


def test_linear_accepts_a_plain_array() -> None:
    layer = nn.Linear(2, 1, rng=0)
    x = np.ones((2, 3))
    np.testing.assert_allclose(layer(x).data, layer.weight.data @ x, rtol=1e-14)


def test_linear_without_bias() -> None:
    layer = nn.Linear(4, 2, bias=False, rng=0)
    assert layer.bias is None
    assert layer.parameters() == [layer.weight]
    x = np.random.default_rng(2).standard_normal((4, 3))
    np.testing.assert_allclose(layer(Tensor(x)).data, layer.weight.data @ x, rtol=1e-14)


def test_linear_gradients_are_the_course_formulas() -> None:
    rng = np.random.default_rng(3)
    layer = nn.Linear(3, 2, rng=0)
    x = Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    dz = rng.standard_normal((2, 5))
    layer(x).backward(dz)
    np.testing.assert_allclose(layer.weight.grad.data, dz @ x.data.T, rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad.data, dz.sum(axis=1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(x.grad.data, layer.weight.data.T @ dz, rtol=1e-13)


@pytest.mark.parametrize("shape", [(3, 5), (5,), (4, 5, 1), (5, 4)])
def test_linear_wrong_input_shape_names_layer_and_both_shapes(shape) -> None:
    layer = nn.Linear(4, 2, rng=0)
    with pytest.raises(ValueError) as error:
        layer(Tensor(np.zeros(shape)))
    message = str(error.value)
    assert "Linear" in message
    assert str(tuple(shape)) in message
    assert "(4, m)" in message


@pytest.mark.parametrize("sizes", [(0, 3), (3, 0), (-1, 2), (2.5, 2), (2, "3"), (True, 2),
                                   (None, 2)])
def test_linear_rejects_bad_sizes(sizes) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        nn.Linear(*sizes)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.complex128])
def test_linear_rejects_non_float_dtype(dtype) -> None:
    with pytest.raises(TypeError, match="floating"):
        nn.Linear(3, 2, dtype=dtype)


def test_linear_accepts_numpy_integer_sizes() -> None:
    layer = nn.Linear(np.int64(3), np.int32(2), rng=0)
    assert layer.weight.shape == (2, 3)


# ==================================================================== activations
def test_activation_values() -> None:
    z = np.linspace(-6, 6, 25).reshape(1, -1)
    np.testing.assert_allclose(nn.Sigmoid()(Tensor(z)).data, np_sigmoid(z), rtol=1e-14)
    np.testing.assert_allclose(nn.Sigmoid(centered=True)(Tensor(z)).data, np_sigmoid(z) - 0.5,
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(nn.ReLU()(Tensor(z)).data, np.maximum(z, 0))
    np.testing.assert_allclose(nn.Tanh()(Tensor(z)).data, np.tanh(z), rtol=1e-14)


def test_centered_sigmoid_is_zero_centred_with_the_sigmoid_slope() -> None:
    z = Tensor(np.array([[-2.0, 0.0, 2.0]]), requires_grad=True)
    a = nn.Sigmoid(centered=True)(z)
    assert a.data[0, 1] == 0.0
    assert a.data[0, 0] == pytest.approx(-a.data[0, 2], rel=1e-14)
    a.sum().backward()
    s = np_sigmoid(z.data)
    np.testing.assert_allclose(z.grad.data, s * (1 - s), rtol=1e-14)


# ==================================================================== Dropout
def test_dropout_is_identity_in_eval_mode() -> None:
    dropout = nn.Dropout(0.5, rng=0).eval()
    x = Tensor(np.random.default_rng(0).standard_normal((4, 6)))
    out = dropout(x)
    np.testing.assert_array_equal(out.data, x.data)


def test_dropout_keep_prob_one_is_identity_in_training() -> None:
    dropout = nn.Dropout(1.0, rng=0)
    assert dropout.training
    x = Tensor(np.random.default_rng(0).standard_normal((4, 6)))
    np.testing.assert_array_equal(dropout(x).data, x.data)


@pytest.mark.parametrize("keep_prob", [0.3, 0.8])
def test_dropout_mask_values_fraction_and_expected_value(keep_prob) -> None:
    dropout = nn.Dropout(keep_prob, rng=12345)
    x = Tensor(np.ones((200, 500)))
    out = dropout(x).data
    mask = dropout.last_mask
    assert mask.shape == (200, 500)
    values = np.unique(mask)
    np.testing.assert_allclose(values, [0.0, 1.0 / keep_prob], rtol=1e-15)
    np.testing.assert_array_equal(out, mask)  # x is ones
    # 100,000 Bernoulli draws: the fraction's standard deviation is below 0.0016, so 0.01 is
    # over 6 sigma; keeping with probability 1 - keep_prob (0.7 / 0.2) would be far outside.
    kept = np.mean(mask > 0)
    assert abs(kept - keep_prob) < 0.01
    # Inverted dropout keeps the expected activation: mean ~ 1 (without 1/keep_prob: keep_prob).
    assert abs(out.mean() - 1.0) < 0.03


def test_dropout_gradient_is_the_mask_with_its_scale() -> None:
    dropout = nn.Dropout(0.6, rng=1)
    x = Tensor(np.random.default_rng(2).standard_normal((5, 8)), requires_grad=True)
    upstream = np.random.default_rng(3).standard_normal((5, 8))
    dropout(x).backward(upstream)
    mask = dropout.last_mask
    np.testing.assert_array_equal(x.grad.data, upstream * mask)
    assert np.any(mask == 0) and np.any(mask > 0)


def test_dropout_same_seed_same_mask_and_fresh_mask_each_call() -> None:
    x = Tensor(np.ones((10, 20)))
    first, second = nn.Dropout(0.5, rng=4), nn.Dropout(0.5, rng=4)
    first(x)
    second(x)
    np.testing.assert_array_equal(first.last_mask, second.last_mask)
    previous = first.last_mask.copy()
    first(x)
    assert not np.array_equal(first.last_mask, previous)


@pytest.mark.parametrize("keep_prob", [0.0, -0.2, 1.01, 2.0, float("nan"), "0.5", None, True])
def test_dropout_rejects_invalid_keep_prob(keep_prob) -> None:
    with pytest.raises(ValueError, match=re.escape("Dropout: keep_prob must be a finite number "
                                                   "in (0, 1]")):
        nn.Dropout(keep_prob)


@pytest.mark.parametrize("x", [[[1.0] * 3] * 8, 3.0, None], ids=["list", "float", "none"])
def test_linear_refuses_an_input_that_is_not_an_array(x) -> None:
    layer = nn.Linear(8, 3, rng=0)
    with pytest.raises(TypeError, match=r"Linear\(in_features=8.*input must be a Tensor or an "
                                        r"ndarray of shape \(8, m\), got"):
        layer(x)


def test_linear_accepts_an_ndarray() -> None:
    layer = nn.Linear(2, 1, rng=0)
    x = np.array([[1.0], [2.0]])
    np.testing.assert_allclose(layer(x).data, layer.weight.data @ x + layer.bias.data)


def test_dropout_rejects_bad_rng() -> None:
    with pytest.raises(TypeError, match="rng"):
        nn.Dropout(0.5, rng="seed")


# ==================================================================== float32
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_layers_stay_float32(activation) -> None:
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Linear(4, 3, rng=0, dtype=np.float32), activation_module(activation),
                          nn.Dropout(0.7, rng=0), nn.Linear(3, 1, rng=1, dtype=np.float32),
                          nn.Sigmoid())
    x = Tensor(rng.standard_normal((4, 6)).astype(np.float32))
    y = (rng.random((1, 6)) < 0.5).astype(np.float32)
    out = model(x)
    assert out.dtype == np.float32
    loss = nn.binary_cross_entropy(out, y) + nn.l2_penalty(model[0].weight, 0.5, 6) \
        + nn.l1_penalty(model[3].weight, 0.5, 6)
    assert loss.dtype == np.float32
    loss.backward()
    for name, param in model.named_parameters():
        assert param.dtype == np.float32, name
        assert param.grad is not None and param.grad.dtype == np.float32, name


# ==================================================================== leaky relu, residual nets
def test_leaky_relu_module_values_and_repr() -> None:
    z = Tensor(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(nn.LeakyReLU(0.2)(z).data, [[-0.4, 0.0, 3.0]])
    np.testing.assert_array_equal(nn.LeakyReLU()(z).data, [[-0.02, 0.0, 3.0]])
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"


@pytest.mark.parametrize("slope", [-0.5, float("nan"), "0.1", None])
def test_leaky_relu_module_rejects_bad_slopes(slope) -> None:
    with pytest.raises(ValueError, match="LeakyReLU: negative_slope must be a finite number"):
        nn.LeakyReLU(slope)


RESIDUAL_ACTIVATIONS = (*ACTIVATIONS, "leaky_relu(0.1)")


def np_hidden(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g(z) and g'(z) for every hidden activation CourseNet takes, leaky ReLU included."""
    if name == "leaky_relu(0.1)":
        return np.where(z > 0, z, 0.1 * z), np.where(z > 0, 1.0, 0.1)
    a = np_activation(name, z)
    return a, np_activation_derivative(name, z, a)


@st.composite
def residual_networks(draw):
    """CourseNet sizes where neighbouring widths often match (2 or 3 units), so that skips
    appear at some layers and not at others, with weights, data and labels."""
    depth = draw(st.integers(2, 6), label="depth")
    sizes = [draw(st.sampled_from([2, 3])) for _ in range(depth)] + [1]
    m = draw(st.integers(1, 6), label="m")
    activation = draw(st.sampled_from(RESIDUAL_ACTIVATIONS), label="activation")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    weights = [rng.standard_normal((b, a)) / np.sqrt(a)
               for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [rng.standard_normal((b, 1)) * 0.5 for b in sizes[1:]]
    x = rng.standard_normal((sizes[0], m))
    y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return sizes, activation, weights, biases, x, y


@given(residual_networks())
def test_residual_network_gradients_match_hand_derived_formulas(net) -> None:
    """a^[l] = g(z^[l]) + a^[l-1] where n^[l] = n^[l-1], else g(z^[l]); backward by hand:
    dz^[l] = da^[l] * g'(z^[l]),  dW^[l] = dz^[l] a^[l-1]^T,  db^[l] = sum dz^[l],
    da^[l-1] = W^[l]^T dz^[l] (+ da^[l] where the skip carried a^[l-1] forward)."""
    sizes, activation, weights, biases, x, y = net
    model = models.CourseNet(sizes, activation, residual=True, rng=0)
    depth = len(weights)
    skips = [layer for layer in range(1, depth) if sizes[layer] == sizes[layer - 1]]
    assert model.residual_layers == tuple(skips)
    for linear, weight, bias in zip(model.linear_layers(), weights, biases, strict=True):
        linear.weight.data[...] = weight
        linear.bias.data[...] = bias

    # Forward by hand, keeping a^[l-1], z^[l] and g'(z^[l]) of every layer.
    a, cache = x, []
    for layer in range(1, depth):
        z = weights[layer - 1] @ a + biases[layer - 1]
        g, slope = np_hidden(activation, z)
        cache.append((a, z, slope))
        if activation.startswith(("relu", "leaky")):  # keep clear of the kink at 0
            assume(np.all(np.abs(z) > 1e-6))
        a = g + a if layer in skips else g
    z_last = weights[-1] @ a + biases[-1]
    cache.append((a, z_last, None))
    out = model(Tensor(x))
    np.testing.assert_allclose(out.data, np_sigmoid(z_last), rtol=1e-12, atol=1e-14)

    m = x.shape[1]
    nn.binary_cross_entropy_with_logits(model.logits(Tensor(x)), y).backward()
    dz = (np_sigmoid(z_last) - y) / m                        # dz^[L]
    assert_relative_close(model.linear_layers()[-1].weight.grad, dz @ a.T, f"dW{depth}")
    assert_relative_close(model.linear_layers()[-1].bias.grad, dz.sum(1, keepdims=True),
                          f"db{depth}")
    da = weights[-1].T @ dz                                  # da^[L-1]
    for layer in range(depth - 1, 0, -1):
        a_prev, _, slope = cache[layer - 1]
        dz = da * slope                                      # dz^[l] = da^[l] * g'(z^[l])
        linear = getattr(model, f"fc{layer}")
        assert_relative_close(linear.weight.grad, dz @ a_prev.T, f"dW{layer}")
        assert_relative_close(linear.bias.grad, dz.sum(axis=1, keepdims=True), f"db{layer}")
        # da^[l-1]: through W^[l], plus da^[l] itself where the skip carried a^[l-1] forward
        da = weights[layer - 1].T @ dz + (da if layer in skips else 0.0)


def test_residual_is_off_by_default_and_skips_only_matching_widths() -> None:
    assert models.CourseNet([3, 3, 3, 1], "relu", rng=0).residual_layers == ()
    assert models.CourseNet([5, 3, 3, 2, 2, 1], "relu", residual=True,
                            rng=0).residual_layers == (2, 4)
    # The output layer never gets a skip, even where the widths would match.
    assert models.CourseNet([1, 1, 1], "tanh", residual=True, rng=0).residual_layers == (1,)
