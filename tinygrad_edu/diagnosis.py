"""A diagnosis for a training run, from its monitor records and its labels alone.

    from tinygrad_edu.diagnosis import diagnose, class_prior_of
    diagnosis = diagnose(records, class_prior=class_prior_of(y_train))
    print(diagnosis)      # vanishing: at the start layer 1 receives 1.8e-06 of layer 4's ...
    diagnosis.labels      # ("vanishing", "stuck at the class prior")
    diagnosis.numbers     # the numbers that decided it, by name

The labels, each decided by numbers the monitor records (the thresholds are the constants below,
each with the reason for its value):

* **vanishing**: at the start, layer 1's gradient per weight (RMS over its weights,
  ||dW^[1]||_F / sqrt(n_1 n_0)) is below VANISHING_GRADIENT_RATIO of the last hidden layer's;
  or the forward signal dies: the std of z shrinks by more than VANISHING_SIGNAL_FACTOR per
  hidden layer (geometric mean over the layers), so the output no longer depends on the input.
* **exploding**: the mirror images (EXPLODING_GRADIENT_RATIO, EXPLODING_SIGNAL_FACTOR), or a
  step as large as the weights: an update:data ratio above EXPLODING_UPDATE_RATIO.
* **saturated**: at the start or the end, at least SATURATED_FRACTION of a sigmoid or tanh
  layer's entries have |z| above the monitor's threshold (4: sigma'(4) = 0.018).
* **dead units**: at the end, at least DEAD_FRACTION of a ReLU layer's units are dead (z <= 0
  on every sample: no gradient reaches them).
* **stuck at the class prior**: the loss without its penalty stays within PRIOR_LOSS_TOLERANCE
  of the prior's entropy H(p) = -(p log p + (1 - p) log(1 - p)) over at least the last
  PRIOR_WINDOW_FRACTION of the run: the net answers the class frequency p for every input
  (H(72/209) = 0.6440 on the cat data; its accuracy is the majority class's, 65.55 %).
* **healthy**: none of these.

The loss the monitor records includes any penalty; pass the penalty (an array per iteration, or
a number) to compare the data term with H(p): `l2_penalty_trace` computes the L2 penalty from the
recorded ||W^[l]||_F.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu.monitor import SATURATING, MonitorRecords

# Per weight, layer 1 learning 100 times more slowly than the last hidden layer: with one
# learning rate for all layers, the first layer then moves 1 % as fast as the last, and in the
# 2000 iterations of the course it has not moved at all by the time the others have settled.
# The nets that learn here are between 0.5 and 2 per weight at the start (relu5_he, tanh5_xavier,
# sigmoid5_xavier); the course's deep sigmoid nets are at 2e-4 (sigmoid4) and 2e-6 (sigmoid5).
VANISHING_GRADIENT_RATIO = 1e-2
EXPLODING_GRADIENT_RATIO = 1e2   # the mirror image: layer 1 takes steps 100x too large per weight
# The std of z shrinking 10-fold per layer: after three layers the signal is 1e-3 of layer 1's,
# and the output is a constant to three digits. The course's ReLU nets with 0.01 weights shrink
# 0.04-fold per layer; the centred sigmoid under Xavier (which learns, slowly) 0.25-fold; He 1.
VANISHING_SIGNAL_FACTOR = 0.1
# Its variance growing four-fold per layer: 1e6 after ten layers. N(0, 1) weights with ReLU and
# 30 units grow sqrt(30/2) = 3.9-fold per layer; nothing that learns here grows at all.
EXPLODING_SIGNAL_FACTOR = 2.0
# A step as large as the weights it changes rewrites the layer instead of adjusting it.
# Karpathy's healthy update:data ratio is about 1e-3. Compared with the MEDIAN over the run of
# each layer's ratio: the first steps on tiny weights are large (the course's small-init output
# layer starts at 6e-2; a learning rate of 1 takes it to 7) and harmless, because the weights
# grow and the ratio falls; a net that explodes keeps taking such steps.
EXPLODING_UPDATE_RATIO = 1.0
# Half of a layer's entries in the flat tails (sigma'(z) < 0.018 for |z| > 4): most of the
# layer passes almost no gradient.
SATURATED_FRACTION = 0.5
# Half of a ReLU layer's units receive no gradient at all. At initialization a few per cent are
# dead for the batch by chance (about 3 to 20 % in the course's ReLU nets); half is no accident.
DEAD_FRACTION = 0.5
# Within 0.01 nats of H(p): a constant answer q gives H(p) + KL(p || q), and KL stays below 0.01
# for q within about 0.07 of p = 0.34, while a net that has learnt anything about the images
# falls below H(p) (the stuck nets here sit at H(p) + 1e-5 to 3e-5).
PRIOR_LOSS_TOLERANCE = 0.01
PRIOR_WINDOW_FRACTION = 0.25     # "stuck" means for at least the last quarter of the run

LABELS = ("exploding", "vanishing", "saturated", "dead units", "stuck at the class prior",
          "healthy")


@dataclass(frozen=True)
class Diagnosis:
    """labels (a subset of LABELS, in that order), the sentence that explains them and the
    numbers that decided them (JSON-able; None where a number could not be measured)."""

    labels: tuple[str, ...]
    sentence: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.sentence

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "sentence": self.sentence, "numbers": self.numbers}


def prior_entropy(class_prior: float) -> float:
    """H(p) = -(p log p + (1 - p) log(1 - p)): the cross-entropy of always answering p."""
    p = float(class_prior)
    if not 0.0 < p < 1.0:
        raise ValueError(f"class prior must be in (0, 1) (the fraction of positive labels), "
                         f"got {class_prior!r}")
    return -(p * math.log(p) + (1.0 - p) * math.log(1.0 - p))


def class_prior_of(labels: Any) -> float:
    """The fraction of 1 labels in a (1, m) or (m,) array of 0/1 labels."""
    values = np.asarray(getattr(labels, "data", labels), dtype=np.float64).ravel()
    if values.size == 0 or not np.all((values == 0) | (values == 1)):
        raise ValueError("class_prior_of: labels must be a non-empty array of 0 and 1")
    return float(values.mean())


def l2_penalty_trace(records: MonitorRecords, lamda: float, m: int,
                     layers: Sequence[int]) -> np.ndarray:
    """(T,) the L2 penalty (lamda / 2m) sum_l ||W^[l]||_F^2 over `layers` (counted from 1) at
    every recorded iteration, from the recorded weight norms (NaN in files without them)."""
    if m < 1:
        raise ValueError(f"l2_penalty_trace: m (the number of training samples) must be >= 1, "
                         f"got {m!r}")
    total = np.zeros(records.num_iterations)
    for layer in layers:
        if not 1 <= layer <= len(records.layer_names):
            raise ValueError(f"l2_penalty_trace: layer {layer} does not exist (the net has "
                             f"{len(records.layer_names)} layers, counted from 1)")
        total += records.weight_norm[:, layer - 1] ** 2
    return lamda / (2.0 * m) * total


def _significant(value: float) -> str:
    return f"{value:.2g}"


def _per_weight_norms(records: MonitorRecords) -> tuple[np.ndarray, bool]:
    """(T, L) the RMS gradient per weight, or the Frobenius norms (False) in old files."""
    if records.layer_in_features is None:
        return records.dw_norm, False
    n_out = np.array([rows.shape[1] for rows in records.dw_neuron_norms], dtype=np.float64)
    n_in = np.asarray(records.layer_in_features, dtype=np.float64)
    return records.dw_norm / np.sqrt(n_in * n_out), True


def _signal_factor(z_std: np.ndarray) -> float | None:
    """The geometric mean of std z^[l+1] / std z^[l] over the hidden layers."""
    if z_std.size < 2 or not np.all(np.isfinite(z_std)) or z_std[0] <= 0:
        return None
    if z_std[-1] <= 0:
        return 0.0
    return float((z_std[-1] / z_std[0]) ** (1.0 / (z_std.size - 1)))


def _onset(close: np.ndarray) -> int | None:
    """The first index from which `close` is True to the end, or None if its last is False."""
    if close.size == 0 or not close[-1]:
        return None
    far = np.flatnonzero(~close)
    return int(far[-1] + 1) if far.size else 0


def diagnose(records: MonitorRecords, class_prior: float,
             penalty: np.ndarray | float | None = None) -> Diagnosis:
    """Label a run (see the module doc) and say why, in one sentence with its numbers.

    class_prior: the fraction of positive training labels (`class_prior_of(y_train)`);
    penalty: the loss's penalty per recorded iteration (or a constant), subtracted before the
    loss is compared with the prior's entropy; None for a loss without one.
    """
    if records.num_iterations == 0:
        raise ValueError("diagnose: the records are empty; record at least one iteration")
    depth = len(records.layer_names)
    if depth < 2:
        raise ValueError("diagnose: the net has no hidden layer; there is no gradient flow to "
                         "diagnose")
    entropy = prior_entropy(class_prior)
    last_hidden = depth - 2
    numbers: dict[str, Any] = {"prior_entropy": entropy}
    labels: set[str] = set()
    clauses: dict[str, list[str]] = {label: [] for label in LABELS}

    # ---- the gradient per weight, layer 1 against the last hidden layer, at the start
    norms, per_weight = _per_weight_norms(records)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = norms[:, 0] / norms[:, last_hidden]
    start_ratio, end_ratio = float(ratios[0]), float(ratios[-1])
    numbers.update(gradient_ratio_start=start_ratio, gradient_ratio_end=end_ratio,
                   gradient_ratio_per_weight=per_weight)
    how = "per weight" if per_weight else "in Frobenius norm (no layer widths in these records)"
    gradient_text = (f"at the start layer 1 receives {_significant(start_ratio)} of layer "
                     f"{last_hidden + 1}'s gradient {how}")
    if depth > 2 and np.isfinite(start_ratio):
        if start_ratio < VANISHING_GRADIENT_RATIO:
            labels.add("vanishing")
            clauses["vanishing"].append(gradient_text)
        elif start_ratio > EXPLODING_GRADIENT_RATIO:
            labels.add("exploding")
            clauses["exploding"].append(gradient_text)

    # ---- the forward signal: std of z from the first to the last hidden layer, at the start
    z_std = records.stats["z_std"][0]
    factor = _signal_factor(z_std)
    numbers["signal_factor_per_layer"] = factor
    if factor is not None:
        signal_text = (f"the std of z {'shrinks' if factor < 1 else 'grows'} "
                       f"{_significant(factor if factor >= 1 else 1 / max(factor, 1e-300))}"
                       f"-fold per layer at the start ({_significant(z_std[0])} at layer 1, "
                       f"{_significant(z_std[-1])} at layer {z_std.size})")
        if factor < VANISHING_SIGNAL_FACTOR:
            labels.add("vanishing")
            clauses["vanishing"].append(signal_text)
        elif factor > EXPLODING_SIGNAL_FACTOR:
            labels.add("exploding")
            clauses["exploding"].append(signal_text)

    # ---- the update:data ratio (recorded only with a learning rate)
    update = records.update_ratio
    if np.any(np.isfinite(update)):
        with np.errstate(invalid="ignore"):
            median = np.nanmedian(np.where(np.isfinite(update), update, np.nan), axis=0)
        layer = int(np.nanargmax(median))
        numbers["max_median_update_ratio"] = float(median[layer])
        numbers["final_update_ratio"] = [float(v) for v in update[-1]]
        if median[layer] > EXPLODING_UPDATE_RATIO:
            labels.add("exploding")
            clauses["exploding"].append(
                f"a step of layer {layer + 1} is {_significant(float(median[layer]))} times "
                f"its weights (median over the run)")
    else:
        numbers["max_median_update_ratio"] = None
        numbers["final_update_ratio"] = None

    # ---- saturation (sigmoid, tanh), at the start and the end
    saturating = [i for i, kind in enumerate(records.activations) if kind in SATURATING]
    if saturating:
        saturated = records.stats["saturated"][[0, -1]][:, saturating]  # (2, layers)
        saturated = np.where(np.isfinite(saturated), saturated, 0.0)
        when, column = np.unravel_index(int(np.argmax(saturated)), saturated.shape)
        most = float(saturated[when, column])
        numbers["max_saturated_fraction"] = most
        share = f"{most:.1%}" if 0 < most < 0.1 else f"{most:.0%}"  # 0.3 %, not 0 %
        where = (f"{share} of layer {saturating[column] + 1}'s z have |z| > "
                 f"{records.saturation_threshold:g} at the {('start', 'end')[when]}")
        if most >= SATURATED_FRACTION:
            labels.add("saturated")
            clauses["saturated"].append(where)
        else:
            saturation_note = "no unit saturated" if most == 0 else f"at most {where}"
    else:
        numbers["max_saturated_fraction"] = None
        saturation_note = ""

    # ---- dead ReLU units, at the end
    relu = [i for i, kind in enumerate(records.activations) if kind == "relu"]
    if relu:
        dead = np.nan_to_num(records.stats["dead"][-1, relu])
        column = int(np.argmax(dead))
        numbers["max_dead_fraction"] = float(dead[column])
        if dead[column] >= DEAD_FRACTION:
            labels.add("dead units")
            clauses["dead units"].append(
                f"{dead[column]:.0%} of layer {relu[column] + 1}'s units are dead (z <= 0 on "
                f"every sample) at the end")
    else:
        numbers["max_dead_fraction"] = None

    # ---- stuck at the class prior: the data loss at H(p) for the last part of the run
    subtracted = np.zeros(1) if penalty is None else np.asarray(penalty, dtype=np.float64)
    if subtracted.ndim > 1 or subtracted.size not in (1, records.num_iterations):
        raise ValueError(f"diagnose: penalty of shape {np.shape(penalty)} does not match the "
                         f"{records.num_iterations} recorded iterations; give one value per "
                         f"iteration or a number")
    data_loss = records.loss - subtracted
    onset = _onset(np.abs(data_loss - entropy) <= PRIOR_LOSS_TOLERANCE)
    window_start = int(math.floor((1.0 - PRIOR_WINDOW_FRACTION) * records.num_iterations))
    numbers["final_data_loss"] = float(data_loss[-1])
    numbers["prior_onset_iteration"] = None if onset is None else int(records.iterations[onset])
    if onset is not None and onset <= window_start:
        labels.add("stuck at the class prior")
        majority = max(class_prior, 1.0 - class_prior)
        iteration = int(records.iterations[onset])
        approx = f"~{float(_significant(iteration)):g}" if iteration >= 100 else str(iteration)
        clauses["stuck at the class prior"].append(
            f"predicts the class prior ({100 * majority:.2f} %) from iteration {approx}: the loss "
            f"stays within {PRIOR_LOSS_TOLERANCE:g} of the prior's entropy {entropy:.4f}")

    # ---- the sentence
    if not labels:
        labels.add("healthy")
        clauses["healthy"].append(
            f"{gradient_text}; the loss falls from {records.loss[0]:.4g} to "
            f"{records.loss[-1]:.4g}")
    ordered = tuple(label for label in LABELS if label in labels)
    parts = [clause for label in ordered for clause in clauses[label]]
    gradient_said = any(gradient_text in part for part in parts)
    if not gradient_said and np.isfinite(start_ratio) and depth > 2:
        parts.insert(1, gradient_text)
    # context, not a label: a signal that shrinks or grows more than two-fold per layer
    signal_said = any("the std of z" in part for part in parts)
    if factor is not None and not signal_said and not 0.5 <= factor <= 2.0:
        parts.append(signal_text)
    if saturating and "saturated" not in labels and saturation_note:
        parts.append(saturation_note)
    sentence = f"{', '.join(ordered)}: " + "; ".join(parts)
    return Diagnosis(labels=ordered, sentence=sentence, numbers=numbers)
