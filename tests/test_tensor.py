"""The engine in tensor.py: construction, operators, backward's rules, graph topologies, no_grad.

Gradients here are checked against hand-derived closed forms (the per-op finite-difference
checks live in test_ops.py).
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

from tinygrad_edu import Function, Tensor, is_grad_enabled, no_grad, ops
from tinygrad_edu.testing import assert_grad_close, leaf



# ==================================================================== construction
@pytest.mark.parametrize(
    "data, dtype, shape",
    [
        ([1.0, 2.0], np.float64, (2,)),
        ([[1, 2], [3, 4]], np.int64, (2, 2)),
        (3.5, np.float64, ()),
        (7, np.int64, ()),
        (True, np.bool_, ()),
        (np.zeros((2, 3), dtype=np.float32), np.float32, (2, 3)),
        (np.arange(4), np.int64, (4,)),
    ],
)
def test_construction_from_lists_scalars_and_arrays(data, dtype, shape):
    t = Tensor(data)
    assert t.dtype == dtype and t.shape == shape
    assert t.ndim == len(shape) and t.size == int(np.prod(shape))
    assert isinstance(t.data, np.ndarray) and t.numpy() is t.data
    np.testing.assert_array_equal(t.data, np.asarray(data))
    assert t.grad is None and t.requires_grad is False


def test_dtype_argument_converts():
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor([1.5], dtype=np.float64).dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float32), requires_grad=True).dtype == np.float32


def test_attributes_and_transpose_property():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3), 2, 6, 2)
    np.testing.assert_array_equal(t.T.data, np.arange(6.0).reshape(2, 3).T)
    assert t.T.shape == (3, 2)


@pytest.mark.parametrize("data", ["abc", ["a", 1.0], None, {"a": 1}, [[1.0, 2.0], [3.0]],
                                  1 + 2j, object()],
                         ids=["str", "mixed", "None", "dict", "ragged", "complex", "object"])
def test_non_numeric_data_is_a_type_error(data):
    with pytest.raises(TypeError, match="numeric"):
        Tensor(data)


@pytest.mark.parametrize("data", [[1, 2], [True, False], np.arange(3)])
def test_requires_grad_on_integer_or_bool_data_is_a_type_error(data):
    with pytest.raises(TypeError, match="floating"):
        Tensor(data, requires_grad=True)
    Tensor(data)  # fine without a gradient (labels, masks, indices)


def test_repr_shows_values_dtype_and_grad_state():
    x = leaf([1.0, 2.0])
    text = repr(x)
    assert text.startswith("Tensor(") and "1." in text and "2." in text
    assert "float64" in text and "requires_grad=True" in text
    assert "grad_fn=Mul" in repr(x * 2)
    plain = repr(Tensor([3, 4]))
    assert "int64" in plain and "requires_grad" not in plain and "grad_fn" not in plain


def test_item():
    assert Tensor(2.5).item() == 2.5 and isinstance(Tensor(2.5).item(), float)
    assert Tensor([[7]]).item() == 7
    with pytest.raises(ValueError, match=r"\(2,\)"):
        Tensor([1.0, 2.0]).item()


# ==================================================================== operators
OPERATORS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow, "@": operator.matmul,
}
COMPARISONS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


@pytest.mark.parametrize("symbol", sorted(OPERATORS))
def test_ndarray_on_the_left_gives_a_tensor(symbol):
    """ndarray <op> Tensor is a Tensor (NumPy defers to us), never an object array of Tensors."""
    op = OPERATORS[symbol]
    left = np.array([[1.0, 2.0], [3.0, 4.0]])
    right_values = np.array([[0.5, 1.5], [2.0, 0.25]])
    right = leaf(right_values)
    out = op(left, right)
    assert isinstance(out, Tensor), type(out)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, op(left, right_values), rtol=1e-15)
    assert out.requires_grad  # and it is recorded: the tensor operand gets a gradient
    out.backward(np.ones(out.shape))
    assert right.grad is not None and right.grad.shape == right.shape


@pytest.mark.parametrize("symbol", sorted(set(OPERATORS) - {"@"}))  # no scalar matmul
@pytest.mark.parametrize("scalar", [2, 0.5, np.float64(1.5)], ids=["int", "float", "np.float64"])
def test_python_and_numpy_scalars_on_either_side(symbol, scalar):
    op = OPERATORS[symbol]
    values = np.array([0.5, 2.0])
    for out, expected in [(op(Tensor(values), scalar), op(values, scalar)),
                          (op(scalar, Tensor(values)), op(scalar, values))]:
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.data, expected, rtol=1e-15)


@pytest.mark.parametrize("symbol", sorted(COMPARISONS))
def test_comparisons_return_bool_tensors_without_gradient(symbol):
    op = COMPARISONS[symbol]
    values = np.array([-1.0, 0.0, 2.0])
    x = leaf(values)
    for out, expected in [(op(x, 0.0), op(values, 0.0)),
                          (op(x, Tensor(np.zeros(3))), op(values, np.zeros(3))),
                          (op(np.zeros(3), x), op(np.zeros(3), values))]:  # ndarray on the left
        assert isinstance(out, Tensor), type(out)
        assert out.dtype == np.bool_
        assert out.requires_grad is False and out.is_leaf
        np.testing.assert_array_equal(out.data, expected)


def test_a_comparison_mask_is_a_constant_in_the_graph():
    x = leaf([-1.0, 0.5, 2.0])
    (x * (x > 0)).sum().backward()   # relu written by hand: d/dx = [x > 0]
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])


def test_tensors_hash_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and a in {a: 0}


# ==================================================================== backward: seeding and errors
def test_backward_on_a_one_element_tensor_seeds_one():
    x = leaf([2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 6.0])
    y = leaf([[2.0]])                       # one element but not 0-d: still a loss
    (y * 3).backward()
    np.testing.assert_array_equal(y.grad.data, [[3.0]])


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"\(2,\)"):
        (x * 2).backward()
    assert x.grad is None


def test_backward_with_a_gradient_of_the_wrong_shape_names_both_shapes():
    x = leaf([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError) as error:
        (x * 2).backward(np.ones(3))
    message = str(error.value)
    assert "(1, 3)" in message and "(3,)" in message, message
    assert x.grad is None


def test_backward_with_an_explicit_gradient_is_a_vector_jacobian_product():
    x = leaf([1.0, 2.0, 3.0])
    g = np.array([0.5, -1.0, 2.0])
    (x * x).backward(g)
    np.testing.assert_array_equal(x.grad.data, 2 * x.data * g)
    y = leaf([1.0, 2.0])
    (y * 3).backward(Tensor([1.0, 10.0]))   # a Tensor is accepted as the gradient too
    np.testing.assert_array_equal(y.grad.data, [3.0, 30.0])


def test_backward_on_a_tensor_that_does_not_require_grad_is_an_error():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (Tensor([1.0]) * 2).sum().backward()


def test_backward_on_a_leaf_itself():
    x = leaf(3.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0 + 2.0, 3.0 + 4.0])
    x.sum().backward()            # Sum's backward gives a read-only broadcast view: still adds
    np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_intermediate_results_get_no_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.sum().backward()
    assert y.grad is None and x.grad is not None


# ==================================================================== graph topologies
def test_reused_node_x_times_x():
    x = leaf([-1.5, 0.0, 2.0])
    (x * x).sum().backward()
    assert_grad_close(x.grad, 2 * x.data, rtol=0, atol=0, name="d(x*x)/dx")


def test_reused_node_three_times():
    x = leaf([0.5, -2.0])
    (x * x * x + x).sum().backward()
    assert_grad_close(x.grad, 3 * x.data ** 2 + 1, rtol=1e-15, name="d(x^3 + x)/dx")


def test_diamond():
    """y = exp(x); z = tanh(y) + 3 y: dz/dx = exp(x) (1 - tanh(exp(x))^2 + 3)."""
    x_values = np.array([-1.0, 0.0, 0.5])
    x = leaf(x_values)
    y = x.exp()
    z = y.tanh() + y * 3
    z.sum().backward()
    ex = np.exp(x_values)
    assert_grad_close(x.grad, ex * (1 - np.tanh(ex) ** 2 + 3), rtol=1e-14, name="diamond")


def test_diamond_through_broadcasting_and_a_reduction():
    """y = x + b; z = (y * y).sum(axis=0) + y.mean(): both paths reach x and b."""
    x = leaf(np.arange(6.0).reshape(2, 3))
    b = leaf([[1.0], [-1.0]])
    y = x + b
    ((y * y).sum(axis=0).sum() + y.mean()).backward()
    y_values = x.data + b.data
    expected_x = 2 * y_values + 1 / 6
    assert_grad_close(x.grad, expected_x, rtol=1e-14, name="dx")
    assert_grad_close(b.grad, expected_x.sum(axis=1, keepdims=True), rtol=1e-14, name="db")


def test_same_tensor_in_both_operands_of_matmul():
    a_values = np.array([[1.0, 2.0], [-0.5, 3.0]])
    a = leaf(a_values)
    g = np.array([[1.0, -1.0], [0.5, 2.0]])
    (a @ a).backward(g)
    assert_grad_close(a.grad, g @ a_values.T + a_values.T @ g, rtol=1e-15, name="d(A@A)/dA")
    v = leaf([1.0, -2.0, 3.0])
    (v @ v).backward()
    assert_grad_close(v.grad, 2 * v.data, rtol=0, atol=0, name="d(v.v)/dv")


# ==================================================================== retain_graph and release
def test_retain_graph_allows_a_second_backward_and_gradients_double():
    x = leaf([1.0, 2.0])
    w = leaf([3.0, -1.0])
    loss = (x * w).exp().sum()
    loss.backward(retain_graph=True)
    first_x, first_w = x.grad.data.copy(), w.grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first_x, rtol=1e-15)
    np.testing.assert_allclose(w.grad.data, 2 * first_w, rtol=1e-15)


def test_backward_through_a_released_graph_is_a_helpful_runtime_error():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    before = x.grad.data.copy()
    with pytest.raises(RuntimeError, match="retain_graph=True") as error:
        loss.backward()
    assert "released" in str(error.value)
    np.testing.assert_array_equal(x.grad.data, before)


def test_a_released_graph_error_changes_no_grad_at_all():
    """The new part of the graph is fresh, the old part released: fail before touching .grad."""
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    y = a * b
    y.sum().backward()                      # releases y's node
    a_before, b_before = a.grad.data.copy(), b.grad.data.copy()
    z = (c * 2).sum() + (a * 3).sum() + y.sum()
    with pytest.raises(RuntimeError, match="released"):
        z.backward()
    np.testing.assert_array_equal(a.grad.data, a_before)
    np.testing.assert_array_equal(b.grad.data, b_before)
    assert c.grad is None


def test_release_drops_the_saved_arrays():
    x = leaf([1.0, 2.0])
    y = x * x
    ctx = y._ctx
    assert ctx.saved                         # Mul saved its inputs for backward
    y.sum().backward()
    assert ctx.saved == () and ctx.released
    z = x * x
    z.sum().backward(retain_graph=True)
    assert z._ctx.saved and not z._ctx.released


# ==================================================================== no_grad, detach, is_leaf
def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp() + x
    assert is_grad_enabled()
    assert y._ctx is None and y.requires_grad is False and y.is_leaf
    with pytest.raises(RuntimeError):
        y.sum().backward()
    assert x.grad is None


def test_no_grad_restores_the_state_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            raise ZeroDivisionError
    assert is_grad_enabled()
    assert (leaf([1.0]) * 2).requires_grad


def test_no_grad_nested():
    with no_grad():
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()       # the inner exit restores the outer block's state
        assert (leaf([1.0]) * 2)._ctx is None
    assert is_grad_enabled()


def test_detach_shares_data_but_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert d.is_leaf and d.requires_grad is False and d._ctx is None
    assert np.shares_memory(d.data, y.data)
    (d * x).sum().backward()            # d is a constant: x's gradient is d, not 6x
    np.testing.assert_array_equal(x.grad.data, [3.0, 6.0])


def test_is_leaf():
    x = leaf([1.0])
    assert x.is_leaf and Tensor([1.0]).is_leaf
    assert not (x * 2).is_leaf
    assert (Tensor([1.0]) * 2).is_leaf          # nothing to record
    assert (x * 2).detach().is_leaf


# ==================================================================== a deep chain
def test_a_chain_of_100_000_ops_backpropagates_without_recursion_error():
    x = leaf(1.0)
    c = Tensor(1.00001)
    y = x
    for _ in range(100_000):
        y = y * c
    y.backward()
    # d/dx of x c^n is c^n; the product rounds once per step, so allow ~1e5 ulps.
    assert x.grad.item() == pytest.approx(1.00001 ** 100_000, rel=1e-10)
    assert x.grad.item() == pytest.approx(np.exp(100_000 * np.log1p(1e-5)), rel=1e-10)


# ==================================================================== check_finite
def test_check_finite_names_the_op_that_produced_nan_or_inf():
    x = leaf([0.0, 1.0])
    with np.errstate(divide="ignore"):
        loss = (x.sqrt() * 2).sum()     # a finite loss; sqrt's backward divides by 2 sqrt(0)
        with pytest.raises(FloatingPointError, match="Sqrt.backward"):
            loss.backward(check_finite=True)


@pytest.mark.parametrize("make_loss", [
    lambda x: x.log().sum(),            # log(-1) = NaN in the forward pass: its backward is finite
    lambda x: (x.log() * 2).sum(),      # log(0) = -inf reaches the loss
], ids=["nan", "inf"])
def test_check_finite_checks_the_loss_itself(make_loss):
    x = leaf([-1.0, 0.0, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = make_loss(x)
        with pytest.raises(FloatingPointError, match=r"the loss, made by Sum"):
            loss.backward(check_finite=True)
    assert x.grad is None  # refused before the walk


def test_check_finite_checks_the_given_grad():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(FloatingPointError, match="grad="):
        y.backward(grad=[1.0, np.inf], check_finite=True)


def test_without_check_finite_inf_flows_silently():
    x = leaf([0.0, 1.0])
    with np.errstate(divide="ignore"):
        (x.log() * 2).sum().backward()
    assert np.isinf(x.grad.data[0]) and x.grad.data[1] == 2.0


def test_check_finite_passes_on_finite_gradients():
    x = leaf([0.5, 1.0])
    x.log().sum().backward(check_finite=True)
    np.testing.assert_array_equal(x.grad.data, [2.0, 1.0])


# ==================================================================== only needed gradients
def test_the_data_matrix_gets_no_gradient_and_its_vjp_is_never_computed(monkeypatch):
    """W @ x with data x: MatMul.backward returns None for x (it computed only dW)."""
    recorded = []
    original = ops.MatMul.backward

    def spy(self, grad):
        result = original(self, grad)
        recorded.append((self.needs_input_grad, result))
        return result

    monkeypatch.setattr(ops.MatMul, "backward", spy)
    w = leaf(np.ones((2, 3)))
    x = Tensor(np.arange(12.0).reshape(3, 4))             # data: no requires_grad
    (w @ x).sum().backward()
    (needs, (grad_w, grad_x)), = recorded
    assert needs == (True, False)
    assert grad_x is None and grad_w is not None
    assert x.grad is None


def test_a_vjp_runs_only_for_inputs_that_need_it():
    """A Function that records which input gradients it was asked for, and computes only those."""
    computed = []

    class Scale(Function):
        def forward(self, a, b):
            self.save_for_backward(a, b)
            return a * b

        def backward(self, grad):
            a, b = self.saved
            computed.append(self.needs_input_grad)
            return (grad * b if self.needs_input_grad[0] else None,
                    grad * a if self.needs_input_grad[1] else None)

    w, data = leaf([2.0, 3.0]), Tensor([5.0, 7.0])
    Scale.apply(w, data).sum().backward()
    Scale.apply(data, w).sum().backward()
    assert computed == [(True, False), (False, True)]
    np.testing.assert_array_equal(w.grad.data, [10.0, 14.0])
    assert data.grad is None


def test_ops_on_data_alone_are_never_backpropagated(monkeypatch):
    """A branch that only touches data is not recorded, so its backward never runs."""
    calls = []
    original = ops.Exp.backward
    monkeypatch.setattr(ops.Exp, "backward",
                        lambda self, grad: calls.append(1) or original(self, grad))
    w = leaf([1.0, 2.0])
    features = Tensor([0.5, -0.5]).exp()      # data only
    assert features._ctx is None
    (w * features).sum().backward()
    assert calls == []
    (w.exp() * features).sum().backward()    # and the spy does see a recorded Exp
    assert calls == [1]


# ==================================================================== aliasing of gradients
@pytest.mark.parametrize(
    "build",
    [lambda a, b: a + b, lambda a, b: (a + b) + 0.0, lambda a, b: b + a.reshape(2, 2),
     lambda a, b: a - (-b), lambda a, b: (a + b).reshape(4).reshape(2, 2)],
    ids=["a+b", "(a+b)+0", "b+a.reshape", "a-(-b)", "(a+b).reshape.reshape"],
)
def test_gradients_of_different_leaves_never_alias(build):
    """Add hands the same array to both inputs: each leaf must still own its gradient."""
    a, b = leaf(np.zeros((2, 2))), leaf(np.zeros((2, 2)))
    g1 = np.array([[1.0, 2.0], [3.0, 4.0]])
    g1_copy = g1.copy()
    build(a, b).backward(g1)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert not np.shares_memory(a.grad.data, g1) and not np.shares_memory(b.grad.data, g1)
    g1[...] = 100.0                         # the caller's array is not kept either
    np.testing.assert_array_equal(a.grad.data, g1_copy)
    np.testing.assert_array_equal(b.grad.data, g1_copy)
    g2 = np.full((2, 2), 10.0)
    build(a, b).backward(g2)                # in-place accumulation, once into each
    np.testing.assert_array_equal(a.grad.data, g1_copy + g2)
    np.testing.assert_array_equal(b.grad.data, g1_copy + g2)


def test_a_node_no_gradient_reaches_still_lets_its_inputs_complete():
    """x feeds a node whose only use passes no gradient back, and an Add: x's gradient is
    complete once both uses ran, the one that passed nothing included."""

    class Blocked(Function):  # passes no gradient back, like a stop-gradient
        def forward(self, a):
            return a.copy()

        def backward(self, grad):
            return None

    x = leaf([1.0, 2.0])
    (Blocked.apply(x * 2.0) + x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


FRESH_GRADIENT_OPS = sorted((op for op in vars(ops).values() if isinstance(op, type)
                             and issubclass(op, Function) and op.fresh_gradients),
                            key=lambda op: op.__name__)


def test_the_ops_that_make_their_gradients_fresh_are_the_weight_ops():
    assert [op.__name__ for op in FRESH_GRADIENT_OPS] == ["MatMul", "SumOfSquares"]


@pytest.mark.parametrize("op", FRESH_GRADIENT_OPS + [ops.Add, ops.Mul, ops.Sum, ops.Reshape],
                         ids=lambda op: op.__name__)
def test_a_leaf_keeps_a_gradient_no_other_array_shares(op):
    """A leaf may keep an op's gradient without a copy only if nothing else holds that array:
    then a later in-place accumulation changes this gradient alone."""
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([[0.5, -1.0], [2.0, 0.25]])
    inputs = {ops.SumOfSquares: (a,), ops.Sum: (a,), ops.Reshape: (a,)}.get(op, (a, b))
    options = {ops.Reshape: {"shape": (4,)}}.get(op, {})
    out = op.apply(*inputs, **options)
    seed = np.arange(1.0, out.data.size + 1).reshape(out.shape)
    out.backward(seed, retain_graph=True)
    grads = [t.grad.data for t in inputs]
    held = [seed, out.data, *(t.data for t in inputs), *grads]
    for i, grad in enumerate(grads):
        others = held[:len(held) - len(grads) + i] + held[len(held) - len(grads) + i + 1:]
        assert not any(np.shares_memory(grad, other) for other in others)
    first = [g.copy() for g in grads]
    out.backward(seed)  # accumulates in place: each gradient doubles, nothing else moves
    for t, before in zip(inputs, first, strict=True):
        np.testing.assert_array_equal(t.grad.data, 2 * before)
    np.testing.assert_array_equal(seed, np.arange(1.0, out.data.size + 1).reshape(out.shape))


def test_accumulating_into_one_leaf_leaves_the_other_alone():
    a, b = leaf([1.0, 1.0]), leaf([1.0, 1.0])
    (a + b).sum().backward()
    (a * 5).sum().backward()                # only a accumulates
    np.testing.assert_array_equal(a.grad.data, [6.0, 6.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


# ==================================================================== versions: in-place updates
def test_backward_after_an_optimizer_step_through_a_retained_graph_is_an_error():
    """The issue's case: the second backward would use the updated W1 (dW1 off by 2.0)."""
    from tinygrad_edu.optim import SGD

    w1, x = leaf([[1.0, 2.0]]), Tensor([[3.0], [4.0]])
    loss = ((w1 @ x) * (w1 @ x)).sum()
    loss.backward(retain_graph=True)
    first = w1.grad.data.copy()
    SGD([w1], lr=0.1).step()
    assert w1._version > 0
    with pytest.raises(RuntimeError, match=r"MatMul\.backward needs its input 0 \(shape \(1, 2\)"
                                           r"\).*updated in place since.*before optimizer\.step"):
        loss.backward()
    np.testing.assert_array_equal(w1.grad.data, first)  # nothing was accumulated


def test_forward_step_backward_is_an_error_and_forward_again_is_fine():
    from tinygrad_edu.optim import SGD

    w = leaf([0.5, -1.0])
    optimizer = SGD([w], lr=0.1)
    loss = (w * w).sum()
    optimizer.step()  # w.grad is None: no update, no new version
    assert w._version == 0
    w.grad = Tensor([1.0, 1.0])
    optimizer.step()
    with pytest.raises(RuntimeError, match=r"Mul\.backward needs its input 0"):
        loss.backward()
    optimizer.zero_grad()
    (w * w).sum().backward()  # a new forward records the new version
    np.testing.assert_allclose(w.grad.data, 2 * np.array([0.4, -1.1]))


@pytest.mark.parametrize("stale_first", [True, False])
def test_a_stale_graph_is_refused_before_any_gradient_is_computed(stale_first):
    from tinygrad_edu.optim import SGD

    w, v = leaf([1.0, 2.0]), leaf([3.0])
    stale, fine = (w * w).sum(), (v * 2.0).sum()  # Mul saved w; v is never updated
    loss = stale + fine if stale_first else fine + stale
    w.grad = Tensor([1.0, 1.0])
    SGD([w], lr=0.1).step()
    w.grad = None
    with pytest.raises(RuntimeError, match=r"Mul\.backward needs its input 0 \(shape \(2,\)\)"):
        loss.backward()
    assert w.grad is None and v.grad is None


def test_updates_of_other_tensors_do_not_make_an_op_stale():
    """The clock advances with every update; an op is stale only if ITS saved input was updated
    after it ran, not because the clock moved on."""
    from tinygrad_edu.optim import SGD

    w, v = leaf([1.0, 2.0]), leaf([3.0])
    v.grad = Tensor([1.0])
    SGD([v], lr=0.1).step()            # before the forward: part of the graph's past
    loss = (w * v).sum()               # Mul saves w and v
    other = leaf([5.0])
    other.grad = Tensor([1.0])
    SGD([other], lr=0.1).step()        # after the forward, but a tensor the graph never saw
    v.grad = None
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [2.9, 2.9])
    np.testing.assert_allclose(v.grad.data, [3.0])


def test_an_update_an_op_does_not_read_is_not_an_error():
    """Add's backward reads no input: updating its input changes no gradient (as in PyTorch)."""
    from tinygrad_edu.optim import SGD

    w = leaf([1.0, 2.0])
    loss = (w + 1.0).sum()
    w.grad = Tensor([1.0, 1.0])
    SGD([w], lr=0.1).step()
    w.grad = None
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


def test_direct_writes_to_data_are_not_tracked():
    """Documented: only the library's own in-place updates bump the version."""
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.data *= 2
    loss.backward()
    assert w._version == 0
    np.testing.assert_array_equal(w.grad.data, [4.0, 8.0])  # 2 w, with w as it is now


# ==================================================================== copies and sharing
def test_tensor_copies_its_array_and_from_numpy_shares_it():
    from tinygrad_edu.optim import SGD

    array = np.array([1.0, 2.0])
    w = Tensor(array, requires_grad=True)
    w.grad = Tensor([1.0, 1.0])
    SGD([w], lr=0.5).step()
    np.testing.assert_array_equal(array, [1.0, 2.0])  # the caller's array is untouched
    np.testing.assert_array_equal(w.data, [0.5, 1.5])
    shared = Tensor.from_numpy(array)
    assert shared.data is array and shared.is_leaf and not shared.requires_grad
    array[0] = 7.0
    assert shared.data[0] == 7.0
    with pytest.raises(TypeError, match="from_numpy needs an ndarray, got list"):
        Tensor.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="numeric"):
        Tensor.from_numpy(np.array(["a"]))


# ==================================================================== dtype promotion
@pytest.mark.parametrize("other", [
    Tensor([1, 2, 3]), Tensor(np.array([True, True, True])), np.array(0.5), np.float64(0.5),
    np.int64(2), 0.5, 2, True,
], ids=["int-tensor", "bool-tensor", "0d-float64-array", "numpy-float64", "numpy-int", "float",
        "int", "bool"])
@pytest.mark.parametrize("symbol", ["+", "-", "*", "/"])
def test_float32_stays_float32_beside_ints_numbers_and_0d_arrays(other, symbol):
    op = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[symbol]
    x = leaf([1.0, 2.0, 4.0], dtype=np.float32)
    for out in (op(x, other), op(other, x)):
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32
        x.grad = None


def test_two_floating_tensors_and_a_float64_array_promote_as_numpy():
    x32 = Tensor(np.ones(2, dtype=np.float32))
    assert (x32 + Tensor(np.ones(2))).dtype == np.float64
    assert (x32 * np.ones(2)).dtype == np.float64  # an array with dimensions: NumPy's rule
    assert (Tensor([1, 2]) + Tensor([3, 4])).dtype == np.int64  # no floating tensor: unchanged


# ==================================================================== indexing and ==
def test_getitem_keeps_its_own_copy_of_the_index():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    index = np.array([0, 1])
    y = x[index]
    index[:] = 3
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 0.0, 0.0])
    x.grad = None
    rows = [0, 0]
    z = x[(rows,)]
    rows[1] = 2
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 0.0, 0.0])


def test_an_index_list_may_hold_tensors():
    x = leaf([1.0, 2.0, 3.0])
    y = x[[Tensor(2), Tensor(0), Tensor(2)]]
    np.testing.assert_array_equal(y.data, [3.0, 1.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 2.0])


def test_comparing_with_none_is_false_like_pytorch():
    t = Tensor([1.0, 2.0])
    assert (t == None) is False  # noqa: E711 (the comparison itself is tested)
    assert (t != None) is True  # noqa: E711
    assert t is not None and t in [t]


# ==================================================================== bad gradients
def test_a_complex_grad_is_refused_not_truncated():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(TypeError, match="complex"):
        y.backward(grad=np.array([1 + 1j, 2 + 0j]))


def test_a_hand_set_grad_of_the_wrong_shape_is_named():
    w = leaf([[1.0, 2.0, 3.0]])
    w.grad = Tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"leaf of shape \(1, 3\): its \.grad is Tensor of "
                                           r"shape \(2,\).*zero_grad"):
        (w * 2).sum().backward()
    w.grad = np.zeros((1, 3))  # an array, not a Tensor
    with pytest.raises(RuntimeError, match="its .grad is ndarray"):
        (w * 2).sum().backward()
