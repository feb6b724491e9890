"""Section `scaling`: backward time per node over chains of growing length (flat is right), and
the time per iteration of ReLU MLPs of growing depth."""

from __future__ import annotations

import functools
import gc
import statistics
from typing import Any

import numpy as np

import models
from benchmarks.speed.config import Config
from benchmarks.speed.perop import tinygrad_chain
from benchmarks.speed.problem import load_data
from benchmarks.speed.stats import interleave, ratios, seconds_per_call
from benchmarks.speed.table import Row, Target
from benchmarks.speed.workers import Worker
from tinygrad_edu import nn, optim
from tinygrad_edu.tensor import Tensor


def backward_per_node(n: int, nodes: int) -> float:
    """Backward seconds per node, over chains of length n repeated to about `nodes` nodes."""
    repeats = max(1, nodes // n)
    total = 0.0
    for _ in range(repeats):
        gc.collect()
        total += tinygrad_chain(n)[1] * n
    return total / (repeats * n)


class DepthMLP:
    """A ReLU MLP of `depth` Linear layers of width 30 on a small (30, 209) input."""

    def __init__(self, depth: int, y: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng(seed)
        sizes = [30] * depth + [1]
        self.model = models.CourseNet(sizes, "relu", init="he", rng=rng)
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.01)
        self.x = Tensor(rng.standard_normal((30, y.shape[1])))
        self.y = Tensor(y.astype(np.float64))

    def step(self) -> None:
        loss = nn.binary_cross_entropy(self.model(self.x), self.y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def section_scaling(cfg: Config, torch: Worker | None) -> tuple[list[Row], dict[str, Any]]:
    chains = cfg.scaling_chains
    largest = max(chains)
    blocks = {n: functools.partial(backward_per_node, n, largest) for n in chains}
    interleave({n: functools.partial(backward_per_node, n, n) for n in chains}, rounds=1)
    scaling_rounds = max(3, cfg.rounds // 3)   # each round backpropagates 3 x `largest` nodes
    per_node = interleave(blocks, scaling_rounds)
    section = "3a. backward time per node, chains of (2, 2) mul/add/sigmoid, float64"
    smallest = min(chains)
    rows = [Row(section, f"chain of {n:,} ops", 1e6 * statistics.median(per_node[n]), "us/node",
                ratios(per_node[n], per_node[smallest]), f"chain of {smallest:,}")
            for n in chains]
    rows.append(Row(section, f"flatness: {largest:,} / {smallest:,} per node",
                    ratio=ratios(per_node[largest], per_node[smallest]),
                    target=Target(1.2, 0.8)))

    _, y, _ = load_data(np.float64, cfg.data_dir, cfg.synthetic)
    mlps = {depth: DepthMLP(depth, y, cfg.seed) for depth in cfg.depths}
    depth_blocks = {depth: functools.partial(seconds_per_call, mlp.step, cfg.depth_block)
                    for depth, mlp in mlps.items()}
    interleave(depth_blocks, rounds=1)
    per_iteration = interleave(depth_blocks, cfg.rounds)
    section_b = "3b. ReLU MLP, width 30, input (30, 209), float64: time per iteration vs depth"
    shallow = min(cfg.depths)
    for depth in cfg.depths:
        per_layer = [t / depth for t in per_iteration[depth]]
        rows.append(Row(section_b, f"depth {depth}", 1e3 * statistics.median(per_iteration[depth]),
                        "ms/iter", ratios(per_iteration[depth], per_iteration[shallow]),
                        f"depth {shallow}",
                        note=f"{1e6 * statistics.median(per_layer):.0f} us per layer"))
    per_layer_ratio = ratios([t / max(cfg.depths) for t in per_iteration[max(cfg.depths)]],
                             [t / shallow for t in per_iteration[shallow]])
    rows.append(Row(section_b, f"per layer: depth {max(cfg.depths)} / depth {shallow}",
                    ratio=per_layer_ratio, note="below 1: fixed per-step costs amortised"))
    return rows, {"backward_per_node": {str(n): v for n, v in per_node.items()},
                  "per_iteration": {str(d): v for d, v in per_iteration.items()}}
