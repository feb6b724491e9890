"""Batch normalization over the samples of a batch: z is (n, m), one column per sample.

Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by Reducing
Internal Covariate Shift". Each unit's pre-activation is normalized over the m samples of the
batch and then scaled and shifted by two parameters of its own, so the next layer sees inputs of
a mean and spread that training chooses, whatever the weights before it do:

    mu      = (1/m) sum_i z_i                      (n, 1)   mean of each unit (row)
    sigma^2 = (1/m) sum_i (z_i - mu)^2             (n, 1)   its variance (biased: over m)
    z_hat   = (z - mu) / sqrt(sigma^2 + eps)       (n, m)
    out     = gamma * z_hat + beta                 (n, m)   gamma, beta: (n, 1)

The forward is written with Tensor ops (mean, sub, mul, sqrt, div), so autodiff derives the
backward; with sigma = sqrt(sigma^2 + eps) and dz_hat = dout * gamma it is the known
    dz = (1 / (m sigma)) (m dz_hat - sum_i dz_hat - z_hat sum_i (dz_hat * z_hat)),
    dgamma = sum_i dout * z_hat,  dbeta = sum_i dout,
which tests/test_nn_normalization.py checks against this formula written in NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor


class BatchNorm(Module):
    """Batch normalization of z (num_features, m) over its m columns, for num_features units.

    gamma (n, 1) starts at 1 and beta (n, 1) at 0, so a fresh layer only normalizes.

    Training mode: normalize with the batch's mean and biased variance (over m), and update the
    running statistics, as PyTorch does (momentum 0.1 by default):
        running_mean := (1 - momentum) running_mean + momentum mu
        running_var  := (1 - momentum) running_var  + momentum sigma^2 m / (m - 1)
    (the running variance is the UNBIASED estimate, over m - 1, as PyTorch keeps it; the batch
    is normalized with the biased one). Evaluation mode (`model.eval()`, which `predict` and
    `accuracy` use): normalize with the running statistics, constants of the graph, so a sample's
    output no longer depends on the other samples of its batch.

    The running statistics are buffers (`register_buffer`): saved in `state_dict` and
    checkpoints, never trained. They start at mean 0 and variance 1.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype: Any = np.float64) -> None:
        if (not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool)
                or num_features < 1):
            raise ValueError(f"BatchNorm: num_features must be a positive integer, got "
                             f"{num_features!r}")
        if not isinstance(eps, (int, float)) or not np.isfinite(eps) or eps <= 0:
            raise ValueError(f"BatchNorm: eps must be a finite number > 0, got {eps!r}")
        if not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be a number in [0, 1], got {momentum!r}")
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(f"BatchNorm: dtype must be a floating dtype, got {np.dtype(dtype)}")
        self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), float(momentum)
        shape = (self.num_features, 1)
        self.gamma = Tensor(np.ones(shape, dtype=dtype), requires_grad=True)
        self.beta = Tensor(np.zeros(shape, dtype=dtype), requires_grad=True)
        self.register_buffer("running_mean", np.zeros(shape, dtype=dtype))
        self.register_buffer("running_var", np.ones(shape, dtype=dtype))

    def forward(self, z: Tensor | np.ndarray) -> Tensor:
        if z.ndim != 2 or z.shape[0] != self.num_features:
            raise ValueError(f"{self!r}: input of shape {tuple(z.shape)} does not fit; expected "
                             f"({self.num_features}, m), one column per sample")
        if not isinstance(z, Tensor):
            z = Tensor(z)
        if not self.training:
            mean = self.running_mean.astype(z.dtype, copy=False)
            std = np.sqrt(self.running_var + self.eps).astype(z.dtype, copy=False)
            return self.gamma * ((z - mean) / std) + self.beta

        m = z.shape[1]
        if m < 2:
            # One sample is its own mean: z_hat would be 0 whatever z is, and the unbiased
            # running variance divides by m - 1 = 0.
            raise ValueError(f"{self!r}: training needs at least 2 samples per batch to "
                             f"estimate a variance, got m = {m}; use model.eval() for one sample")
        mu = z.mean(axis=1, keepdims=True)                 # (n, 1)
        centered = z - mu                                  # (n, m)
        variance = (centered * centered).mean(axis=1, keepdims=True)  # (n, 1), over m
        z_hat = centered / (variance + self.eps).sqrt()    # (n, m)

        # The running statistics are bookkeeping, not part of the graph: plain arrays.
        keep = 1.0 - self.momentum
        self.running_mean = keep * self.running_mean + self.momentum * mu.data
        self.running_var = keep * self.running_var + self.momentum * variance.data * (m / (m - 1))
        return self.gamma * z_hat + self.beta

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
