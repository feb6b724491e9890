"""The vanishing-gradient study: the course's networks trained with a gradient monitor attached.

    python -m benchmarks.vanishing_gradients                 # every experiment, 1 seed
    python -m benchmarks.vanishing_gradients --quick         # a smoke run: 20 iterations each
    python -m benchmarks.vanishing_gradients --full --seeds 3
    python -m benchmarks.vanishing_gradients --experiments sigmoid5 relu5_he --iterations 500
    python -m benchmarks.vanishing_gradients --net "tanh8:depth=8,activation=tanh,init=xavier"
    python -m benchmarks.vanishing_gradients --experiments sigmoid5 --net "sigmoid5,norm=batch"

Each experiment of `models.SPECS` is trained with full-batch SGD at its learning rate and with its
loss (penalty included), a `GradientMonitor` recording every iteration. The script prints one
table (accuracies beside the course's, the final loss, how much smaller layer 1's gradient is
than the last hidden layer's at the start and the end, the time per iteration) and writes into
--out: the table as Markdown and JSON, the monitor records (HDF5), and the plots.

Iterations: by default every experiment runs the course's count (2000 or 2200), except that
sigmoid5_xavier, which the course trains for 23000, stops at DEFAULT_MAX_ITERATIONS = 2200, and
our remedy rows run the shorter counts their specs give (1000 to 1500; 500 for the exploding
pair), so that the whole default study stays short: 25,800 iterations, measured at 8 min 54 s
(`time python -m benchmarks.vanishing_gradients`, one process, one BLAS thread) on a 2-core
machine that another job kept busy (18.6 ms per iteration, against 12 to 13 ms measured quiet).
--full runs the course's counts, 23000 included, --iterations N runs N for every experiment,
--quick runs QUICK_ITERATIONS.

Networks without the course's settings (logistic, shallow) train with ModelSpec's defaults
(learning rate 0.008 and 2000 iterations, see models/).

Any network: --net SPEC (repeatable; the grammar is `models.parse_net`'s) adds a network built
from settings, e.g. "tanh8:depth=8,activation=tanh,init=xavier" or "relu5_he,residual=on". With
--net and no --experiments, only the --net networks run. A --net network trains for the
iterations its spec gives (iterations=N, or its base network's count, capped like the named ones
unless iterations= is written out). A bad spec stops the study before any training: one line,
exit status 2.

Theory and diagnosis (issue 13), per experiment: the variance argument's prediction at
initialization (`tinygrad_edu.theory`) beside the measurement, as the table's predicted and
measured ||dW^[1]|| / ||dW^[L-1]|| at the start and, in the JSON, per layer
(`theory.study_columns`), drawn in <name>_theory.png; the diagnosis of every run
(`tinygrad_edu.diagnosis`), printed after the run, its labels in the table and its sentence per
seed in the JSON; the update:data ratio ||lr dW^[l]|| / ||W^[l]|| per layer, its final value in
the JSON and its curve in <name>_update_ratio.png. The prediction is only made where the theory
applies: not without a hidden layer (logistic), not with batch normalization or residual
connections (the variance argument of `tinygrad_edu.theory` is for plain Linear -> activation
layers); the table then says why instead of printing a wrong number.

Data: the real cat / non-cat files (--data-dir, or tinygrad_edu.data's search path); when they
are not found the study stops before training and says where it looked. --synthetic trains on
the labelled stand-in instead. The output says which, in the console, the Markdown and the JSON.

Runs are trained, kept, resumed and parallelised by `benchmarks.runner` (its docstring: resume,
interrupts, --workers, --scheduler, BLAS threads, the manifest of --out).
"""

from __future__ import annotations

import argparse
import re
import sys
from types import SimpleNamespace
from pathlib import Path
from typing import Any

import numpy as np

import models
from benchmarks import runner
from benchmarks.command_line import OneLineParser
from benchmarks.files import atomic_path
from benchmarks.runner import Finished, Run
from benchmarks.tables import geometric_mean, markdown_table, mean_spread, write_tables
from tinygrad_edu.data import CatDataset
from tinygrad_edu.monitor import MonitorRecords

DEFAULT_EXPERIMENTS = (*models.COURSE_EXPERIMENTS, *models.OUR_ADDITIONS)
DEFAULT_MAX_ITERATIONS = 2200  # without --full: the longest course count but sigmoid5_xavier's
QUICK_ITERATIONS = 20
TABLE_NAME = "vanishing_gradients"


# ------------------------------------------------------------------------------------ options
def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m benchmarks.vanishing_gradients",
        description="Train the course's deep networks with a gradient monitor and report how "
                    "the gradient flows (tables, records and plots in --out).")
    parser.add_argument("--experiments", nargs="+", metavar="NAME", default=None,
                        help="experiments to run, by name (space- or comma-separated); "
                             f"default: {' '.join(DEFAULT_EXPERIMENTS)}; "
                             f"known: {', '.join(models.SPECS)}")
    parser.add_argument("--net", action="append", metavar="SPEC", default=[],
                        help="a network from settings (repeatable): NAME:KEY=VALUE,... for a "
                             "new one (from depth 4, width 30, relu, he, lr 0.008, 2000 "
                             "iterations), NAME,KEY=VALUE,... for a named one changed; keys "
                             "depth, width, activation, init, lr, iterations, l2, norm, "
                             "residual, loss, clip (see README)")
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
    # With --net alone, only those networks; with neither, the default list.
    default = () if args.net and args.experiments is None else DEFAULT_EXPERIMENTS
    names = [name for item in (args.experiments if args.experiments is not None else default)
             for name in str(item).split(",") if name]
    unknown = [name for name in names if name not in models.SPECS]
    if unknown or not (names or args.net):
        parser.error(f"unknown experiment {', '.join(map(repr, unknown)) or '(none given)'}; "
                     f"choose from: {', '.join(models.SPECS)}")
    args.experiments = list(dict.fromkeys(names))  # drop repeats, keep the order
    args.nets, args.explicit_iterations = [], set()
    for text in args.net:
        try:  # every setting is checked here, before any data is read or anything trained
            spec = models.parse_net(text)
        except models.SpecError as error:
            parser.error(str(error))
        args.nets.append(spec)
        if re.search(r"(^|[:,])\s*iterations\s*=", text):
            args.explicit_iterations.add(spec.name)
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
    if args.full or spec.name in getattr(args, "explicit_iterations", ()):
        return course  # --full, or a --net spec that wrote iterations=N
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
    specs = [*(models.SPECS[name] for name in args.experiments), *args.nets]
    return [Run(spec, seed, iterations_for(spec, args), args.dtype)
            for spec in specs for seed in range(args.seeds)]


# ------------------------------------------------------------------------------------ the table
def group_by_experiment(finished: list[Finished]) -> list[list[Finished]]:
    """The finished runs of each experiment together (seeds in order), experiments in order."""
    groups: dict[str, list[Finished]] = {}
    for run in finished:
        groups.setdefault(run.run.spec.name, []).append(run)
    return list(groups.values())


# ------------------------------------------------------------------------------------ theory
def theory_inputs(spec: models.ModelSpec) -> SimpleNamespace | str:
    """What `theory.study_columns` needs to know of `spec` (hidden widths, the activation's
    kind and slope, the init as a name or a std, the L2 penalty), or why the theory does not
    apply to it: it is the variance argument for plain Linear -> activation layers."""
    from tinygrad_edu import theory
    from tinygrad_edu.nn import layers
    from tinygrad_edu.nn.init import get_initializer

    if not spec.hidden:
        return "no hidden layer"
    if spec.norm == "batch":
        return "batch norm"
    if spec.residual:
        return "residual connections"
    try:
        module = layers.make_activation(spec.activation)
    except ValueError:
        return f"activation {spec.activation} unknown to the theory"
    kind = layers.activation_kind(module)
    if kind not in theory.ACTIVATIONS:
        return f"activation {spec.activation} unknown to the theory"
    try:  # normal(STD) is given to the theory as its std; the named inits by name
        init: str | float = getattr(get_initializer(spec.init), "std", spec.init)
        theory.weight_std(init, 1, 1)
    except ValueError:
        return f"init {spec.init} unknown to the theory"
    return SimpleNamespace(hidden=spec.hidden, activation=kind, init=init,
                           negative_slope=getattr(module, "negative_slope",
                                                  theory.DEFAULT_NEGATIVE_SLOPE),
                           lamda=spec.lamda, penalized_layers=spec.penalized_layers)


def theory_of(spec: models.ModelSpec, records: list[MonitorRecords],
              data: CatDataset) -> tuple[Any, dict[str, Any]]:
    """(the Prediction, or None, and the JSON columns) for one experiment over its seeds: the
    prediction and comparison of `theory.study_columns`, or {"not_predicted": reason}."""
    from tinygrad_edu import theory

    inputs = theory_inputs(spec)
    if isinstance(inputs, str):
        return None, {"not_predicted": inputs}
    try:
        columns = theory.study_columns(inputs, records, data.x_train)
        widths = (data.x_train.shape[0], *inputs.hidden, 1)
        prediction = theory.predict(widths, inputs.activation, inputs.init,
                                    theory.input_second_moment(data.x_train),
                                    inputs.negative_slope)
    except (ValueError, TypeError) as error:  # e.g. records that do not start at iteration 0
        return None, {"not_predicted": str(error)}
    columns.pop("final_update_ratio", None)  # the row has it per seed, for every network
    return prediction, columns


def summarize(runs: list[Finished], theory: dict[str, Any] | None = None) -> dict[str, Any]:
    """One table row, as numbers (JSON) - formatted for Markdown by `markdown_row`. `theory`
    is the experiment's `theory_of` columns (None: not computed)."""
    spec = runs[0].run.spec
    results = [run.result for run in runs]
    theory = theory or {"not_predicted": "not computed"}
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
        "grad_ratio_start_predicted": theory.get("gradient_ratio_first_predicted"),
        "not_predicted": theory.get("not_predicted"),
        "theory": theory,
        # per seed (older result rows have no diagnosis: None)
        "diagnosis": [r.get("diagnosis") for r in results],
        "diagnosis_labels": [r.get("diagnosis_labels") for r in results],
        "final_update_ratio": [r.get("final_update_ratio") for r in results],
        "settings": spec.settings,
        "note": spec.note,
    }


COLUMNS = ("experiment", "architecture", "activation", "init", "iterations", "train acc %",
           "test acc %", "course train / test %", "final loss",
           "‖dW1‖/‖dW_last‖ start: predicted", "measured", "end", "diagnosis", "s / iter")


def predicted_cell(row: dict[str, Any]) -> str:
    if row.get("grad_ratio_start_predicted") is None:
        return f"not predicted ({row.get('not_predicted') or 'no theory'})"
    return f"{row['grad_ratio_start_predicted']:.2e}"


def diagnosis_cell(row: dict[str, Any]) -> str:
    """The labels, once when every seed agrees, else per seed joined by ' / '."""
    per_seed = [", ".join(labels) if labels else "-" for labels in row["diagnosis_labels"]]
    return " / ".join(dict.fromkeys(per_seed)) if per_seed else "-"


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
        f"{row['final_loss']:.4f}", predicted_cell(row), f"{row['grad_ratio_start']:.2e}",
        f"{row['grad_ratio_end']:.2e}", diagnosis_cell(row),
        f"{row['seconds_per_iteration']:.4f}",
    ]


# ------------------------------------------------------------------------------------ outputs
def write_plots(groups: list[list[Finished]], out: Path,
                predictions: dict[str, Any] | None = None,
                records: dict[str, list[MonitorRecords]] | None = None) -> list[Path]:
    """Per experiment (its first seed): dW per neuron, speed of learning, activations, the
    update:data ratio; over its seeds, the theory overlay (where there is a prediction); then
    one figure with every experiment's loss. Each figure is written atomically."""
    from tinygrad_edu import plots

    predictions, records = predictions or {}, records or {}
    written = []
    drawings = (("dw_per_neuron", plots.plot_dw_per_neuron),
                ("speed_learning", plots.plot_speed_of_learning),
                ("activations", plots.plot_activation_stats),
                ("update_ratio", plots.plot_update_ratio))
    first_seed = {}
    for runs in groups:
        name = runs[0].run.spec.name
        seeds = records.get(name) or [run.records() for run in runs]
        first_seed[name] = seeds[0]
        for kind, draw in drawings:
            path = out / f"{name}_{kind}.png"
            try:
                with atomic_path(path) as tmp:
                    draw(seeds[0], tmp)
            except ValueError as error:  # e.g. records without an update ratio (old files)
                print(f"{path.name} not drawn: {error}")
                continue
            written.append(path)
        if predictions.get(name) is not None:
            path = out / f"{name}_theory.png"
            with atomic_path(path) as tmp:
                plots.plot_theory_overlay(predictions[name], seeds, tmp)
            written.append(path)
    path = out / "loss_curves.png"
    with atomic_path(path) as tmp:
        plots.plot_loss_curves(
            first_seed, tmp, dashed=models.OUR_ADDITIONS,
            title="training loss (seed 0; dashed: our additions, not in the course)")
    return [*written, path]


def outputs(args: argparse.Namespace):
    """The function the runner calls to write the tables (and, at the end, the plots)."""

    def write(finished: list[Finished], complete: bool, source: str,
              data: CatDataset) -> list[Path]:
        groups = group_by_experiment(finished)
        records, predictions, rows = {}, {}, []
        for runs in groups:
            spec = runs[0].run.spec
            records[spec.name] = [run.records() for run in runs]
            predictions[spec.name], theory = theory_of(spec, records[spec.name], data)
            rows.append(summarize(runs, theory))
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
            f"\n- predicted: the variance argument at initialization (tinygrad_edu.theory), "
            f"with the measured E[x^2] of the data for layer 1; not made where it does not "
            f"apply (no hidden layer, batch norm, residual connections)\n- diagnosis: "
            f"tinygrad_edu.diagnosis's labels (per seed where the seeds differ); the sentences, "
            f"the per-layer comparison and the final update:data ratios are in "
            f"{TABLE_NAME}.json\n\n{table}\n")
        files = write_tables(args.out, TABLE_NAME, markdown, {**header, "experiments": rows})
        print()
        print(table)
        print(f"\nratio = ||dW^[1]||_F / ||dW^[L-1]||_F; course train / test: what the course "
              f"printed; data: {source}")
        if complete and not args.no_plots:
            files += write_plots(groups, args.out, predictions, records)
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
