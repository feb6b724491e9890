"""The engine: `Tensor`, the graph it records, and the reverse-mode walk that backpropagates.

Read this file first. A `Tensor` wraps a NumPy array (`data`). When an operation runs on tensors
and one of them `requires_grad`, the result remembers the operation that made it (`_ctx`, a
`Function` instance that also holds the op's inputs and the arrays its backward needs). The
tensors and the functions between them form a directed acyclic graph from the inputs to the loss.

`loss.backward()` walks that graph once, from the loss back to the leaves, in reverse
topological order. At each node it asks the node's function for the vector-Jacobian product
(VJP): given dL/d(output), return dL/d(input) for each input. A node used twice (a "diamond" or
`x * x`) receives several gradients; they are summed before the node passes its own gradient on
(the multivariate chain rule). Leaves that require a gradient accumulate it into `.grad`.

Each operation's forward and backward live side by side in `ops.py`.

Type promotion. A floating tensor combined with an int or bool tensor, a Python number, a NumPy
scalar or a 0-d ndarray keeps the floating tensor's dtype: float32 stays float32 (as in PyTorch;
NumPy would make float64 of `x32 * np.array(0.5)` or `x32 + int_array`). Two floating tensors, or
a floating tensor and an ndarray with dimensions, promote as NumPy does (float32 + float64 is
float64).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

# The global state: whether operations record the graph (see `no_grad`), and the clock of
# in-place updates (see `bump_version`).
_grad_enabled = True
_clock = 0


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block operations record no graph: for evaluation and for optimizer updates.

    >>> with no_grad():
    ...     prediction = model(x)      # no graph is built, nothing is kept for backward
    """
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """True outside `no_grad()` blocks."""
    return _grad_enabled


def bump_version(tensor: Tensor) -> None:
    """Record that `tensor.data` was just changed in place (an optimizer step, load_state_dict).

    The library keeps one clock that every such update advances: the tensor's `_version` becomes
    the clock's new reading, and every recorded op notes the reading when it ran (`created_at`).
    An input updated after the op ran has `_version > created_at`, and backward refuses to use
    the op if it saved that input (see `_check_saved_input_unchanged`). One number per op instead
    of a tuple of its inputs' version counters: 2,600 instructions less per (2, 2) op, forward
    and backward together (callgrind). Write your own optimizer? Call this after each update.
    """
    global _clock
    _clock += 1
    tensor._version = _clock


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def _as_array(value: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """`value` as a numeric ndarray (a new one if `copy`), or a TypeError saying what was wrong."""
    if isinstance(value, Tensor):
        value = value.data
    try:
        array = np.array(value, dtype=dtype) if copy else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"Tensor data must be numeric (a number, a list of numbers or an ndarray); "
            f"could not convert {type(value).__name__}: {error}"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor data must be numeric (bool, int or float); got dtype {array.dtype} "
            f"from {type(value).__name__}. Convert it first, e.g. np.asarray(data, dtype=float)."
        )
    return array


class Tensor:
    """An n-dimensional array that can record the operations applied to it and backpropagate.

    `Tensor(data, requires_grad=False, dtype=None)`. `data` may be a number, a (nested) list or an
    ndarray; floats become float64 unless `dtype` says otherwise (float32 stays float32 through
    every operation and its gradient). Only floating tensors can require a gradient; integer and
    bool tensors are fine as labels and masks.

    `Tensor(array)` COPIES the array (as `torch.tensor` does): an optimizer step on the tensor
    never changes the caller's array. `Tensor.from_numpy(array)` shares it instead (as
    `torch.from_numpy`), for large data that must not be copied.

    After `loss.backward()`, every leaf tensor with `requires_grad=True` has `.grad`: a Tensor of
    its own shape holding dLoss/dLeaf. Gradients accumulate across calls until set to None
    (which is what `zero_grad()` does).

    `_version` says when the library last updated `data` in place (an optimizer step,
    `load_state_dict`; 0 if never): a reading of the clock that `bump_version` advances. Each
    recorded op notes the clock when it ran, and backward refuses to use an op whose saved input
    has changed since: its gradient would be computed from the new values. Writes you make
    yourself to `.data` (`w.data[:] = ...`, `w.data -= ...`) are NOT counted, as in PyTorch;
    neither are updates seen through a view (`w.T`, `w.reshape(...)`, `w[0]`, `w.detach()` have
    versions of their own): make such writes only between a backward() and the next forward.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_version", "__weakref__")

    # NumPy defers to our reflected operators: `ndarray * Tensor` calls Tensor.__rmul__ and gives a
    # Tensor, instead of NumPy building an object array of Tensors.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        array = _as_array(data, dtype, copy=True)
        if requires_grad and not _is_float(array.dtype):
            raise TypeError(
                f"only floating-point tensors can require a gradient; this one has dtype "
                f"{array.dtype}. Pass dtype=np.float64 (or float32) to make it differentiable."
            )
        self.data: np.ndarray = array
        self.grad: Tensor | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._ctx: Function | None = None  # the op that produced this tensor; None for a leaf
        self._version = 0  # the clock at the last in-place update of `data` (bump_version)

    @classmethod
    def from_numpy(cls, array: np.ndarray) -> Tensor:
        """A tensor that SHARES `array` (no copy): writes to one are seen by the other."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"Tensor.from_numpy needs an ndarray, got {type(array).__name__}; "
                            f"use Tensor(data) for numbers and lists")
        return cls._from_op(_as_array(array), None)

    @classmethod
    def _from_op(cls, data: np.ndarray, ctx: Function | None) -> Tensor:
        """A result of an op: no conversion or validation (this is the hot path)."""
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out.requires_grad = ctx is not None
        out._ctx = ctx
        out._version = 0
        return out

    # ---------------------------------------------------------------- array-like attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not produced by a recorded operation)."""
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             f"use (t > 0).data.any() or .all()")
        return bool(self.data)

    def __repr__(self) -> str:
        grad_info = f", grad_fn={type(self._ctx).__name__}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        body = np.array2string(self.data, prefix="Tensor(", separator=", ", threshold=20)
        return f"Tensor({body}, dtype={self.dtype}{grad_info})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # np.asarray(tensor) and matplotlib see the values.
        return self.data if dtype is None else self.data.astype(dtype)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with exactly one element; this one has shape {self.shape}"
            )
        return self.data.item()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data but cut off from the graph (never requires grad)."""
        return Tensor._from_op(self.data, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place (only on floating leaves) and return self."""
        if requires_grad and not _is_float(self.dtype):
            raise TypeError(f"only floating-point tensors can require a gradient; got {self.dtype}")
        if self._ctx is not None:
            raise RuntimeError("requires_grad_() is for leaf tensors; use detach() on results")
        self.requires_grad = bool(requires_grad)
        return self

    # ---------------------------------------------------------------- backward
    def backward(
        self, grad: Any = None, retain_graph: bool = False, check_finite: bool = False
    ) -> None:
        """Backpropagate: add dSelf/dLeaf into `.grad` of every leaf that requires a gradient.

        grad:          dLoss/dSelf. Omit it for a one-element tensor (it is then 1); give an
                       array of self's shape for any other tensor.
        retain_graph:  keep the graph's saved arrays so that backward can run through it again.
                       By default they are released as soon as they are used, to free memory.
        check_finite:  raise FloatingPointError if self (the loss) or `grad` holds NaN or inf,
                       or as soon as an op's backward produces NaN or inf in a gradient,
                       naming the op (instead of letting it spread silently into the weights).
                       It checks the gradients, not the forward values of the intermediate
                       tensors: a NaN made in the forward pass is seen where it reaches the loss.

        Raises RuntimeError if an op's saved input was updated in place since the forward pass
        (an optimizer step between the forward and this backward; see `_version`).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require a gradient: no input of the "
                "computation had requires_grad=True (or it ran inside no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient works only for a one-element tensor (a "
                    f"loss); this one has shape {self.shape}. Pass grad= an array of that shape."
                )
            seed = np.ones_like(self.data)
        else:
            # Converted after the numeric check (a complex grad is refused, not truncated), and
            # a copy: the walk may keep it in a .grad.
            seed = _as_array(grad).astype(self.dtype)
            if seed.shape != self.shape:
                raise ValueError(
                    f"backward(grad=...) needs a gradient of the tensor's shape {self.shape}; "
                    f"got shape {seed.shape}"
                )
        if check_finite and not (np.all(np.isfinite(self.data)) and np.all(np.isfinite(seed))):
            made_by = type(self._ctx).__name__ if self._ctx is not None else "a leaf"
            raise FloatingPointError(
                f"backward(check_finite=True): the tensor backward starts from (the loss, made "
                f"by {made_by}, shape {self.shape}) or its grad= holds NaN or inf: the forward "
                f"pass already failed. Look for log of a value <= 0, 0/0, or overflow in exp."
            )

        # The walk. A node's gradient is complete once every op that used it has passed its
        # share back: `waiting` counts, per node, the uses whose backward has not run yet, and a
        # node is `ready` when its count reaches 0 (the loss is ready at once). `pending` holds
        # dLoss/dNode, summed over the paths seen so far. (Tensors are the keys, by identity.)
        # A leaf needs no complete gradient before passing it on: each share goes straight into
        # its .grad (PyTorch's AccumulateGrad does the same).
        waiting = _count_uses(self)
        pending: dict[Tensor, np.ndarray] = {self: seed}
        ready = [self]
        while ready:
            node = ready.pop()
            node_grad = pending.pop(node, None)  # None: no path from the loss carried a gradient
            ctx = node._ctx
            if ctx is None:  # a leaf: its shares are in .grad already, unless it is the loss
                if node_grad is not None:
                    _accumulate_leaf_grad(node, node_grad)
                continue
            if node_grad is None:
                input_grads: Any = (None,) * len(ctx.parents)
            else:
                input_grads = ctx.backward(node_grad)
                if type(input_grads) is not tuple:  # one input: a bare gradient
                    input_grads = (input_grads,)
                if len(input_grads) != len(ctx.parents):
                    raise RuntimeError(f"{type(ctx).__name__}.backward returned "
                                       f"{len(input_grads)} gradients for {len(ctx.parents)} "
                                       f"inputs")
            # zip without strict=True: the lengths were just checked, and strict=True cost
            # 1,500 instructions per node (zip cannot take a keyword through the fast call).
            for parent, parent_grad in zip(ctx.parents, input_grads):  # noqa: B905
                if not parent.requires_grad:
                    continue
                if parent_grad is not None:
                    if check_finite and not np.all(np.isfinite(parent_grad)):
                        _raise_not_finite(ctx, parent)
                    if parent._ctx is None:  # a leaf: into .grad now (no full-size sum of
                        _accumulate_leaf_grad(  # its shares first)
                            parent, parent_grad, ctx.fresh_gradients)
                    elif parent in pending:
                        pending[parent] = pending[parent] + parent_grad  # a fresh array
                    else:
                        pending[parent] = parent_grad
                uses_left = waiting[parent] - 1  # one lookup less than -= then a test: -350
                waiting[parent] = uses_left       # instructions per node
                if not uses_left:
                    ready.append(parent)
            if not retain_graph:
                # Release the context: drop its saved arrays and its links to the inputs, which
                # frees the graph behind it as the walk goes (unless something else holds it).
                # Here rather than in a method: 650 instructions less per node (3%).
                ctx.saved = ctx.parents = ()
                ctx.released = True

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=index)

    # ---------------------------------------------------------------- comparisons (no gradient)
    # They return bool tensors that carry no gradient: a step function's derivative is 0.
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._from_op(np.asarray(self.data < _as_array(other)), None)

    def __le__(self, other: Any) -> Tensor:
        return Tensor._from_op(np.asarray(self.data <= _as_array(other)), None)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._from_op(np.asarray(self.data > _as_array(other)), None)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._from_op(np.asarray(self.data >= _as_array(other)), None)

    def __eq__(self, other: Any) -> Tensor | bool:  # type: ignore[override]
        if other is None:  # `t == None` is False, as in PyTorch (not NumPy's elementwise test)
            return False
        return Tensor._from_op(np.asarray(self.data == _as_array(other)), None)

    def __ne__(self, other: Any) -> Tensor | bool:  # type: ignore[override]
        if other is None:
            return True
        return Tensor._from_op(np.asarray(self.data != _as_array(other)), None)

    __hash__ = object.__hash__  # tensors are hashed by identity, like PyTorch's

    # ---------------------------------------------------------------- elementwise functions
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return ops.LeakyReLU.apply(self, negative_slope=negative_slope)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return ops.Clip.apply(self, low=min, high=max)

    def maximum(self, other: Any) -> Tensor:
        return ops.Maximum.apply(self, other)

    # ---------------------------------------------------------------- reductions
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    # ---------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def flatten(self) -> Tensor:
        """A 1-D view of all elements (C order)."""
        return ops.Reshape.apply(self, shape=(-1,))

    def transpose(self, *axes: int) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.Transpose.apply(self, axes=axes or None)

    @property
    def T(self) -> Tensor:  # noqa: N802 (NumPy's name)
        return ops.Transpose.apply(self, axes=None)


def _count_uses(root: Tensor) -> dict[Tensor, int]:
    """For every node reachable from `root` that needs a gradient: how many recorded ops use it.

    `x * x` uses x twice, and a diamond (b = f(a), c = g(a), d = b + c) uses a twice: its
    gradient is complete only after both uses passed theirs back. An iterative depth-first
    search (a recursive one overflows Python's stack on a chain of a few thousand ops).
    The graph is checked on the way, before any gradient is computed: a released op, or an op
    whose saved input was updated in place since the forward pass, is an error.
    Tensors are the keys: they hash by identity (`object.__hash__`), and two live tensors never
    have equal hashes, so their elementwise `__eq__` is never called; a lookup costs half of one
    keyed by id(node). (Counting uses, then walking, replaced a topological sort followed by a
    walk over the sorted list: 24,900 -> 21,100 instructions per (2, 2) op's backward.)
    """
    uses = {root: 0}
    stack = [root]
    while stack:
        ctx = stack.pop()._ctx
        if ctx is None:
            continue
        if ctx.released:
            raise RuntimeError(
                f"backward through a graph that was already released (at {type(ctx).__name__}): "
                f"its saved arrays were freed by an earlier backward(). Call the first "
                f"backward(retain_graph=True) to backpropagate through the same graph twice."
            )
        for parent in ctx.parents:  # (a zip(..., strict=True) here cost 1,500 instructions more)
            if parent._version > ctx.created_at:  # updated in place since the op ran
                _check_saved_input_unchanged(ctx, parent)
            if not parent.requires_grad:
                continue
            if parent in uses:
                uses[parent] += 1
            else:
                uses[parent] = 1
                stack.append(parent)
    return uses


def _raise_not_finite(ctx: Function, parent: Tensor) -> None:
    index = next(i for i, p in enumerate(ctx.parents) if p is parent)
    raise FloatingPointError(
        f"{type(ctx).__name__}.backward produced NaN or inf in the gradient of its input "
        f"{index} (shape {parent.shape}). Look at that op's inputs: log or division near 0, "
        f"overflow in exp, or a NaN already in the loss."
    )


def _check_saved_input_unchanged(ctx: Function, parent: Tensor) -> None:
    """Refuse to run an op's backward if an input whose array it saved was updated in place.

    The op noted the clock when it ran, and the input's `_version` is later: an optimizer step
    since then changed the arrays its backward reads (Mul's dL/da = grad * b uses b as it is
    NOW), so the gradient would be computed from the new weights: silently wrong. Only inputs
    the op saved matter: Add's backward reads no input, so an update of its inputs changes
    nothing.
    """
    if any(saved is parent.data for saved in ctx.saved):
        index = next(i for i, p in enumerate(ctx.parents) if p is parent)
        raise RuntimeError(
            f"{type(ctx).__name__}.backward needs its input {index} (shape {parent.shape}) "
            f"as it was in the forward pass, but it was updated in place since (an optimizer "
            f"step or load_state_dict). Call backward() before optimizer.step(), or recompute "
            f"the forward pass after the update."
        )


def _accumulate_leaf_grad(leaf: Tensor, grad: np.ndarray, fresh: bool = False) -> None:
    """leaf.grad += grad, in place when a gradient is already there.

    The first time, a COPY of `grad` is stored: the same array may reach another leaf too (Add's
    backward hands it to both inputs) or be a view of another array, and a later in-place
    accumulation must never change two gradients at once. Unless the op that made `grad` says
    its gradients are `fresh` (made by its backward, held by nothing else) and the dtype is the
    leaf's: then the leaf keeps the array itself. On relu5_he's mini-batches that is one
    (30, 12288) array less per step, and in one process the pattern of allocations with the copy
    page faulted 35 times as often (1,335 against 38 faults per epoch): 1.31x the floor with the
    copy, 1.11x without (median of 3 interleaved runs each).

    The walk calls this for each share as it arrives, so a leaf used twice costs one copy and one
    in-place sum, where summing the shares first cost one more full-size array: relu5_he in
    mini-batches of 64 went from 1.19x to 1.14x the NumPy floor (W1 is used by W1 @ x and by the
    L2 term; median of 4 interleaved runs of 40 epochs each).
    """
    if grad.shape != leaf.shape:  # an op's backward broke its contract: fail loudly
        raise RuntimeError(f"gradient of shape {grad.shape} for a leaf of shape {leaf.shape}")
    if leaf.grad is not None:
        if not isinstance(leaf.grad, Tensor) or leaf.grad.shape != leaf.shape:
            raise RuntimeError(
                f"cannot accumulate into the .grad of a leaf of shape {leaf.shape}: its .grad is "
                f"{_describe(leaf.grad)}, set by hand. Set it to None (zero_grad()) or to a "
                f"Tensor of the leaf's shape."
            )
        leaf.grad.data += grad
        return
    if fresh and type(grad) is np.ndarray and grad.dtype == leaf.dtype:
        leaf.grad = Tensor._from_op(grad, None)
        return
    # A copy in the leaf's dtype (a float64 gradient met by a float32 leaf stays float32), and a
    # real ndarray even for a NumPy scalar.
    leaf.grad = Tensor._from_op(np.array(grad, dtype=leaf.dtype), None)


class Function:
    """One differentiable operation, and the context of one use of it in a graph.

    A subclass defines, side by side:
      forward(self, *arrays, **options) -> ndarray     the value, from the inputs' arrays
      backward(self, grad) -> tuple of ndarray | None  dLoss/dInput for each input, given
                                                       grad = dLoss/dOutput (the VJP)
    `forward` keeps what `backward` needs with `save_for_backward` (and nothing else), and
    `backward` may skip inputs whose `needs_input_grad[i]` is False by returning None for them:
    the expensive case is the data matrix in a training step, which never needs a gradient.
    Backward must not modify `grad` in place (other ops may share it). An op whose inputs NumPy
    may refuse (shapes that do not broadcast or multiply) overrides `check_inputs` to say so in
    its own words; it runs only after `forward` failed.
    """

    # Filled in by `apply` (parents, needs_input_grad, created_at) and by `forward` (saved).
    # Class attributes and no __init__: creating a context and setting the fields every op has
    # costs 860 instructions less than an __init__ setting all of them (callgrind).
    parents: tuple[Tensor, ...] = ()        # the input tensors, in order
    needs_input_grad: tuple[bool, ...] = ()  # parent.requires_grad for each parent
    created_at = 0                          # the clock when the op ran (see `bump_version`)
    saved: tuple[Any, ...] = ()             # what backward needs, from save_for_backward
    released = False                        # True once backward freed `saved` and `parents`
    # True for an op whose backward returns arrays it made itself and hands to nobody else: a
    # leaf may then keep one as its .grad without copying it (see `_accumulate_leaf_grad`).
    # MatMul and SumOfSquares say so: they make the (out, in) shares of a weight's gradient.
    fresh_gradients = False

    def save_for_backward(self, *values: Any) -> None:
        self.saved = values

    def check_inputs(self, *arrays: np.ndarray) -> None:
        """Raise a clear error naming the op and the shapes if it cannot take these inputs.

        Called only when `forward` raised ValueError: NumPy refuses shapes that do not broadcast
        or multiply anyway, and checking first cost every op a call (about 11% of the forward of
        a Mul on (2, 2) arrays, counted in instructions). An op that must refuse inputs NumPy
        would accept (BCE's logits and labels of different shapes) checks them in `forward`.
        """

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...] | np.ndarray | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run the op on tensors (or numbers / arrays) and record it in the graph if needed."""
        ctx = cls()
        arrays = _record_inputs(ctx, inputs)
        try:
            out = ctx.forward(*arrays, **options)
        except ValueError:
            ctx.check_inputs(*arrays)  # raises its own message if the inputs are at fault
            raise
        if not isinstance(out, np.ndarray):  # NumPy gives scalars for 0-d results: keep arrays
            out = np.asarray(out)
        # The result, built here rather than by Tensor._from_op: one call less per op, 4% of the
        # forward of a Mul on (2, 2) arrays (1,100 of 24,700 instructions, counted by callgrind).
        recording = _grad_enabled and True in ctx.needs_input_grad
        result = Tensor.__new__(Tensor)
        result.data, result.grad, result._version = out, None, 0
        result.requires_grad = recording
        if recording:
            ctx.created_at = _clock
            result._ctx = ctx
        else:
            result._ctx = None  # nothing to differentiate: ctx and its saved arrays are freed
        return result


def _record_inputs(ctx: Function, inputs: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """Fill in `ctx.parents` (the inputs as tensors: numbers and arrays are wrapped by
    `_as_tensors`) and `ctx.needs_input_grad`, and return the inputs' arrays.

    Spelled out for one tensor and for two of one dtype (nearly every op): in Python 3.11 a list
    comprehension is a function call that allocates, and one per field made the forward on the
    (2, 2) chain benchmark 17% slower (their own time and the garbage collector's). Filling in
    the context here rather than returning the fields to `apply`: about 500 instructions less
    per op (callgrind).
    """
    if len(inputs) == 2:
        a, b = inputs
        if type(a) is Tensor and type(b) is Tensor and a.data.dtype is b.data.dtype:
            ctx.parents = inputs
            ctx.needs_input_grad = (a.requires_grad, b.requires_grad)
            return a.data, b.data
    elif len(inputs) == 1 and type(inputs[0]) is Tensor:
        ctx.parents = inputs
        ctx.needs_input_grad = (inputs[0].requires_grad,)
        return (inputs[0].data,)
    tensors = ctx.parents = _as_tensors(inputs)
    ctx.needs_input_grad = tuple([t.requires_grad for t in tensors])
    return tuple([t.data for t in tensors])


def _as_tensors(inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Wrap numbers and arrays as constant tensors, keeping a floating tensor's dtype.

    A number, a NumPy scalar, a 0-d array, or an int / bool tensor beside a floating tensor takes
    that tensor's dtype, so `x32 * 0.5` and `x32 + int_tensor` stay float32 (NumPy would upcast
    them to float64). See the module docstring for the whole rule.
    """
    like = None  # the dtype of the first floating tensor among the inputs
    for value in inputs:
        if isinstance(value, Tensor) and value.data.dtype.kind == "f":
            like = value.data.dtype
            break
    tensors = []
    for value in inputs:
        if isinstance(value, Tensor):
            if like is not None and value.data.dtype.kind in "biu":  # a constant: convert it
                value = Tensor._from_op(value.data.astype(like), None)
            tensors.append(value)
        elif like is not None and isinstance(value, (bool, int, float)):
            tensors.append(Tensor._from_op(np.asarray(value, dtype=like), None))
        elif like is not None and isinstance(value, (np.generic, np.ndarray)) and not value.ndim:
            tensors.append(Tensor._from_op(_as_array(value).astype(like), None))
        else:
            tensors.append(Tensor._from_op(_as_array(value), None))
    return tuple(tensors)


def _describe(value: Any) -> str:
    """`value`'s type, with its shape if it has one, for error messages."""
    shape = getattr(value, "shape", None)
    return type(value).__name__ + (f" of shape {tuple(shape)}" if shape is not None else "")


# ops.py defines the operations as subclasses of Function (above), so it is imported last.
from tinygrad_edu import ops  # noqa: E402
