"""The course's networks, and any network from a spec, built through the Tensor API.

    from models import build, parse_net, SPECS
    model = build("relu5_he", seed=0)           # 12288-30-30-30-30-1, ReLU, the course's He init
    spec = SPECS["relu5_he"]                    # lr 0.008, 2200 iterations, L2 1.5 on layer 1
    loss_fn = spec.loss_fn()                    # BCE + the penalty on the layers the course chose
    spec = parse_net("tanh8:depth=8,activation=tanh,init=xavier,lr=0.01")
    spec = parse_net("relu5_he,residual=on")    # a named network with changes

Every network is Linear -> [BatchNorm ->] activation [+ the layer's input], repeated, then
Linear -> sigmoid: the output is the probability of "cat". The entries of SPECS and the specs
`parse_net` reads are the same kind of object (ModelSpec), built by the same code (CourseNet).

The --net grammar (`parse_net`):
    NAME:KEY=VALUE,KEY=VALUE,...    a new network called NAME (not a name of SPECS), starting
                                    from DEFAULTS (depth 4, width 30, relu, he, lr 0.008, ...)
    NAME,KEY=VALUE,...              the network NAME of SPECS with these changes
    NAME                            the network NAME of SPECS as it is
Keys:
    depth=N           hidden layers, 0 (logistic regression) to 1000
    width=N           units of every hidden layer (>= 1)
    activation=A      sigmoid, centered_sigmoid, tanh, relu, leaky_relu, leaky_relu(SLOPE)
                      (SLOPE >= 0; leaky_relu alone is leaky_relu(0.01))
    init=I            small, xavier, he, he_course, normal(STD) (W ~ N(0, STD^2), STD > 0)
    lr=X              learning rate (> 0)
    iterations=N      training iterations (>= 1)
    l2=LAMBDA[@LAYERS]  L2 penalty (lambda / 2m) ||W^[l]||^2 on LAYERS, e.g. l2=1.5@1 or
                      l2=1.5@1+2; without @, every layer; l2=0 removes it
    norm=none|batch   batch normalization of every hidden layer (Linear -> BatchNorm -> g)
    residual=on|off   a^[l] = g(z^[l]) + a^[l-1] wherever n^[l] = n^[l-1] (needs depth >= 2)
    loss=probability|logits   BCE on a^[L], or the stable BCE on the logits z^[L]
    clip=X|none|off   clip the gradients to a global norm of at most X (> 0) before each step
Every problem raises SpecError (a ValueError) with one line naming the key, the value and what
is allowed, before anything is built or trained.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu import nn
from tinygrad_edu.nn.init import get_initializer
from tinygrad_edu.nn import layers
from tinygrad_edu.nn.layers import as_generator
from tinygrad_edu.optim import clip_grad_norm
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.training import LossFunction

IMAGE_FEATURES = 64 * 64 * 3  # 12288 pixels per flattened image
NORMS = ("none", "batch")
MAX_DEPTH = 1000


class CourseNet(nn.Module):
    """fc1 -> [bn1 ->] act1 -> fc2 -> ... -> fcL -> sigmoid, with sizes [n_0, n_1, ..., n_L].

    Layers are attributes named as in the course (fc1, fc2, ...), so parameters are named
    "fc1.weight", "fc1.bias", ...; `hidden_activation` is "sigmoid", "centered_sigmoid", "relu",
    "tanh", "leaky_relu" or "leaky_relu(SLOPE)".

    norm="batch" puts a BatchNorm between each hidden Linear and its activation; that Linear
    then has no bias, because BatchNorm subtracts the batch mean (any b would cancel exactly,
    its gradient being 0) and its beta is the shift instead.
    residual=True adds each hidden layer's input to its output, a^[l] = g(z^[l]) + a^[l-1],
    at every hidden layer l whose width equals the previous one (n^[l] = n^[l-1]); the others,
    such as 12288 -> 30, and the output layer stay plain. `residual_layers` lists where.
    """

    def __init__(self, sizes: list[int], hidden_activation: str, init: Any = "small",
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float64,
                 norm: str = "none", residual: bool = False) -> None:
        if len(sizes) < 2:
            raise ValueError(f"CourseNet needs at least input and output sizes, got {sizes}")
        if norm not in NORMS:
            raise ValueError(f"CourseNet: unknown norm {norm!r}; choose one of {NORMS}")
        rng = as_generator(rng)
        self.sizes = list(sizes)
        self.hidden_activation = hidden_activation
        self.norm = norm
        self.depth = len(sizes) - 1
        self.residual_layers = tuple(layer for layer in range(1, self.depth)
                                     if residual and sizes[layer] == sizes[layer - 1])
        for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            hidden = layer < self.depth
            batch_norm = hidden and norm == "batch"
            # setattr, because the number of layers varies; the names are the course's.
            setattr(self, f"fc{layer}", nn.Linear(n_in, n_out, bias=not batch_norm, init=init,
                                                  rng=rng, dtype=dtype))
            if batch_norm:
                setattr(self, f"bn{layer}", nn.BatchNorm(n_out, dtype=dtype))
            if hidden:
                setattr(self, f"act{layer}", make_activation(hidden_activation))

    def linear_layers(self) -> list[nn.Linear]:
        """fc1, ..., fcL (the gradient monitor finds the same layers, in the same order,
        through `modules()`, which every Module has)."""
        return [getattr(self, f"fc{layer}") for layer in range(1, self.depth + 1)]

    def logits(self, x: Tensor) -> Tensor:
        """z^[L], the output layer's linear part (before the sigmoid)."""
        a = x
        for layer in range(1, self.depth):
            z = getattr(self, f"fc{layer}")(a)                     # (n_l, m)
            if self.norm == "batch":
                z = getattr(self, f"bn{layer}")(z)
            g = getattr(self, f"act{layer}")(z)
            a = g + a if layer in self.residual_layers else g      # the skip: + a^[l-1]
        return getattr(self, f"fc{self.depth}")(a)

    def forward(self, x: Tensor) -> Tensor:
        """a^[L] = sigma(z^[L]): the probability of "cat", shape (1, m)."""
        return self.logits(x).sigmoid()


# One table of activations, beside the layers (tinygrad_edu/nn/layers.py): their names here,
# the modules from make_activation (which reads "leaky_relu(SLOPE)" too).
ACTIVATIONS = tuple(layers.ACTIVATIONS)
make_activation = layers.make_activation


@dataclass
class GradientClipping:
    """A `fit` callback that clips the gradients to a global norm of at most `max_norm`.

    `fit` runs callbacks after backward and before the update, which is exactly where clipping
    belongs. `norms` collects the norm before clipping of every iteration. Put it AFTER a
    GradientMonitor in the callback list to record the gradients as backward made them, BEFORE
    it to record what the step uses.
    """

    max_norm: float
    norms: list[float] = field(default_factory=list)

    def __call__(self, iteration: int, model: nn.Module, loss: float) -> None:
        self.norms.append(clip_grad_norm(model.parameters(), self.max_norm))


@dataclass(frozen=True)
class ModelSpec:
    """A network of the course (or one of our additions, or one from --net) and the settings it
    is trained with."""

    name: str
    hidden: tuple[int, ...]            # hidden layer widths
    activation: str                    # hidden activation (see make_activation)
    init: str                          # weight initializer (see tinygrad_edu.nn.init)
    learning_rate: float = 0.008       # the course's, for specs that give none
    iterations: int = 2000             # the course's, for specs that give none
    lamda: float = 0.0                 # L2 penalty strength ...
    penalized_layers: tuple[int, ...] = ()  # ... on these layers (1 = first)
    logits_loss: bool = False          # train on z^[L] with the stable logits loss
    course_accuracy: tuple[float, float] | None = None  # (train, test) the course printed
    note: str = ""
    norm: str = "none"                 # "batch": BatchNorm before each hidden activation
    residual: bool = False             # a^[l] = g(z^[l]) + a^[l-1] where widths match
    clip: float | None = None          # max global gradient norm, None = no clipping

    @property
    def architecture(self) -> str:
        return "-".join(str(n) for n in (IMAGE_FEATURES, *self.hidden, 1))

    @property
    def settings(self) -> str:
        """Every setting in the --net grammar: parse_net(f"NAME:{spec.settings}") rebuilds it
        (the grammar has one width for all hidden layers, as every network here has)."""
        width = self.hidden[0] if self.hidden else DEFAULTS.hidden[0]
        layers = "+".join(map(str, self.penalized_layers))
        return ",".join([
            f"depth={len(self.hidden)}", f"width={width}", f"activation={self.activation}",
            f"init={self.init}", f"lr={self.learning_rate!r}", f"iterations={self.iterations}",
            f"l2={self.lamda!r}@{layers}" if self.lamda and layers else "l2=0",
            f"norm={self.norm}", f"residual={'on' if self.residual else 'off'}",
            f"loss={'logits' if self.logits_loss else 'probability'}",
            f"clip={self.clip!r}" if self.clip is not None else "clip=none",
        ])

    def build(self, seed: int | None = 0, in_features: int = IMAGE_FEATURES,
              dtype: Any = np.float64) -> CourseNet:
        return CourseNet([in_features, *self.hidden, 1], self.activation, self.init,
                         rng=seed, dtype=dtype, norm=self.norm, residual=self.residual)

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

    def clip_callback(self) -> GradientClipping | None:
        """The `fit` callback that clips the gradients (clip=X), or None without clipping."""
        return GradientClipping(self.clip) if self.clip is not None else None


_COURSE = dict(learning_rate=0.008, iterations=2000)
_DEEP = (30, 30, 30, 30)
_DEEP12 = (30,) * 12

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
    # The remedies (issue 8), also ours: batch normalization, residual connections, clipping.
    ModelSpec("sigmoid5_batchnorm", _DEEP, "sigmoid", "small", learning_rate=0.008,
              iterations=1000, norm="batch",
              note="sigmoid5 with batch normalization before each hidden sigmoid"),
    ModelSpec("sigmoid12", _DEEP12, "sigmoid", "small", learning_rate=0.008, iterations=1500,
              note="12 hidden sigmoid layers, the course's 0.01 weights: the gradient vanishes"),
    ModelSpec("sigmoid12_residual", _DEEP12, "sigmoid", "small", learning_rate=0.008,
              iterations=1500, residual=True,
              note="sigmoid12 with residual connections a^[l] = g(z^[l]) + a^[l-1]"),
    ModelSpec("relu5_normal", _DEEP, "relu", "normal(1.0)", learning_rate=0.008,
              iterations=500, logits_loss=True,
              note="N(0, 1) weights: exploding; logits loss (the probability's sigmoid "
                   "saturates and every gradient would be 0)"),
    ModelSpec("relu5_normal_clip", _DEEP, "relu", "normal(1.0)", learning_rate=0.008,
              iterations=500, logits_loss=True, clip=1.0,
              note="relu5_normal with the gradients clipped to a global norm of 1"),
]}

COURSE_EXPERIMENTS = ("sigmoid4", "sigmoid5", "relu4", "relu5", "relu5_he", "sigmoid5_xavier")
OUR_ADDITIONS = ("relu5_he_correct", "tanh5_xavier", "sigmoid5_logits", "relu5_he_logits",
                 "sigmoid5_batchnorm", "sigmoid12", "sigmoid12_residual", "relu5_normal",
                 "relu5_normal_clip")


def build(name: str, seed: int | None = 0, in_features: int = IMAGE_FEATURES,
          dtype: Any = np.float64) -> CourseNet:
    """The network `name` (see SPECS), its weights drawn from a Generator seeded with `seed`."""
    return get_spec(name).build(seed=seed, in_features=in_features, dtype=dtype)


def get_spec(name: str) -> ModelSpec:
    if name not in SPECS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
    return SPECS[name]


# ==================================================================== any network: --net SPEC
class SpecError(ValueError):
    """A --net spec that cannot be built: one line naming the key, the value and what is
    allowed (the study prints it and exits with status 2)."""


# Where a new network (NAME:KEYS) starts: the course's deep ReLU net with He et al.'s init.
DEFAULTS = ModelSpec("default", _DEEP, "relu", "he")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_KEYS = ("depth", "width", "activation", "init", "lr", "iterations", "l2", "norm", "residual",
         "loss", "clip")
_SWITCH = {"on": True, "off": False}
_LOSSES = {"probability": False, "logits": True}


def _integer(key: str, value: str, low: int, high: int | None = None) -> int:
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    try:
        number = int(value)
    except ValueError:
        raise SpecError(f"{key}={value!r}: must be {allowed}") from None
    if number < low or (high is not None and number > high):
        raise SpecError(f"{key}={value!r}: must be {allowed}")
    return number


def _positive(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise SpecError(f"{key}={value!r}: must be a finite number > 0")
    return number


def _l2(value: str) -> tuple[float, tuple[int, ...] | None]:
    """'1.5@1+2' -> (1.5, (1, 2)); '1.5' -> (1.5, None): every layer, resolved once the depth
    is known; '0' -> no penalty."""
    strength, _, layers = value.partition("@")
    allowed = "LAMBDA (>= 0) or LAMBDA@LAYERS with LAYERS like 1 or 1+2"
    try:
        lamda = float(strength)
    except ValueError:
        raise SpecError(f"l2={value!r}: must be {allowed}") from None
    if not math.isfinite(lamda) or lamda < 0:
        raise SpecError(f"l2={value!r}: must be {allowed}")
    if not layers:
        if "@" in value:
            raise SpecError(f"l2={value!r}: no layer after '@'; must be {allowed}")
        return lamda, None
    try:
        numbers = tuple(int(layer) for layer in layers.split("+"))
    except ValueError:
        raise SpecError(f"l2={value!r}: must be {allowed}") from None
    if len(set(numbers)) != len(numbers):
        raise SpecError(f"l2={value!r}: a layer is named twice")
    return lamda, tuple(sorted(numbers))


def parse_net(text: str) -> ModelSpec:
    """Read a --net spec (grammar in the module docstring) into a ModelSpec, checking every
    setting and their combinations; nothing is built.

        parse_net("tanh8:depth=8,activation=tanh,init=xavier,lr=0.01")
        parse_net("relu5_he,residual=on")          # named "relu5_he,residual=on"

    A named network with changes is named by the text itself, so a table row says what ran.

    Raises:
        SpecError: one line naming the key, the value and what is allowed.
    """
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"--net {text!r}: empty; give NAME, NAME,KEY=VALUE,... or "
                        f"NAME:KEY=VALUE,...")
    text = text.strip()
    head, colon, rest = text.partition(":")
    if colon:
        name, items, base = head.strip(), rest, DEFAULTS
        if name in SPECS:
            raise SpecError(f"--net {text!r}: the name {name!r} is one of the course's "
                            f"networks; write {name},KEY=VALUE to change it, or choose a new "
                            f"name")
    else:
        name, _, items = text.partition(",")
        name = name.strip()
        if name not in SPECS:
            raise SpecError(f"--net {text!r}: unknown network {name!r}; choose one of "
                            f"{', '.join(SPECS)}, or write NEWNAME:KEY=VALUE,...")
        base = SPECS[name]
        name = text if items.strip() else name
    if not _NAME.fullmatch(name.split(",")[0]):
        raise SpecError(f"--net {text!r}: the name {name!r} must start with a letter and "
                        f"hold only letters, digits, '_', '-' and '.'")

    settings: dict[str, str] = {}
    for item in (part.strip() for part in items.split(",")) if items.strip() else ():
        key, equals, value = (s.strip() for s in item.partition("="))
        if not equals or not key or not value:
            raise SpecError(f"--net {text!r}: {item!r} is not KEY=VALUE (keys: "
                            f"{', '.join(_KEYS)})")
        if key not in _KEYS:
            raise SpecError(f"--net {text!r}: unknown key {key!r} (={value}); keys: "
                            f"{', '.join(_KEYS)}")
        if key in settings:
            raise SpecError(f"--net {text!r}: {key} is given twice ({settings[key]!r} and "
                            f"{value!r})")
        settings[key] = value
    try:
        return _apply(name, base, settings)
    except SpecError as error:
        raise SpecError(f"--net {text!r}: {error}") from None


def _apply(name: str, base: ModelSpec, settings: dict[str, str]) -> ModelSpec:
    """`base` with `settings` (validated strings by key) applied; checks the combinations."""
    if not settings and name == base.name:
        return base  # a network of SPECS as it is
    # A changed network is no longer the course's: its accuracy and note do not carry over.
    changes: dict[str, Any] = {"name": name, "course_accuracy": None, "note": ""}
    width = base.hidden[0] if base.hidden else DEFAULTS.hidden[0]
    depth = len(base.hidden)
    if "width" in settings:
        width = _integer("width", settings["width"], 1)
    if "depth" in settings:
        depth = _integer("depth", settings["depth"], 0, MAX_DEPTH)
    if "width" in settings or "depth" in settings:
        changes["hidden"] = (width,) * depth
    if "activation" in settings:
        value = settings["activation"]
        try:
            make_activation(value)
        except ValueError:
            raise SpecError(f"activation={value!r}: choose one of {', '.join(ACTIVATIONS)} or "
                            f"leaky_relu(SLOPE) with SLOPE >= 0") from None
        changes["activation"] = value
    if "init" in settings:
        value = settings["init"]
        try:
            get_initializer(value)
        except ValueError:
            raise SpecError(f"init={value!r}: choose one of small, xavier, he, he_course or "
                            f"normal(STD) with STD > 0") from None
        changes["init"] = value
    if "lr" in settings:
        changes["learning_rate"] = _positive("lr", settings["lr"])
    if "iterations" in settings:
        changes["iterations"] = _integer("iterations", settings["iterations"], 1)
    for key, field_name, choices in (("norm", "norm", {n: n for n in NORMS}),
                                     ("residual", "residual", _SWITCH),
                                     ("loss", "logits_loss", _LOSSES)):
        if key in settings:
            if settings[key] not in choices:
                raise SpecError(f"{key}={settings[key]!r}: choose one of {', '.join(choices)}")
            changes[field_name] = choices[settings[key]]
    if "clip" in settings:
        value = settings["clip"]
        changes["clip"] = None if value in ("none", "off") else _positive("clip", value)
    spec = dataclasses.replace(base, **changes)

    n_layers = len(spec.hidden) + 1  # hidden layers and the output layer
    if "l2" in settings:
        lamda, layers = _l2(settings["l2"])
        if layers is None:
            layers = tuple(range(1, n_layers + 1))
        bad = [layer for layer in layers if not 1 <= layer <= n_layers]
        if bad:
            raise SpecError(f"l2={settings['l2']!r}: layer {bad[0]} does not exist; this "
                            f"network has layers 1 to {n_layers}")
        spec = dataclasses.replace(spec, lamda=lamda, penalized_layers=layers if lamda else ())
    elif any(layer > n_layers for layer in spec.penalized_layers):
        raise SpecError(f"depth={len(spec.hidden)}: {base.name}'s L2 penalty is on layers "
                        f"{'+'.join(map(str, spec.penalized_layers))}, and this network has "
                        f"layers 1 to {n_layers}; give l2= too")
    if spec.norm == "batch" and not spec.hidden:
        raise SpecError("norm=batch with depth=0: there is no hidden layer to normalize; "
                        "use depth >= 1 or norm=none")
    if spec.residual and len(spec.hidden) < 2:
        raise SpecError(f"residual=on with depth={len(spec.hidden)}: a skip connection needs "
                        f"two hidden layers of the same width (the first, fed by the "
                        f"{IMAGE_FEATURES} pixels, has none); use depth >= 2 or residual=off")
    return spec
