"""The depth sweep: at which depth does each recipe stop learning?

    python -m benchmarks.depth_sweep                      # the default sweep (see below)
    python -m benchmarks.depth_sweep --quick --synthetic  # a smoke run in seconds
    python -m benchmarks.depth_sweep --depths 2 4 8 16 --activations relu --inits small he \\
        --seeds 3 --workers 2

A recipe is an activation, an initializer and a remedy. Every recipe is trained at every depth
(the number of hidden layers, each WIDTH units wide: 12288-W-W-...-W-1) and with every seed, by
the runner the study uses (`benchmarks.runner`: resume, interrupts, --workers, --scheduler),
each run with the gradient monitor. The outputs in --out (default results/depth_sweep/):

* depth_sweep.md / .json: per recipe and depth, the final training and test accuracy and
  ||dW^[1]||_F / ||dW^[L-1]||_F at the first iteration (layer 1 against the last hidden layer,
  before any update: what the initialization alone does to the gradient), and per recipe the
  first depth at which it no longer learns: its training accuracy stays within
  `LEARNS_MARGIN` points of always answering "non-cat" (65.55 % of the training set);
* phase_diagram.png: for each recipe, the final training accuracy and that ratio (log scale)
  against depth.

The default sweep: depths 1, 2, 3, 4, 6, 8, 10 x activations sigmoid, tanh, relu x inits small,
xavier, he x one seed = 63 runs of DEFAULT_ITERATIONS = 300 full-batch iterations at width
DEFAULT_WIDTH = 16, learning rate 0.0075 for all. Narrower and shorter than the course's nets
(width 30, 2000 iterations) so that it fits in 10 minutes on 2 cores with the real data: the
first layer's products (W^[1] @ x and dz^[1] @ x^T, 16 x 12288 by 12288 x 209) are most of an
iteration's cost, and 300 iterations are enough to tell a net that learns (training accuracy
rising well above 65.55 %) from one that is stuck. --iterations and --width change both.

Remedies (`REMEDIES`): none, batchnorm (BatchNorm before each hidden activation), residual
(a^[l] = g(z^[l]) + a^[l-1] wherever the widths match: from layer 2 on, so at depth 1 it is the
plain net) and clip1 (gradients clipped to a global norm of 1 before each step). The default
sweep tries batchnorm and residual only where they matter, on the two recipes that stop
learning with depth (sigmoid and relu with the course's 0.01 weights: sigmoid_small,
relu_small), which adds 2 x 2 recipes x 7 depths = 28 runs to the 63 (91 in all). Clipping is
not in the default: none of the sweep's inits makes the gradients explode, so it would change
nothing there (the study's relu5_normal rows show it where it matters, N(0, 1) weights with the
logits loss; with the probability loss such a net's output sigmoid saturates and every gradient
is 0, clipped or not). `--remedies NAME ...` tries the named remedies on every recipe (the
cross product), e.g. `--remedies none clip1 --inits "normal(1.0)" --activations relu`.
The default sweep of 91 runs took 5 min 05 s (`python -m benchmarks.depth_sweep`, one process,
one BLAS thread) on 2 cores that another job shared (load average 1.6 to 2.6).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


import models
from benchmarks import runner
from benchmarks.command_line import OneLineParser, positive_int
from benchmarks.files import atomic_path
from benchmarks.runner import Finished, Run
from benchmarks.tables import geometric_mean, markdown_table, mean_spread, write_tables
from tinygrad_edu.data import N_TRAIN, N_TRAIN_CATS

DEFAULT_DEPTHS = (1, 2, 3, 4, 6, 8, 10)
DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu")
DEFAULT_INITS = ("small", "xavier", "he")
DEFAULT_WIDTH = 16
DEFAULT_ITERATIONS = 300
LEARNING_RATE = 0.0075
QUICK = {"depths": (1, 3), "activations": ("sigmoid", "relu"), "inits": ("small", "he"),
         "width": 8, "iterations": 10}
TABLE_NAME = "depth_sweep"

# Always answering "non-cat" is right on this share of the training set (the real files and the
# stand-in have the same balance); a net "learns" if it ends LEARNS_MARGIN points above it.
MAJORITY_TRAIN_ACCURACY = 100 * (N_TRAIN - N_TRAIN_CATS) / N_TRAIN
LEARNS_MARGIN = 2.0


@dataclass(frozen=True)
class Remedy:
    """A change to a network's settings that should let it learn deeper: ModelSpec fields."""

    name: str
    changes: tuple[tuple[str, Any], ...] = ()


# The remedies the sweep knows, as changes of ModelSpec fields (see models/).
REMEDIES: tuple[Remedy, ...] = (
    Remedy("none"),
    Remedy("batchnorm", (("norm", "batch"),)),   # Linear -> BatchNorm -> g, no bias
    Remedy("residual", (("residual", True),)),   # a^[l] = g(z^[l]) + a^[l-1] where widths match
    Remedy("clip1", (("clip", 1.0),)),           # gradients clipped to a global norm of 1
)
REMEDY_BY_NAME = {remedy.name: remedy for remedy in REMEDIES}
# Without --remedies, the remedies are tried only where they matter: on the recipes that stop
# learning with depth (the course's 0.01 weights), beside every recipe without a remedy.
DEFAULT_REMEDIES = ("batchnorm", "residual")
REMEDY_TARGETS = (("sigmoid", "small"), ("relu", "small"))


# ------------------------------------------------------------------------------------ options
def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m benchmarks.depth_sweep",
        description="Train every recipe (activation x init x remedy) at every depth and show "
                    "at which depth it stops learning (table and phase diagram in --out).")
    parser.add_argument("--depths", nargs="+", type=positive_int, metavar="D",
                        help=f"numbers of hidden layers (default {DEFAULT_DEPTHS})")
    parser.add_argument("--activations", nargs="+", metavar="NAME",
                        help=f"hidden activations (default {' '.join(DEFAULT_ACTIVATIONS)})")
    parser.add_argument("--inits", nargs="+", metavar="NAME",
                        help=f"weight initializers (default {' '.join(DEFAULT_INITS)})")
    parser.add_argument("--remedies", nargs="+", metavar="NAME", choices=list(REMEDY_BY_NAME),
                        help=f"remedies to compare on every recipe (known: "
                             f"{', '.join(REMEDY_BY_NAME)}); default: none on every recipe, "
                             f"and {' and '.join(DEFAULT_REMEDIES)} on "
                             f"{', '.join('_'.join(t) for t in REMEDY_TARGETS)} only")
    parser.add_argument("--width", type=positive_int, metavar="W",
                        help=f"units per hidden layer (default {DEFAULT_WIDTH})")
    parser.add_argument("--lr", type=float, default=LEARNING_RATE,
                        help=f"learning rate of every run (default {LEARNING_RATE})")
    runner.add_length_options(
        parser, iterations_help=f"iterations per run (default {DEFAULT_ITERATIONS})",
        quick_help="smoke run: depths 1 and 3, 2 x 2 recipes, width 8, 10 iterations")
    runner.add_common_options(parser, default_out="results/depth_sweep")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    defaults = QUICK if args.quick else {
        "depths": DEFAULT_DEPTHS, "activations": DEFAULT_ACTIVATIONS, "inits": DEFAULT_INITS,
        "width": DEFAULT_WIDTH, "iterations": DEFAULT_ITERATIONS}
    for option, default in defaults.items():
        if getattr(args, option) is None:
            setattr(args, option, default)
    return args


def recipes(args: argparse.Namespace) -> list[tuple[str, str, Remedy]]:
    """Activation x init x remedy: with --remedies (or --quick: none only) the whole cross
    product; without, every activation x init without a remedy, then DEFAULT_REMEDIES on the
    REMEDY_TARGETS among them."""
    plain = [(activation, init) for activation in unique(args.activations)
             for init in unique(args.inits)]
    if args.remedies is not None or args.quick:
        return [(activation, init, REMEDY_BY_NAME[remedy])
                for remedy in unique(args.remedies or ["none"]) for activation, init in plain]
    return [*((activation, init, REMEDY_BY_NAME["none"]) for activation, init in plain),
            *((activation, init, REMEDY_BY_NAME[remedy]) for remedy in DEFAULT_REMEDIES
              for activation, init in plain if (activation, init) in REMEDY_TARGETS)]


def unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def recipe_name(activation: str, init: str, remedy: Remedy) -> str:
    return f"{activation}_{init}" + ("" if remedy.name == "none" else f"_{remedy.name}")


def plan(args: argparse.Namespace) -> list[Run]:
    """Recipe x depth x seed, as ModelSpecs built directly: hidden = (width,) * depth."""
    runs = []
    for activation, init, remedy in recipes(args):
        for depth in unique(args.depths):
            spec = models.ModelSpec(
                f"{recipe_name(activation, init, remedy)}_d{depth}", (args.width,) * depth,
                activation, init, learning_rate=args.lr, iterations=args.iterations,
                **dict(remedy.changes))
            runs += [Run(spec, seed, args.iterations, args.dtype) for seed in range(args.seeds)]
    return runs


# ------------------------------------------------------------------------------------ the table
def summarize(runs: list[Finished], recipe: str, remedy: str) -> dict[str, Any]:
    spec, results = runs[0].run.spec, [run.result for run in runs]
    train = mean_spread([100 * r["train_accuracy"] for r in results])
    test = mean_spread([100 * r["test_accuracy"] for r in results])
    return {
        "recipe": recipe, "activation": spec.activation, "init": spec.init, "remedy": remedy,
        "depth": len(spec.hidden), "architecture": spec.architecture,
        "seeds": [run.run.seed for run in runs], "iterations": results[0]["iterations"],
        "train_accuracy": {"mean": train[0], "spread": train[1]},
        "test_accuracy": {"mean": test[0], "spread": test[1]},
        "final_loss": mean_spread([r["final_loss"] for r in results])[0],
        "grad_ratio_start": geometric_mean([r["grad_ratio_start"] for r in results]),
        "learns": train[0] > MAJORITY_TRAIN_ACCURACY + LEARNS_MARGIN,
        "diverged": sum(bool(r["diverged"]) for r in results),
    }


def rows_of(finished: list[Finished], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per (recipe, depth) with at least one finished seed, in plan order."""
    groups: dict[str, list[Finished]] = {}
    for run in finished:
        groups.setdefault(run.run.spec.name, []).append(run)
    rows = []
    for activation, init, remedy in recipes(args):
        recipe = recipe_name(activation, init, remedy)
        for depth in unique(args.depths):
            runs = groups.get(f"{recipe}_d{depth}")
            if runs:
                rows.append(summarize(runs, recipe, remedy.name))
    return rows


def stopping_depths(rows: list[dict[str, Any]]) -> dict[str, int | None]:
    """Per recipe, the first depth at which it does not learn (None: it learns at every one)."""
    stops: dict[str, int | None] = {}
    for row in rows:
        stops.setdefault(row["recipe"], None)
        if not row["learns"] and stops[row["recipe"]] is None:
            stops[row["recipe"]] = row["depth"]
    return stops


COLUMNS = ("recipe", "depth", "architecture", "train acc %", "test acc %", "final loss",
           "‖dW1‖/‖dW_last‖ at start", "learns")


def markdown_row(row: dict[str, Any]) -> list[str]:
    return [row["recipe"], str(row["depth"]), row["architecture"],
            f"{row['train_accuracy']['mean']:.2f} ± {row['train_accuracy']['spread']:.2f}",
            f"{row['test_accuracy']['mean']:.2f} ± {row['test_accuracy']['spread']:.2f}",
            f"{row['final_loss']:.4f}", f"{row['grad_ratio_start']:.2e}",
            ("yes" if row["learns"] else "no") + (" (diverged)" if row["diverged"] else "")]


# ------------------------------------------------------------------------------------ outputs
def plot_phase_diagram(rows: list[dict[str, Any]], path: Path) -> Path:
    """Per recipe, against depth: final training accuracy (left), the first iteration's
    ||dW^[1]|| / ||dW^[L-1]|| on a log scale (right)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), dpi=110)
    accuracy_axis, ratio_axis = figure.subplots(1, 2)
    # One colour per activation x init, one line style per remedy: more than ten recipes would
    # otherwise repeat matplotlib's ten default colours.
    bases = list(dict.fromkeys((row["activation"], row["init"]) for row in rows))
    colours = matplotlib.colormaps["tab10"].colors
    styles = {name: style for name, style in zip(
        dict.fromkeys(row["remedy"] for row in rows), ("-", "--", ":", "-."), strict=False)}
    for recipe in dict.fromkeys(row["recipe"] for row in rows):
        mine = [row for row in rows if row["recipe"] == recipe]
        depths = [row["depth"] for row in mine]
        look = {"marker": "o", "label": recipe, "linestyle": styles.get(mine[0]["remedy"], "-"),
                "color": colours[bases.index((mine[0]["activation"], mine[0]["init"])) % 10]}
        accuracy_axis.plot(depths, [row["train_accuracy"]["mean"] for row in mine], **look)
        ratio_axis.plot(depths, [row["grad_ratio_start"] for row in mine], **look)
    accuracy_axis.axhline(MAJORITY_TRAIN_ACCURACY, color="grey", linestyle="--", linewidth=1)
    accuracy_axis.text(accuracy_axis.get_xlim()[0], MAJORITY_TRAIN_ACCURACY + 0.5,
                       " always 'non-cat'", color="grey", fontsize=8)
    accuracy_axis.set(xlabel="depth (hidden layers)", ylabel="final training accuracy (%)",
                      title="does it learn?")
    ratio_axis.set_yscale("log")
    ratio_axis.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ratio_axis.set(xlabel="depth (hidden layers)",
                   ylabel="||dW[1]|| / ||dW[L-1]|| at iteration 0",
                   title="how much gradient reaches layer 1 (log scale)")
    ratio_axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp)
    return path


def outputs(args: argparse.Namespace):
    """The function the runner calls to write the table and, at the end, the phase diagram."""

    def write(finished: list[Finished], complete: bool, source: str,
              data: Any = None) -> list[Path]:
        rows = rows_of(finished, args)
        stops = stopping_depths(rows)
        header = {"data": source, "synthetic": source.startswith("SYNTHETIC"),
                  "dtype": args.dtype, "seeds": args.seeds, "iterations": args.iterations,
                  "width": args.width, "learning_rate": args.lr,
                  "majority_train_accuracy": MAJORITY_TRAIN_ACCURACY,
                  "learns_margin": LEARNS_MARGIN, "complete": complete}
        table = markdown_table(COLUMNS, [markdown_row(row) for row in rows])
        stop_lines = "\n".join(
            f"- {recipe}: " + (f"stops learning at depth {depth}" if depth is not None
                               else "learns at every depth tried")
            for recipe, depth in stops.items())
        partial = "" if complete else (
            "\n**Interrupted: only the runs that finished are in this table.**\n")
        markdown = (
            f"# Depth sweep: at which depth does each recipe stop learning?\n{partial}\n"
            f"- data: {source}\n- dtype: {args.dtype}; width {args.width}; "
            f"{args.iterations} iterations at learning rate {args.lr}; seeds: {args.seeds}\n"
            f"- learns: final training accuracy more than {LEARNS_MARGIN} points above "
            f"{MAJORITY_TRAIN_ACCURACY:.2f} % (always answering non-cat); accuracies are means "
            f"± standard deviations over seeds; the ratio is a geometric mean over seeds\n\n"
            f"{stop_lines}\n\n{table}\n")
        files = write_tables(args.out, TABLE_NAME, markdown,
                             {**header, "stops_learning_at": stops, "rows": rows})
        print()
        print(stop_lines)
        if complete and rows:
            files.append(plot_phase_diagram(rows, args.out / "phase_diagram.png"))
        return files

    return write


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = plan(args)
    print(f"depth sweep: {len(recipes(args))} recipes x {len(unique(args.depths))} depths x "
          f"{args.seeds} seeds = {len(runs)} runs of {args.iterations} iterations, width "
          f"{args.width}", flush=True)
    command = " ".join(["python -m benchmarks.depth_sweep",
                        *(sys.argv[1:] if argv is None else argv)])
    return runner.run_all(args, runs, outputs(args), command)


if __name__ == "__main__":
    sys.exit(main())
