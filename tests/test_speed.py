"""benchmarks/speed.py: its CLI, that its contenders compute the same thing, and a smoke run.

No timing is asserted here: speed is measured by the benchmark, never in timed tests.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from benchmarks import speed

HAS_TORCH = importlib.util.find_spec("torch") is not None


# ---------------------------------------------------------------- the command line
def test_cli_parses_options_and_quick_config(tmp_path):
    args = speed.parse_args(["--quick", "--sections", "perop,scaling", "--threads", "2",
                             "--rounds", "3", "--out", str(tmp_path), "--no-torch"])
    assert args.quick and args.no_torch and args.threads == 2 and args.rounds == 3
    assert args.sections == ("perop", "scaling")
    cfg = speed.Config.from_args(args)
    assert cfg.rounds == 3 and not cfg.torch and cfg.out == tmp_path
    assert cfg.settle > 0  # several BLAS threads: pause between blocks
    full = speed.Config.from_args(speed.parse_args([]))
    assert full.sections == speed.SECTIONS and full.threads == 1
    assert full.scaling_chains == (1_000, 10_000, 100_000)
    assert full.growth_checkpoints == (100, 2000) and full.memory_iterations == 200
    assert cfg.perop_chain < full.perop_chain  # --quick: shorter chains


@pytest.mark.parametrize("bad", [["--sections", "nonsense"], ["--threads", "0"],
                                 ["--rounds", "0"]])
def test_cli_rejects_bad_options(bad, capsys):
    with pytest.raises(SystemExit):
        speed.parse_args(bad)


# ---------------------------------------------------------------- the contenders agree
@pytest.fixture(scope="module", params=["relu5", "relu5_he"])
def problem(request):
    return speed.make_problem(np.float64, model=request.param)


def assert_same_gradient(actual, expected, name):
    """rtol 1e-10, and the same 1e-10 relative to the array's largest entry: an entry that is a
    sum with cancellation (a bias gradient sums dz over 209 samples) is only known to rounding
    relative to the size of its terms, and the order of the additions may differ."""
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale, err_msg=name)


def test_course_baseline_gradients_equal_tinygrad(problem):
    tinygrad = speed.TinygradStep(problem).gradients()
    course = speed.CourseStep(problem)
    baseline = course.gradients()
    assert len(baseline) == len(tinygrad) == 5
    for layer, ((dw, db), (tw, tb)) in enumerate(zip(baseline, tinygrad, strict=True), 1):
        assert dw.shape == tw.shape and db.shape == tb.shape
        assert np.any(dw != 0), f"layer {layer}: a zero gradient would prove nothing"
        assert_same_gradient(tw, dw, f"dW{layer}")
        assert_same_gradient(tb, db, f"db{layer}")
    # The baseline also computes the gradient of the input data, as the course does.
    assert course.input_gradient.shape == problem.x.shape


def test_floor_differs_from_baseline_only_by_the_input_gradient(problem):
    floor = speed.CourseStep(problem, input_grad=False)
    baseline = speed.CourseStep(problem)
    for (fw, fb), (bw, bb) in zip(floor.gradients(), baseline.gradients(), strict=True):
        np.testing.assert_array_equal(fw, bw)
        np.testing.assert_array_equal(fb, bb)
    assert floor.input_gradient is None


def test_one_sgd_step_gives_the_same_weights(problem):
    tinygrad, course = speed.TinygradStep(problem), speed.CourseStep(problem)
    tinygrad.step()
    course.step()
    for layer, (w, b) in zip(tinygrad.model.linear_layers(), course.params, strict=True):
        np.testing.assert_allclose(layer.weight.data, w, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-10, atol=1e-15)


def test_float32_contenders_stay_float32():
    problem = speed.make_problem(np.float32)
    assert problem.x.dtype == np.float32 and problem.weights[0][0].dtype == np.float32
    for dw, db in speed.TinygradStep(problem).gradients() + speed.CourseStep(problem).gradients():
        assert dw.dtype == np.float32 and db.dtype == np.float32


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_pytorch_gradients_equal_tinygrad(problem):
    from benchmarks._torch_worker import TorchStep

    tinygrad = speed.TinygradStep(problem).gradients()
    for (pw, pb), (tw, tb) in zip(TorchStep(problem).gradients(), tinygrad, strict=True):
        np.testing.assert_allclose(pw, tw, rtol=1e-8, atol=1e-18)  # another BLAS: rounding
        np.testing.assert_allclose(pb, tb, rtol=1e-8, atol=1e-18)


def test_chains_report_positive_seconds_per_op():
    """Only that the chains run and time themselves: that they do the same ops is read in
    speed.py (both loop over CHAIN_OPS), and timings are compared in the benchmark, not here."""
    forward, backward = speed.tinygrad_chain(30)
    assert forward > 0 and backward > 0
    assert speed.numpy_chain(30) > 0


@pytest.mark.parametrize("folder", ["nonexistent", "empty"])
def test_a_bad_data_dir_is_one_line_on_stderr_and_exit_status_2(tmp_path, capsys, folder):
    (tmp_path / "empty").mkdir()
    code = speed.main(["--quick", "--sections", "perop", "--no-torch",
                       "--data-dir", str(tmp_path / folder), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m benchmarks.speed: error: data_dir")
    assert str(tmp_path / folder) in lines[0]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- statistics and the table
def test_interleave_rotates_the_order():
    calls = []
    blocks = {name: (lambda name=name: calls.append(name) or len(calls)) for name in "abc"}
    results = speed.interleave(blocks, rounds=3)
    assert calls == list("abc" "bca" "cab")
    assert results["a"] == [1, 6, 8]


def test_ratios_are_per_round_medians():
    stat = speed.ratios([2.0, 4.0, 30.0], [1.0, 2.0, 10.0])  # per round: 2, 2, 3
    assert stat.median == 2.0 and stat.q1 == 2.0 and stat.q3 == 2.5


def test_targets_and_met():
    assert speed.Target(0.6).met(0.6) and not speed.Target(0.6).met(0.61)
    flat = speed.Target(1.2, 0.8)
    assert flat.met(1.0) and not flat.met(0.7) and flat.text() == "0.8-1.2x"
    row = speed.Row("s", "r", ratio=speed.Stat(1.3, 1.2, 1.4), target=speed.Target(1.1))
    assert row.met is False and "NO" in row.cells()
    assert speed.Row("s", "no target").met is None


# ---------------------------------------------------------------- a smoke run
def test_quick_perop_run_writes_markdown_and_json(tmp_path, capsys):
    code = speed.main(["--quick", "--sections", "perop", "--no-torch", "--rounds", "2",
                       "--out", str(tmp_path)])
    assert code == 0
    markdown = (tmp_path / "speed.md").read_text()
    blob = json.loads((tmp_path / "speed.json").read_text())
    assert "per-op overhead" in markdown and "| measurement |" in markdown
    labels = [row["label"] for row in blob["rows"]]
    assert "tinygrad_edu forward + backward" in labels
    assert blob["environment"]["threads (BLAS and intra-op, every contender)"] == 1
    assert "data" in blob["environment"]
    assert "per-op overhead" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_torch_worker_answers_requests():
    worker = speed.TorchWorker(threads=1)
    try:
        info = worker.info()
        assert info["intra-op threads"] == 1
        forward, backward = worker.request("chain", n=30)["seconds"]
        assert forward > 0 and backward > 0
        with pytest.raises(RuntimeError, match="unknown command"):
            worker.request("nonsense")
    finally:
        worker.close()
    assert worker.process.returncode == 0
