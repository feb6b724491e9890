"""Tests of tinygrad_edu.plots: each function writes a PNG of the size asked for."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from matplotlib.image import imread

from models import CourseNet
from tinygrad_edu import plots
from tinygrad_edu.monitor import GradientMonitor
from tinygrad_edu.optim import SGD
from tinygrad_edu.training import fit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def recorded(activation: str, hidden=(4, 3), seed: int = 0, iterations: int = 5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(6, 8))
    y = (rng.random((1, 8)) < 0.5).astype(np.float64)
    model = CourseNet([6, *hidden, 1], activation, init="xavier", rng=seed)
    with GradientMonitor(model, meta={"experiment": f"tiny_{activation}", "seed": seed}) as mon:
        fit(model, x, y, SGD(model.parameters(), lr=0.5), iterations, callbacks=[mon])
        return mon.records()


def png_size(path) -> tuple[int, int]:
    """(width, height) from the PNG header: the IHDR chunk follows the 8-byte signature."""
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, "not a PNG file"
    return struct.unpack(">II", header[16:24])


def check_png(path, width: int, height: int) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert png_size(path) == (width, height)
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0.01  # something is drawn, not a blank canvas


@pytest.mark.parametrize("function", [plots.plot_dw_per_neuron, plots.plot_speed_of_learning,
                                      plots.plot_activation_stats])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_per_experiment_plots_write_a_png_of_the_asked_size(tmp_path, function, activation):
    path = function(recorded(activation), tmp_path / "plot.png", figsize=(4, 3), dpi=50)
    assert path == tmp_path / "plot.png"
    check_png(path, 200, 150)


def test_default_size_is_1500_by_900(tmp_path):
    check_png(plots.plot_dw_per_neuron(recorded("tanh", hidden=(4, 3, 3, 2)), tmp_path / "a.png"),
              1500, 900)


def test_loss_curves_of_several_experiments(tmp_path):
    records = {"sigmoid": recorded("sigmoid"), "relu": recorded("relu"),
               "tanh": recorded("tanh")}
    path = plots.plot_loss_curves(records, tmp_path / "sub" / "loss.png", dashed=("tanh",),
                                  figsize=(5, 3), dpi=60)
    check_png(path, 300, 180)
    with pytest.raises(ValueError, match="no records"):
        plots.plot_loss_curves({}, tmp_path / "empty.png")


def test_plots_survive_neurons_whose_gradient_is_always_zero(tmp_path):
    records = recorded("relu")
    records.dw_neuron_norms[0][:, 0] = 0.0  # a dead unit: nothing to draw on a log scale
    check_png(plots.plot_dw_per_neuron(records, tmp_path / "dead.png", figsize=(4, 3), dpi=50),
              200, 150)


def test_theory_overlay_over_seeds(tmp_path):
    from tinygrad_edu import theory

    records = [recorded("tanh", seed=seed, iterations=2) for seed in (0, 1, 2)]
    x = np.random.default_rng(0).normal(size=(6, 8))  # recorded()'s data, seed 0
    prediction = theory.predict((6, 4, 3, 1), "tanh", "xavier", theory.input_second_moment(x))
    path = plots.plot_theory_overlay(prediction, records, tmp_path / "theory.png",
                                     figsize=(6, 3), dpi=50)
    check_png(path, 300, 150)
    with pytest.raises(ValueError, match="layers"):
        plots.plot_theory_overlay(theory.predict((6, 4, 1), "tanh", "xavier", 1.0), records,
                                  tmp_path / "wrong.png")


def test_update_ratio_plot_needs_a_learning_rate(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8))
    y = (rng.random((1, 8)) < 0.5).astype(np.float64)
    model = CourseNet([6, 4, 3, 1], "relu", init="xavier", rng=0)
    with GradientMonitor(model, learning_rate=0.5) as monitor:
        fit(model, x, y, SGD(model.parameters(), lr=0.5), 5, callbacks=[monitor])
        records = monitor.records()
    check_png(plots.plot_update_ratio(records, tmp_path / "update.png", figsize=(5, 3), dpi=60),
              300, 180)
    with pytest.raises(ValueError, match="learning_rate"):
        plots.plot_update_ratio(recorded("relu"), tmp_path / "none.png")
