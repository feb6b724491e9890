"""Optimizers: they read each parameter's .grad and update its .data in place; and gradient
clipping by global norm, applied to the gradients between backward and the step.

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
    if not _is_number(max_norm) or not np.isfinite(max_norm) or max_norm <= 0:
        raise ValueError(f"clip_grad_norm: max_norm must be a finite number > 0, got "
                         f"{max_norm!r}")
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
