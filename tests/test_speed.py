"""benchmarks/speed/: its CLI, that its contenders compute the same thing, and a smoke run.

No timing is asserted here: speed is measured by the benchmark, never in timed tests.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from benchmarks.speed import cli, config, minibatch, moons, peers, perop, stats, table
from benchmarks.speed.moons_trainers import train
from benchmarks.speed.problem import CourseStep, TinygradStep, load_data, make_problem
from benchmarks.speed.workers import Worker
from tinygrad_edu.data import find_data_dir
from tinygrad_edu.tensor import Tensor

HAS_TORCH = importlib.util.find_spec("torch") is not None
# The real files where they are found; the stand-in in a checkout without them.
SYNTHETIC = find_data_dir(None) is None


# ---------------------------------------------------------------- the command line
def test_cli_parses_options_and_quick_config(tmp_path):
    args = config.parse_args(["--quick", "--sections", "perop,scaling", "--threads", "2",
                             "--rounds", "3", "--out", str(tmp_path), "--no-torch"])
    assert args.quick and args.no_torch and args.threads == 2 and args.rounds == 3
    assert args.sections == ("perop", "scaling")
    cfg = config.Config.from_args(args)
    assert cfg.rounds == 3 and not cfg.torch and cfg.out == tmp_path
    assert cfg.settle > 0  # several BLAS threads: pause between blocks
    full = config.Config.from_args(config.parse_args([]))
    assert full.sections == config.SECTIONS and full.threads == 1
    assert full.scaling_chains == (1_000, 10_000, 100_000)
    assert full.growth_checkpoints == (100, 2000) and full.memory_iterations == 200
    assert cfg.perop_chain < full.perop_chain  # --quick: shorter chains


@pytest.mark.parametrize("bad", [["--sections", "nonsense"], ["--threads", "0"],
                                 ["--rounds", "0"]])
def test_cli_rejects_bad_options(bad, capsys):
    with pytest.raises(SystemExit):
        config.parse_args(bad)


# ---------------------------------------------------------------- the contenders agree
@pytest.fixture(scope="module", params=["relu5", "relu5_he"])
def problem(request):
    return make_problem(np.float64, model=request.param, synthetic=SYNTHETIC)


def assert_same_gradient(actual, expected, name):
    """rtol 1e-10, and the same 1e-10 relative to the array's largest entry: an entry that is a
    sum with cancellation (a bias gradient sums dz over 209 samples) is only known to rounding
    relative to the size of its terms, and the order of the additions may differ."""
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale, err_msg=name)


def test_course_baseline_gradients_equal_tinygrad(problem):
    tinygrad = TinygradStep(problem).gradients()
    course = CourseStep(problem)
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
    floor = CourseStep(problem, input_grad=False)
    baseline = CourseStep(problem)
    for (fw, fb), (bw, bb) in zip(floor.gradients(), baseline.gradients(), strict=True):
        np.testing.assert_array_equal(fw, bw)
        np.testing.assert_array_equal(fb, bb)
    assert floor.input_gradient is None


def test_one_sgd_step_gives_the_same_weights(problem):
    tinygrad, course = TinygradStep(problem), CourseStep(problem)
    tinygrad.step()
    course.step()
    for layer, (w, b) in zip(tinygrad.model.linear_layers(), course.params, strict=True):
        np.testing.assert_allclose(layer.weight.data, w, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-10, atol=1e-15)


def test_float32_contenders_stay_float32():
    problem = make_problem(np.float32, synthetic=SYNTHETIC)
    assert problem.x.dtype == np.float32 and problem.weights[0][0].dtype == np.float32
    for dw, db in TinygradStep(problem).gradients() + CourseStep(problem).gradients():
        assert dw.dtype == np.float32 and db.dtype == np.float32


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_pytorch_gradients_equal_tinygrad(problem):
    from benchmarks.speed.torch_contender import TorchStep

    tinygrad = TinygradStep(problem).gradients()
    for (pw, pb), (tw, tb) in zip(TorchStep(problem).gradients(), tinygrad, strict=True):
        np.testing.assert_allclose(pw, tw, rtol=1e-8, atol=1e-18)  # another BLAS: rounding
        np.testing.assert_allclose(pb, tb, rtol=1e-8, atol=1e-18)


def test_chains_report_positive_seconds_per_op():
    """Only that the chains run and time themselves: that they do the same ops is read in
    benchmarks/speed/perop.py (both loop over CHAIN_OPS); timings are compared in the
    benchmark, not here."""
    forward, backward = perop.tinygrad_chain(30)
    assert forward > 0 and backward > 0
    assert perop.numpy_chain(30) > 0


@pytest.mark.parametrize("folder", ["nonexistent", "empty"])
def test_a_bad_data_dir_is_one_line_on_stderr_and_exit_status_2(tmp_path, capsys, folder):
    (tmp_path / "empty").mkdir()
    code = cli.main(["--quick", "--sections", "step", "--no-torch",
                     "--data-dir", str(tmp_path / folder), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m benchmarks.speed: data_dir")
    assert str(tmp_path / folder) in lines[0] and "--synthetic" in lines[0]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- statistics and the table
def test_interleave_rotates_the_order():
    calls = []
    blocks = {name: (lambda name=name: calls.append(name) or len(calls)) for name in "abc"}
    results = stats.interleave(blocks, rounds=3)
    assert calls == list("abc" "bca" "cab")
    assert results["a"] == [1, 6, 8]


def test_ratios_are_per_round_medians():
    stat = stats.ratios([2.0, 4.0, 30.0], [1.0, 2.0, 10.0])  # per round: 2, 2, 3
    assert stat.median == 2.0 and stat.q1 == 2.0 and stat.q3 == 2.5


def test_targets_and_met():
    assert table.Target(0.6).met(0.6) and not table.Target(0.6).met(0.61)
    flat = table.Target(1.2, 0.8)
    assert flat.met(1.0) and not flat.met(0.7) and flat.text() == "0.8-1.2x"
    row = table.Row("s", "r", ratio=stats.Stat(1.3, 1.2, 1.4), target=table.Target(1.1))
    assert row.met is False and "NO" in row.cells()
    assert table.Row("s", "no target").met is None


# ---------------------------------------------------------------- a smoke run
def test_quick_perop_run_writes_markdown_and_json(tmp_path, capsys):
    code = cli.main(["--quick", "--sections", "perop", "--no-torch", "--rounds", "2",
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
    worker = Worker("benchmarks.speed.torch_contender", threads=1)
    try:
        info = worker("info", threads=1)
        assert info["intra-op threads"] == 1
        assert all(blas["num_threads"] == 1 for blas in info["NumPy BLAS in the worker"])
        forward, backward = worker("chain", n=30)
        assert forward > 0 and backward > 0
        with pytest.raises(AttributeError, match="nonsense"):
            worker("nonsense")
    finally:
        worker.close()


# ---------------------------------------------------------------- the data every output used
def test_missing_data_dir_is_a_one_line_error_and_exit_2(capsys):
    assert cli.main(["--quick", "--sections", "step", "--data-dir", "/nonexistent"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    error_lines = captured.err.strip().splitlines()
    assert len(error_lines) == 1 and "/nonexistent" in error_lines[0]
    assert "--synthetic" in error_lines[0]


def test_synthetic_data_only_when_asked_and_said(capsys):
    with pytest.raises(SystemExit):
        config.parse_args(["--synthetic", "--data-dir", "somewhere"])
    _, _, source = load_data(np.float64, synthetic=True)
    assert source.startswith("SYNTHETIC")


# ---------------------------------------------------------------- the peers' workload
# Steps each framework trains in the test: enough to cross several learning rates, few enough
# for micrograd (~1 s a step on a busy machine) and tinygrad (compiles its kernels first).
TEST_STEPS = {"NumPy": 100, "tinygrad_edu": 100, "PyTorch": 20, "autograd": 20, "MyGrad": 20,
              "micrograd": 1, "tinygrad": 10}


@pytest.fixture(scope="module")
def two_moons():
    problem = moons.make_moons(seed=0)
    return problem, train("NumPy", problem, moons.STEPS)["losses"]


def test_moons_are_two_labelled_half_circles(two_moons):
    problem, reference = two_moons
    assert problem.x.shape == (2, 100) and problem.y.shape == (1, 100)
    assert sorted(set(problem.y[0])) == [-1.0, 1.0] and problem.y.sum() == 0
    assert [w.shape for w, _ in problem.weights] == [(16, 2), (16, 16), (1, 16)]
    assert reference[-1] < 0.5 * reference[0]   # the net learns: the curve says something


def test_numpy_gradient_matches_finite_differences(two_moons):
    problem, _ = two_moons
    weights = [(w.copy(), b.copy()) for w, b in problem.weights]
    _, grads = moons.numpy_loss_and_gradients(weights, problem.x, problem.y)
    for layer in range(3):
        w = weights[layer][0]
        for index in [(0, 0), (0, w.shape[1] - 1)]:
            saved, h = w[index], 1e-6
            w[index] = saved + h
            up = moons.numpy_loss_and_gradients(weights, problem.x, problem.y)[0]
            w[index] = saved - h
            down = moons.numpy_loss_and_gradients(weights, problem.x, problem.y)[0]
            w[index] = saved
            np.testing.assert_allclose(grads[layer][0][index], (up - down) / (2 * h),
                                       rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("framework", list(TEST_STEPS))
def test_peer_loss_curve_agrees_in_its_own_process(framework, two_moons):
    module = peers.PEER_MODULES[framework]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (it is in the bench extra)")
    problem, reference = two_moons
    worker = Worker("benchmarks.speed.moons_trainers", threads=1)
    try:
        agree, detail = peers.check_agreement(worker, framework, problem, TEST_STEPS[framework],
                                              reference)
    finally:
        worker.close()
    if framework == "tinygrad" and detail.startswith("not run"):
        pytest.skip(f"tinygrad cannot run here: {detail}")
    assert agree, detail
    assert f"over {TEST_STEPS[framework]} steps" in detail


def test_agreement_check_rejects_a_curve_off_by_more_than_rounding(two_moons):
    problem, reference = two_moons
    off = [loss * (1 + 10 * peers.RTOL) for loss in reference]
    worker = Worker("benchmarks.speed.moons_trainers", threads=1)
    try:
        agree, detail = peers.check_agreement(worker, "tinygrad_edu", problem, 5, off)
        assert not agree and detail.startswith("DISAGREES")
        agree, detail = peers.check_agreement(worker, "no such framework", problem, 5, reference)
        assert not agree and detail.startswith("not run: KeyError")
    finally:
        worker.close()


def test_minibatches_cover_the_epoch_and_contenders_agree():
    problem = make_problem(np.float64, model="relu5_he", synthetic=SYNTHETIC)
    data = minibatch.batches(problem.x, problem.y)
    assert [x.shape[1] for x, _ in data] == [64, 64, 64, 17]
    # one layout for every contender: contiguous copies (W1 @ x is faster on them than on views)
    assert all(x.flags.c_contiguous and y.flags.c_contiguous for x, y in data)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in data], axis=1), problem.x)
    mine, floor = TinygradStep(problem), CourseStep(problem, input_grad=False)
    costs_mine = minibatch.epoch(mine, [(Tensor(x), Tensor(y)) for x, y in data])
    costs_floor = minibatch.epoch(floor, data)
    np.testing.assert_allclose(costs_mine, costs_floor, rtol=minibatch.RTOL)
    for layer, (w, b) in zip(mine.model.linear_layers(), floor.params, strict=True):
        np.testing.assert_allclose(layer.weight.data, w, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-10, atol=1e-15)
