"""The course's networks: architecture, activations, initializers and settings of every spec;
the penalty in their loss; and what training them does, on the real data (two course runs) and
on the synthetic stand-in.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import models
from tinygrad_edu import Tensor, nn
from tinygrad_edu.data import DATA_ENV_VAR, load_cat_dataset, synthetic_cat_dataset
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
        hidden_with_batch_norm = spec.norm == "batch" and layer < depth
        if hidden_with_batch_norm:  # BatchNorm's beta is the shift: no bias
            assert linear.bias is None
            assert getattr(model, f"bn{layer}").num_features == n_out
        else:
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
    expected_names = [
        name for layer in range(1, depth + 1)
        for name in ([f"fc{layer}.weight", f"bn{layer}.gamma", f"bn{layer}.beta"]
                     if spec.norm == "batch" and layer < depth
                     else [f"fc{layer}.weight", f"fc{layer}.bias"])]
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


def test_the_remedy_rows_are_the_base_networks_with_one_change() -> None:
    """Issue 8's study rows: each is a course network (or its 12-layer version) with the one
    setting its name promises, a note, and no course accuracy (the course has none)."""
    specs = models.SPECS
    assert specs["sigmoid5_batchnorm"] == dataclasses.replace(
        specs["sigmoid5"], name="sigmoid5_batchnorm", norm="batch", iterations=1000,
        course_accuracy=None, note=specs["sigmoid5_batchnorm"].note)
    assert len(specs["sigmoid12"].hidden) == 12 and specs["sigmoid12"].hidden[0] == 30
    assert specs["sigmoid12_residual"] == dataclasses.replace(
        specs["sigmoid12"], name="sigmoid12_residual", residual=True,
        note=specs["sigmoid12_residual"].note)
    assert specs["relu5_normal"].init == "normal(1.0)" and specs["relu5_normal"].logits_loss
    assert specs["relu5_normal_clip"] == dataclasses.replace(
        specs["relu5_normal"], name="relu5_normal_clip", clip=1.0,
        note=specs["relu5_normal_clip"].note)
    for name in ("sigmoid5_batchnorm", "sigmoid12", "sigmoid12_residual", "relu5_normal",
                 "relu5_normal_clip"):
        assert name in models.OUR_ADDITIONS and specs[name].note
        assert specs[name].course_accuracy is None
    net = specs["sigmoid12_residual"].build(seed=0, in_features=6)
    assert net.residual_layers == tuple(range(2, 13))  # every hidden layer after the first
    assert specs["relu5_normal_clip"].clip_callback().max_norm == 1.0


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
    """The real files from $TINYGRAD_EDU_DATA only (the conftest sets it from ../shared/datasets
    when that folder exists): a test never downloads them."""
    folder = os.environ.get(DATA_ENV_VAR, "")
    if not folder:
        pytest.skip(f"the cat/non-cat files are not available (set {DATA_ENV_VAR}); CI has them")
    return load_cat_dataset(folder, download=False)


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


# ==================================================================== --net specs: parse_net
def test_specs_without_course_settings_get_the_course_defaults() -> None:
    for name in ("logistic", "shallow"):
        spec = models.SPECS[name]
        assert (spec.learning_rate, spec.iterations) == (0.008, 2000)


def test_the_issue_examples() -> None:
    spec = models.parse_net("tanh8:depth=8,activation=tanh,init=xavier,lr=0.01")
    assert isinstance(spec, models.ModelSpec)
    assert (spec.name, spec.hidden, spec.activation, spec.init) == ("tanh8", (30,) * 8, "tanh",
                                                                    "xavier")
    assert spec.learning_rate == 0.01 and spec.iterations == 2000
    changed = models.parse_net("relu5_he,residual=on")
    assert changed.name == "relu5_he,residual=on" and changed.residual
    assert changed == dataclasses.replace(models.SPECS["relu5_he"], name=changed.name,
                                          residual=True, course_accuracy=None, note="")
    assert models.parse_net("relu5_he") is models.SPECS["relu5_he"]
    assert models.parse_net(" sigmoid4 ") is models.SPECS["sigmoid4"]


def test_a_new_network_starts_from_the_defaults() -> None:
    spec = models.parse_net("plain:")
    assert spec == dataclasses.replace(models.DEFAULTS, name="plain")
    assert (spec.hidden, spec.activation, spec.init) == ((30, 30, 30, 30), "relu", "he")
    assert spec.norm == "none" and not spec.residual and spec.clip is None
    assert not spec.logits_loss and spec.lamda == 0.0


@pytest.mark.parametrize("text, field, expected", [
    ("n:depth=0", "hidden", ()),
    ("n:depth=7", "hidden", (30,) * 7),
    ("n:width=12", "hidden", (12,) * 4),
    ("n:depth=2,width=5", "hidden", (5, 5)),
    ("logistic,depth=3", "hidden", (30, 30, 30)),
    ("shallow,depth=2", "hidden", (30, 30)),
    ("n:activation=sigmoid", "activation", "sigmoid"),
    ("n:activation=centered_sigmoid", "activation", "centered_sigmoid"),
    ("n:activation=tanh", "activation", "tanh"),
    ("n:activation=relu", "activation", "relu"),
    ("n:activation=leaky_relu", "activation", "leaky_relu"),
    ("n:activation=leaky_relu(0.2)", "activation", "leaky_relu(0.2)"),
    ("n:init=small", "init", "small"),
    ("n:init=xavier", "init", "xavier"),
    ("n:init=he", "init", "he"),
    ("n:init=he_course", "init", "he_course"),
    ("n:init=normal(1.0)", "init", "normal(1.0)"),
    ("n:lr=0.5", "learning_rate", 0.5),
    ("n:lr=1e-3", "learning_rate", 0.001),
    ("n:iterations=7", "iterations", 7),
    ("n:norm=batch", "norm", "batch"),
    ("n:norm=none", "norm", "none"),
    ("n:residual=on", "residual", True),
    ("relu5_he,residual=off", "residual", False),
    ("n:loss=logits", "logits_loss", True),
    ("sigmoid5_logits,loss=probability", "logits_loss", False),
    ("n:clip=5", "clip", 5.0),
    ("n:clip=none", "clip", None),
    ("n:clip=off", "clip", None),
])
def test_every_key_sets_its_field(text, field, expected) -> None:
    assert getattr(models.parse_net(text), field) == expected


@pytest.mark.parametrize("text, lamda, layers", [
    ("n:l2=1.5@1", 1.5, (1,)),
    ("n:l2=1.5@1+2", 1.5, (1, 2)),
    ("n:l2=0.7@5+2", 0.7, (2, 5)),
    ("n:depth=2,l2=2", 2.0, (1, 2, 3)),    # no @: every layer, output layer included
    ("relu5_he,l2=0", 0.0, ()),
    ("relu5_he,depth=2", 1.5, (1,)),        # the named network's penalty carries over
])
def test_l2_key(text, lamda, layers) -> None:
    spec = models.parse_net(text)
    assert (spec.lamda, spec.penalized_layers) == (lamda, layers)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("nope", "unknown network 'nope'; choose one of logistic, shallow"),
    ("nope,depth=3", "unknown network 'nope'"),
    ("relu5_he:depth=3", "the name 'relu5_he' is one of the course's networks"),
    ("9lives:depth=2", "the name '9lives' must start with a letter"),
    ("n:depth", "'depth' is not KEY=VALUE"),
    ("n:depth=", "'depth=' is not KEY=VALUE"),
    ("n:=3", "'=3' is not KEY=VALUE"),
    ("n:depth=2,,width=3", "'' is not KEY=VALUE"),
    ("n:speed=3", "unknown key 'speed' (=3); keys: depth, width, activation"),
    ("n:depth=2,depth=3", "depth is given twice ('2' and '3')"),
    ("n:depth=-1", "depth='-1': must be an integer from 0 to 1000"),
    ("n:depth=2.5", "depth='2.5': must be an integer from 0 to 1000"),
    ("n:depth=1001", "depth='1001': must be an integer from 0 to 1000"),
    ("n:width=0", "width='0': must be an integer >= 1"),
    ("n:width=big", "width='big': must be an integer >= 1"),
    ("n:activation=swish", "activation='swish': choose one of sigmoid, centered_sigmoid"),
    ("n:activation=leaky_relu(-1)", "activation='leaky_relu(-1)': choose one of"),
    ("n:activation=leaky_relu(x)", "activation='leaky_relu(x)'"),
    ("n:init=glorot", "init='glorot': choose one of small, xavier, he, he_course or normal(STD)"),
    ("n:init=normal(0)", "init='normal(0)'"),
    ("n:init=normal(x)", "init='normal(x)'"),
    ("n:lr=0", "lr='0': must be a finite number > 0"),
    ("n:lr=-0.1", "lr='-0.1': must be a finite number > 0"),
    ("n:lr=inf", "lr='inf': must be a finite number > 0"),
    ("n:lr=fast", "lr='fast': must be a finite number > 0"),
    ("n:iterations=0", "iterations='0': must be an integer >= 1"),
    ("n:l2=abc", "l2='abc': must be LAMBDA (>= 0) or LAMBDA@LAYERS"),
    ("n:l2=-1@1", "l2='-1@1': must be LAMBDA (>= 0)"),
    ("n:l2=1@", "l2='1@': no layer after '@'"),
    ("n:l2=1@x", "l2='1@x': must be LAMBDA"),
    ("n:l2=1@1+1", "l2='1@1+1': a layer is named twice"),
    ("n:l2=1@6", "l2='1@6': layer 6 does not exist; this network has layers 1 to 5"),
    ("n:depth=1,l2=1@0", "layer 0 does not exist; this network has layers 1 to 2"),
    ("n:norm=layer", "norm='layer': choose one of none, batch"),
    ("n:residual=yes", "residual='yes': choose one of on, off"),
    ("n:loss=mse", "loss='mse': choose one of probability, logits"),
    ("n:clip=0", "clip='0': must be a finite number > 0"),
    ("n:clip=-2", "clip='-2': must be a finite number > 0"),
    ("n:clip=nan", "clip='nan': must be a finite number > 0"),
    ("n:depth=0,norm=batch", "norm=batch with depth=0: there is no hidden layer to normalize"),
    ("n:depth=1,residual=on", "residual=on with depth=1: a skip connection needs two hidden"),
    ("logistic,residual=on", "residual=on with depth=0"),
    ("relu5_he,depth=0,l2=0,norm=batch", "norm=batch with depth=0"),
])
def test_bad_specs_raise_one_line_naming_key_value_and_choices(text, message) -> None:
    with pytest.raises(models.SpecError) as error:
        models.parse_net(text)
    assert isinstance(error.value, ValueError)
    line = str(error.value)
    assert "\n" not in line and line.startswith(f"--net {text.strip()!r}: ")
    assert message in line


@st.composite
def net_settings(draw) -> dict[str, str]:
    """A valid set of --net settings, every key optional, values from each key's choices."""
    depth = draw(st.integers(2, 6))
    choices = {
        "depth": st.just(str(depth)),
        "width": st.integers(1, 64).map(str),
        "activation": st.sampled_from(["sigmoid", "centered_sigmoid", "tanh", "relu",
                                       "leaky_relu", "leaky_relu(0.2)"]),
        "init": st.sampled_from(["small", "xavier", "he", "he_course", "normal(1.0)",
                                 "normal(0.25)"]),
        "lr": st.floats(1e-5, 10.0).map(repr),
        "iterations": st.integers(1, 10**5).map(str),
        "l2": st.tuples(st.floats(0.01, 5.0), st.sets(st.integers(1, depth + 1), min_size=1))
                .map(lambda t: f"{t[0]!r}@{'+'.join(map(str, sorted(t[1])))}"),
        "norm": st.sampled_from(["none", "batch"]),
        "residual": st.sampled_from(["on", "off"]),
        "loss": st.sampled_from(["probability", "logits"]),
        "clip": st.one_of(st.just("none"), st.floats(0.01, 100.0).map(repr)),
    }
    keys = draw(st.lists(st.sampled_from(sorted(choices)), unique=True))
    return {key: draw(choices[key]) for key in ["depth", *keys] if key in choices}


@given(settings=net_settings())
def test_settings_round_trip_through_the_grammar(settings) -> None:
    text = "net:" + ",".join(f"{key}={value}" for key, value in settings.items())
    spec = models.parse_net(text)
    assert models.parse_net(f"net:{spec.settings}") == spec
    assert len(spec.hidden) == int(settings["depth"])
    if "lr" in settings:
        assert spec.learning_rate == float(settings["lr"])
    if "clip" in settings:
        assert spec.clip == (None if settings["clip"] == "none" else float(settings["clip"]))


@pytest.mark.parametrize("name", list(models.SPECS))
def test_course_specs_are_specs_of_the_same_kind(name) -> None:
    """Every entry of SPECS is rebuilt exactly from its own settings by parse_net."""
    spec = models.SPECS[name]
    rebuilt = models.parse_net(f"again:{spec.settings}")
    assert rebuilt == dataclasses.replace(spec, name="again", course_accuracy=None, note="")


@given(settings=net_settings(), seed=st.integers(0, 3))
def test_every_parsed_spec_builds_and_trains_a_step(settings, seed) -> None:
    spec = models.parse_net("net:" + ",".join(f"{k}={v}" for k, v in settings.items()))
    model = spec.build(seed=seed, in_features=65)  # wider than any width drawn: no skip at 1
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((65, 4)), (rng.random((1, 4)) < 0.5).astype(float)
    assert model.sizes == [65, *spec.hidden, 1]
    assert model.norm == spec.norm
    assert model.residual_layers == (tuple(range(2, len(spec.hidden) + 1)) if spec.residual
                                     else ())
    callbacks = [c for c in [spec.clip_callback()] if c is not None]
    try:
        losses = fit(model, x, y, SGD(model.parameters(), 1e-3), 1, loss_fn=spec.loss_fn(),
                     callbacks=callbacks)
    except FloatingPointError:  # normal(1.0) with a wide net may overflow: said, not silent
        assert spec.init.startswith("normal") or spec.activation.startswith(("relu", "leaky"))
        return
    assert losses.shape == (1,)


def test_leaky_relu_and_normal_init_reach_the_layers() -> None:
    model = models.parse_net("n:activation=leaky_relu(0.2),init=normal(1.0)").build(
        seed=0, in_features=3)
    assert isinstance(model.act1, nn.LeakyReLU) and model.act1.negative_slope == 0.2
    assert all(linear.init_name == "normal(1.0)" for linear in model.linear_layers())
    assert isinstance(models.make_activation("leaky_relu"), nn.LeakyReLU)


def test_loss_kind_of_a_parsed_spec() -> None:
    x, y = np.random.default_rng(0).standard_normal((3, 5)), np.array([[0, 1, 1, 0, 1.0]])
    for loss, expected in (("logits", nn.binary_cross_entropy_with_logits),
                           ("probability", None)):
        spec = models.parse_net(f"n:depth=2,width=3,loss={loss}")
        model = spec.build(seed=0, in_features=3)
        value = spec.loss_fn()(model, Tensor(x), Tensor(y)).item()
        reference = (expected(model.logits(Tensor(x)), y) if expected
                     else nn.binary_cross_entropy(model(Tensor(x)), y)).item()
        assert value == pytest.approx(reference, rel=1e-14)


def test_clip_callback_clips_between_backward_and_the_step() -> None:
    """fit runs callbacks after backward and before the update: the step taken is lr times the
    clipped gradient, whose global norm is exactly max_norm."""
    spec = models.parse_net("n:depth=2,width=4,init=normal(3.0),clip=0.5")
    assert models.parse_net("n:depth=2").clip_callback() is None
    model = spec.build(seed=0, in_features=6)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 8)), (rng.random((1, 8)) < 0.5).astype(float)
    before = [p.data.copy() for p in model.parameters()]
    clipper = spec.clip_callback()
    fit(model, x, y, SGD(model.parameters(), 0.1), 1, loss_fn=spec.loss_fn(),
        callbacks=[clipper])
    assert len(clipper.norms) == 1 and clipper.norms[0] > 0.5  # it had something to clip
    steps = [(b - p.data) / 0.1 for b, p in zip(before, model.parameters(), strict=True)]
    assert np.sqrt(sum(np.sum(s * s) for s in steps)) == pytest.approx(0.5, rel=1e-9)
