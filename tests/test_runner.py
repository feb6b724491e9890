"""Tests of benchmarks/runner.py with real processes: keys, checks, atomic writes under SIGKILL,
an interrupted study resumed, and the same table from a process pool and a Dask cluster.

The study (`python -m benchmarks.vanishing_gradients`) drives the runner in a subprocess, on the
synthetic stand-in (--synthetic) and a few iterations, so that the whole file takes seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import models
import tinygrad_edu
from benchmarks import runner
from tinygrad_edu.data import CatDataset
from tinygrad_edu.monitor import GradientMonitor, MonitorRecords
from tinygrad_edu.optim import SGD
from tinygrad_edu.training import fit

ROOT = Path(__file__).resolve().parents[1]
STUDY = [sys.executable, "-m", "benchmarks.vanishing_gradients", "--synthetic",
         "--experiments", "sigmoid4", "relu4", "--seeds", "2", "--iterations", "12",
         "--no-plots"]
TIMINGS = {"seconds_per_iteration"}  # the only numbers allowed to differ between two runs


def tiny_spec(**changes) -> models.ModelSpec:
    return dataclasses.replace(
        models.ModelSpec("tiny", (4, 3), "relu", "he", learning_rate=0.05, iterations=10),
        **changes)


def tiny_data(seed: int = 0) -> CatDataset:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (6, 40))
    y = (x[:1] > 0.5).astype(np.float64)
    return CatDataset(x[:, :30], y[:, :30], x[:, 30:], y[:, 30:], ("non-cat", "cat"))


def study(out: Path, *extra: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*STUDY, "--out", str(out), *extra], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kwargs)


def table(out: Path) -> list[dict]:
    """The study's JSON rows without the timings."""
    rows = json.loads((out / "vanishing_gradients.json").read_text())["experiments"]
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]


# ------------------------------------------------------------------------------------ keys
def test_the_key_changes_with_every_setting_and_only_with_them(monkeypatch):
    run = runner.Run(tiny_spec(), seed=0, iterations=10)
    key = run.key("data-a")
    assert key == runner.Run(tiny_spec(), 0, 10).key("data-a")  # stable, not random
    other = {"name": "tiny2", "hidden": (4, 4), "activation": "tanh", "init": "xavier",
             "learning_rate": 0.01, "iterations": 11, "lamda": 0.5, "penalized_layers": (1,),
             "logits_loss": True, "course_accuracy": (0.5, 0.5), "note": "x"}
    for field in dataclasses.fields(models.ModelSpec):  # every field, also ones added later
        value = other.get(field.name, "changed")
        changed = runner.Run(dataclasses.replace(tiny_spec(), **{field.name: value}), 0, 10)
        assert changed.key("data-a") != key, field.name
    assert runner.Run(tiny_spec(), 1, 10).key("data-a") != key
    assert runner.Run(tiny_spec(), 0, 11).key("data-a") != key
    assert runner.Run(tiny_spec(), 0, 10, "float32").key("data-a") != key
    assert run.key("data-b") != key
    monkeypatch.setattr(tinygrad_edu, "__version__", "99.0")
    assert run.key("data-a") != key


def test_the_data_checksum_sees_one_changed_value():
    data = tiny_data()
    changed = data.x_test.copy()
    changed[3, 2] += 1e-12
    assert runner.data_checksum(data) == runner.data_checksum(tiny_data())
    assert runner.data_checksum(data._replace(x_test=changed)) != runner.data_checksum(data)


# ------------------------------------------------------------------------------------ checks
@pytest.mark.parametrize("changes, message", [
    ({"activation": "swish"}, "unknown activation 'swish'"),
    ({"init": "magic"}, "unknown initializer 'magic'"),
    ({"learning_rate": -1.0}, "learning rate must be a finite number > 0, got -1.0"),
    ({"learning_rate": float("nan")}, "learning rate must be a finite number > 0, got nan"),
])
def test_bad_settings_are_refused_before_training(changes, message):
    with pytest.raises(runner.CheckFailed, match="network tiny: " + message):
        runner.check_plan([runner.Run(tiny_spec(**changes), 0, 10)])


def test_two_runs_of_one_name_are_refused():
    with pytest.raises(runner.CheckFailed, match="share the name 'tiny_seed0'"):
        runner.check_plan([runner.Run(tiny_spec(), 0, 10), runner.Run(tiny_spec(lamda=1.0), 0, 5)])


def test_the_memory_estimate_bounds_what_the_records_take():
    """Measured: the arrays of records of 400 iterations, against the estimate for 400."""
    spec = models.ModelSpec("m", (30, 30, 30), "sigmoid", "small", learning_rate=0.01)
    model = spec.build(seed=0, in_features=6)
    data = tiny_data()
    with GradientMonitor(model, learning_rate=0.01) as monitor:
        fit(model, data.x_train, data.y_train, SGD(model.parameters(), lr=0.01), 400,
            callbacks=[monitor])
        records = monitor.records()
    stacked = (sum(a.nbytes for a in records.dw_neuron_norms) + records.dw_norm.nbytes
               + records.db_norm.nbytes + sum(a.nbytes for a in records.stats.values())
               + records.weight_norm.nbytes + records.update_ratio.nbytes
               + records.loss.nbytes + records.iterations.nbytes)
    estimate = runner.monitor_bytes(spec, 400)
    assert 2 * stacked <= estimate <= 20 * stacked  # the lists and copies, not a wild guess


def test_memory_that_cannot_fit_is_refused_with_the_numbers():
    plan = [runner.Run(tiny_spec(), seed, 1000) for seed in range(3)]
    one = runner.monitor_bytes(tiny_spec(), 1000)
    runner.check_memory(plan, at_once=2, available=2 * one)  # two at once fit exactly
    with pytest.raises(runner.CheckFailed, match=r"tiny_seed0 with 1000 iterations: .* \(3 runs "
                                                 r"at once\), but .* is available"):
        runner.check_memory(plan, at_once=3, available=2 * one)


# ------------------------------------------------------------------------------------ writes
WRITER = """
import json, sys
from pathlib import Path
from benchmarks import runner
from tinygrad_edu.monitor import MonitorRecords
from tests.test_runner import tiny_spec
records, result = MonitorRecords.load(sys.argv[2]), json.loads(sys.argv[3])
run = runner.Run(tiny_spec(), 0, 1500)
folder = runner.Folder(Path(sys.argv[1]), "test")
done = runner.Finished(run, "k", result, folder.records_path(run), False)
folder.save(done, records)
print("saved", flush=True)
while True:
    folder.save(done, records)
"""


def test_sigkill_while_writing_leaves_every_file_readable(tmp_path):
    """Kill a process that rewrites one run's files in a loop, at several moments: the record,
    the row and the manifest stay readable (the old or the new version, never half of one)."""
    out, source = tmp_path / "out", tmp_path / "source.h5"
    for folder in ("runs", "records"):
        (out / folder).mkdir(parents=True)
    result, records = runner.train_run(runner.Run(tiny_spec(), 0, 1500), tiny_data())
    records.save(source)
    for delay in (0.0, 0.004, 0.009, 0.016, 0.027):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(source),
                                   json.dumps(result)], cwd=ROOT, stdout=subprocess.PIPE,
                                  text=True)
        assert writer.stdout.readline() == "saved\n"
        time.sleep(delay)
        writer.kill()
        writer.wait()
        records = MonitorRecords.load(out / "records" / "tiny_seed0.h5")
        assert records.num_iterations == 1500
        row = json.loads((out / "runs" / "tiny_seed0.json").read_text())
        assert row["key"] == "k" and row["result"]["iterations"] == 1500
        manifest = json.loads((out / "manifest.json").read_text())
        assert "records/tiny_seed0.h5" in manifest["files"]


def test_a_run_trains_the_same_numbers_in_this_process_and_in_a_worker():
    run = runner.Run(tiny_spec(), 0, 30)
    here, records = runner.train_run(run, tiny_data())
    [(_, there, records_there)] = list(runner._in_pool([run], tiny_data(), 1, 1))
    assert {k: v for k, v in here.items() if k != "seconds"} == \
        {k: v for k, v in there.items() if k != "seconds"}
    np.testing.assert_array_equal(records.dw_norm, records_there.dw_norm)


# ------------------------------------------------------------------------------------ the study
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    done = study(out)
    assert done.returncode == 0, done.stderr
    return out


def test_an_interrupted_study_keeps_its_runs_and_resumes_where_it_stopped(tmp_path,
                                                                          uninterrupted):
    process = subprocess.Popen([*STUDY, "--out", str(tmp_path)], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in process.stdout:  # wait for the first finished run, then Ctrl-C
        if line.startswith("[1/4]"):
            process.send_signal(signal.SIGINT)
            break
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in errors
    assert errors.strip().splitlines() == [errors.strip()]  # one line
    assert "interrupted by SIGINT: kept" in errors and "run the same command again" in errors

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    kept = sorted(name for name in manifest["files"] if name.startswith("records/"))
    assert 1 <= len(kept) < 4  # stopped mid-run, with the first run kept
    for name in kept:
        assert MonitorRecords.load(tmp_path / name).num_iterations == 12
    partial = json.loads((tmp_path / "vanishing_gradients.json").read_text())
    assert partial["complete"] is False
    assert sum(len(row["seeds"]) for row in partial["experiments"]) == len(kept)

    resumed = study(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"reused {len(kept)} runs" in resumed.stdout
    assert f"training {4 - len(kept)}" in resumed.stdout
    trained = [line for line in resumed.stdout.splitlines() if line.startswith("[")]
    assert len(trained) == 4 - len(kept)
    assert table(tmp_path) == table(uninterrupted)


def test_a_changed_setting_retrains_and_removes_the_old_runs(tmp_path):
    first = study(tmp_path, "--experiments", "relu4", "--seeds", "2")
    assert first.returncode == 0, first.stderr
    second = study(tmp_path, "--experiments", "relu4", "--seeds", "1", "--iterations", "13")
    assert second.returncode == 0, second.stderr
    assert "reused 0 runs" in second.stdout and "removed 2 earlier runs" in second.stdout
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == ["relu4_seed0.h5"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert on_disk == set(manifest["files"]) | {"manifest.json"}
    assert table(tmp_path)[0]["iterations"] == 13
    fresh = study(tmp_path, "--experiments", "relu4", "--seeds", "1", "--iterations", "13",
                  "--fresh")
    assert "reused 0 runs" in fresh.stdout and "training 1" in fresh.stdout


def test_two_worker_processes_give_the_serial_table(tmp_path, uninterrupted):
    done = study(tmp_path, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "in 2 worker processes" in done.stdout
    assert table(tmp_path) == table(uninterrupted)


def test_a_dask_cluster_gives_the_serial_table(tmp_path, uninterrupted, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    # The workers import benchmarks.runner by name: they need the repository on their path.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        done = study(tmp_path, "--scheduler", cluster.scheduler_address)
    assert done.returncode == 0, done.stderr
    assert f"on the Dask cluster at {cluster.scheduler_address}" in done.stdout
    assert table(tmp_path) == table(uninterrupted)


# ------------------------------------------------------------------------------------ train_run
def test_train_run_gives_the_monitor_the_learning_rate_and_diagnoses_the_run():
    spec = tiny_spec(learning_rate=0.05)
    result, records = runner.train_run(runner.Run(spec, 0, 6), tiny_data())
    assert records.learning_rate == 0.05
    expected = 0.05 * records.dw_norm / records.weight_norm
    np.testing.assert_allclose(records.update_ratio, expected, rtol=1e-12)
    assert result["final_update_ratio"] == pytest.approx(expected[-1].tolist(), rel=1e-12)
    from tinygrad_edu.diagnosis import class_prior_of, diagnose
    found = diagnose(records, class_prior_of(tiny_data().y_train))
    assert (result["diagnosis"], result["diagnosis_labels"]) == (found.sentence,
                                                                  list(found.labels))


def test_a_network_without_hidden_layers_is_not_diagnosed_and_says_why():
    result, _ = runner.train_run(runner.Run(tiny_spec(hidden=()), 0, 3), tiny_data())
    assert result["diagnosis"].startswith("not diagnosed: ") and "no hidden layer" in \
        result["diagnosis"]
    assert result["diagnosis_labels"] == []


def test_clipping_runs_before_the_monitor_so_it_records_the_clipped_gradients():
    """The monitor sees the gradients the step uses: their global norm is at most clip, and
    the weights move by exactly lr times what it recorded."""
    data = tiny_data()
    plain, plain_records = runner.train_run(runner.Run(tiny_spec(), 0, 5), data)

    def global_norms(records: MonitorRecords) -> np.ndarray:
        return np.sqrt((records.dw_norm ** 2).sum(1) + (records.db_norm ** 2).sum(1))

    clip = 0.5 * float(global_norms(plain_records).min())  # below every unclipped norm
    clipped, records = runner.train_run(runner.Run(tiny_spec(clip=clip), 0, 5), data)
    np.testing.assert_allclose(global_norms(records), clip, rtol=1e-9)
    assert clipped["final_loss"] != plain["final_loss"]  # and the clipped steps were taken


def test_the_logits_loss_is_the_one_trained():
    """loss=logits: the recorded first loss is the stable BCE of the logits, computed here by
    hand from the same initial weights."""
    spec = tiny_spec(logits_loss=True)
    data = tiny_data()
    _, records = runner.train_run(runner.Run(spec, 0, 2), data)
    model = spec.build(seed=0, in_features=data.x_train.shape[0])
    z = model.logits(tinygrad_edu.tensor.Tensor(data.x_train)).data
    y = data.y_train
    expected = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    assert records.loss[0] == pytest.approx(expected, rel=1e-12)
