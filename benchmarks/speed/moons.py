"""The small-net workload every autodiff peer demonstrates: micrograd's demo, as data and math.

A 2-16-16-1 MLP (ReLU hidden layers, linear output) on 100 two-moons points, full batch,
100 steps of SGD on micrograd's loss: the mean hinge loss max(0, 1 - y s) over the points
(labels y = +-1, score s) plus 1e-4 times the sum of the squares of all parameters, with
micrograd's learning rate 1.0 - 0.9 k / 100 at step k. Samples are COLUMNS: x is (2, 100),
each layer computes z = W @ a + b with W (out, in), b (out, 1). The initial weights are drawn
like micrograd's (uniform in [-1, 1], biases 0), from a seeded numpy Generator, and handed to
every framework.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZES = (2, 16, 16, 1)
POINTS = 100
STEPS = 100
ALPHA = 1e-4   # the L2 penalty's weight
NOISE = 0.1    # the standard deviation of the noise added to the moons


@dataclass
class Moons:
    """The workload: data (samples as columns) and initial weights, all float64."""

    x: np.ndarray                                  # (2, 100)
    y: np.ndarray                                  # (1, 100), entries -1 or +1
    weights: list[tuple[np.ndarray, np.ndarray]]   # [(W1, b1), ...]: W (out, in), b (out, 1)


def learning_rate(step: int) -> float:
    """micrograd's schedule: from 1.0 at step 0 down to 0.109 at step 99."""
    return 1.0 - 0.9 * step / STEPS


def make_moons(seed: int = 0) -> Moons:
    """Two interleaved half circles with Gaussian noise, and micrograd-style initial weights."""
    rng = np.random.default_rng(seed)
    half = POINTS // 2
    angle_outer = np.linspace(0, np.pi, half)
    angle_inner = np.linspace(0, np.pi, POINTS - half)
    outer = np.stack([np.cos(angle_outer), np.sin(angle_outer)])             # (2, 50)
    inner = np.stack([1 - np.cos(angle_inner), 0.5 - np.sin(angle_inner)])   # (2, 50)
    x = np.concatenate([outer, inner], axis=1) + NOISE * rng.standard_normal((2, POINTS))
    y = np.concatenate([-np.ones(half), np.ones(POINTS - half)])[None, :]
    weights = [(rng.uniform(-1, 1, (fan_out, fan_in)), np.zeros((fan_out, 1)))
               for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True)]
    return Moons(x, y, weights)


def numpy_loss_and_gradients(
        weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray, y: np.ndarray,
) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    """The loss and its gradient, written out in NumPy: the FLOOR of the workload.

    Forward z^[l] = W^[l] a^[l-1] + b^[l], a^[l] = relu(z^[l]) (the output s = z^[3] stays
    linear); margin = 1 - y s; loss = sum(relu(margin)) / n + ALPHA sum(p^2).
    Backward: ds = -y [margin > 0] / n; then per layer dW = dz a_prev^T + 2 ALPHA W,
    db = sum of dz over the columns + 2 ALPHA b, da_prev = W^T dz, dz = da [z > 0].
    """
    n = x.shape[1]
    caches, a = [], x
    last = len(weights) - 1
    for layer, (w, b) in enumerate(weights):
        z = w @ a + b                                   # (out, in) @ (in, n) -> (out, n)
        caches.append((a, z))
        a = z if layer == last else np.maximum(z, 0)
    margin = 1 - y * a                                  # (1, n)
    penalty = sum(np.sum(w * w) + np.sum(b * b) for w, b in weights)
    loss = np.sum(np.maximum(margin, 0)) / n + ALPHA * penalty
    dz = -y * (margin > 0) / n                          # d loss / d s
    grads = []
    for layer in range(last, -1, -1):
        w, b = weights[layer]
        a_prev, z = caches[layer]
        if layer != last:
            dz = dz * (z > 0)                           # relu'(z) = [z > 0]
        grads.append((dz @ a_prev.T + 2 * ALPHA * w,    # (out, n) @ (n, in) -> (out, in)
                      np.sum(dz, axis=1, keepdims=True) + 2 * ALPHA * b))
        if layer > 0:
            dz = w.T @ dz                               # (in, out) @ (out, n) -> (in, n)
    return float(loss), grads[::-1]


def curves_agree(losses: list[float], reference: list[float], rtol: float) -> tuple[bool, str]:
    """Whether a loss curve matches the reference's first steps, with the largest deviation."""
    if len(losses) > len(reference) or not losses:
        return False, f"{len(losses)} losses against a reference of {len(reference)}"
    actual, expected = np.asarray(losses), np.asarray(reference[:len(losses)])
    if not np.all(np.isfinite(actual)):
        return False, "a loss is not finite"
    deviation = float(np.max(np.abs(actual - expected) / np.abs(expected)))
    return deviation <= rtol, f"largest relative deviation {deviation:.1e} over {len(losses)} steps"
