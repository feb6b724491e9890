"""Neural-network building blocks made of Tensor ops: modules, layers, batch normalization,
initializers, losses."""

from tinygrad_edu.nn import init
from tinygrad_edu.nn.layers import Dropout, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from tinygrad_edu.nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    l1_penalty,
    l2_penalty,
)
from tinygrad_edu.nn.module import CheckpointError, Module, Sequential
from tinygrad_edu.nn.normalization import BatchNorm

__all__ = [
    "BatchNorm", "CheckpointError", "Dropout", "LeakyReLU", "Linear", "Module", "ReLU",
    "Sequential", "Sigmoid", "Tanh",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "init", "l1_penalty", "l2_penalty",
]
