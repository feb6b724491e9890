"""The vanishing-gradient study: the course's networks trained with a gradient monitor attached.

    python -m benchmarks.vanishing_gradients                 # every experiment, 1 seed
    python -m benchmarks.vanishing_gradients --quick         # a smoke run: 20 iterations each
    python -m benchmarks.vanishing_gradients --full --seeds 3
    python -m benchmarks.vanishing_gradients --experiments sigmoid5 relu5_he --iterations 500

Each experiment of `models.SPECS` is trained with full-batch SGD at its learning rate and with its
loss (penalty included), a `GradientMonitor` recording every iteration. The script prints one
table (accuracies beside the course's, the final loss, how much smaller layer 1's gradient is
than the last hidden layer's at the start and the end, the time per iteration) and writes into
--out: the table as Markdown and JSON, the monitor records (HDF5), and the plots.

Iterations: by default every experiment runs the course's count (2000 or 2200), except that
sigmoid5_xavier, which the course trains for 23000, stops at DEFAULT_MAX_ITERATIONS = 2200 so that
the whole study fits in five minutes on two cores; --full runs the course's counts, 23000
included, --iterations N runs N for every experiment, --quick runs QUICK_ITERATIONS.

Networks without the course's settings (logistic, shallow) train with ModelSpec's defaults
(learning rate 0.008 and 2000 iterations, see models/).

Data: the real cat / non-cat files (--data-dir, or tinygrad_edu.data's search path); when they
are not found the study stops before training and says where it looked. --synthetic trains on
the labelled stand-in instead. The output says which, in the console, the Markdown and the JSON.

Runs are trained, kept, resumed and parallelised by `benchmarks.runner` (its docstring: resume,
interrupts, --workers, --scheduler, BLAS threads, the manifest of --out).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

import models
from benchmarks import runner
from benchmarks.runner import Finished, Run
from benchmarks.tables import geometric_mean, markdown_table, mean_spread, write_tables

DEFAULT_EXPERIMENTS = (*models.COURSE_EXPERIMENTS, *models.OUR_ADDITIONS)
DEFAULT_MAX_ITERATIONS = 2200  # without --full: the longest course count but sigmoid5_xavier's
QUICK_ITERATIONS = 20
TABLE_NAME = "vanishing_gradients"


# ------------------------------------------------------------------------------------ options
def build_parser() -> argparse.ArgumentParser:
    parser = runner.OneLineParser(
        prog="python -m benchmarks.vanishing_gradients",
        description="Train the course's deep networks with a gradient monitor and report how "
                    "the gradient flows (tables, records and plots in --out).")
    parser.add_argument("--experiments", nargs="+", metavar="NAME", default=None,
                        help="experiments to run, by name (space- or comma-separated); "
                             f"default: {' '.join(DEFAULT_EXPERIMENTS)}; "
                             f"known: {', '.join(models.SPECS)}")
    length = runner.add_length_options(
        parser, iterations_help="train every experiment for N iterations",
        quick_help=f"smoke run: {QUICK_ITERATIONS} iterations each, same data")
    length.add_argument("--full", action="store_true",
                        help="the course's iteration counts (23000 for sigmoid5_xavier: long)")
    parser.add_argument("--no-plots", action="store_true",
                        help="write the tables and records only, no figures (faster)")
    runner.add_common_options(parser, default_out="results")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [name for item in (args.experiments or DEFAULT_EXPERIMENTS)
             for name in str(item).split(",") if name]
    unknown = [name for name in names if name not in models.SPECS]
    if unknown or not names:
        parser.error(f"unknown experiment {', '.join(map(repr, unknown)) or '(none given)'}; "
                     f"choose from: {', '.join(models.SPECS)}")
    args.experiments = list(dict.fromkeys(names))  # drop repeats, keep the order
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} does not exist or is not a folder")
    return args


def iterations_for(spec: models.ModelSpec, args: argparse.Namespace) -> int:
    """How long `spec` trains under the options (see the module docstring)."""
    course = spec.iterations
    if args.quick:
        return QUICK_ITERATIONS
    if args.iterations:
        return args.iterations
    if args.full:
        return course
    return min(course, DEFAULT_MAX_ITERATIONS)


def iteration_policy(args: argparse.Namespace) -> str:
    if args.quick:
        return f"--quick: {QUICK_ITERATIONS} iterations per experiment (a smoke run)"
    if args.iterations:
        return f"--iterations: {args.iterations} per experiment"
    if args.full:
        return "--full: the course's iteration counts"
    return (f"the course's counts, but at most {DEFAULT_MAX_ITERATIONS} (sigmoid5_xavier: the "
            f"course trains it for 23000; use --full for that)")


def plan(args: argparse.Namespace) -> list[Run]:
    """Every (experiment, seed) the options ask for, in table order."""
    return [Run(spec, seed, iterations_for(spec, args), args.dtype)
            for spec in (models.SPECS[name] for name in args.experiments)
            for seed in range(args.seeds)]


# ------------------------------------------------------------------------------------ the table
def group_by_experiment(finished: list[Finished]) -> list[list[Finished]]:
    """The finished runs of each experiment together (seeds in order), experiments in order."""
    groups: dict[str, list[Finished]] = {}
    for run in finished:
        groups.setdefault(run.run.spec.name, []).append(run)
    return list(groups.values())


def summarize(runs: list[Finished]) -> dict[str, Any]:
    """One table row, as numbers (JSON) - formatted for Markdown by `markdown_row`."""
    spec = runs[0].run.spec
    results = [run.result for run in runs]
    train = mean_spread([100 * r["train_accuracy"] for r in results])
    test = mean_spread([100 * r["test_accuracy"] for r in results])
    course = spec.course_accuracy
    course_iterations = models.SPECS[spec.name].iterations if spec.name in models.SPECS else None
    return {
        "experiment": spec.name, "architecture": spec.architecture,
        "activation": spec.activation, "init": spec.init, "learning_rate": spec.learning_rate,
        "iterations": results[0]["iterations"], "course_iterations": course_iterations,
        "seeds": [run.run.seed for run in runs],
        "train_accuracy": {"mean": train[0], "spread": train[1],
                           "values": [100 * r["train_accuracy"] for r in results]},
        "test_accuracy": {"mean": test[0], "spread": test[1],
                          "values": [100 * r["test_accuracy"] for r in results]},
        "course_accuracy": None if course is None
        else {"train": 100 * course[0], "test": 100 * course[1]},
        "final_loss": mean_spread([r["final_loss"] for r in results])[0],
        "grad_ratio_start": geometric_mean([r["grad_ratio_start"] for r in results]),
        "grad_ratio_end": geometric_mean([r["grad_ratio_end"] for r in results]),
        "seconds_per_iteration": float(np.mean([r["seconds"] / r["iterations"]
                                                for r in results])),
        "diverged": [r["diverged"] for r in results if r["diverged"]],
        "note": spec.note,
    }


COLUMNS = ("experiment", "architecture", "activation", "init", "iterations", "train acc %",
           "test acc %", "course train / test %", "final loss", "‖dW1‖/‖dW_last‖ start",
           "end", "s / iter")


def markdown_row(row: dict[str, Any]) -> list[str]:
    course = row["course_accuracy"]
    iterations = str(row["iterations"])
    if row["course_iterations"] and row["iterations"] != row["course_iterations"]:
        iterations += f" (course {row['course_iterations']})"
    return [
        row["experiment"] + (" (diverged)" if row["diverged"] else ""), row["architecture"],
        row["activation"], row["init"], iterations,
        f"{row['train_accuracy']['mean']:.2f} ± {row['train_accuracy']['spread']:.2f}",
        f"{row['test_accuracy']['mean']:.2f} ± {row['test_accuracy']['spread']:.2f}",
        "-" if course is None else f"{course['train']:.2f} / {course['test']:.2f}",
        f"{row['final_loss']:.4f}", f"{row['grad_ratio_start']:.2e}",
        f"{row['grad_ratio_end']:.2e}", f"{row['seconds_per_iteration']:.4f}",
    ]


# ------------------------------------------------------------------------------------ outputs
def write_plots(groups: list[list[Finished]], out: Path) -> list[Path]:
    """Per experiment (its first seed): dW per neuron, speed of learning, activations; then one
    figure with every experiment's loss. Each figure is written atomically."""
    from tinygrad_edu import plots

    written = []
    drawings = (("dw_per_neuron", plots.plot_dw_per_neuron),
                ("speed_learning", plots.plot_speed_of_learning),
                ("activations", plots.plot_activation_stats))
    first_seed = {}
    for runs in groups:
        records, name = runs[0].records(), runs[0].run.spec.name
        first_seed[name] = records
        for kind, draw in drawings:
            path = out / f"{name}_{kind}.png"
            with runner.atomic_path(path) as tmp:
                draw(records, tmp)
            written.append(path)
    path = out / "loss_curves.png"
    with runner.atomic_path(path) as tmp:
        plots.plot_loss_curves(
            first_seed, tmp, dashed=models.OUR_ADDITIONS,
            title="training loss (seed 0; dashed: our additions, not in the course)")
    return [*written, path]


def outputs(args: argparse.Namespace):
    """The function the runner calls to write the tables (and, at the end, the plots)."""

    def write(finished: list[Finished], complete: bool, source: str) -> list[Path]:
        groups = group_by_experiment(finished)
        rows = [summarize(runs) for runs in groups]
        header = {"data": source, "synthetic": source.startswith("SYNTHETIC"),
                  "dtype": args.dtype, "seeds": args.seeds,
                  "iteration_policy": iteration_policy(args), "complete": complete}
        table = markdown_table(COLUMNS, [markdown_row(row) for row in rows])
        partial = "" if complete else (
            "\n**Interrupted: only the runs that finished are in this table.**\n")
        markdown = (
            f"# Vanishing gradients: results\n{partial}\n"
            f"- data: {header['data']}\n- dtype: {header['dtype']}\n"
            f"- iterations: {header['iteration_policy']}\n- seeds: {header['seeds']}\n"
            f"- accuracies: mean ± standard deviation over seeds, in %; the ratio is "
            f"||dW^[1]||_F / ||dW^[L-1]||_F (layer 1 against the last hidden layer; geometric "
            f"mean over seeds) at the first and the last iteration; layer 1 has 12288 weights "
            f"per neuron against 30, so equal per-weight gradients would give a ratio near 20"
            f"\n\n{table}\n")
        files = write_tables(args.out, TABLE_NAME, markdown, {**header, "experiments": rows})
        print()
        print(table)
        print(f"\nratio = ||dW^[1]||_F / ||dW^[L-1]||_F; course train / test: what the course "
              f"printed; data: {source}")
        if complete and not args.no_plots:
            files += write_plots(groups, args.out)
        return files

    return write


# ------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"iterations: {iteration_policy(args)}")
    print(f"dtype: {args.dtype}, seeds: {args.seeds}", flush=True)
    command = " ".join(["python -m benchmarks.vanishing_gradients",
                        *(sys.argv[1:] if argv is None else argv)])
    return runner.run_all(args, plan(args), outputs(args), command)


if __name__ == "__main__":
    sys.exit(main())
