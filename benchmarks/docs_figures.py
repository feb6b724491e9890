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
from tinygrad_edu import plots
from tinygrad_edu.monitor import MonitorRecords

SIZE = (7.0, 4.2)  # inches
DPI = 110          # 770 x 462 pixels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.docs_figures",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="the --out folder of a study run (default results/)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="default docs/")
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
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
