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

Data: the real cat / non-cat files when they are found (--data-dir, or tinygrad_edu.data's
search path), else the SYNTHETIC stand-in; --synthetic forces the stand-in. The output says
which, in the console, the Markdown and the JSON.

BLAS threads: NumPy's default (all cores). On a machine busy with other jobs, two BLAS threads
can make the (30, 12288) @ (12288, 209) product 10 to 50 times slower than one (a thread waits
for a core that another process holds): set OPENBLAS_NUM_THREADS=1 there.

Memory: see `keep_freed_memory`; on glibc it removes a third of the time of an iteration.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import models
from tinygrad_edu import plots
from tinygrad_edu.data import (
    CatDataset,
    DatasetFormatError,
    DatasetNotFoundError,
    load_cat_or_synthetic,
    synthetic_cat_dataset,
)
from tinygrad_edu.monitor import GradientMonitor, MonitorRecords
from tinygrad_edu.optim import SGD
from tinygrad_edu.training import accuracy, fit

DEFAULT_EXPERIMENTS = (*models.COURSE_EXPERIMENTS, *models.OUR_ADDITIONS)
DEFAULT_MAX_ITERATIONS = 2200  # without --full: the longest course count but sigmoid5_xavier's
QUICK_ITERATIONS = 20
FALLBACK_ITERATIONS = 2000  # for a spec without a course count (none of the defaults)
TABLE_NAME = "vanishing_gradients"


# ------------------------------------------------------------------------------------ options
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.vanishing_gradients",
        description="Train the course's deep networks with a gradient monitor and report how "
                    "the gradient flows (tables, records and plots in --out).")
    parser.add_argument("--experiments", nargs="+", metavar="NAME", default=None,
                        help="experiments to run, by name (space- or comma-separated); "
                             f"default: {' '.join(DEFAULT_EXPERIMENTS)}; "
                             f"known: {', '.join(models.SPECS)}")
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                        help="train each experiment with weight seeds 0..N-1 (default 1)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--iterations", type=positive_int, metavar="N",
                        help="train every experiment for N iterations")
    length.add_argument("--full", action="store_true",
                        help="the course's iteration counts (23000 for sigmoid5_xavier: long)")
    length.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_ITERATIONS} iterations each, same data")
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR",
                        help="folder for the tables, records and plots (default results/)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder holding train_catvnoncat.h5 and test_catvnoncat.h5")
    source.add_argument("--synthetic", action="store_true",
                        help="use the synthetic stand-in even if the real files are found")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="floating type of data and weights (default float64)")
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
    course = spec.iterations or FALLBACK_ITERATIONS
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


# ------------------------------------------------------------------------------------ runs
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks of up to 64 MB instead of unmapping them.

    Every iteration allocates and frees a few (30, 12288) arrays of 2.9 MB (dW^[1] and the
    penalty's temporaries). By default glibc hands such blocks back to the kernel on free and
    maps fresh pages on the next allocation, and touching fresh pages costs page faults:
    measured 3,600 faults and 9 to 11 ms of system time per relu5_he iteration, about a third
    of it. With the thresholds raised (mallopt M_MMAP_THRESHOLD = 64 MB, M_TRIM_THRESHOLD =
    256 MB: the same as MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ in the environment),
    the faults disappear. Returns False, changing nothing, where the C library is not glibc.
    """
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's <malloc.h>
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(m_mmap_threshold, 64 << 20)
                    and libc.mallopt(m_trim_threshold, 256 << 20))
    except (OSError, AttributeError):
        return False



@dataclass
class Run:
    """One experiment trained with one seed."""

    name: str
    seed: int
    iterations: int
    seconds: float
    train_accuracy: float
    test_accuracy: float
    records: MonitorRecords
    diverged: str = ""


@dataclass
class Summary:
    """All seeds of one experiment, as the table shows them."""

    spec: models.ModelSpec
    runs: list[Run] = field(default_factory=list)


def load_data(args: argparse.Namespace) -> tuple[CatDataset, str]:
    dtype = np.dtype(args.dtype)
    if args.synthetic:
        return synthetic_cat_dataset(0, dtype), "SYNTHETIC stand-in, seed 0 (forced by --synthetic)"
    return load_cat_or_synthetic(args.data_dir, dtype)


def train_one(spec: models.ModelSpec, seed: int, iterations: int, data: CatDataset,
              dtype: np.dtype) -> Run:
    """Build, train with the monitor attached, evaluate."""
    model = spec.build(seed=seed, in_features=data.x_train.shape[0], dtype=dtype)
    optimizer = SGD(model.parameters(), lr=spec.learning_rate)
    diverged = ""
    with GradientMonitor(model, meta={"experiment": spec.name, "seed": seed}) as monitor:
        start = time.perf_counter()
        try:
            fit(model, data.x_train, data.y_train, optimizer, iterations, spec.loss_fn(),
                callbacks=[monitor], progress=f"{spec.name} seed {seed}")
        except FloatingPointError as error:  # keep what was recorded up to the divergence
            diverged = str(error)
        seconds = time.perf_counter() - start
        records = monitor.records(architecture=spec.architecture, init=spec.init,
                                  learning_rate=spec.learning_rate)
    return Run(spec.name, seed, iterations, seconds,
               accuracy(model, data.x_train, data.y_train),
               accuracy(model, data.x_test, data.y_test), records, diverged)


# ------------------------------------------------------------------------------------ the table
def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation over seeds (sample std; 0 for a single seed)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def geometric_mean(values: list[float]) -> float:
    """Ratios are averaged in log space: 1e-4 and 1e-2 average to 1e-3."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.exp(np.mean(np.log(np.asarray(values, dtype=np.float64)))))


def summarize(summary: Summary) -> dict[str, Any]:
    """One table row, as numbers (JSON) - formatted for Markdown by `markdown_row`."""
    spec, runs = summary.spec, summary.runs
    train = mean_spread([100 * run.train_accuracy for run in runs])
    test = mean_spread([100 * run.test_accuracy for run in runs])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_start = geometric_mean([run.records.gradient_ratio(0) for run in runs])
        ratio_end = geometric_mean([run.records.gradient_ratio(-1) for run in runs])
    course = spec.course_accuracy
    return {
        "experiment": spec.name, "architecture": spec.architecture,
        "activation": spec.activation, "init": spec.init, "learning_rate": spec.learning_rate,
        "iterations": runs[0].iterations, "course_iterations": spec.iterations,
        "seeds": [run.seed for run in runs],
        "train_accuracy": {"mean": train[0], "spread": train[1],
                           "values": [100 * run.train_accuracy for run in runs]},
        "test_accuracy": {"mean": test[0], "spread": test[1],
                          "values": [100 * run.test_accuracy for run in runs]},
        "course_accuracy": None if course is None
        else {"train": 100 * course[0], "test": 100 * course[1]},
        "final_loss": mean_spread([float(run.records.loss[-1]) for run in runs])[0],
        "grad_ratio_start": ratio_start, "grad_ratio_end": ratio_end,
        "seconds_per_iteration": float(np.mean([run.seconds / run.iterations for run in runs])),
        "diverged": [run.diverged for run in runs if run.diverged],
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


def markdown_table(rows: list[dict[str, Any]]) -> str:
    cells = [list(COLUMNS)] + [markdown_row(row) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(values) for values in cells[1:])])


# ------------------------------------------------------------------------------------ outputs
def write_plots(summaries: list[Summary], out: Path) -> list[Path]:
    """Per experiment (its first seed): dW per neuron, speed of learning, activations; then one
    figure with every experiment's loss."""
    written = []
    for summary in summaries:
        records, name = summary.runs[0].records, summary.spec.name
        written.append(plots.plot_dw_per_neuron(records, out / f"{name}_dw_per_neuron.png"))
        written.append(plots.plot_speed_of_learning(records, out / f"{name}_speed_learning.png"))
        written.append(plots.plot_activation_stats(records, out / f"{name}_activations.png"))
    first_seed = {s.spec.name: s.runs[0].records for s in summaries}
    written.append(plots.plot_loss_curves(
        first_seed, out / "loss_curves.png", dashed=models.OUR_ADDITIONS,
        title="training loss (seed 0; dashed: our additions, not in the course)"))
    return written


def write_records(summaries: list[Summary], out: Path) -> list[Path]:
    folder = out / "records"
    folder.mkdir(parents=True, exist_ok=True)
    return [run.records.save(folder / f"{run.name}_seed{run.seed}.h5")
            for summary in summaries for run in summary.runs]


def write_tables(rows: list[dict[str, Any]], header: dict[str, Any], out: Path) -> list[Path]:
    markdown = out / f"{TABLE_NAME}.md"
    markdown.write_text(
        f"# Vanishing gradients: results\n\n"
        f"- data: {header['data']}\n- dtype: {header['dtype']}\n"
        f"- iterations: {header['iteration_policy']}\n- seeds: {header['seeds']}\n"
        f"- accuracies: mean ± standard deviation over seeds, in %; the ratio is "
        f"||dW^[1]||_F / ||dW^[L-1]||_F (layer 1 against the last hidden layer; geometric "
        f"mean over seeds) at the first and the last iteration; layer 1 has 12288 weights per "
        f"neuron against 30, so equal per-weight gradients would give a ratio near 20\n\n"
        f"{markdown_table(rows)}\n")
    blob = out / f"{TABLE_NAME}.json"
    blob.write_text(json.dumps({**header, "experiments": rows}, indent=2))
    return [markdown, blob]


# ------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    malloc_tuned = keep_freed_memory()
    try:
        data, source = load_data(args)
    except (DatasetNotFoundError, DatasetFormatError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    dtype = np.dtype(args.dtype)
    print(f"data: {source}")
    print(f"iterations: {iteration_policy(args)}")
    print(f"dtype: {dtype}, seeds: {args.seeds}, "
          f"BLAS threads (OPENBLAS_NUM_THREADS): "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
          f"malloc keeps freed memory: {'yes' if malloc_tuned else 'no (not glibc)'}")

    summaries = []
    for name in args.experiments:
        spec = models.SPECS[name]
        summary = Summary(spec)
        for seed in range(args.seeds):
            run = train_one(spec, seed, iterations_for(spec, args), data, dtype)
            summary.runs.append(run)
            print(f"{name} seed {seed}: {run.iterations} iterations in {run.seconds:.1f} s, "
                  f"train {100 * run.train_accuracy:.2f} %, test {100 * run.test_accuracy:.2f} %"
                  + (f"  DIVERGED: {run.diverged}" if run.diverged else ""), flush=True)
        summaries.append(summary)

    rows = [summarize(summary) for summary in summaries]
    header = {"data": source, "synthetic": source.startswith("SYNTHETIC"),
              "dtype": str(dtype), "seeds": args.seeds,
              "iteration_policy": iteration_policy(args)}
    args.out.mkdir(parents=True, exist_ok=True)
    files = write_tables(rows, header, args.out)
    files += write_records(summaries, args.out)
    files += write_plots(summaries, args.out)
    print()
    print(markdown_table(rows))
    print(f"\nratio = ||dW^[1]||_F / ||dW^[L-1]||_F; course train / test: what the course "
          f"printed; data: {source}")
    print(f"wrote {len(files)} files into {args.out}/ in {time.perf_counter() - started:.0f} s "
          f"in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
