"""The course's networks, built through the Tensor API, with the course's training settings.

    from models import build, SPECS
    model = build("relu5_he", seed=0)           # 12288-30-30-30-30-1, ReLU, the course's He init
    spec = SPECS["relu5_he"]                    # lr 0.008, 2200 iterations, L2 1.5 on layer 1
    loss_fn = spec.loss_fn()                    # BCE + the penalty on the layers the course chose

Every network is Linear -> activation, repeated, then Linear -> sigmoid: the output is the
probability of "cat". The `*_logits` variants train on the logits with the stable loss instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu import nn
from tinygrad_edu.nn.layers import as_generator
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.training import LossFunction

IMAGE_FEATURES = 64 * 64 * 3  # 12288 pixels per flattened image


class CourseNet(nn.Module):
    """fc1 -> act1 -> fc2 -> act2 -> ... -> fcL -> sigmoid, with sizes [n_0, n_1, ..., n_L].

    Layers are attributes named as in the course (fc1, fc2, ...), so parameters are named
    "fc1.weight", "fc1.bias", ...; `hidden_activation` is "sigmoid", "centered_sigmoid", "relu"
    or "tanh".
    """

    def __init__(self, sizes: list[int], hidden_activation: str, init: Any = "small",
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float64) -> None:
        if len(sizes) < 2:
            raise ValueError(f"CourseNet needs at least input and output sizes, got {sizes}")
        rng = as_generator(rng)
        self.sizes = list(sizes)
        self.hidden_activation = hidden_activation
        self.depth = len(sizes) - 1
        for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            # setattr, because the number of layers varies; the names are the course's.
            setattr(self, f"fc{layer}", nn.Linear(n_in, n_out, init=init, rng=rng, dtype=dtype))
            if layer < self.depth:
                setattr(self, f"act{layer}", make_activation(hidden_activation))

    def linear_layers(self) -> list[nn.Linear]:
        return [getattr(self, f"fc{layer}") for layer in range(1, self.depth + 1)]

    def logits(self, x: Tensor) -> Tensor:
        """z^[L], the output layer's linear part (before the sigmoid)."""
        a = x
        for layer in range(1, self.depth):
            a = getattr(self, f"act{layer}")(getattr(self, f"fc{layer}")(a))
        return getattr(self, f"fc{self.depth}")(a)

    def forward(self, x: Tensor) -> Tensor:
        """a^[L] = sigma(z^[L]): the probability of "cat", shape (1, m)."""
        return self.logits(x).sigmoid()


def make_activation(name: str) -> nn.Module:
    activations = {
        "sigmoid": lambda: nn.Sigmoid(),
        "centered_sigmoid": lambda: nn.Sigmoid(centered=True),
        "relu": lambda: nn.ReLU(),
        "tanh": lambda: nn.Tanh(),
    }
    if name not in activations:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(activations)}")
    return activations[name]()


@dataclass(frozen=True)
class ModelSpec:
    """A network of the course (or one of our additions) and the settings it is trained with."""

    name: str
    hidden: tuple[int, ...]            # hidden layer widths
    activation: str                    # hidden activation
    init: str                          # weight initializer (see tinygrad_edu.nn.init)
    learning_rate: float | None = None
    iterations: int | None = None
    lamda: float = 0.0                 # L2 penalty strength ...
    penalized_layers: tuple[int, ...] = ()  # ... on these layers (1 = first)
    logits_loss: bool = False          # train on z^[L] with the stable logits loss
    course_accuracy: tuple[float, float] | None = None  # (train, test) the course printed
    note: str = ""

    @property
    def architecture(self) -> str:
        return "-".join(str(n) for n in (IMAGE_FEATURES, *self.hidden, 1))

    def build(self, seed: int | None = 0, in_features: int = IMAGE_FEATURES,
              dtype: Any = np.float64) -> CourseNet:
        return CourseNet([in_features, *self.hidden, 1], self.activation, self.init,
                         rng=seed, dtype=dtype)

    def loss_fn(self) -> LossFunction:
        """BCE on the output (or on the logits) + (lamda / 2m) ||W||^2 on the penalized layers."""
        lamda, layers, logits = self.lamda, self.penalized_layers, self.logits_loss

        def loss(model: CourseNet, x: Tensor, y: Tensor) -> Tensor:
            if logits:
                value = nn.binary_cross_entropy_with_logits(model.logits(x), y)
            else:
                value = nn.binary_cross_entropy(model(x), y)
            if lamda and layers:
                weights = [getattr(model, f"fc{layer}").weight for layer in layers]
                value = value + nn.l2_penalty(weights, lamda, m=x.shape[1])
            return value

        return loss


_COURSE = dict(learning_rate=0.008, iterations=2000)
_DEEP = (30, 30, 30, 30)

SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec("logistic", (), "sigmoid", "small", note="logistic regression"),
    ModelSpec("shallow", (30,), "relu", "small", note="the 2-layer net"),
    ModelSpec("sigmoid4", (30, 30, 30), "sigmoid", "small", **_COURSE,
              course_accuracy=(0.6555, 0.34)),
    ModelSpec("sigmoid5", _DEEP, "sigmoid", "small", **_COURSE, course_accuracy=(0.6555, 0.34)),
    ModelSpec("relu4", (30, 30, 30), "relu", "small", **_COURSE),
    ModelSpec("relu5", _DEEP, "relu", "small", **_COURSE),
    ModelSpec("relu5_he", _DEEP, "relu", "he_course", learning_rate=0.008, iterations=2200,
              lamda=1.5, penalized_layers=(1,), course_accuracy=(1.0, 0.78),
              note="the course's He variance 1/(2 n_in)"),
    ModelSpec("sigmoid5_xavier", _DEEP, "centered_sigmoid", "xavier", learning_rate=0.01,
              iterations=23000, lamda=1.0, penalized_layers=(1,),
              note="the course stops printing at 9300 of 23000 iterations: no accuracy given"),
    # Our additions, which the course does not have.
    ModelSpec("relu5_he_correct", _DEEP, "relu", "he", learning_rate=0.008, iterations=2200,
              lamda=1.5, penalized_layers=(1,), note="He et al.'s variance 2/n_in"),
    ModelSpec("tanh5_xavier", _DEEP, "tanh", "xavier", learning_rate=0.01, iterations=2000,
              lamda=1.0, penalized_layers=(1,), note="Xavier with tanh"),
    ModelSpec("sigmoid5_logits", _DEEP, "sigmoid", "small", **_COURSE, logits_loss=True,
              note="sigmoid5 trained with the stable logits loss"),
    ModelSpec("relu5_he_logits", _DEEP, "relu", "he_course", learning_rate=0.008,
              iterations=2200, lamda=1.5, penalized_layers=(1,), logits_loss=True,
              note="relu5_he trained with the stable logits loss"),
]}

COURSE_EXPERIMENTS = ("sigmoid4", "sigmoid5", "relu4", "relu5", "relu5_he", "sigmoid5_xavier")
OUR_ADDITIONS = ("relu5_he_correct", "tanh5_xavier", "sigmoid5_logits", "relu5_he_logits")


def build(name: str, seed: int | None = 0, in_features: int = IMAGE_FEATURES,
          dtype: Any = np.float64) -> CourseNet:
    """The network `name` (see SPECS), its weights drawn from a Generator seeded with `seed`."""
    return get_spec(name).build(seed=seed, in_features=in_features, dtype=dtype)


def get_spec(name: str) -> ModelSpec:
    if name not in SPECS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
    return SPECS[name]
