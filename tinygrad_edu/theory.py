"""The theory beside the measurement: variance propagation through a network at initialization.

Glorot & Bengio (2010) and He et al. (2015) choose the variance of the initial weights with one
argument: follow the variance of z^[l] forward and the variance of dz^[l] back, layer by layer,
and ask that neither shrink nor grow. This module makes that argument a prediction, per layer,
for the course's fully connected nets, so that it can be set beside what `GradientMonitor`
measures at iteration 0 (and a student can see where it holds and where it does not).

Notation (the course's; samples are columns). Layer l = 1..L has n_l units; n_0 is the number of
input features (12288 pixels). z^[l] = W^[l] a^[l-1] + b^[l] with W^[l] of shape (n_l, n_{l-1}),
a^[0] = x, a^[l] = f(z^[l]) for the hidden layers l < L, and a sigmoid output a^[L]. At
initialization b^[l] = 0 and the entries of W^[l] are iid N(0, s_l^2); `weight_std` gives s_l for
each initializer of `tinygrad_edu.nn.init`.

Forward. For one unit i and one sample, z_i = sum_j W_ij a_j (n_{l-1} terms). With the W_ij
independent of the a_j and of mean 0, the cross terms vanish in expectation and

    var(z^[l]) = E[(z^[l])^2] = n_{l-1} s_l^2 E[(a^[l-1])^2].                          (F)

E[a^2], not var(a): a sigmoid's output has mean 1/2, and that mean counts (the course's
derivation drops E[a]^2 by assuming centred activations; He's keeps it, as (F) does).
* Layer 1 sees the data: E[(a^[0])^2] = E[x^2] is MEASURED, the mean of x^2 over every entry of
  the (n_0, m) data matrix (`input_second_moment`). No assumption on the pixels is needed for
  (F) itself: E_W[(z_i)^2] = s_1^2 ||x||^2 for each image exactly.
* Layers l >= 2: z^[l-1] is a sum of many independent terms, so (central limit, "mean field" at
  large width) it is Gaussian, z ~ N(0, v) with v = var(z^[l-1]), and
  E[(a^[l-1])^2] = E[f(z)^2] for z ~ N(0, v) (`second_moment`).

Backward. dz^[L] = (a^[L] - y) / m for the cross-entropy of a sigmoid output, and for l < L

    da^[l] = W^[l+1]^T dz^[l+1],   dz^[l] = da^[l] * f'(z^[l]),   dW^[l] = dz^[l] a^[l-1]^T.

da^[l]_j = sum_i W^[l+1]_ij dz^[l+1]_i sums n_{l+1} terms (the units of the layer above), so
with W^[l+1] independent of dz^[l+1] and f'(z^[l]) independent of da^[l]:

    E[(dz^[l])^2] = B_l E[(dz^[l+1])^2],   B_l = n_{l+1} s_{l+1}^2 E[f'(z^[l])^2],       (B)

with z^[l] ~ N(0, var(z^[l])) from the forward pass (`slope_second_moment`). B_l is the factor
by which the gradient's variance changes going back through layer l: Xavier's and He's
conditions are B_l = 1 (n_{l+1}, the fan-out, is why Glorot's backward condition is
var(W) = 1/n_out). Then dW^[l]_ij = sum over the m samples of dz^[l]_i a^[l-1]_j, and with dz and
a independent, its n_l n_{l-1} entries give

    E ||dW^[l]||_F^2 = C n_l n_{l-1} E[(dz^[l])^2] E[(a^[l-1])^2],                    (G)

where C says how the m per-sample terms add up (C = m if they were independent). C is unknown
(it depends on the labels and on how alike the images are), so we predict ratios, in which it
cancels if it is the same at every layer: relative to the last hidden layer, L-1,

    ||dW^[l]||_F / ||dW^[L-1]||_F
      = sqrt( n_l n_{l-1} E[a^[l-1]^2] / (n_{L-1} n_{L-2} E[a^[L-2]^2]) * B_l ... B_{L-2} )

(for l = L the product becomes 1 / B_{L-1}). The widths n_l n_{l-1} count the weights: with
equal gradients per weight, layer 1 of a 12288-30-30-30-30-1 net has sqrt(12288 / 30) ~ 20
times layer 4's norm (`Prediction.gradient_ratio_per_weight` divides that out).

The assumptions, and where they break on the course's nets:
1. W independent of a and of dz, mean 0, b = 0: true at initialization for (F); for (B) it is
   the usual "gradient independence" approximation (dz^[l+1] depends on W^[l+1] through the
   forward pass, by O(1/sqrt(n)) per weight).
2. Gaussian z of mean 0 from layer 2 on: a sum of 30 terms is close to Gaussian, but with 30
   units a layer's measured statistics are averages over few independent numbers (below).
3. Mean field, large width: the measured std is over n_l units and m images; it scatters around
   the prediction by about 1/sqrt(2 n_l) relative (13 % for 30 units) from seed to seed, because
4. non-centred inputs make every image look alike to a unit: pixels are in [0, 1] with a large
   common mean, so z^[1]_i ~ W_i . mean(x) for every image; a sigmoid's a ~ 1/2 and a ReLU's
   a >= 0 do the same in the layers above. The samples are then far from independent and the
   sum over them in dW (the factor C of (G)) need not be the same at every layer: the gradient
   ratio is the least reliable prediction, the std of z the most.
5. The activation's slope at 0 is what Xavier assumes to be 1: tanh has it, the centred sigmoid
   sigma(z) - 1/2 has slope 1/4, so E[f'^2] ~ 1/16 and both the signal and the gradient shrink
   about four-fold per layer under Xavier. The prediction includes this (it is Xavier's
   assumption that fails, not the variance argument).
6. ReLU halves: E[relu(z)^2] = var(z)/2 and E[relu'(z)^2] = 1/2 for a Gaussian of mean 0; He's
   2/n_in pays it back exactly; the course's 1/(2 n_in) makes B_l = 1/4 per layer.
7. Penalties: a layer with an L2 penalty has (lamda/m) W^[l] added to its dW^[l] (the monitor
   records the gradient the optimizer uses); the prediction is for the data term only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from tinygrad_edu.monitor import MonitorRecords

ACTIVATIONS = ("sigmoid", "centered_sigmoid", "tanh", "relu", "leaky_relu")
DEFAULT_NEGATIVE_SLOPE = 0.01  # leaky ReLU's slope for z < 0 when none is given (PyTorch's)

# Gauss-Hermite (probabilists'): sum_k w_k g(sqrt(v) t_k) / sqrt(2 pi) = E[g(z)], z ~ N(0, v),
# exact when g is a polynomial of degree < 2 * NODES. Our activations bend on a scale of about 1
# in z; while the Gaussian's std is at most GAUSS_HERMITE_MAX_STD the nodes resolve that bend
# (measured against a fine trapezoid rule, 101 nodes: relative error below 1e-9 for every
# activation here at std 1, 4e-6 at std 1.5, 3e-4 at std 2 for tanh'^2, whose bend then falls
# between the nodes). Every net that neither explodes nor saturates has std z below 1 here.
GAUSS_HERMITE_NODES = 101
GAUSS_HERMITE_MAX_STD = 1.0
# Wider Gaussians (an exploding net): composite Gauss-Legendre, 16 nodes per panel, panels of
# width PANEL_WIDTH where the activations bend (|z| < BEND_HALF_WIDTH: sigma(40) = 1 - 4e-18,
# tanh saturates sooner) and of width std/2 beyond, out to TAIL_STDS standard deviations
# (the Gaussian's mass beyond 10 std is 2e-23).
PANEL_WIDTH = 0.5
BEND_HALF_WIDTH = 40.0
TAIL_STDS = 10.0
LEGENDRE_NODES = 16


# ------------------------------------------------------------------------------- the weights
def weight_std(init: str | float, n_in: int, n_out: int) -> float:
    """s_l, the std of W^[l]'s entries for an initializer of `tinygrad_edu.nn.init`:

    small: 0.01 (the course's randn * 0.01); xavier: sqrt(2 / (n_in + n_out)); he:
    sqrt(2 / n_in); he_course: sqrt(1 / (2 n_in)); a number: that std (N(0, std^2) weights).
    """
    if isinstance(init, (int, float, np.floating, np.integer)) and not isinstance(init, bool):
        if not (math.isfinite(init) and init >= 0):
            raise ValueError(f"weight_std: a numeric init is the weights' std and must be a "
                             f"finite number >= 0, got {init!r}")
        return float(init)
    formulas: dict[str, Callable[[int, int], float]] = {
        "small": lambda n_in, n_out: 0.01,
        "xavier": lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)),
        "he": lambda n_in, n_out: math.sqrt(2.0 / n_in),
        "he_course": lambda n_in, n_out: math.sqrt(1.0 / (2.0 * n_in)),
    }
    if init not in formulas:
        raise ValueError(f"weight_std: unknown init {init!r}; choose one of {sorted(formulas)} "
                         f"or give the weights' std as a number")
    return formulas[init](n_in, n_out)


def input_second_moment(x: Any) -> float:
    """E[x^2] over every entry of the data matrix x (n_0, m): what layer 1's (F) needs.

    For the cat images (pixels / 255) this includes the pixels' large common mean: E[x^2] is
    not var(x).
    """
    data = np.asarray(getattr(x, "data", x), dtype=np.float64)
    if data.ndim != 2 or data.size == 0 or not np.all(np.isfinite(data)):
        raise ValueError(f"input_second_moment: x must be a finite (features, m) matrix, got "
                         f"shape {data.shape}")
    flat = data.ravel()
    return float(np.dot(flat, flat) / flat.size)


# ------------------------------------------------------------------- Gaussian expectations
def gaussian_expectation(g: Callable[[np.ndarray], np.ndarray], variance: float) -> float:
    """E[g(z)] for z ~ N(0, variance), by quadrature (see the constants above).

    variance 0 gives g(0). Gauss-Hermite (numpy's hermegauss) while the std is at most
    GAUSS_HERMITE_MAX_STD, composite Gauss-Legendre beyond.
    """
    if not (math.isfinite(variance) and variance >= 0):
        raise ValueError(f"gaussian_expectation: the variance must be finite and >= 0, got "
                         f"{variance!r} (the net's forward variance overflowed?)")
    std = math.sqrt(variance)
    if std == 0.0:
        return float(g(np.zeros(1))[0])
    if std <= GAUSS_HERMITE_MAX_STD:
        t, w = hermegauss(GAUSS_HERMITE_NODES)  # weight e^(-t^2 / 2): sum(w) = sqrt(2 pi)
        return float(np.dot(w, g(std * t)) / math.sqrt(2.0 * math.pi))
    edge = TAIL_STDS * std
    inner = min(BEND_HALF_WIDTH, edge)
    bend = np.linspace(-inner, inner, int(math.ceil(2 * inner / PANEL_WIDTH)) + 1)
    tail = np.linspace(inner, edge, int(math.ceil(2 * (edge - inner) / std)) + 1)[1:]
    breaks = np.concatenate([-tail[::-1], bend, tail]) if tail.size else bend
    t, w = leggauss(LEGENDRE_NODES)  # on [-1, 1]
    left, right = breaks[:-1, None], breaks[1:, None]
    z = (left + right) / 2 + (right - left) / 2 * t  # (panels, nodes)
    weights = (right - left) / 2 * w
    density = np.exp(-z * z / (2.0 * variance)) / (std * math.sqrt(2.0 * math.pi))
    return float(np.sum(weights * density * g(z)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(z / 2.0))  # = 1 / (1 + e^-z), without overflow


def _check_activation(activation: str, negative_slope: float) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; the theory knows "
                         f"{', '.join(ACTIVATIONS)}")
    if activation == "leaky_relu" and not (math.isfinite(negative_slope)
                                           and negative_slope >= 0):
        raise ValueError(f"leaky_relu: negative_slope must be a finite number >= 0, got "
                         f"{negative_slope!r}")


def second_moment(activation: str, variance: float,
                  negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> float:
    """E[f(z)^2] for z ~ N(0, variance): what the next layer's (F) multiplies by.

    Closed forms: relu: variance / 2 (z > 0 half the time, and E[z^2 | z > 0] = variance);
    leaky_relu: (1 + slope^2) variance / 2. By quadrature (`gaussian_expectation`): sigmoid,
    centered_sigmoid (sigma(z) - 1/2), tanh.
    """
    _check_activation(activation, negative_slope)
    if activation == "relu":
        return variance / 2.0
    if activation == "leaky_relu":
        return (1.0 + negative_slope ** 2) * variance / 2.0
    f = {"sigmoid": _sigmoid, "centered_sigmoid": lambda z: _sigmoid(z) - 0.5,
         "tanh": np.tanh}[activation]
    return gaussian_expectation(lambda z: f(z) ** 2, variance)


def slope_second_moment(activation: str, variance: float,
                        negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> float:
    """E[f'(z)^2] for z ~ N(0, variance): what the backward factor B_l multiplies by.

    Closed forms: relu: 1/2 (f' is 1 for z > 0, 0 otherwise; relu'(0) = 0 has probability 0);
    leaky_relu: (1 + slope^2) / 2. By quadrature: sigmoid and centered_sigmoid
    (sigma' = sigma (1 - sigma) <= 1/4 for both), tanh (1 - tanh^2).
    """
    _check_activation(activation, negative_slope)
    if activation == "relu":
        return 0.5
    if activation == "leaky_relu":
        return (1.0 + negative_slope ** 2) / 2.0
    if activation == "tanh":
        return gaussian_expectation(lambda z: (1.0 - np.tanh(z) ** 2) ** 2, variance)
    return gaussian_expectation(lambda z: (_sigmoid(z) * (1.0 - _sigmoid(z))) ** 2, variance)


# ------------------------------------------------------------------------------ prediction
@dataclass(frozen=True)
class Prediction:
    """What the variance argument predicts for a net at initialization (see the module doc).

    widths:              (n_0, n_1, ..., n_L)
    weight_std:          (L,) s_l
    a_second_moment:     (L,) E[(a^[l])^2] for l = 0..L-1 (entry 0: the measured E[x^2])
    z_variance:          (L,) var(z^[l]) for l = 1..L, by (F)
    backward_factor:     (L-1,) B_l for l = 1..L-1, by (B)
    gradient_ratio:      (L,) ||dW^[l]||_F / ||dW^[L-1]||_F for l = 1..L (1 at L-1), by (G)
    """

    widths: tuple[int, ...]
    activation: str
    negative_slope: float
    init: str | float
    weight_std: np.ndarray
    a_second_moment: np.ndarray
    z_variance: np.ndarray
    backward_factor: np.ndarray
    gradient_ratio: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def z_std(self) -> np.ndarray:
        """(L,) the predicted std of z^[l], l = 1..L."""
        return np.sqrt(self.z_variance)

    @property
    def weight_counts(self) -> np.ndarray:
        """(L,) n_l n_{l-1}, the number of weights of each layer."""
        n = np.asarray(self.widths, dtype=np.float64)
        return n[1:] * n[:-1]

    @property
    def gradient_ratio_per_weight(self) -> np.ndarray:
        """(L,) the RMS gradient per weight of layer l over that of layer L-1: the ratio with
        the layers' numbers of weights divided out (1 everywhere = every weight learns alike)."""
        counts = self.weight_counts
        return self.gradient_ratio * np.sqrt(counts[-2] / counts)

    def to_dict(self) -> dict[str, Any]:
        return {"widths": list(self.widths), "activation": self.activation,
                "negative_slope": self.negative_slope, "init": self.init,
                "weight_std": self.weight_std.tolist(),
                "input_second_moment": float(self.a_second_moment[0]),
                "z_std": self.z_std.tolist(), "backward_factor": self.backward_factor.tolist(),
                "gradient_ratio": self.gradient_ratio.tolist()}


def predict(widths: Sequence[int], activation: str, init: str | float,
            input_second_moment: float,
            negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> Prediction:
    """The forward std of z^[l] and the backward gradient ratios of a net at initialization.

    widths = (n_0, n_1, ..., n_L) with at least one hidden layer (L >= 2); `activation` is the
    hidden layers' (one of ACTIVATIONS; the output is a sigmoid and needs no moment); `init` a
    name of `tinygrad_edu.nn.init` or the weights' std; `input_second_moment` the measured E[x^2]
    of the data (`input_second_moment(x_train)`).
    """
    widths = tuple(int(n) for n in widths)
    if len(widths) < 3 or min(widths) < 1:
        raise ValueError(f"predict: widths must be (n_0, n_1, ..., n_L) with a hidden layer "
                         f"(L >= 2) and positive sizes, got {widths}")
    if not (math.isfinite(input_second_moment) and input_second_moment >= 0):
        raise ValueError(f"predict: input_second_moment must be E[x^2] >= 0, got "
                         f"{input_second_moment!r}")
    _check_activation(activation, negative_slope)
    depth = len(widths) - 1
    # Layer k = 1..L is index k - 1 of every per-layer array.
    s = np.array([weight_std(init, widths[k - 1], widths[k]) for k in range(1, depth + 1)])

    # Forward, (F): var(z^[k]) = n_{k-1} s_k^2 E[(a^[k-1])^2]; a_moment[k] = E[(a^[k])^2].
    a_moment = np.empty(depth)
    z_variance = np.empty(depth)
    a_moment[0] = input_second_moment
    for k in range(1, depth + 1):
        z_variance[k - 1] = widths[k - 1] * s[k - 1] ** 2 * a_moment[k - 1]
        if k < depth:
            a_moment[k] = second_moment(activation, z_variance[k - 1], negative_slope)

    # Backward, (B): B_k = n_{k+1} s_{k+1}^2 E[f'(z^[k])^2] for the hidden layers k = 1..L-1.
    backward = np.array([
        widths[k + 1] * s[k] ** 2
        * slope_second_moment(activation, z_variance[k - 1], negative_slope)
        for k in range(1, depth)])

    # E[(dz^[k])^2] relative to the last hidden layer's: the product B_k B_{k+1} ... B_{L-2}
    # (empty, 1, for k = L-1), and 1 / B_{L-1} for the output layer.
    delta = np.empty(depth)
    delta[depth - 2] = 1.0
    for k in range(depth - 2, 0, -1):
        delta[k - 1] = backward[k - 1] * delta[k]
    with np.errstate(divide="ignore"):
        delta[depth - 1] = 1.0 / backward[depth - 2]

    # (G): ||dW^[k]||_F^2 is proportional to n_k n_{k-1} E[(dz^[k])^2] E[(a^[k-1])^2].
    n = np.asarray(widths, dtype=np.float64)
    squared = n[1:] * n[:-1] * delta * a_moment
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(squared / squared[depth - 2])
    return Prediction(widths=widths, activation=activation, negative_slope=float(negative_slope),
                      init=init, weight_std=s, a_second_moment=a_moment, z_variance=z_variance,
                      backward_factor=backward, gradient_ratio=ratio)


def predict_forward_std(widths: Sequence[int], activation: str, init: str | float,
                        input_second_moment: float,
                        negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> np.ndarray:
    """(L,) the predicted std of z^[l], l = 1..L (see `predict`)."""
    return predict(widths, activation, init, input_second_moment, negative_slope).z_std


def predict_gradient_ratios(widths: Sequence[int], activation: str, init: str | float,
                            input_second_moment: float,
                            negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> np.ndarray:
    """(L,) the predicted ||dW^[l]||_F / ||dW^[L-1]||_F, l = 1..L (see `predict`)."""
    return predict(widths, activation, init, input_second_moment, negative_slope).gradient_ratio


# ------------------------------------------------------------------------------ measurement
@dataclass(frozen=True)
class Measurement:
    """The monitor's values at the first recorded iteration, one row per record (seed).

    z_std:           (S, L-1) the std of z^[l] of each hidden layer (over units and samples)
    gradient_ratio:  (S, L) ||dW^[l]||_F / ||dW^[L-1]||_F, from the recorded norms (a penalty's
                     (lamda/m) W included where the loss has one)
    """

    z_std: np.ndarray
    gradient_ratio: np.ndarray
    labels: tuple[str, ...]

    @property
    def z_std_mean(self) -> np.ndarray:
        return _geometric_mean(self.z_std)

    @property
    def gradient_ratio_mean(self) -> np.ndarray:
        return _geometric_mean(self.gradient_ratio)


def _geometric_mean(values: np.ndarray) -> np.ndarray:
    """Over the seeds (rows): the mean on the log scale the comparison is drawn on."""
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(values), axis=0))


def _as_list(records: MonitorRecords | Sequence[MonitorRecords]) -> list[MonitorRecords]:
    listed = [records] if isinstance(records, MonitorRecords) else list(records)
    if not listed or not all(isinstance(r, MonitorRecords) for r in listed):
        raise TypeError("expected MonitorRecords or a non-empty sequence of them")
    return listed


def measured_at_init(records: MonitorRecords | Sequence[MonitorRecords]) -> Measurement:
    """The std of z per hidden layer and the gradient ratios at iteration 0, per record.

    Several records (seeds of one experiment) give one row each; they must have the same
    layers. A record that does not start at iteration 0 is refused: later iterations are no
    longer "at initialization".
    """
    listed = _as_list(records)
    layers = listed[0].layer_names
    for r in listed:
        if r.layer_names != layers:
            raise ValueError(f"measured_at_init: records of different nets ({layers} and "
                             f"{r.layer_names}); pass the seeds of one experiment")
        if r.num_iterations == 0 or int(r.iterations[0]) != 0:
            raise ValueError(f"measured_at_init: the records of {r.meta.get('experiment', '?')} "
                             f"do not start at iteration 0")
        if len(r.layer_names) < 2:
            raise ValueError("measured_at_init: the net has no hidden layer")
    last_hidden = len(layers) - 2
    z_std = np.stack([r.stats["z_std"][0] for r in listed])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.stack([r.dw_norm[0] / r.dw_norm[0, last_hidden] for r in listed])
    labels = tuple(str(r.meta.get("seed", i)) for i, r in enumerate(listed))
    return Measurement(z_std=z_std, gradient_ratio=ratio, labels=labels)


def comparison_rows(prediction: Prediction, measurement: Measurement) -> list[dict[str, Any]]:
    """One dict per layer l = 1..L: predicted and measured std of z (hidden layers only; the
    monitor does not see z^[L]) and gradient ratio, measured as the geometric mean over seeds,
    with measured / predicted for both."""
    depth = prediction.depth
    if measurement.gradient_ratio.shape[1] != depth:
        raise ValueError(f"comparison: the prediction has {depth} layers, the records "
                         f"{measurement.gradient_ratio.shape[1]}")
    z_measured, g_measured = measurement.z_std_mean, measurement.gradient_ratio_mean
    rows = []
    for layer in range(1, depth + 1):
        hidden = layer < depth
        index = layer - 1
        row = {"layer": layer, "z_std_predicted": float(prediction.z_std[index]),
               "z_std_measured": float(z_measured[index]) if hidden else None,
               "gradient_ratio_predicted": float(prediction.gradient_ratio[index]),
               "gradient_ratio_measured": float(g_measured[index])}
        row["z_std_measured_over_predicted"] = (
            row["z_std_measured"] / row["z_std_predicted"] if hidden else None)
        row["gradient_ratio_measured_over_predicted"] = (
            row["gradient_ratio_measured"] / row["gradient_ratio_predicted"])
        rows.append(row)
    return rows


def comparison_table(prediction: Prediction, measurement: Measurement) -> str:
    """The comparison as a Markdown table, one line per layer."""
    def number(value: float | None) -> str:
        return "-" if value is None or not math.isfinite(value) else f"{value:.3g}"

    lines = ["| layer | std z^[l] predicted | measured | meas./pred. | "
             "‖dW^[l]‖/‖dW^[L-1]‖ predicted | measured | meas./pred. |",
             "|---|---|---|---|---|---|---|"]
    for row in comparison_rows(prediction, measurement):
        lines.append(
            f"| {row['layer']} | {number(row['z_std_predicted'])} | "
            f"{number(row['z_std_measured'])} | {number(row['z_std_measured_over_predicted'])} | "
            f"{number(row['gradient_ratio_predicted'])} | "
            f"{number(row['gradient_ratio_measured'])} | "
            f"{number(row['gradient_ratio_measured_over_predicted'])} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the study
def study_columns(spec_like: Any, records: MonitorRecords | Sequence[MonitorRecords],
                  x_train: Any, y_train: Any | None = None) -> dict[str, Any]:
    """What the study's table and JSON need about one experiment, as a JSON-able dict.

    `spec_like` has `hidden` (widths of the hidden layers), `activation`, `init` (a name or a
    std) and, optionally, `negative_slope`, `lamda` and `penalized_layers` (the L2 penalty,
    layers counted from 1), like `models.ModelSpec`. `records` are the experiment's monitor
    records (one per seed); `x_train` the (n_0, m) training data; `y_train` its (1, m) labels,
    for the diagnosis (without them, no diagnosis).

    Returns: the prediction, the measured values at iteration 0 (over seeds), the predicted and
    measured first / last-hidden gradient ratios (the table's columns), the final update:data
    ratio per layer (per seed; None without a learning rate) and, with labels, the diagnosis of
    each seed's run.
    """
    from tinygrad_edu.diagnosis import class_prior_of, diagnose, l2_penalty_trace

    listed = _as_list(records)
    x = np.asarray(getattr(x_train, "data", x_train))
    widths = (x.shape[0], *tuple(int(n) for n in spec_like.hidden), 1)
    slope = float(getattr(spec_like, "negative_slope", DEFAULT_NEGATIVE_SLOPE))
    prediction = predict(widths, spec_like.activation, spec_like.init, input_second_moment(x),
                         slope)
    measurement = measured_at_init(listed)
    columns: dict[str, Any] = {
        "prediction": prediction.to_dict(),
        "comparison": comparison_rows(prediction, measurement),
        "gradient_ratio_first_predicted": float(prediction.gradient_ratio[0]),
        "gradient_ratio_first_measured": float(measurement.gradient_ratio_mean[0]),
        "final_update_ratio": [  # None without a learning rate (JSON has no NaN)
            None if r.learning_rate is None
            else [float(v) if math.isfinite(v) else None for v in r.update_ratio[-1]]
            for r in listed],
    }
    if y_train is not None:
        prior = class_prior_of(y_train)
        lamda = float(getattr(spec_like, "lamda", 0.0) or 0.0)
        layers = tuple(getattr(spec_like, "penalized_layers", ()) or ())
        diagnoses = [diagnose(r, prior, penalty=l2_penalty_trace(r, lamda, x.shape[1], layers)
                              if lamda and layers else None) for r in listed]
        columns["diagnosis"] = [d.sentence for d in diagnoses]
        columns["diagnosis_labels"] = [list(d.labels) for d in diagnoses]
    return columns
