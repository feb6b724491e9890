"""The moons workload written in each framework, as its own users write it; run in workers.

`train(framework, moons, steps)` trains from the shared initial weights and returns the loss of
every step and the seconds per step (the set-up, building the model, is not timed; reading
each step's loss is, as every demo prints it). Each framework is imported inside its trainer:
a worker process imports only the framework it runs.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

from benchmarks.speed.moons import ALPHA, SIZES, Moons, learning_rate, numpy_loss_and_gradients

# A trainer builds the model from the initial weights; train_step(k) does SGD step k: its loss.
Trainer = Callable[[Moons], Callable[[int], float]]


def train_numpy(moons: Moons) -> Callable[[int], float]:
    weights = [(w.copy(), b.copy()) for w, b in moons.weights]

    def train_step(step: int) -> float:
        loss, grads = numpy_loss_and_gradients(weights, moons.x, moons.y)
        for (w, b), (dw, db) in zip(weights, grads, strict=True):
            w -= learning_rate(step) * dw
            b -= learning_rate(step) * db
        return loss

    return train_step


def train_tinygrad_edu(moons: Moons) -> Callable[[int], float]:
    from tinygrad_edu import nn, optim
    from tinygrad_edu.tensor import Tensor

    layers = [nn.Linear(n_in, n_out) for n_in, n_out in zip(SIZES[:-1], SIZES[1:], strict=True)]
    for layer, (w, b) in zip(layers, moons.weights, strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    params = [p for layer in layers for p in (layer.weight, layer.bias)]
    optimizer = optim.SGD(params, lr=1.0)
    x, y = Tensor(moons.x), Tensor(moons.y)

    def train_step(step: int) -> float:
        a = x
        for index, layer in enumerate(layers):
            a = layer(a) if index == len(layers) - 1 else layer(a).relu()
        loss = (1 - y * a).relu().mean() + ALPHA * sum((p * p).sum() for p in params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.lr = learning_rate(step)
        optimizer.step()
        return loss.item()

    return train_step


def train_pytorch(moons: Moons) -> Callable[[int], float]:
    import torch

    params = [torch.tensor(p, requires_grad=True) for pair in moons.weights for p in pair]
    optimizer = torch.optim.SGD(params, lr=1.0)
    x, y = torch.from_numpy(moons.x), torch.from_numpy(moons.y)

    def train_step(step: int) -> float:
        a = x
        for index in range(0, len(params), 2):
            a = params[index] @ a + params[index + 1]
            a = a if index == len(params) - 2 else torch.relu(a)
        loss = torch.relu(1 - y * a).mean() + ALPHA * sum((p * p).sum() for p in params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.param_groups[0]["lr"] = learning_rate(step)
        optimizer.step()
        return loss.item()

    return train_step


def train_micrograd(moons: Moons) -> Callable[[int], float]:
    from micrograd.engine import Value
    from micrograd.nn import MLP

    model = MLP(SIZES[0], list(SIZES[1:]))
    for layer, (w, b) in zip(model.layers, moons.weights, strict=True):
        for row, neuron in enumerate(layer.neurons):
            for column, weight in enumerate(neuron.w):
                weight.data = float(w[row, column])
            neuron.b.data = float(b[row, 0])
    inputs = [[Value(float(v)) for v in column] for column in moons.x.T]   # one list per point
    labels = [float(v) for v in moons.y[0]]

    def train_step(step: int) -> float:   # micrograd's demo, as its README notebook writes it
        scores = [model(point) for point in inputs]
        losses = [(1 + -label * score).relu() for label, score in zip(labels, scores, strict=True)]
        loss = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= learning_rate(step) * p.grad
        return loss.data

    return train_step


def train_autograd(moons: Moons) -> Callable[[int], float]:
    import autograd.numpy as anp
    from autograd import value_and_grad

    def loss_of(params: list[Any]) -> Any:
        a = moons.x
        for index in range(0, len(params), 2):
            a = params[index] @ a + params[index + 1]
            a = a if index == len(params) - 2 else anp.maximum(a, 0)
        return (anp.mean(anp.maximum(1 - moons.y * a, 0))
                + ALPHA * sum(anp.sum(p * p) for p in params))

    loss_and_grad = value_and_grad(loss_of)
    params = [p.copy() for pair in moons.weights for p in pair]

    def train_step(step: int) -> float:
        loss, grads = loss_and_grad(params)
        params[:] = [p - learning_rate(step) * g for p, g in zip(params, grads, strict=True)]
        return float(loss)

    return train_step


def train_mygrad(moons: Moons) -> Callable[[int], float]:
    import mygrad as mg
    from mygrad.nnet.activations import relu

    # Arrays of its own: MyGrad locks the memory of a graph's arrays, which it cannot do for an
    # array unpickled in this worker (a view of a bytes object).
    x, y = moons.x.copy(), moons.y.copy()
    params = [mg.tensor(p) for pair in moons.weights for p in pair]

    def train_step(step: int) -> float:
        a = x
        for index in range(0, len(params), 2):
            a = params[index] @ a + params[index + 1]
            a = a if index == len(params) - 2 else relu(a)
        loss = relu(1 - y * a).mean() + ALPHA * sum((p * p).sum() for p in params)
        loss.backward()
        params[:] = [mg.tensor(p.data - learning_rate(step) * p.grad) for p in params]
        return loss.item()

    return train_step


def train_tinygrad(moons: Moons) -> Callable[[int], float]:
    # tinygrad needs a device; this machine's is the CPU, whose kernels clang compiles. Set in
    # this worker process only, before tinygrad reads it at import.
    os.environ.setdefault("DEV", "CPU")
    from tinygrad import Tensor, TinyJit, dtypes

    params = [Tensor(p, dtype=dtypes.float64).realize() for pair in moons.weights for p in pair]
    x, y = Tensor(moons.x, dtype=dtypes.float64), Tensor(moons.y, dtype=dtypes.float64)
    lr = Tensor([1.0], dtype=dtypes.float64).realize()   # a buffer: a new value, no new kernel

    @TinyJit
    def jitted_step() -> Tensor:
        a = x
        for index in range(0, len(params), 2):
            a = params[index] @ a + params[index + 1]
            a = a if index == len(params) - 2 else a.relu()
        loss = (1 - y * a).relu().mean() + ALPHA * sum((p * p).sum() for p in params)
        for p, g in zip(params, loss.gradient(*params), strict=True):
            p.assign(p - lr * g)
        return loss.realize(*params)

    def train_step(step: int) -> float:
        lr.assign(Tensor([learning_rate(step)], dtype=dtypes.float64)).realize()
        return jitted_step().item()

    return train_step


TRAINERS: dict[str, Trainer] = {
    "NumPy": train_numpy, "tinygrad_edu": train_tinygrad_edu, "PyTorch": train_pytorch,
    "micrograd": train_micrograd, "autograd": train_autograd, "MyGrad": train_mygrad,
    "tinygrad": train_tinygrad,
}


def train(framework: str, moons: Moons, steps: int) -> dict[str, Any]:
    """`steps` steps of `framework` from the initial weights: their losses, seconds per step."""
    train_step = TRAINERS[framework](moons)
    gc.collect()
    start = time.perf_counter()
    losses = [train_step(step) for step in range(steps)]
    return {"losses": losses, "seconds": (time.perf_counter() - start) / steps}
