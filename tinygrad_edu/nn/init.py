"""Weight initializers: functions `(shape, rng) -> ndarray` for a weight of shape (out, in).

n_in = shape[1] is the number of incoming connections of a neuron (fan-in), n_out = shape[0].
All draws go through the `numpy.random.Generator` passed in, so a seed reproduces a model exactly.
Any callable with the same signature can be passed to `Linear(init=...)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple[int, int], np.random.Generator], np.ndarray]


def small(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """W ~ N(0, 0.01^2): the course's default `randn(out, in) * 0.01`.

    Small weights keep sigmoid units out of saturation, but with many layers they shrink the
    signal (and the gradient) by a factor of about 0.01 * sqrt(n_in) per layer.
    """
    return rng.standard_normal(shape) * 0.01


def xavier(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """W ~ N(0, 2 / (n_in + n_out)): Glorot & Bengio (2010), "Understanding the difficulty of
    training deep feedforward neural networks".

    var(z) = n_in var(W) var(a) keeps the forward variance when var(W) = 1/n_in, and the backward
    one when var(W) = 1/n_out; the compromise is their harmonic mean. It assumes activations
    centred on 0 (tanh, or the course's sigmoid(z) - 0.5).
    """
    n_out, n_in = shape
    return rng.standard_normal(shape) * np.sqrt(2.0 / (n_in + n_out))


def he(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """W ~ N(0, 2 / n_in): He et al. (2015), "Delving Deep into Rectifiers", eq. (10).

    With ReLU inputs, E[a^2] = var(z_prev) / 2, so var(z) = n_in var(W) var(z_prev) / 2; keeping
    var(z) constant from layer to layer needs (1/2) n_in var(W) = 1, i.e. var(W) = 2 / n_in.
    """
    n_in = shape[1]
    return rng.standard_normal(shape) * np.sqrt(2.0 / n_in)


def he_course(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """W ~ N(0, 1 / (2 n_in)): the variance the course derives, kept to reproduce its figures.

    The course writes the right condition, (1/2) n_in var(W) = 1, but solves it as
    var(W) = 1 / (2 n_in) instead of 2 / n_in: a factor of 4 too small (std half of He's).
    Use `he` for the correct value.
    """
    n_in = shape[1]
    return rng.standard_normal(shape) * np.sqrt(1.0 / (2.0 * n_in))


def normal(std: float) -> Initializer:
    """An initializer drawing W ~ N(0, std^2), whatever the layer's size; named "normal(STD)".

    With std fixed, var(z) = n_in std^2 var(a) grows (or shrinks) by n_in std^2 per layer: with
    std = 1 and n_in = 30 (ReLU: half of that), the signal and the gradient explode with depth.
    That is its use here: to make gradients explode on purpose and watch clipping tame them.
    `small` is normal(0.01).

        Linear(30, 30, init=normal(1.0))   # or init="normal(1.0)"
    """
    if (not isinstance(std, (int, float, np.integer, np.floating)) or isinstance(std, bool)
            or not np.isfinite(std) or std <= 0):
        raise ValueError(f"init.normal: std must be a finite number > 0, got {std!r}")
    std = float(std)

    def draw(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(shape) * std

    draw.__name__ = draw.__qualname__ = f"normal({std})"  # round-trips via get_initializer
    draw.std = std  # type: ignore[attr-defined]  # for tinygrad_edu.theory's prediction
    return draw


INITIALIZERS: dict[str, Initializer] = {
    "small": small, "xavier": xavier, "he": he, "he_course": he_course,
}

# "normal(1.0)", "normal(0.5)", "normal(1e-3)": the string form of `normal(std)`.
_NORMAL_NAME = re.compile(r"normal\((?P<std>[^()]*)\)")


def get_initializer(init: str | Initializer) -> Initializer:
    """The initializer named `init` ("small", "xavier", "he", "he_course", or "normal(STD)" for
    `normal(STD)`), or `init` itself if it is callable."""
    if callable(init):
        return init
    if isinstance(init, str):
        match = _NORMAL_NAME.fullmatch(init.strip())
        if match:
            try:
                std = float(match["std"])
            except ValueError:
                raise ValueError(f"initializer {init!r}: the standard deviation must be a "
                                 f"number, e.g. 'normal(1.0)'") from None
            return normal(std)
    if init not in INITIALIZERS:
        raise ValueError(f"unknown initializer {init!r}; choose one of {sorted(INITIALIZERS)}, "
                         f"'normal(STD)' with STD > 0, or pass a callable (shape, rng) -> ndarray")
    return INITIALIZERS[init]
