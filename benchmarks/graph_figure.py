"""Draw the README's graph: sigmoid5 after one backward, coloured by the gradient at every box.

    python -m benchmarks.graph_figure                 # writes docs/graph_sigmoid5.svg
    python -m benchmarks.graph_figure --out graph.png

One forward pass of the course's sigmoid5 (seed 0) on the training images (the real ones when
found, else the synthetic stand-in: the script says which), its loss, one backward, and the
drawing. Needs the graphviz package and the dot program (see tinygrad_edu.viz).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import models
from tinygrad_edu import Tensor
from tinygrad_edu.data import load_cat_or_synthetic
from tinygrad_edu.viz import draw_graph


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph_figure",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/graph_sigmoid5.svg"),
                        help="an .svg, .png or .pdf file (default docs/graph_sigmoid5.svg)")
    parser.add_argument("--model", default="sigmoid5", choices=list(models.SPECS))
    args = parser.parse_args(argv)

    data, source = load_cat_or_synthetic()
    print(f"data: {source}")
    model = models.build(args.model, seed=0)
    x, y = Tensor(data.x_train), Tensor(data.y_train)
    loss = models.SPECS[args.model].loss_fn()(model, x, y)
    loss.backward(retain_graph=True)  # a real backward; the graph is kept to be drawn
    args.out.parent.mkdir(parents=True, exist_ok=True)
    draw_graph(loss, args.out, model=model, names={"x": x, "y": y, "loss": loss},
               rankdir="TB", title=f"{args.model} after one backward: the colour is "
                                   f"||dLoss/dNode|| on a log scale")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
