"""Optimizers: they read each parameter's .grad and update its .data in place.

Updates happen on the arrays directly, outside the graph (nothing is recorded), as
`torch.no_grad()` updates do in PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_edu._checks import check_number
from tinygrad_edu.tensor import Tensor


class Optimizer:
    """Holds the parameters to update; subclasses define `step()`.

    `params` is an iterable of leaf tensors with requires_grad=True, each once: a list such as
    [w, b], or `model.parameters()`. Each `step()` bumps the `_version` of every tensor it
    updates, so that a backward through a graph recorded before the step is refused (see Tensor).
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor) or not isinstance(params, Iterable):
            raise TypeError(f"{name}: params must be an iterable of tensors, got "
                            f"{type(params).__name__}; pass [w] for a single tensor, or "
                            f"model.parameters()")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list (pass model.parameters())")
        first_position: dict[int, int] = {}
        for position, param in enumerate(self.params):
            if not isinstance(param, Tensor) or not param.requires_grad:
                raise ValueError(f"{name}: parameter {position} is not a Tensor with "
                                 f"requires_grad=True (got {type(param).__name__})")
            if not param.is_leaf:
                raise ValueError(
                    f"{name}: parameter {position} (shape {param.shape}) is not a leaf: it is "
                    f"the result of {type(param._ctx).__name__}, so backward never fills its "
                    f".grad. Optimize the tensors it was computed from."
                )
            if id(param) in first_position:
                raise ValueError(f"{name}: parameters {first_position[id(param)]} and "
                                 f"{position} are the same tensor (shape {param.shape}); it "
                                 f"would be updated twice per step. Pass each tensor once.")
            first_position[id(param)] = position
        self.lr = check_number(name, "lr (the learning rate)", lr, 0.0, low_open=True)

    def _gradients(self) -> list[np.ndarray | None]:
        """Each parameter's gradient array (None where it has none), checked against its shape."""
        grads: list[np.ndarray | None] = []
        for index, param in enumerate(self.params):
            grad = param.grad
            if grad is not None and (not isinstance(grad, Tensor) or grad.shape != param.shape):
                shape = getattr(grad, "shape", None)
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {index} has shape {param.shape} but "
                    f"its .grad is a {type(grad).__name__} of shape {shape}: set .grad to None "
                    f"or to a Tensor of the parameter's shape"
                )
            grads.append(None if grad is None else grad.data)
        return grads

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
        self.momentum = check_number("SGD", "momentum", momentum, 0.0, 1.0, high_open=True)
        self.velocities: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for index, (param, grad) in enumerate(zip(self.params, self._gradients(), strict=True)):
            if grad is None:
                continue
            step = grad
            if self.momentum:
                velocity = self.velocities[index]
                if velocity is None:
                    velocity = self.velocities[index] = np.zeros_like(param.data)
                velocity *= self.momentum
                velocity += step
                step = velocity
            param.data -= self.lr * step
            param._version += 1


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter steps from running averages of the gradient (m)
    and of its square (v), bias-corrected for their zero start:
        m := b1 m + (1 - b1) g;   v := b2 v + (1 - b2) g^2
        W := W - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)"""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        for position, beta in enumerate(betas):
            check_number("Adam", f"betas[{position}]", beta, 0.0, 1.0, high_open=True)
        check_number("Adam", "eps", eps, 0.0, low_open=True)
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)
        # Steps are counted per parameter, as in PyTorch: a parameter that had no gradient at
        # some step starts its bias correction at its own first update.
        self.steps = [0] * len(self.params)
        self.first_moments = [np.zeros_like(p.data) for p in self.params]
        self.second_moments = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        beta1, beta2 = self.betas
        for index, (param, g, m, v) in enumerate(zip(
                self.params, self._gradients(), self.first_moments, self.second_moments,
                strict=True)):
            if g is None:
                continue
            self.steps[index] += 1
            correction1 = 1 - beta1 ** self.steps[index]
            correction2 = 1 - beta2 ** self.steps[index]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            param.data -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)
            param._version += 1
