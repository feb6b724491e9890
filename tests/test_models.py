"""The course's networks: architecture, activations, initializers and settings of every spec;
the penalty in their loss; and what training them does, on the real data (two course runs) and
on the synthetic stand-in.
"""

from __future__ import annotations

import numpy as np
import pytest

import models
from tinygrad_edu import Tensor, nn
from tinygrad_edu.data import find_data_dir, load_cat_dataset, synthetic_cat_dataset
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.training import accuracy, fit, predict

ACTIVATION_OF = {
    "sigmoid": (nn.Sigmoid, False), "centered_sigmoid": (nn.Sigmoid, True),
    "relu": (nn.ReLU, None), "tanh": (nn.Tanh, None),
}

# The course's settings (the notebook's parse_args lines and Linear definitions):
# name: (hidden widths, activation, init, lr, iterations, lamda, penalized layers)
COURSE_SETTINGS = {
    "sigmoid4": ((30, 30, 30), "sigmoid", "small", 0.008, 2000, 0.0, ()),
    "sigmoid5": ((30, 30, 30, 30), "sigmoid", "small", 0.008, 2000, 0.0, ()),
    "relu4": ((30, 30, 30), "relu", "small", 0.008, 2000, 0.0, ()),
    "relu5": ((30, 30, 30, 30), "relu", "small", 0.008, 2000, 0.0, ()),
    "relu5_he": ((30, 30, 30, 30), "relu", "he_course", 0.008, 2200, 1.5, (1,)),
    "sigmoid5_xavier": ((30, 30, 30, 30), "centered_sigmoid", "xavier", 0.01, 23000, 1.0, (1,)),
}


# ==================================================================== architecture
@pytest.mark.parametrize("name", list(models.SPECS))
def test_every_spec_builds_its_architecture(name) -> None:
    spec = models.SPECS[name]
    model = models.build(name, seed=0)
    sizes = [models.IMAGE_FEATURES, *spec.hidden, 1]
    assert model.sizes == sizes
    assert spec.architecture == "-".join(map(str, sizes))
    depth = len(sizes) - 1
    linears = model.linear_layers()
    assert len(linears) == depth
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        linear = getattr(model, f"fc{layer}")
        assert linear is linears[layer - 1]
        assert linear.weight.shape == (n_out, n_in)
        assert linear.bias.shape == (n_out, 1)
        assert linear.init_name == spec.init
        assert linear.weight.dtype == np.float64
    kind, centered = ACTIVATION_OF[spec.activation]
    for layer in range(1, depth):
        activation = getattr(model, f"act{layer}")
        assert type(activation) is kind
        if centered is not None:
            assert activation.centered is centered
    assert not hasattr(model, f"act{depth}")  # the output layer ends in the sigmoid itself
    expected_names = [f"fc{layer}.{p}" for layer in range(1, depth + 1) for p in ("weight", "bias")]
    assert [n for n, _ in model.named_parameters()] == expected_names


def test_course_net_forward_is_sigmoid_of_logits() -> None:
    model = models.build("relu5_he", seed=0, in_features=6)
    x = Tensor(np.random.default_rng(0).standard_normal((6, 4)))
    out = model(x)
    assert out.shape == (1, 4)
    z = model.logits(x).data
    np.testing.assert_allclose(out.data, 1 / (1 + np.exp(-z)), rtol=1e-14)
    a = x.data
    for layer in model.linear_layers()[:-1]:
        a = np.maximum(layer.weight.data @ a + layer.bias.data, 0)
    last = model.linear_layers()[-1]
    np.testing.assert_allclose(z, last.weight.data @ a + last.bias.data, rtol=1e-12)


def test_build_with_float32() -> None:
    model = models.build("sigmoid4", seed=0, in_features=5, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model(Tensor(np.ones((5, 2), dtype=np.float32))).dtype == np.float32


@pytest.mark.parametrize("name", list(COURSE_SETTINGS))
def test_specs_carry_the_course_settings(name) -> None:
    hidden, activation, init, lr, iterations, lamda, layers = COURSE_SETTINGS[name]
    spec = models.get_spec(name)
    assert spec.name == name
    assert (spec.hidden, spec.activation, spec.init) == (hidden, activation, init)
    assert spec.learning_rate == lr and spec.iterations == iterations
    assert spec.lamda == lamda and tuple(spec.penalized_layers) == layers
    assert not spec.logits_loss
    assert name in models.COURSE_EXPERIMENTS


def test_course_accuracies_recorded() -> None:
    assert models.SPECS["sigmoid4"].course_accuracy == (0.6555, 0.34)
    assert models.SPECS["sigmoid5"].course_accuracy == (0.6555, 0.34)
    assert models.SPECS["relu5_he"].course_accuracy == (1.0, 0.78)


def test_our_additions_are_listed_apart() -> None:
    assert set(models.COURSE_EXPERIMENTS) | set(models.OUR_ADDITIONS) <= set(models.SPECS)
    assert not set(models.COURSE_EXPERIMENTS) & set(models.OUR_ADDITIONS)
    assert models.SPECS["relu5_he_correct"].init == "he"


@pytest.mark.parametrize("name", ["nope", "Sigmoid4", "", "relu6"])
def test_unknown_model_name_is_an_error(name) -> None:
    with pytest.raises(ValueError) as error:
        models.build(name)
    assert repr(name) in str(error.value) and "relu5_he" in str(error.value)
    with pytest.raises(ValueError):
        models.get_spec(name)


def test_unknown_activation_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        models.CourseNet([3, 2, 1], "swish")
    with pytest.raises(ValueError, match="at least input and output"):
        models.CourseNet([3], "relu")


# ==================================================================== the loss of a spec
def _penalty_check_data(in_features: int = 6, m: int = 8):
    rng = np.random.default_rng(3)
    return rng.standard_normal((in_features, m)), (rng.random((1, m)) < 0.5).astype(float)


@pytest.mark.parametrize("name", list(models.SPECS))
def test_spec_loss_adds_the_l2_penalty_exactly_on_its_layers(name) -> None:
    spec = models.SPECS[name]
    x, y = _penalty_check_data()
    m = x.shape[1]
    model = spec.build(seed=0, in_features=x.shape[0])
    for p in model.parameters():  # weights big enough for the penalty to matter
        p.data[...] = np.random.default_rng(p.size).standard_normal(p.shape) * 0.5

    loss = spec.loss_fn()(model, Tensor(x), Tensor(y))
    loss.backward()
    penalized = {layer: p.grad.data.copy() for layer, p in enumerate(
        (lin.weight for lin in model.linear_layers()), start=1)}
    model.zero_grad()

    # The same objective without any penalty, through the same loss the spec trains on.
    if spec.logits_loss:
        plain = nn.binary_cross_entropy_with_logits(model.logits(Tensor(x)), y)
    else:
        plain = nn.binary_cross_entropy(model(Tensor(x)), y)
    plain.backward()

    weights = {layer: lin.weight.data for layer, lin in enumerate(model.linear_layers(), 1)}
    expected_value = plain.item() + spec.lamda / (2 * m) * sum(
        np.sum(weights[layer] ** 2) for layer in spec.penalized_layers)
    assert loss.item() == pytest.approx(expected_value, rel=1e-12)
    for layer, linear in enumerate(model.linear_layers(), start=1):
        extra = spec.lamda / m * weights[layer] if layer in spec.penalized_layers else 0.0
        np.testing.assert_allclose(penalized[layer], linear.weight.grad.data + extra,
                                   rtol=1e-10, atol=1e-14, err_msg=f"{name} fc{layer}")


def test_penalized_specs_really_penalize() -> None:
    """Guard for the test above: the penalty term is not negligible where it is expected."""
    spec = models.SPECS["relu5_he"]
    x, y = _penalty_check_data()
    model = spec.build(seed=0, in_features=x.shape[0])
    with_penalty = spec.loss_fn()(model, Tensor(x), Tensor(y)).item()
    without = nn.binary_cross_entropy(model(Tensor(x)), y).item()
    weight = model.fc1.weight.data
    assert with_penalty - without == pytest.approx(1.5 / 16 * np.sum(weight**2), rel=1e-10)
    assert with_penalty - without > 1e-3


def test_logits_specs_train_on_the_logits() -> None:
    spec = models.SPECS["sigmoid5_logits"]
    assert spec.logits_loss
    model = spec.build(seed=0, in_features=4)
    calls = []
    model.fc5.register_forward_hook(lambda module, inputs, output: calls.append(output))
    x, y = np.ones((4, 3)), np.array([[0.0, 1.0, 1.0]])
    loss = spec.loss_fn()(model, Tensor(x), Tensor(y))
    assert loss.item() == pytest.approx(
        nn.binary_cross_entropy_with_logits(calls[0], y).item(), rel=1e-14)


# ==================================================================== float32 runs
@pytest.mark.parametrize("name", list(models.SPECS))
def test_a_float32_run_keeps_every_gradient_float32_and_close_to_float64(name) -> None:
    """Every VJP on the way (losses, penalty, activations, Linear) in float32, and each
    parameter's gradient within float32 rounding of the float64 run's, on the spec's own loss.
    Then one SGD step through fit keeps the parameters float32."""
    from tinygrad_edu.testing import record_vjp_dtypes

    rng = np.random.default_rng(1)
    x, y = rng.uniform(0.0, 1.0, size=(6, 8)), (rng.random((1, 8)) < 0.5).astype(np.float64)
    y[0, :2] = (0.0, 1.0)
    spec = models.SPECS[name]
    shapes = [layer.weight.shape for layer in
              models.build(name, seed=0, in_features=6).linear_layers()]
    # Xavier-sized weights: gradients far from 0, and no output so saturated that float32
    # rounds p to exactly 0 or 1 (where the clipped loss differs by design).
    weights = [rng.normal(0.0, 1.0 / np.sqrt(shape[1]), size=shape) for shape in shapes]
    grads = {}
    for dtype in (np.float32, np.float64):
        model = models.build(name, seed=0, in_features=6, dtype=dtype)
        for layer, w in zip(model.linear_layers(), weights, strict=True):
            layer.weight.data[:] = w
        loss = spec.loss_fn()(model, Tensor(x.astype(dtype)), Tensor(y.astype(dtype)))
        assert loss.dtype == dtype
        with record_vjp_dtypes() as seen:
            loss.backward()
        wrong = [(op, incoming, outgoing) for op, incoming, outgoing in seen
                 if incoming != dtype or any(g is not None and g != dtype for g in outgoing)]
        assert not wrong, f"{name}: VJPs not in {np.dtype(dtype)}: {wrong}"
        grads[dtype] = {n: p.grad for n, p in model.named_parameters()}
    for param_name, g32 in grads[np.float32].items():
        g64 = grads[np.float64][param_name].data
        assert g32.dtype == np.float32, f"{name}.{param_name}: gradient is {g32.dtype}"
        scale = np.abs(g64).max()
        assert scale > 0, f"{name}.{param_name}: no gradient reached it"
        np.testing.assert_allclose(g32.data, g64, rtol=1e-3, atol=1e-4 * scale,
                                   err_msg=f"{name}.{param_name}")
    model = models.build(name, seed=0, in_features=6, dtype=np.float32)
    losses = fit(model, x.astype(np.float32), y.astype(np.float32),
                 SGD(model.parameters(), lr=0.01), 2, loss_fn=spec.loss_fn())
    assert np.all(np.isfinite(losses))
    assert all(p.dtype == np.float32 for p in model.parameters())


# ==================================================================== training, real data
def _real_data():
    folder = find_data_dir()
    if folder is None:
        pytest.skip("the cat/non-cat files were not found (set TINYGRAD_EDU_DATA or put them "
                    "in ./datasets or ../shared/datasets); CI has them")
    return load_cat_dataset(folder)


def _train_like_the_course(name: str, data) -> nn.Module:
    spec = models.SPECS[name]
    model = models.build(name, seed=0)
    losses = fit(model, data.x_train, data.y_train, SGD(model.parameters(), spec.learning_rate),
                 spec.iterations, loss_fn=spec.loss_fn())
    assert np.all(np.isfinite(losses))
    return model


@pytest.mark.slow
def test_sigmoid4_on_real_data_predicts_only_non_cat_like_the_course() -> None:
    """The course's 4-layer sigmoid net (lr 0.008, 2000 iterations) stalls and answers
    "non-cat" for every image: 65.55 % train (137/209) and 34.00 % test (17/50)."""
    data = _real_data()
    model = _train_like_the_course("sigmoid4", data)
    assert np.all(predict(model, data.x_train) == 0)
    assert np.all(predict(model, data.x_test) == 0)
    assert accuracy(model, data.x_train, data.y_train) == pytest.approx(137 / 209)
    assert accuracy(model, data.x_test, data.y_test) == pytest.approx(17 / 50)
    assert models.SPECS["sigmoid4"].course_accuracy == (0.6555, 0.34)


@pytest.mark.slow
def test_relu5_he_on_real_data_fits_the_training_set() -> None:
    """The course's 5-layer ReLU net with its He init and L2 on layer 1 reaches 100 % train;
    we require at least 99 %."""
    data = _real_data()
    model = _train_like_the_course("relu5_he", data)
    assert accuracy(model, data.x_train, data.y_train) >= 0.99


# ==================================================================== training, synthetic
def test_relu5_he_learns_the_synthetic_stand_in() -> None:
    """A short run beats the majority baseline (65.55 % "non-cat") on train clearly.

    Measured: with SGD at the course's lr 0.008 the net sits at the baseline for ~700
    iterations on this data, too long for a unit test; Adam (lr 3e-4) with the same
    architecture, init and penalised loss reaches ~93 % train in 100 iterations (seeds 0 and 1).
    A training that does not learn (no update, a wrong gradient) stays at the baseline.
    """
    data = synthetic_cat_dataset(seed=0)
    baseline = 1 - data.y_train.mean()
    assert baseline == pytest.approx(137 / 209)
    spec = models.SPECS["relu5_he"]
    model = models.build("relu5_he", seed=0)
    losses = fit(model, data.x_train, data.y_train, Adam(model.parameters(), lr=3e-4), 100,
                 loss_fn=spec.loss_fn())
    assert losses[-1] < 0.6 * losses[0]
    assert accuracy(model, data.x_train, data.y_train) >= 0.85
