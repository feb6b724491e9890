"""Redraw the README's figures (small PNGs under docs/) from the records of a study run.

    python -m benchmarks.vanishing_gradients          # writes results/records/*.h5
    python -m benchmarks.docs_figures                 # reads them, writes docs/*.png

The figures are the study's own (tinygrad_edu.plots), drawn smaller so that the README stays light.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import models
from benchmarks.vanishing_gradients import theory_of
from tinygrad_edu import plots
from tinygrad_edu.data import load_cat_or_synthetic
from tinygrad_edu.monitor import MonitorRecords

SIZE = (7.0, 4.2)  # inches
DPI = 110          # 770 x 462 pixels
# The variance argument beside the measurement (issue 13): the nets whose start it explains.
THEORY_FIGURES = ("sigmoid5", "relu5", "relu5_he", "relu5_he_correct", "sigmoid5_xavier")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.docs_figures",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="the --out folder of a study run (default results/)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="default docs/")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the cat/non-cat files the study ran on (for the theory's E[x^2])")
    args = parser.parse_args(argv)

    def records(name: str) -> MonitorRecords:
        path = args.results / "records" / f"{name}_seed0.h5"
        if not path.is_file():
            parser.error(f"{path} not found: run python -m benchmarks.vanishing_gradients first "
                         f"(with {name} among the experiments)")
        return MonitorRecords.load(path)

    args.out.mkdir(parents=True, exist_ok=True)
    size = {"figsize": SIZE, "dpi": DPI}
    written = [
        plots.plot_dw_per_neuron(records("sigmoid5"), args.out / "dw_sigmoid5.png", **size),
        plots.plot_speed_of_learning(records("sigmoid5"), args.out / "speed_sigmoid5.png",
                                     **size),
        plots.plot_dw_per_neuron(records("relu5_he"), args.out / "dw_relu5_he.png", **size),
        plots.plot_loss_curves(
            {name: records(name) for name in models.COURSE_EXPERIMENTS + models.OUR_ADDITIONS},
            args.out / "loss_curves.png", dashed=models.OUR_ADDITIONS,
            title="training loss (dashed: our additions)", **size),
    ]
    data, _ = load_cat_or_synthetic(args.data_dir)  # layer 1's prediction uses the images' E[x^2]
    for name in THEORY_FIGURES:
        prediction, _ = theory_of(models.SPECS[name], [records(name)], data)
        written.append(plots.plot_theory_overlay(
            prediction, records(name), args.out / f"theory_{name}.png",
            title=f"{name}: the variance argument against the monitor, iteration 0", **size))
    for name in ("sigmoid5", "relu5_he"):
        written.append(plots.plot_update_ratio(records(name), args.out / f"update_{name}.png",
                                               title=f"{name}: update:data ratio", **size))
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
