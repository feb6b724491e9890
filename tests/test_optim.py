"""Optimizers: SGD (with and without momentum) and Adam against hand computations; errors."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn
from tinygrad_edu.optim import SGD, Adam, clip_grad_norm


def param(values, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def set_grad(tensor: Tensor, values) -> None:
    tensor.grad = Tensor(np.array(values, dtype=tensor.dtype))


# ==================================================================== SGD
def test_sgd_one_step_is_w_minus_lr_dw_exactly() -> None:
    rng = np.random.default_rng(0)
    w, b = param(rng.standard_normal((3, 4))), param(rng.standard_normal((3, 1)))
    w0, b0 = w.data.copy(), b.data.copy()
    dw, db = rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    set_grad(w, dw)
    set_grad(b, db)
    SGD([w, b], lr=0.008).step()
    np.testing.assert_array_equal(w.data, w0 - 0.008 * dw)
    np.testing.assert_array_equal(b.data, b0 - 0.008 * db)


def test_sgd_updates_in_place_and_leaves_the_gradient() -> None:
    w = param([1.0, 2.0])
    array = w.data
    set_grad(w, [0.5, -0.5])
    SGD([w], lr=1.0).step()
    assert w.data is array  # the model's tensors keep their arrays
    np.testing.assert_array_equal(w.data, [0.5, 2.5])
    np.testing.assert_array_equal(w.grad.data, [0.5, -0.5])


def test_sgd_on_a_model_follows_autodiff_gradients() -> None:
    layer = nn.Linear(2, 1, rng=0)
    x, y = np.array([[1.0, -1.0], [2.0, 0.5]]), np.array([[1.0, 0.0]])
    before = {name: value for name, value in layer.state_dict().items()}
    optimizer = SGD(layer.parameters(), lr=0.1)
    nn.binary_cross_entropy_with_logits(layer(x), y).backward()
    grads = {name: p.grad.data.copy() for name, p in layer.named_parameters()}
    optimizer.step()
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(p.data, before[name] - 0.1 * grads[name])


def test_sgd_momentum_three_steps_by_hand() -> None:
    # v := mu v + g;  w := w - lr v.  Powers of two keep every number exact.
    w = param([1.0, -2.0])
    optimizer = SGD([w], lr=0.5, momentum=0.5)
    grads = [[1.0, 2.0], [0.5, -1.0], [-2.0, 0.25]]
    # v1 = g1 = [1, 2]                     w1 = [1, -2] - 0.5 [1, 2]      = [0.5, -3]
    # v2 = 0.5 v1 + g2 = [1, 0]            w2 = [0.5, -3] - 0.5 [1, 0]    = [0, -3]
    # v3 = 0.5 v2 + g3 = [-1.5, 0.25]      w3 = [0, -3] - 0.5 [-1.5, 0.25] = [0.75, -3.125]
    expected = [[0.5, -3.0], [0.0, -3.0], [0.75, -3.125]]
    for grad, after in zip(grads, expected, strict=True):
        set_grad(w, grad)
        optimizer.step()
        np.testing.assert_array_equal(w.data, after)


def test_sgd_momentum_matches_a_reference_loop() -> None:
    rng = np.random.default_rng(1)
    w = param(rng.standard_normal((2, 3)))
    reference, velocity = w.data.copy(), np.zeros((2, 3))
    optimizer = SGD([w], lr=0.03, momentum=0.9)
    for _ in range(5):
        grad = rng.standard_normal((2, 3))
        set_grad(w, grad)
        optimizer.step()
        velocity = 0.9 * velocity + grad
        reference = reference - 0.03 * velocity
        np.testing.assert_allclose(w.data, reference, rtol=1e-14, atol=1e-15)


# ==================================================================== Adam
def adam_reference(w, grads, lr, beta1, beta2, eps):
    """Kingma & Ba (2015), Algorithm 1, written out."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    history = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(w)
    return history


@pytest.mark.parametrize("lr, betas, eps", [(1e-3, (0.9, 0.999), 1e-8), (0.1, (0.5, 0.9), 1e-3),
                                            (0.01, (0.0, 0.0), 1e-8)])
def test_adam_matches_the_reference_over_several_steps(lr, betas, eps) -> None:
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) * scale for scale in (1.0, 0.1, 3.0, 1.0, 0.01)]
    w = param(w0)
    optimizer = Adam([w], lr=lr, betas=betas, eps=eps)
    for g, expected in zip(grads, adam_reference(w0, grads, lr, *betas, eps), strict=True):
        set_grad(w, g)
        optimizer.step()
        np.testing.assert_allclose(w.data, expected, rtol=1e-13, atol=1e-15)


def test_adam_first_step_moves_each_weight_by_about_lr() -> None:
    """After bias correction the first step is lr * g / (|g| + eps): about lr, whatever |g|."""
    w = param([0.0, 0.0, 0.0])
    set_grad(w, [1e-3, -5.0, 100.0])
    Adam([w], lr=0.01).step()
    np.testing.assert_allclose(w.data, [-0.01, 0.01, -0.01], rtol=1e-4)


def test_adam_defaults() -> None:
    optimizer = Adam([param([1.0])])
    assert optimizer.lr == 1e-3 and optimizer.betas == (0.9, 0.999) and optimizer.eps == 1e-8


# ==================================================================== errors
@pytest.mark.parametrize("optimizer", [SGD, Adam])
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), "0.1", None])
def test_bad_learning_rate_is_an_error(optimizer, lr) -> None:
    with pytest.raises(ValueError, match="learning rate"):
        optimizer([param([1.0])], lr=lr)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5, float("nan")])
def test_sgd_momentum_out_of_range_is_an_error(momentum) -> None:
    with pytest.raises(ValueError, match="momentum"):
        SGD([param([1.0])], lr=0.1, momentum=momentum)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.9), (0.9,), (0.9, 0.9, 0.9),
                                   (float("nan"), 0.9)])
def test_adam_bad_betas_are_an_error(betas) -> None:
    with pytest.raises(ValueError, match="betas"):
        Adam([param([1.0])], betas=betas)


@pytest.mark.parametrize("eps", [0.0, -1e-8, float("nan")])
def test_adam_bad_eps_is_an_error(eps) -> None:
    with pytest.raises(ValueError, match="eps"):
        Adam([param([1.0])], eps=eps)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_empty_parameter_list_is_an_error(optimizer) -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        optimizer([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optimizer(iter([]), lr=0.1)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
@pytest.mark.parametrize("bad", [Tensor([1.0]), np.ones(2), 3.0])
def test_non_parameters_are_an_error(optimizer, bad) -> None:
    with pytest.raises(ValueError, match="parameter 1 is not a Tensor with requires_grad=True"):
        optimizer([param([1.0]), bad], lr=0.1)


def test_parameters_from_a_generator_are_kept() -> None:
    params = [param([1.0]), param([2.0])]
    optimizer = SGD((p for p in params), lr=0.1)
    for p in params:
        set_grad(p, [1.0])
    optimizer.step()
    np.testing.assert_allclose([p.data[0] for p in params], [0.9, 1.9])


# ==================================================================== skipped parameters
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.1)])
def test_parameters_without_gradient_are_skipped(make) -> None:
    used, unused = param([1.0, 2.0]), param([3.0, 4.0])
    optimizer = make([used, unused])
    for _ in range(3):
        set_grad(used, [0.5, -0.5])
        unused.grad = None
        optimizer.step()
        np.testing.assert_array_equal(unused.data, [3.0, 4.0])
    assert not np.array_equal(used.data, [1.0, 2.0])


def test_zero_grad_sets_gradients_to_none() -> None:
    params = [param([1.0]), param([2.0])]
    optimizer = SGD(params, lr=0.1)
    for p in params:
        set_grad(p, [1.0])
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)
    optimizer.step()  # nothing to do, nothing changes
    np.testing.assert_array_equal([p.data[0] for p in params], [1.0, 2.0])


def test_sgd_momentum_of_a_skipped_parameter_does_not_decay() -> None:
    """A parameter without gradient keeps its velocity (PyTorch skips it entirely too)."""
    w = param([0.0])
    optimizer = SGD([w], lr=1.0, momentum=0.5)
    set_grad(w, [1.0])
    optimizer.step()  # v = 1, w = -1
    w.grad = None
    optimizer.step()  # skipped
    set_grad(w, [0.0])
    optimizer.step()  # v = 0.5, w = -1.5
    np.testing.assert_array_equal(w.data, [-1.5])


def test_adam_skipped_parameter_starts_its_bias_correction_at_its_own_first_step() -> None:
    """A parameter first updated at the optimizer's 2nd step must get a first Adam step.

    Adam's bias correction divides by 1 - beta^t where t counts the updates of THAT parameter's
    moments (PyTorch keeps `step` per parameter). A parameter that had no gradient at step 1 has
    had one update at step 2, so its first move is lr * g / (|g| + eps), about lr.
    """
    first, late = param([0.0]), param([0.0])
    optimizer = Adam([first, late], lr=0.1)
    set_grad(first, [1.0])
    late.grad = None
    optimizer.step()
    set_grad(first, [1.0])
    set_grad(late, [1.0])
    optimizer.step()
    np.testing.assert_allclose(late.data, [-0.1], rtol=1e-6)


# ==================================================================== float32
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.1)])
def test_float32_parameters_stay_float32(make) -> None:
    w = param([[1.0, -2.0]], dtype=np.float32)
    optimizer = make([w])
    for step in range(3):
        set_grad(w, [[0.5, 0.25 * step]])
        optimizer.step()
        assert w.dtype == np.float32
    assert not np.array_equal(w.data, np.array([[1.0, -2.0]], dtype=np.float32))


def test_float32_sgd_step_is_computed_in_float32() -> None:
    w = param([1.0], dtype=np.float32)
    set_grad(w, [0.1])
    SGD([w], lr=0.3).step()
    expected = np.float32(1.0) - np.float32(0.3) * np.float32(0.1)
    assert w.data[0] == pytest.approx(float(expected), rel=1e-7)


# ==================================================================== clip_grad_norm
def test_clip_grad_norm_scales_all_gradients_together_to_max_norm() -> None:
    w, b, unused = param(np.zeros((2, 2))), param(np.zeros(2)), param([1.0])
    set_grad(w, [[3.0, 0.0], [0.0, 4.0]])
    set_grad(b, [0.0, 12.0])
    total = clip_grad_norm([w, b, unused], max_norm=6.5)  # unused has no gradient: skipped
    assert total == 13.0  # sqrt(9 + 16 + 144), by hand
    np.testing.assert_allclose(w.grad.data, [[1.5, 0.0], [0.0, 2.0]], rtol=1e-15)
    np.testing.assert_allclose(b.grad.data, [0.0, 6.0], rtol=1e-15)
    assert unused.grad is None


def test_clip_grad_norm_leaves_small_gradients_alone_and_returns_their_norm() -> None:
    w = param([0.0, 0.0])
    set_grad(w, [0.6, -0.8])
    assert clip_grad_norm(w, max_norm=1.0) == pytest.approx(1.0)  # a single tensor works too
    np.testing.assert_array_equal(w.grad.data, [0.6, -0.8])
    assert clip_grad_norm([w], max_norm=2.0) == pytest.approx(1.0)
    np.testing.assert_array_equal(w.grad.data, [0.6, -0.8])
    set_grad(w, [0.0, 0.0])
    assert clip_grad_norm([w], 1.0) == 0.0


def test_clip_grad_norm_huge_finite_gradients_do_not_overflow() -> None:
    w = param([0.0, 0.0])
    set_grad(w, [3e200, 4e200])  # their squares overflow a float64
    assert clip_grad_norm([w], 1.0) == pytest.approx(5e200, rel=1e-15)
    np.testing.assert_allclose(w.grad.data, [0.6, 0.8], rtol=1e-15)


def test_clip_grad_norm_keeps_float32() -> None:
    w = param([3.0, 4.0], dtype=np.float32)
    set_grad(w, [3.0, 4.0])
    clip_grad_norm([w], 1.0)
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad.data, [0.6, 0.8], rtol=1e-6)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_clip_grad_norm_refuses_non_finite_gradients_and_changes_nothing(value) -> None:
    w, v = param([0.0, 0.0]), param([0.0])
    set_grad(w, [1.0, 2.0])
    set_grad(v, [value])
    with pytest.raises(FloatingPointError, match=r"gradient 1 \(shape \(1,\)\) holds NaN or inf"):
        clip_grad_norm([w, v], 1.0)
    np.testing.assert_array_equal(w.grad.data, [1.0, 2.0])


@pytest.mark.parametrize("max_norm", [0.0, -1.0, np.nan, np.inf, "1", None, True])
def test_clip_grad_norm_bad_max_norm_is_an_error(max_norm) -> None:
    w = param([1.0])
    set_grad(w, [5.0])
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be a finite number > 0"):
        clip_grad_norm([w], max_norm)


# ==================================================================== what a parameter is
@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_a_bare_tensor_is_a_type_error_that_says_what_to_pass(optimizer) -> None:
    """The issue's case: SGD(w) iterated w's rows as "parameters" and trained nothing."""
    w = param([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match=r"pass \[w\] for a single tensor, or model\.parameters"):
        optimizer(w, lr=0.1)
    with pytest.raises(TypeError, match="iterable of tensors, got int"):
        optimizer(3, lr=0.1)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_a_non_leaf_parameter_is_an_error(optimizer) -> None:
    w = param([1.0, 2.0])
    with pytest.raises(ValueError, match=r"parameter 0 \(shape \(2,\)\) is not a leaf: it is the "
                                         r"result of Mul"):
        optimizer([w * 2], lr=0.1)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_the_same_tensor_twice_is_an_error(optimizer) -> None:
    w, b = param([1.0, 2.0]), param([0.0])
    with pytest.raises(ValueError, match="parameters 0 and 2 are the same tensor"):
        optimizer([w, b, w], lr=0.1)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
@pytest.mark.parametrize("bad_grad", [Tensor([1.0]), Tensor([[1.0, 1.0]]), np.ones(2)],
                         ids=["broadcastable", "wrong-rank", "ndarray"])
def test_a_grad_of_the_wrong_shape_is_named_at_step(optimizer, bad_grad) -> None:
    w, b = param([1.0, 2.0]), param([5.0, 6.0])
    opt = optimizer([b, w], lr=0.1)
    b.grad = Tensor([1.0, 1.0])
    w.grad = bad_grad
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(2,\) but its \.grad is a"):
        opt.step()
    np.testing.assert_array_equal(w.data, [1.0, 2.0])  # checked before any update
    np.testing.assert_array_equal(b.data, [5.0, 6.0])


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1, momentum="0.9"),
    lambda p: SGD(p, lr=0.1, momentum=None),
    lambda p: SGD(p, lr=0.1, momentum=float("inf")),
    lambda p: Adam(p, betas="ab"),
    lambda p: Adam(p, betas=("0.9", 0.999)),
    lambda p: Adam(p, betas=(0.9, float("inf"))),
    lambda p: Adam(p, eps=float("inf")),
    lambda p: Adam(p, eps="1e-8"),
    lambda p: Adam(p, lr=True),
], ids=["momentum-str", "momentum-none", "momentum-inf", "betas-str", "beta-str", "beta-inf",
        "eps-inf", "eps-str", "lr-bool"])
def test_every_hyper_parameter_is_validated_by_name(make) -> None:
    with pytest.raises(ValueError, match=r"(SGD|Adam): (momentum|betas|betas\[\d\]|eps|lr) "):
        make([param([1.0])])


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_each_update_bumps_the_version_of_the_updated_tensors_only(optimizer) -> None:
    w, b = param([1.0, 2.0]), param([0.5])
    opt = optimizer([w, b], lr=0.1)
    w.grad = Tensor([1.0, 1.0])
    versions = []
    for _ in range(2):
        opt.step()
        versions.append(w._version)
    assert 0 < versions[0] < versions[1]  # each update is a later reading of the clock
    assert b._version == 0                # b had no gradient: never updated
