"""Layers: Linear, the activations (Sigmoid, ReLU, LeakyReLU, Tanh), Dropout.

The activations by name, in one table: `ACTIVATIONS` (name -> factory), `make_activation(name)`
(the module for a name, "leaky_relu(0.1)" included) and `activation_kind(module)` (the name of
a module's kind): the networks of models/ build theirs with the first two, the gradient monitor
recognises them with the third.

Samples are columns, as in the course: a batch x has shape (features, m), and Linear computes
z = W @ x + b with W of shape (out, in) and b of shape (out, 1), broadcast over the m columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu._checks import check_number
from tinygrad_edu.nn.init import Initializer, get_initializer
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator, a seed, or None (fresh entropy: not reproducible)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None; "
                    f"got {type(rng).__name__}")


class Linear(Module):
    """z = W @ x + b, for x of shape (in_features, m): one column per sample, as in the course.

    W has shape (out_features, in_features) and is drawn by `init` ("small", "xavier", "he",
    "he_course", or a callable (shape, rng) -> ndarray); b has shape (out_features, 1) and starts
    at zero. Autodiff gives the course's formulas: dW = dz @ x^T, db = sum of dz over the columns,
    dx = W^T @ dz (the last only when x requires a gradient).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str | Initializer = "small", rng: np.random.Generator | int | None = None,
                 dtype: Any = np.float64) -> None:
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Linear: {label} must be a positive integer, got {value!r}")
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(f"Linear: dtype must be a floating dtype, got {np.dtype(dtype)}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        initializer = get_initializer(init)
        self.init_name = getattr(initializer, "__name__", repr(initializer))
        shape = (self.out_features, self.in_features)
        # Tensor() copies (once, converting to dtype on the way): the layer owns its weights
        # even if a custom initializer hands back an array it keeps.
        weight = Tensor(initializer(shape, as_generator(rng)), dtype=dtype, requires_grad=True)
        if weight.shape != shape:
            raise ValueError(f"Linear: initializer {self.init_name} returned shape {weight.shape}, "
                             f"expected {shape}")
        self.weight = weight
        self.bias = Tensor(np.zeros((self.out_features, 1), dtype=dtype), requires_grad=True) \
            if bias else None

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        if not isinstance(x, (Tensor, np.ndarray)):
            raise TypeError(f"{self!r}: input must be a Tensor or an ndarray of shape "
                            f"({self.in_features}, m), got {type(x).__name__}; wrap it: "
                            f"Tensor(x)")
        if x.ndim != 2 or x.shape[0] != self.in_features:
            raise ValueError(
                f"{self!r}: input of shape {tuple(x.shape)} does not fit; expected "
                f"({self.in_features}, m), one column per sample. (A batch of row samples "
                f"needs x.T.)"
            )
        z = self.weight @ x  # (out, in) @ (in, m) -> (out, m)
        if self.bias is not None:
            z = z + self.bias  # (out, m) + (out, 1): the same bias for every sample
        return z

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, init={self.init_name}")


class Sigmoid(Module):
    """a = sigma(z) = 1 / (1 + e^-z); with centered=True, a = sigma(z) - 0.5 (the course's
    zero-centred variant for Xavier initialization). sigma'(z) = a (1 - a) <= 1/4 either way."""

    def __init__(self, centered: bool = False) -> None:
        self.centered = centered

    def forward(self, z: Tensor) -> Tensor:
        a = z.sigmoid()
        return a - 0.5 if self.centered else a

    def extra_repr(self) -> str:
        return "centered=True" if self.centered else ""


class ReLU(Module):
    """a = max(z, 0); relu'(z) = 1 for z > 0 and 0 otherwise (0 at z = 0)."""

    def forward(self, z: Tensor) -> Tensor:
        return z.relu()


class LeakyReLU(Module):
    """a = z for z > 0, negative_slope * z otherwise (Maas et al., 2013, "Rectifier
    Nonlinearities Improve Neural Network Acoustic Models"); its derivative is 1 or
    negative_slope (negative_slope at z = 0), never 0, so no unit dies as a ReLU unit can."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        if (not isinstance(negative_slope, (int, float, np.integer, np.floating))
                or isinstance(negative_slope, bool) or not np.isfinite(negative_slope)
                or negative_slope < 0):
            raise ValueError(f"LeakyReLU: negative_slope must be a finite number >= 0, got "
                             f"{negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, z: Tensor) -> Tensor:
        return z.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    """a = tanh(z); tanh'(z) = 1 - a^2 <= 1, centred on 0."""

    def forward(self, z: Tensor) -> Tensor:
        return z.tanh()


class Dropout(Module):
    """Inverted dropout: in training, keep each unit with probability keep_prob and divide the kept
    ones by keep_prob, so that the expected activation is unchanged and evaluation needs no
    rescaling; in evaluation mode, the identity.

    The mask is a constant of the graph: a = x * (d / keep_prob), so autodiff gives
    dx = da * d / keep_prob, the 1/keep_prob included (the course's backward forgot it).
    The last mask used (already divided by keep_prob) is kept in `last_mask` for inspection.
    """

    def __init__(self, keep_prob: float = 0.8, rng: np.random.Generator | int | None = None):
        self.keep_prob = check_number("Dropout", "keep_prob", keep_prob, 0.0, 1.0, low_open=True)
        self.rng = as_generator(rng)
        self.last_mask: np.ndarray | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.keep_prob == 1.0:
            return x
        keep = self.rng.random(x.shape) < self.keep_prob
        self.last_mask = keep.astype(x.dtype) / np.asarray(self.keep_prob, dtype=x.dtype)
        return x * self.last_mask

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}"


# ------------------------------------------------------------------------ activations by name
# name -> a factory of the module. "leaky_relu" is LeakyReLU's default slope (0.01);
# "leaky_relu(SLOPE)" chooses the slope (see make_activation).
ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "sigmoid": Sigmoid,
    "centered_sigmoid": lambda: Sigmoid(centered=True),
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
}
_LEAKY = re.compile(r"leaky_relu\((?P<slope>[^()]*)\)")


def make_activation(name: str) -> Module:
    """The activation module called `name`: a key of ACTIVATIONS, or "leaky_relu(SLOPE)" for a
    LeakyReLU of that negative slope (SLOPE >= 0)."""
    if isinstance(name, str) and name in ACTIVATIONS:
        return ACTIVATIONS[name]()
    leaky = _LEAKY.fullmatch(name) if isinstance(name, str) else None
    if leaky is None:
        raise ValueError(f"unknown activation {name!r}; choose one of {list(ACTIVATIONS)} or "
                         f"leaky_relu(SLOPE)")
    try:
        slope = float(leaky["slope"])
    except ValueError:
        raise ValueError(f"activation {name!r}: the slope must be a number, e.g. "
                         f"leaky_relu(0.1)") from None
    return LeakyReLU(slope)


def activation_kind(module: Module) -> str | None:
    """The ACTIVATIONS name of an activation module's kind ("leaky_relu" whatever its slope),
    or None for a module that is not one of them."""
    if isinstance(module, LeakyReLU):  # before ReLU: the two are separate classes, but say so
        return "leaky_relu"
    if isinstance(module, Sigmoid):
        return "centered_sigmoid" if module.centered else "sigmoid"
    if isinstance(module, Tanh):
        return "tanh"
    if isinstance(module, ReLU):
        return "relu"
    return None
