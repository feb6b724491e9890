"""How long drawing a graph of a few hundred boxes takes: to_dot (with the gradient walk) and the
render through Graphviz's dot, median of repeats.

    python -m benchmarks.graph_render               # a 60-layer net, one box per op: ~300 boxes
    python -m benchmarks.graph_render --layers 100 --repeats 9 --format png

The net is Linear -> sigmoid, repeated, on (8, 16) inputs: each layer adds five boxes (W, b,
W @ x, + b, sigmoid), so the picture has 5 * layers boxes plus the data and the loss's few.
Needs the graphviz package and the dot program (see tinygrad_edu.viz).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from tinygrad_edu import Tensor, nn
from tinygrad_edu.viz import FORMATS, graph_nodes, render, to_dot


class DeepNet(nn.Module):
    """`layers` Linear(width, width) -> sigmoid blocks: a long graph of small arrays."""

    def __init__(self, layers: int, width: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.layers = [nn.Linear(width, width, init="xavier", rng=rng) for _ in range(layers)]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x).sigmoid()
        return x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph_render",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=60, help="default 60 (about 300 boxes)")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats (median), "
                        "default 7")
    parser.add_argument("--format", choices=FORMATS, default="svg")
    args = parser.parse_args(argv)
    if args.layers < 1 or args.repeats < 1:
        parser.error("--layers and --repeats must be at least 1")

    model = DeepNet(args.layers, args.width)
    x = Tensor(np.random.default_rng(1).random((args.width, 16)))
    loss = model(x).mean()
    loss.backward(retain_graph=True)  # the picture shows the gradients, as after a real step
    options = {"model": model, "group_linear": False, "max_nodes": 10_000}
    dot = to_dot(loss, **options)
    boxes = dot.count("[label=")
    render(dot, args.format)  # warm-up: the first dot start pays for loading its plugins

    dot_times, render_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        dot = to_dot(loss, **options)
        middle = time.perf_counter()
        render(dot, args.format)
        end = time.perf_counter()
        dot_times.append(middle - start)
        render_times.append(end - middle)
    total = [a + b for a, b in zip(dot_times, render_times, strict=True)]
    print(f"graph: {len(graph_nodes(loss))} tensors, {boxes} boxes drawn "
          f"({args.layers} layers of width {args.width}, one box per op), format {args.format}")
    print(f"median of {args.repeats}: to_dot {statistics.median(dot_times) * 1e3:.1f} ms "
          f"(gradient walk included), render {statistics.median(render_times) * 1e3:.1f} ms, "
          f"total {statistics.median(total) * 1e3:.1f} ms "
          f"(min {min(total) * 1e3:.1f}, max {max(total) * 1e3:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
