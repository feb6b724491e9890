"""Tests of benchmarks/vanishing_gradients.py: options, a --quick run, and refusals.

The quick run uses `--synthetic` (the stand-in data, whatever files are on the search path) and
two experiments, one sigmoid and one ReLU, to stay within a few seconds.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import models
from benchmarks import vanishing_gradients as vg
from tinygrad_edu.monitor import MonitorRecords


def test_defaults_are_every_experiment_at_the_course_counts_but_xavier_capped():
    args = vg.parse_args([])
    assert args.experiments == [*models.COURSE_EXPERIMENTS, *models.OUR_ADDITIONS]
    assert (args.seeds, args.dtype, str(args.out)) == (1, "float64", "results")
    xavier = models.SPECS["sigmoid5_xavier"]
    assert vg.iterations_for(xavier, args) == vg.DEFAULT_MAX_ITERATIONS < xavier.iterations
    for name in ("sigmoid4", "sigmoid5", "relu4", "relu5", "relu5_he"):
        assert vg.iterations_for(models.SPECS[name], args) == models.SPECS[name].iterations
    assert "23000" in vg.iteration_policy(args)


def test_options_parse():
    args = vg.parse_args(["--experiments", "relu5_he,sigmoid4", "sigmoid4", "--seeds", "3",
                          "--iterations", "7", "--dtype", "float32", "--out", "x"])
    assert args.experiments == ["relu5_he", "sigmoid4"]
    assert (args.seeds, args.dtype, str(args.out)) == (3, "float32", "x")
    assert vg.iterations_for(models.SPECS["relu5_he"], args) == 7
    full = vg.parse_args(["--full"])
    assert vg.iterations_for(models.SPECS["sigmoid5_xavier"], full) == 23000
    assert vg.iterations_for(models.SPECS["relu5_he"], full) == 2200
    quick = vg.parse_args(["--quick"])
    assert vg.iterations_for(models.SPECS["relu5_he"], quick) == vg.QUICK_ITERATIONS


def test_quick_run_writes_every_promised_file(tmp_path, capsys):
    names = ["sigmoid4", "relu5_he"]
    code = vg.main(["--quick", "--synthetic", "--experiments", *names, "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "--quick" in printed
    for name in names:
        assert f"| {name} " in printed  # the table
        for kind in ("dw_per_neuron", "speed_learning", "activations"):
            assert (tmp_path / f"{name}_{kind}.png").stat().st_size > 1000
        records = MonitorRecords.load(tmp_path / "records" / f"{name}_seed0.h5")
        assert records.num_iterations == vg.QUICK_ITERATIONS
        assert records.meta["experiment"] == name
    assert (tmp_path / "loss_curves.png").stat().st_size > 1000

    table = json.loads((tmp_path / "vanishing_gradients.json").read_text())
    assert table["synthetic"] is True and table["data"].startswith("SYNTHETIC")
    assert [row["experiment"] for row in table["experiments"]] == names
    relu = table["experiments"][1]
    assert relu["iterations"] == vg.QUICK_ITERATIONS
    assert relu["course_accuracy"] == {"train": 100.0, "test": 78.0}
    assert 0 <= relu["train_accuracy"]["mean"] <= 100 and relu["train_accuracy"]["spread"] == 0
    assert relu["grad_ratio_start"] > 0 and relu["seconds_per_iteration"] > 0
    markdown = (tmp_path / "vanishing_gradients.md").read_text()
    assert "SYNTHETIC" in markdown and "| relu5_he " in markdown and "± 0.00" in markdown


@pytest.mark.parametrize("argv, message", [
    (["--experiments", "sigmoid4", "nope"], "unknown experiment 'nope'"),
    (["--iterations", "0"], "--iterations: must be a positive integer, got 0"),
    (["--iterations", "-3"], "--iterations: must be a positive integer, got -3"),
    (["--seeds", "0"], "--seeds: must be a positive integer, got 0"),
    (["--seeds", "two"], "--seeds: must be a positive integer, got 'two'"),
    (["--data-dir", "/no/such/folder"], "--data-dir /no/such/folder does not exist"),
    (["--quick", "--full"], "not allowed with argument"),
    (["--dtype", "float16"], "invalid choice"),
])
def test_bad_options_exit_with_a_one_line_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        vg.main(argv)
    assert exit_info.value.code != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0]


def test_a_data_dir_without_the_files_is_refused(tmp_path, capsys):
    assert vg.main(["--data-dir", str(tmp_path), "--quick", "--out", str(tmp_path)]) == 2
    assert "does not hold both data files" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ refusals
ROOT = Path(__file__).resolve().parents[1]


def refusal(argv: list[str]) -> tuple[str, str]:
    """Run the study in a real process that must refuse: exit 2, one line on stderr, less than
    2 s of work (CPU time, which the machine's load does not inflate), and no training."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "benchmarks.vanishing_gradients", *argv],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    work = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and "training" not in done.stdout
    assert work < 2.0
    return done.stderr, done.stdout


def read_only_folder(tmp_path: Path) -> Path:
    """A folder that cannot be created: under a read-only folder (as root, /sys, which even root
    cannot write into)."""
    if os.geteuid() == 0:
        return Path("/sys/tinygrad_edu_results")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    return locked / "results"


@pytest.mark.parametrize("case, message", [
    ("file", "is a file, not a folder"),
    ("under_a_file", "cannot create or write there (Not a directory"),
    ("read_only", "cannot create or write there"),
    ("records_is_a_file", "holds a file named 'records'"),
])
def test_a_bad_out_is_refused_before_training(case, message, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "records").write_text("in the way")
    out = {"file": tmp_path / "a_file", "under_a_file": tmp_path / "a_file" / "results",
           "read_only": read_only_folder(tmp_path), "records_is_a_file": tmp_path / "taken"}[case]
    errors, _ = refusal(["--quick", "--synthetic", "--out", str(out)])
    assert errors.startswith(f"error: --out {out}") and message in errors


@pytest.mark.parametrize("argv, message", [
    (["--experiments", "sigmoid4", "tanh99"], "unknown experiment 'tanh99'"),
    (["--iterations", "1000000000000"], "the gradient monitor would need"),
    (["--workers", "64"], "64 worker processes x --blas-threads 1"),
])
def test_impossible_settings_are_refused_before_training(argv, message, tmp_path):
    errors, _ = refusal([*argv, "--synthetic", "--out", str(tmp_path / "results")])
    assert message in errors
    assert not (tmp_path / "results" / "runs").exists() or \
        not any((tmp_path / "results" / "runs").iterdir())


def test_missing_data_stops_before_training_unless_synthetic(tmp_path):
    errors, _ = refusal(["--quick", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "--synthetic" in errors and str(tmp_path) in errors


def test_networks_without_course_settings_train_with_the_defaults(tmp_path):
    code = vg.main(["--experiments", "logistic", "shallow", "--iterations", "3", "--synthetic",
                    "--no-plots", "--out", str(tmp_path)])
    assert code == 0
    rows = json.loads((tmp_path / "vanishing_gradients.json").read_text())["experiments"]
    assert [row["learning_rate"] for row in rows] == [models.ModelSpec.learning_rate] * 2
    assert [row["iterations"] for row in rows] == [3, 3]
    assert vg.iterations_for(models.SPECS["logistic"], vg.parse_args(["--full"])) == \
        models.ModelSpec.iterations


# ------------------------------------------------------------------------------------ --net
def test_net_specs_join_the_plan_through_parse_net():
    args = vg.parse_args(["--net", "tanh8:depth=8,activation=tanh,init=xavier",
                          "--net", "relu5_he,residual=on"])
    assert args.experiments == []  # --net alone: only those networks
    specs = [run.spec for run in vg.plan(args)]
    assert specs == [models.parse_net("tanh8:depth=8,activation=tanh,init=xavier"),
                     models.parse_net("relu5_he,residual=on")]
    both = vg.parse_args(["--experiments", "sigmoid4", "--net", "t:depth=2", "--seeds", "2"])
    assert [run.name for run in vg.plan(both)] == ["sigmoid4_seed0", "sigmoid4_seed1",
                                                   "t_seed0", "t_seed1"]


def test_a_net_that_writes_its_iterations_is_not_capped():
    args = vg.parse_args(["--net", "long:iterations=3000", "--net", "sigmoid5_xavier,lr=0.02"])
    long, xavier = (run.spec for run in vg.plan(args))
    assert vg.iterations_for(long, args) == 3000
    assert vg.iterations_for(xavier, args) == vg.DEFAULT_MAX_ITERATIONS  # inherited 23000: capped
    assert vg.iterations_for(long, vg.parse_args(["--net", "long:iterations=3000",
                                                  "--iterations", "5"])) == 5


@pytest.mark.parametrize("spec, message", [
    ("x:depth=-1", "depth='-1': must be an integer from 0 to"),
    ("x:activation=swish", "activation='swish'"),
    ("relu5_he,clip=0", "clip='0': must be a finite number > 0"),
    ("nosuch,depth=3", "unknown network 'nosuch'"),
])
def test_a_bad_net_exits_2_with_one_line_before_any_training(spec, message, tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.vanishing_gradients", "--synthetic",
                           "--net", spec, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written


def test_a_net_named_like_an_experiment_of_the_run_is_refused(tmp_path, capsys):
    code = vg.main(["--synthetic", "--experiments", "sigmoid4", "--net", "sigmoid4",
                    "--out", str(tmp_path)])
    assert code == 2
    assert "share the name 'sigmoid4_seed0'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ theory
THEORY_NETS = ["bn:depth=2,width=5,activation=sigmoid,init=small,norm=batch",
               "res:depth=3,width=5,residual=on",
               "boom:depth=2,width=5,init=normal(1.0),activation=leaky_relu(0.2),loss=logits,"
               "clip=1"]


@pytest.fixture(scope="module")
def theory_run(tmp_path_factory):
    """One small study with --synthetic: a course net, logistic regression and --net nets of
    every kind the theory treats differently; 2 seeds, 6 iterations."""
    out = tmp_path_factory.mktemp("theory")
    argv = ["--synthetic", "--experiments", "sigmoid4", "logistic", "--seeds", "2",
            "--iterations", "6", "--out", str(out)]
    for spec in THEORY_NETS:
        argv += ["--net", spec]
    done = subprocess.run([sys.executable, "-m", "benchmarks.vanishing_gradients", *argv],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads((out / "vanishing_gradients.json").read_text())["experiments"]
    return out, {row["experiment"]: row for row in rows}, done.stdout


def test_the_prediction_is_the_theory_s_and_the_measurement_the_records(theory_run):
    from tinygrad_edu import theory
    from tinygrad_edu.data import synthetic_cat_dataset

    out, rows, _ = theory_run
    x = synthetic_cat_dataset(0).x_train
    expected = theory.predict((x.shape[0], 30, 30, 30, 1), "sigmoid", "small",
                              theory.input_second_moment(x))
    row = rows["sigmoid4"]
    assert row["grad_ratio_start_predicted"] == pytest.approx(expected.gradient_ratio[0],
                                                              rel=1e-12)
    seeds = [MonitorRecords.load(out / "records" / f"sigmoid4_seed{s}.h5") for s in (0, 1)]
    measured = theory.measured_at_init(seeds).gradient_ratio_mean[0]
    assert row["theory"]["gradient_ratio_first_measured"] == pytest.approx(measured, rel=1e-12)
    assert row["theory"]["prediction"]["z_std"] == pytest.approx(expected.z_std.tolist())
    # N(0, 1) weights and a leaky slope of 0.2 reach the theory as a std and a slope
    boom = rows["boom"]["theory"]["prediction"]
    assert (boom["init"], boom["activation"], boom["negative_slope"]) == (1.0, "leaky_relu", 0.2)
    assert (out / "sigmoid4_theory.png").stat().st_size > 1000
    assert (out / "boom_theory.png").stat().st_size > 1000


@pytest.mark.parametrize("name, reason", [("logistic", "no hidden layer"),
                                          ("bn", "batch norm"), ("res", "residual connections")])
def test_where_the_theory_does_not_apply_the_table_says_why(theory_run, name, reason):
    out, rows, _ = theory_run
    assert rows[name]["grad_ratio_start_predicted"] is None
    assert rows[name]["not_predicted"] == reason
    assert f"not predicted ({reason})" in (out / "vanishing_gradients.md").read_text()
    assert not (out / f"{name}_theory.png").exists()


def test_every_run_is_diagnosed_printed_and_kept_per_seed(theory_run):
    from tinygrad_edu.data import synthetic_cat_dataset
    from tinygrad_edu.diagnosis import class_prior_of, diagnose

    out, rows, printed = theory_run
    prior = class_prior_of(synthetic_cat_dataset(0).y_train)
    for seed in (0, 1):
        records = MonitorRecords.load(out / "records" / f"sigmoid4_seed{seed}.h5")
        found = diagnose(records, prior)
        assert rows["sigmoid4"]["diagnosis"][seed] == found.sentence
        assert rows["sigmoid4"]["diagnosis_labels"][seed] == list(found.labels)
        assert f"diagnosis: {found.sentence}" in printed
    assert rows["logistic"]["diagnosis"][0].startswith("not diagnosed: ")
    labels = rows["sigmoid4"]["diagnosis_labels"][0]
    assert f"| {', '.join(labels)} " in (out / "vanishing_gradients.md").read_text()


def test_the_final_update_ratio_per_layer_and_its_figure(theory_run):
    out, rows, _ = theory_run
    for name in ("sigmoid4", "bn", "boom"):
        for seed in (0, 1):
            records = MonitorRecords.load(out / "records" / f"{name}_seed{seed}.h5")
            lr = records.learning_rate
            expected = lr * records.dw_norm[-1] / records.weight_norm[-1]
            assert rows[name]["final_update_ratio"][seed] == pytest.approx(expected.tolist(),
                                                                           rel=1e-12)
        assert (out / f"{name}_update_ratio.png").stat().st_size > 1000
