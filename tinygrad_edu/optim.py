"""Optimizers: they read each parameter's .grad and update its .data in place.

Updates happen on the arrays directly, outside the graph (nothing is recorded), as
`torch.no_grad()` updates do in PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_edu.tensor import Tensor


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class Optimizer:
    """Holds the parameters to update; subclasses define `step()`."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list "
                             f"(pass model.parameters())")
        for position, param in enumerate(self.params):
            if not isinstance(param, Tensor) or not param.requires_grad:
                raise ValueError(f"{type(self).__name__}: parameter {position} is not a Tensor "
                                 f"with requires_grad=True")
        if not _is_number(lr) or not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"{type(self).__name__}: the learning rate must be a finite number "
                             f"> 0, got {lr!r}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (set each .grad to None)."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Gradient descent, the course's update W := W - alpha dW, optionally with momentum:
    v := momentum v + dW;  W := W - lr v  (PyTorch's form; momentum=0 is plain SGD)."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocities: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for index, param in enumerate(self.params):
            if param.grad is None:
                continue
            step = param.grad.data
            if self.momentum:
                velocity = self.velocities[index]
                if velocity is None:
                    velocity = self.velocities[index] = np.zeros_like(param.data)
                velocity *= self.momentum
                velocity += step
                step = velocity
            param.data -= self.lr * step


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter steps from running averages of the gradient (m)
    and of its square (v), bias-corrected for their zero start:
        m := b1 m + (1 - b1) g;   v := b2 v + (1 - b2) g^2
        W := W - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)"""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        if not eps > 0:
            raise ValueError(f"Adam: eps must be > 0, got {eps!r}")
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)
        # Steps are counted per parameter, as in PyTorch: a parameter that had no gradient at
        # some step starts its bias correction at its own first update.
        self.steps = [0] * len(self.params)
        self.first_moments = [np.zeros_like(p.data) for p in self.params]
        self.second_moments = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        beta1, beta2 = self.betas
        for index, (param, m, v) in enumerate(
                zip(self.params, self.first_moments, self.second_moments, strict=True)):
            if param.grad is None:
                continue
            self.steps[index] += 1
            correction1 = 1 - beta1 ** self.steps[index]
            correction2 = 1 - beta2 ** self.steps[index]
            g = param.grad.data
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            param.data -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)
