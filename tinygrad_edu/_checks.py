"""Validation of numeric options (learning rates, probabilities, penalties), shared by optim.py,
nn/layers.py and nn/losses.py so that every one of them fails the same clear way: a ValueError
that names the option, the bad value and the range it must lie in."""

from __future__ import annotations

import math

import numpy as np


def check_number(owner: str, name: str, value: object, low: float = -math.inf,
                 high: float = math.inf, low_open: bool = False, high_open: bool = False) -> float:
    """`value` as a float if it is a real, finite number in the range; else a ValueError naming
    `owner` (the class or function) and `name` (the option). The range is [low, high], with
    either end open when `low_open` / `high_open`.

    >>> check_number("SGD", "momentum", 0.9, 0.0, 1.0, high_open=True)
    0.9
    """
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    wanted = f"a finite number in {left}{low:g}, {high:g}{right}"
    if high == math.inf:
        wanted = f"a finite number {'>' if low_open else '>='} {low:g}"
    is_real = isinstance(value, (int, float, np.integer, np.floating))
    if not is_real or isinstance(value, (bool, np.bool_)) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be {wanted}, got {value!r} "
                         f"({type(value).__name__})")
    number = float(value)
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high:
        raise ValueError(f"{owner}: {name} must be {wanted}, got {value!r}")
    return number
