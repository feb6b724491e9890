"""Optimizers: they read each parameter's .grad and update its .data in place; and gradient
clipping by global norm, applied to the gradients between backward and the step.

Updates happen on the arrays directly, outside the graph (nothing is recorded), as
`torch.no_grad()` updates do in PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_edu._checks import check_number
from tinygrad_edu.tensor import Tensor, bump_version


class Optimizer:
    """Holds the parameters to update; subclasses define `step()`.

    `params` is an iterable of leaf tensors with requires_grad=True, each once: a list such as
    [w, b], or `model.parameters()`. Each `step()` bumps the version of every tensor it updates
    (`bump_version`), so that a backward through a graph recorded before the step is refused.
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
            bump_version(param)


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
            bump_version(param)


def clip_grad_norm(parameters: Iterable[Tensor] | Tensor, max_norm: float) -> float:
    """Scale all gradients together so that their global norm is at most `max_norm`, and return
    the norm before clipping (as PyTorch's `clip_grad_norm_` does).

    The global norm treats every gradient as one long vector g:
        ||g|| = sqrt( sum over parameters p of sum of dp^2 )
    and if ||g|| > max_norm every gradient is multiplied by max_norm / ||g|| (Pascanu, Mikolov &
    Bengio, 2013, "On the difficulty of training recurrent neural networks"). The direction of
    the step is unchanged, only its length is capped: an exploding gradient can no longer throw
    the weights far away in one update. (PyTorch divides by ||g|| + 1e-6; we divide by ||g||,
    so a clipped gradient has norm exactly max_norm.) Parameters without a gradient are skipped.

    Call it between `backward()` and `optimizer.step()` (with `fit`, from a callback).

    Raises:
        ValueError: max_norm is not a finite number > 0.
        FloatingPointError: a gradient holds NaN or inf. Scaling by max_norm / inf would give
            zeros and by NaN would give NaNs, both silently wrong, so nothing is changed and the
            error names the parameter (PyTorch's error_if_nonfinite=True).
    """
    check_number("clip_grad_norm", "max_norm", max_norm, 0.0, low_open=True)
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in params if isinstance(p, Tensor) and p.grad is not None]
    for position, g in enumerate(grads):
        if not np.all(np.isfinite(g)):
            raise FloatingPointError(
                f"clip_grad_norm: gradient {position} (shape {g.shape}) holds NaN or inf; "
                f"clipping cannot repair it. Lower the learning rate or clip earlier.")
    # The sum of squares of huge finite gradients (1e200) would overflow to inf: scale by the
    # largest entry first, ||g|| = s * sqrt(sum (g / s)^2), as BLAS's nrm2 does.
    scale = max((float(np.max(np.abs(g))) for g in grads if g.size), default=0.0)
    if scale == 0.0:
        return 0.0
    total = scale * float(np.sqrt(sum(float(np.sum(np.square(g / scale))) for g in grads)))
    if total > max_norm:
        factor = max_norm / total
        for p in params:
            if isinstance(p, Tensor) and p.grad is not None:
                # A new array rather than in place: whatever else may hold the old one is left
                # alone. The factor takes the gradient's dtype, so float32 stays float32.
                p.grad.data = p.grad.data * p.grad.data.dtype.type(factor)
    return total
