"""Tests of benchmarks/depth_sweep.py: the plan of runs, the stopping depth, a --quick run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import depth_sweep as ds
from benchmarks import runner
from tinygrad_edu.monitor import MonitorRecords


def test_the_plan_is_the_cross_product_built_as_specs():
    args = ds.parse_args(["--depths", "2", "5", "--activations", "tanh", "relu", "--inits",
                          "he", "--width", "7", "--iterations", "9", "--seeds", "2"])
    runs = ds.plan(args)
    assert [run.name for run in runs] == [
        "tanh_he_d2_seed0", "tanh_he_d2_seed1", "tanh_he_d5_seed0", "tanh_he_d5_seed1",
        "relu_he_d2_seed0", "relu_he_d2_seed1", "relu_he_d5_seed0", "relu_he_d5_seed1"]
    deep = runs[2].spec
    assert deep.hidden == (7,) * 5 and (deep.activation, deep.init) == ("tanh", "he")
    assert (deep.learning_rate, runs[2].iterations, runs[2].dtype) == (ds.LEARNING_RATE, 9,
                                                                       "float64")
    runner.check_plan(runs)  # every spec builds


def test_defaults_and_quick():
    default = ds.parse_args([])
    assert (default.depths, default.width, default.iterations) == (
        ds.DEFAULT_DEPTHS, ds.DEFAULT_WIDTH, ds.DEFAULT_ITERATIONS)
    plain = len(ds.DEFAULT_ACTIVATIONS) * len(ds.DEFAULT_INITS)
    remedied = len(ds.DEFAULT_REMEDIES) * len(ds.REMEDY_TARGETS)
    assert len(ds.plan(default)) == len(ds.DEFAULT_DEPTHS) * (plain + remedied)
    quick = ds.parse_args(["--quick", "--depths", "2"])
    assert quick.depths == [2] and quick.iterations == ds.QUICK["iterations"]


def test_the_stopping_depth_is_the_first_that_does_not_learn():
    rows = [{"recipe": "a", "depth": d, "learns": d < 4} for d in (1, 2, 4, 8)]
    rows += [{"recipe": "b", "depth": d, "learns": True} for d in (1, 8)]
    assert ds.stopping_depths(rows) == {"a": 4, "b": None}


def test_an_unknown_activation_is_refused_before_training(tmp_path, capsys):
    code = ds.main(["--quick", "--synthetic", "--activations", "swish", "--out", str(tmp_path)])
    assert code == 2
    assert "unknown activation 'swish'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # refused before --out was even prepared


def test_a_quick_sweep_writes_the_table_and_the_phase_diagram(tmp_path, capsys):
    assert ds.main(["--quick", "--synthetic", "--out", str(tmp_path)]) == 0
    blob = json.loads((tmp_path / "depth_sweep.json").read_text())
    assert blob["synthetic"] is True and blob["complete"] is True
    rows = blob["rows"]
    assert [(row["recipe"], row["depth"]) for row in rows] == [
        (f"{a}_{i}", d) for a in ds.QUICK["activations"] for i in ds.QUICK["inits"]
        for d in ds.QUICK["depths"]]
    for row in rows:
        records = MonitorRecords.load(tmp_path / "records" / f"{row['recipe']}_d{row['depth']}"
                                                             f"_seed0.h5")
        assert row["grad_ratio_start"] == pytest.approx(records.gradient_ratio(0), rel=1e-12)
        assert row["learns"] == (row["train_accuracy"]["mean"]
                                 > ds.MAJORITY_TRAIN_ACCURACY + ds.LEARNS_MARGIN)
    assert set(blob["stops_learning_at"]) == {row["recipe"] for row in rows}
    assert (tmp_path / "phase_diagram.png").stat().st_size > 5000
    assert "| relu_he " in (tmp_path / "depth_sweep.md").read_text()
    assert "phase_diagram.png" in json.loads((tmp_path / "manifest.json").read_text())["files"]


def test_by_default_the_remedies_go_to_the_recipes_that_stop_learning():
    names = [ds.recipe_name(*recipe) for recipe in ds.recipes(ds.parse_args([]))]
    assert names[-4:] == ["sigmoid_small_batchnorm", "relu_small_batchnorm",
                          "sigmoid_small_residual", "relu_small_residual"]
    assert len(set(names)) == len(names)
    quick = [recipe[2].name for recipe in ds.recipes(ds.parse_args(["--quick"]))]
    assert set(quick) == {"none"}


def test_named_remedies_are_the_cross_product_and_change_the_spec():
    args = ds.parse_args(["--depths", "3", "--activations", "tanh", "--inits", "he",
                          "--remedies", "none", "batchnorm", "residual", "clip1"])
    specs = {run.spec.name: run.spec for run in ds.plan(args)}
    assert list(specs) == ["tanh_he_d3", "tanh_he_batchnorm_d3", "tanh_he_residual_d3",
                           "tanh_he_clip1_d3"]
    fields = [(s.norm, s.residual, s.clip) for s in specs.values()]
    assert fields == [("none", False, None), ("batch", False, None), ("none", True, None),
                      ("none", False, 1.0)]
    runner.check_plan(ds.plan(args))


def test_a_quick_sweep_with_every_remedy_runs(tmp_path):
    assert ds.main(["--quick", "--synthetic", "--depths", "2", "--activations", "sigmoid",
                    "--inits", "small", "--remedies", *ds.REMEDY_BY_NAME, "--out",
                    str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "depth_sweep.json").read_text())["rows"]
    assert [row["remedy"] for row in rows] == list(ds.REMEDY_BY_NAME)
    records = MonitorRecords.load(tmp_path / "records" / "sigmoid_small_batchnorm_d2_seed0.h5")
    assert np.all(np.isfinite(records.db_norm))  # dbeta of the BatchNorms
