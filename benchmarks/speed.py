"""How fast is tinygrad_edu? Ratios against hand-written NumPy and PyTorch, measured in one run.

    python -m benchmarks.speed              # the full run (several minutes)
    python -m benchmarks.speed --quick      # a run in seconds: fewer rounds, shorter chains
    python -m benchmarks.speed --sections step,perop --threads 1 --out results/

Sections (--sections, all by default):
  step     one training step of relu5 (12288-30-30-30-30-1, full batch of the 209 training
           images, BCE on the sigmoid output, SGD), float64 and float32: tinygrad_edu against
           the course's layer math in NumPy (the BASELINE, which also computes the gradient of
           the input data at layer 1, as the course does), the same without that gradient (the
           FLOOR: only the necessary matrix products) and PyTorch on the CPU
  perop    per-operation overhead: forward and backward through a chain of tiny (2, 2)
           elementwise ops (mul, add, sigmoid, repeated)
  scaling  backward time per node for chains of growing length (flat is right), and the time
           per iteration of ReLU MLPs of growing depth
  memory   peak memory of training, each contender in a fresh subprocess, and no growth of the
           live memory from iteration 100 on (the graph is released every step)
  monitor  the overhead of tinygrad_edu.monitor.GradientMonitor on relu5_he training steps

How to read the numbers. The speed of this machine drifts (other jobs, clock frequency), by 1.5x
between runs, so a verdict is never an absolute time: contenders run in short blocks,
interleaved in an order that rotates every round, the ratio of two contenders is taken within
each round, and the table gives the median of those ratios over the rounds with their
interquartile range (IQR). Absolute times are printed for orientation only.

PyTorch runs in a worker process of its own (benchmarks/_torch_worker.py) that answers "run k
steps" requests: OpenBLAS, NumPy's BLAS, keeps a thread spinning for ~0.1 s after each call,
which in a shared process slowed PyTorch's float64 step nearly 2x. Every contender gets the same
number of BLAS threads (--threads, default 1: on this 2-core machine shared with other jobs, two
OpenBLAS threads made W1 @ X up to 40x slower than one).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import ctypes
import functools
import gc
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python benchmarks/speed.py` works too
    sys.path.insert(0, str(REPO_ROOT))

import models  # noqa: E402
from tinygrad_edu import nn, optim  # noqa: E402
from tinygrad_edu.data import (  # noqa: E402
    DatasetFormatError,
    DatasetNotFoundError,
    load_cat_or_synthetic,
)
from tinygrad_edu.tensor import Tensor  # noqa: E402
from tinygrad_edu.training import fit  # noqa: E402

SECTIONS = ("step", "perop", "scaling", "memory", "monitor")
DTYPES = (np.float64, np.float32)
MODEL = "relu5"  # 12288-30-30-30-30-1, ReLU, the course's 0.01 * randn weights
MiB = 2**20


# ============================================================================ BLAS threads
# threadpoolctl when it is installed; otherwise the OpenBLAS that NumPy loaded, through ctypes
# (the same calls threadpoolctl makes), so that the limit holds even after NumPy was imported.

def _openblas_call(lib: ctypes.CDLL, name: str) -> Callable[..., Any] | None:
    """OpenBLAS's `name` (e.g. "set_num_threads") under any of its builds' symbol names."""
    for prefix in ("scipy_openblas_", "openblas_"):
        for suffix in ("64_", ""):
            function = getattr(lib, f"{prefix}{name}{suffix}", None)
            if function is not None:
                return function
    return None


def _loaded_openblas() -> list[tuple[str, ctypes.CDLL]]:
    """The OpenBLAS libraries mapped into this process (Linux: from /proc/self/maps)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = sorted({line.split()[-1] for line in maps.splitlines()
                    if "/" in line and "openblas" in line.rsplit("/", 1)[-1].lower()})
    return [(path, ctypes.CDLL(path)) for path in paths]


def _describe_openblas(path: str, lib: ctypes.CDLL) -> dict[str, Any]:
    info: dict[str, Any] = {"library": Path(path).name, "api": "openblas"}
    for key, name in (("config", "get_config"), ("corename", "get_corename")):
        function = _openblas_call(lib, name)
        if function is not None:
            function.restype = ctypes.c_char_p
            info[key] = function().decode(errors="replace")
    get_threads = _openblas_call(lib, "get_num_threads")
    info["num_threads"] = get_threads() if get_threads is not None else None
    return info


@contextlib.contextmanager
def blas_threads(threads: int) -> Iterator[list[dict[str, Any]]]:
    """Limit NumPy's BLAS to `threads` threads inside the block; yield a description of it."""
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
            yield [{key: info.get(key) for key in
                    ("internal_api", "version", "num_threads", "architecture", "filepath")}
                   for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]
        return
    restore = []
    libraries = _loaded_openblas()
    for _, lib in libraries:
        get_threads = _openblas_call(lib, "get_num_threads")
        set_threads = _openblas_call(lib, "set_num_threads")
        if get_threads is not None and set_threads is not None:
            restore.append((set_threads, get_threads()))
            set_threads(threads)
    try:
        yield [_describe_openblas(path, lib) for path, lib in libraries]
    finally:
        for set_threads, previous in restore:
            set_threads(previous)


def subprocess_env(threads: int) -> dict[str, str]:
    """The environment of a worker: thread counts fixed before anything is imported.

    OPENBLAS_CORETYPE, when set on this machine, is passed through unchanged.
    """
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


# ============================================================================ the relu5 problem
@functools.lru_cache(maxsize=4)
def load_data(dtype: type, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """x_train (12288, 209), y_train (1, 209) and where they came from (real or stand-in)."""
    dataset, source = load_cat_or_synthetic(data_dir, dtype=dtype)
    return dataset.x_train, dataset.y_train, source


@dataclass
class Problem:
    """One training problem: data (samples as columns), initial weights, learning rate."""

    x: np.ndarray                                  # (features, m)
    y: np.ndarray                                  # (1, m)
    weights: list[tuple[np.ndarray, np.ndarray]]   # [(W1, b1), ...]: W (out, in), b (out, 1)
    lr: float

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype


def make_problem(dtype: type = np.float64, data_dir: str | None = None, seed: int = 0,
                 model: str = MODEL) -> Problem:
    """The cat data and the weights models.build(model, seed) draws, in `dtype`."""
    x, y, _ = load_data(dtype, data_dir)
    net = models.build(model, seed=seed, in_features=x.shape[0], dtype=dtype)
    weights = [(fc.weight.data.copy(), fc.bias.data.copy()) for fc in net.linear_layers()]
    lr = models.SPECS[model].learning_rate or 0.0075
    return Problem(x, y, weights, lr)


# ============================================================================ the contenders
class TinygradStep:
    """tinygrad_edu: models.build, nn.binary_cross_entropy, optim.SGD, as a user writes it."""

    def __init__(self, problem: Problem, model: str = MODEL) -> None:
        self.model = models.build(model, seed=0, in_features=problem.x.shape[0],
                                  dtype=problem.dtype)
        for layer, (w, b) in zip(self.model.linear_layers(), problem.weights, strict=True):
            layer.weight.data[...] = w
            layer.bias.data[...] = b
        self.optimizer = optim.SGD(self.model.parameters(), lr=problem.lr)
        self.x, self.y = Tensor(problem.x), Tensor(problem.y)

    def loss_and_backward(self) -> Tensor:
        loss = nn.binary_cross_entropy(self.model(self.x), self.y)  # forward, loss
        self.optimizer.zero_grad()
        loss.backward()
        return loss

    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        self.loss_and_backward()
        return [(fc.weight.grad.data, fc.bias.grad.data) for fc in self.model.linear_layers()]

    def step(self) -> None:
        self.loss_and_backward()
        self.optimizer.step()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class CourseStep:
    """The course's layer math, written out in NumPy: the BASELINE (input_grad=True).

    Forward caches (a_prev, z) per layer. Backward starts from the course's
        da^[L] = (1/m) (a - y) / (a (1 - a)),
    then per layer dz = da * g'(z), dW = dz a_prev^T, db = sum of dz over the columns and
    da_prev = W^T dz, which the course computes at layer 1 as well: the gradient with respect
    to the input data, a (12288, 209) product nobody uses. With input_grad=False that product
    is skipped: the FLOOR, only the necessary matrix products.
    """

    def __init__(self, problem: Problem, input_grad: bool = True) -> None:
        self.params = [(w.copy(), b.copy()) for w, b in problem.weights]
        self.x, self.y, self.lr = problem.x, problem.y, problem.lr
        self.input_grad = input_grad

    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        x, y, m = self.x, self.y, self.x.shape[1]
        last = len(self.params) - 1
        caches = []
        a = x
        for layer, (w, b) in enumerate(self.params):
            z = w @ a + b                                   # (out, in) @ (in, m) -> (out, m)
            caches.append((a, z))
            a = _sigmoid(z) if layer == last else np.maximum(z, 0)
        self.cost = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / m
        da = (1 / m) * (a - y) / (a * (1 - a))
        grads = []
        for layer in range(last, -1, -1):
            w, _ = self.params[layer]
            a_prev, z = caches[layer]
            if layer == last:
                s = _sigmoid(z)
                dz = da * s * (1 - s)                       # sigmoid'(z) = s (1 - s)
            else:
                dz = np.array(da, copy=True)                # relu'(z) = [z > 0]
                dz[z <= 0] = 0
            grads.append((dz @ a_prev.T,                    # (out, m) @ (m, in) -> (out, in)
                          np.sum(dz, axis=1, keepdims=True)))
            if layer > 0 or self.input_grad:
                da = w.T @ dz                               # (in, out) @ (out, m) -> (in, m)
        self.input_gradient = da if self.input_grad else None
        return grads[::-1]

    def step(self) -> None:
        for (w, b), (dw, db) in zip(self.params, self.gradients(), strict=True):
            w -= self.lr * dw
            b -= self.lr * db


class BigProducts:
    """The reference line: only the two big products of a step, W1 @ X and dZ1 @ X^T."""

    def __init__(self, problem: Problem) -> None:
        self.w1, self.x = problem.weights[0][0], problem.x
        rng = np.random.default_rng(0)
        self.dz1 = rng.standard_normal((self.w1.shape[0], self.x.shape[1])).astype(problem.dtype)

    def step(self) -> None:
        self.w1 @ self.x          # (30, 12288) @ (12288, 209)
        self.dz1 @ self.x.T       # (30, 209) @ (209, 12288)


LOCAL_CONTENDERS: dict[str, Callable[[Problem], Any]] = {
    "tinygrad_edu": TinygradStep,
    "course NumPy": CourseStep,
    "floor NumPy": functools.partial(CourseStep, input_grad=False),
    "W1@X + dZ1@X^T": BigProducts,
}


# ============================================================================ the PyTorch worker
class TorchWorker:
    """PyTorch in its own process (benchmarks/_torch_worker.py), one JSON request per line."""

    def __init__(self, threads: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_torch_worker.py"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            cwd=REPO_ROOT, env=subprocess_env(threads))
        self._info: dict[str, Any] | None = None
        self._send("hello", threads=threads)  # answered while the driver sets itself up

    @staticmethod
    def available() -> bool:
        return importlib.util.find_spec("torch") is not None

    def _send(self, command: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": command, **fields}) + "\n")
        self.process.stdin.flush()

    def _receive(self, command: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the PyTorch worker exited (code {self.process.poll()}) "
                               f"during {command!r}; see its messages above")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"PyTorch worker, {command!r}: {reply['error']}")
        return reply

    def info(self) -> dict[str, Any]:
        """Versions, threads and BLAS of the worker (the reply to the first request)."""
        if self._info is None:
            self._info = self._receive("hello")
        return self._info

    def request(self, command: str, **fields: Any) -> dict[str, Any]:
        self.info()
        self._send(command, **fields)
        return self._receive(command)

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                self.request("quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ============================================================================ timing and statistics
def seconds_per_call(function: Callable[[], Any], calls: int) -> float:
    """Mean wall time of `calls` calls in a row (a block); the garbage collector runs first."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def interleave(blocks: dict[str, Callable[[], Any]], rounds: int,
               settle: float = 0.0) -> dict[str, list[Any]]:
    """Run every block once per round, in an order rotated each round; collect their results.

    Ratios of results from the same round cancel the machine's drift. `settle` seconds of
    sleep before each block let spinning BLAS threads of the previous contender go idle.
    """
    names = list(blocks)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            if settle:
                time.sleep(settle)
            results[name].append(blocks[name]())
    return results


@dataclass(frozen=True)
class Stat:
    """The median of per-round values and their interquartile range."""

    median: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        if len(values) == 1:
            return cls(values[0], values[0], values[0])
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(statistics.median(values), q1, q3)


def ratios(numerators: list[float], denominators: list[float]) -> Stat:
    """The per-round ratios numerator / denominator, summarised."""
    return Stat.of([a / b for a, b in zip(numerators, denominators, strict=True)])


# ============================================================================ results
@dataclass(frozen=True)
class Target:
    """What a measured ratio (or value) should be: at most `high`, at least `low`."""

    high: float | None = None
    low: float | None = None
    on: str = "ratio"   # "ratio" or "value"
    unit: str = "x"

    def met(self, quantity: float) -> bool:
        return ((self.high is None or quantity <= self.high)
                and (self.low is None or quantity >= self.low))

    def text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}-{self.high:g}{self.unit}"
        if self.high is not None:
            return f"<= {self.high:g}{self.unit}"
        return f">= {self.low:g}{self.unit}"


@dataclass
class Row:
    """One line of the table."""

    section: str
    label: str
    value: float | None = None     # in `unit`; a median over rounds for times
    unit: str = ""
    ratio: Stat | None = None      # median over rounds of (this / `versus`), with its IQR
    versus: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        quantity = self.ratio.median if self.target.on == "ratio" and self.ratio else self.value
        return None if quantity is None else self.target.met(quantity)

    def cells(self) -> list[str]:
        value = "" if self.value is None else f"{_fmt(self.value)} {self.unit}".strip()
        ratio = spread = ""
        if self.ratio is not None:
            ratio = f"{self.ratio.median:.3f}x {self.versus}".strip()
            if self.ratio.q1 != self.ratio.q3:
                spread = f"{self.ratio.q1:.3f}-{self.ratio.q3:.3f}"
        met = {None: "", True: "yes", False: "NO"}[self.met]
        target = self.target.text() if self.target else ""
        return [self.label, value, ratio, spread, target, met, self.note]

    def to_json(self) -> dict[str, Any]:
        blob = asdict(self)
        blob["met"] = self.met
        blob["target"] = None if self.target is None else {**asdict(self.target),
                                                           "text": self.target.text()}
        return blob


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


COLUMNS = ["measurement", "value", "ratio (median over rounds)", "IQR of ratio", "target", "met",
           "note"]


def text_table(rows: list[Row]) -> str:
    lines = []
    for section in dict.fromkeys(row.section for row in rows):
        body = [row.cells() for row in rows if row.section == section]
        widths = [max(len(c[i]) for c in [COLUMNS, *body]) for i in range(len(COLUMNS) - 1)]
        lines.append(f"\n== {section} ==")
        for cells in [COLUMNS, *body]:
            padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=True)]
            lines.append("  ".join([*padded, cells[-1]]).rstrip())
    return "\n".join(lines)


def markdown(rows: list[Row], environment: dict[str, Any]) -> str:
    out = ["# tinygrad_edu speed benchmark", "",
           "Ratios are medians over interleaved rounds of one run (IQR beside them); times are "
           "medians over the rounds, for orientation only.", ""]
    out += [f"- **{key}**: {json.dumps(value) if isinstance(value, (dict, list)) else value}"
            for key, value in environment.items()]
    for section in dict.fromkeys(row.section for row in rows):
        out += ["", f"## {section}", "", "| " + " | ".join(COLUMNS) + " |",
                "|" + "---|" * len(COLUMNS)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |"
                for row in rows if row.section == section]
    return "\n".join(out) + "\n"


def write_outputs(out_dir: Path, rows: list[Row], environment: dict[str, Any],
                  raw: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / "speed.md", out_dir / "speed.json"
    md_path.write_text(markdown(rows, environment))
    blob = {"environment": environment, "rows": [row.to_json() for row in rows], "raw": raw}
    json_path.write_text(json.dumps(blob, indent=1, default=str) + "\n")
    return md_path, json_path


# ============================================================================ configuration
@dataclass
class Config:
    quick: bool
    rounds: int
    threads: int
    settle: float
    torch: bool
    data_dir: str | None
    seed: int
    sections: tuple[str, ...]
    out: Path
    steps_per_block: int              # relu5 training steps per block
    perop_chain: int                  # ops in the per-op chain
    scaling_chains: tuple[int, ...]   # chain lengths for backward per node
    depths: tuple[int, ...]           # MLP depths (number of Linear layers)
    depth_block: int                  # iterations per block for the depth MLPs
    memory_iterations: int            # iterations for the peak memory
    growth_checkpoints: tuple[int, int]
    monitor_block: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        quick = args.quick
        return cls(
            quick=quick, rounds=args.rounds or (7 if quick else 21), threads=args.threads,
            settle=args.settle if args.settle is not None else (0.0 if args.threads == 1 else 0.2),
            torch=not args.no_torch and TorchWorker.available(), data_dir=args.data_dir,
            seed=args.seed, sections=args.sections, out=Path(args.out),
            steps_per_block=2,  # short blocks, many rounds: a load spike spoils few ratios
            perop_chain=2_000 if quick else 10_000,
            scaling_chains=(1_000, 3_000, 10_000) if quick else (1_000, 10_000, 100_000),
            depths=(2, 5, 10, 20), depth_block=10 if quick else 30,
            memory_iterations=20 if quick else 200,
            growth_checkpoints=(20, 100) if quick else (100, 2000),
            monitor_block=2 if quick else 4,
        )


def _sections(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {unknown or text!r}; choose from {', '.join(SECTIONS)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description="tinygrad_edu's speed as ratios to hand-written NumPy and PyTorch.")
    parser.add_argument("--quick", action="store_true",
                        help="a run in seconds: fewer rounds, shorter chains (same step workload)")
    parser.add_argument("--sections", type=_sections, default=SECTIONS,
                        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)")
    parser.add_argument("--out", default="results", help="folder for speed.md and speed.json")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS / intra-op threads for every contender (default 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds (default 21, --quick 7)")
    parser.add_argument("--settle", type=float, default=None,
                        help="seconds of pause before each block (default 0 with one thread, "
                             "0.2 otherwise, to let OpenBLAS's spinning threads go idle)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--data-dir", default=None,
                        help="folder of the cat/non-cat files (default: the usual search path)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    if args.threads < 1 or (args.rounds is not None and args.rounds < 1):
        parser.error("--threads and --rounds must be at least 1")
    return args


# ============================================================================ 1. training step
def section_step(cfg: Config, worker: TorchWorker | None) -> tuple[list[Row], dict[str, Any]]:
    rows, raw = [], {}
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        problem = make_problem(dtype, cfg.data_dir, cfg.seed)
        contenders = {label: make(problem) for label, make in LOCAL_CONTENDERS.items()}
        blocks: dict[str, Callable[[], float]] = {
            label: functools.partial(seconds_per_call, contender.step, cfg.steps_per_block)
            for label, contender in contenders.items()}
        if worker is not None:
            worker.request("setup_step", dtype=name, data_dir=cfg.data_dir, seed=cfg.seed)
            blocks["PyTorch"] = lambda dtype_name=name: worker.request(
                "step", dtype=dtype_name, k=cfg.steps_per_block)["seconds"]
        interleave(blocks, rounds=1, settle=cfg.settle)      # warm-up: caches, allocator, BLAS
        times = interleave(blocks, cfg.rounds, cfg.settle)
        raw[name] = times
        rows += _step_rows(name, times)
    return rows, raw


# Targets of the issue: tinygrad_edu / contender, per dtype.
STEP_TARGETS = {
    ("course NumPy", "float64"): 0.6, ("course NumPy", "float32"): 0.7,
    ("floor NumPy", "float64"): 1.1, ("floor NumPy", "float32"): 1.1,
    ("PyTorch", "float64"): 1.0, ("PyTorch", "float32"): 1.2,
}


def _step_rows(dtype_name: str, times: dict[str, list[float]]) -> list[Row]:
    section = f"1. relu5 training step, {dtype_name}"
    baseline = times["course NumPy"]
    rows = [Row(section, f"{label}", 1e3 * statistics.median(t), "ms/step",
                ratios(t, baseline), "course NumPy",
                note="BASELINE" if label == "course NumPy" else "")
            for label, t in times.items()]
    mine = times["tinygrad_edu"]
    floor_vs_baseline = ratios(times["floor NumPy"], baseline).median
    for other in ("course NumPy", "floor NumPy", "PyTorch"):
        if other not in times:
            continue
        target = Target(STEP_TARGETS[other, dtype_name])
        note = ""
        if other == "course NumPy" and not target.met(floor_vs_baseline):
            note = (f"the floor itself is {floor_vs_baseline:.3f}x: out of reach without "
                    f"beating the floor")
        rows.append(Row(section, f"tinygrad_edu / {other}", ratio=ratios(mine, times[other]),
                        target=target, note=note))
    return rows


# ============================================================================ 2. per-op overhead
CHAIN_OPS = ("mul", "add", "sigmoid")  # repeated; sigmoid keeps the values bounded


def tinygrad_chain(n: int) -> tuple[float, float]:
    """Seconds per op of the forward and of the backward through `n` ops on (2, 2) tensors."""
    x = Tensor(np.full((2, 2), 0.5), requires_grad=True)
    c = Tensor(np.full((2, 2), 0.9))
    start = time.perf_counter()
    a = x
    for i in range(n):
        kind = CHAIN_OPS[i % 3]
        a = a * c if kind == "mul" else a + c if kind == "add" else a.sigmoid()
    loss = a.sum()
    middle = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    return (middle - start) / n, (end - middle) / n


def numpy_chain(n: int) -> float:
    """Seconds per op of the same forward in raw NumPy (no graph, no backward)."""
    a, c = np.full((2, 2), 0.5), np.full((2, 2), 0.9)
    start = time.perf_counter()
    for i in range(n):
        kind = CHAIN_OPS[i % 3]
        a = a * c if kind == "mul" else a + c if kind == "add" else 1 / (1 + np.exp(-a))
    a.sum()
    return (time.perf_counter() - start) / n


def section_perop(cfg: Config, worker: TorchWorker | None) -> tuple[list[Row], dict[str, Any]]:
    n = cfg.perop_chain
    blocks: dict[str, Callable[[], Any]] = {
        "tinygrad_edu": lambda: _collected(tinygrad_chain, n),
        "NumPy": lambda: _collected(numpy_chain, n)}
    if worker is not None:
        blocks["PyTorch"] = lambda: tuple(worker.request("chain", n=n)["seconds"])
    interleave(blocks, rounds=1)
    results = interleave(blocks, cfg.rounds, cfg.settle)
    section = f"2. per-op overhead, chain of {n:,} ops on (2, 2) float64"
    mine_f, mine_b = zip(*results["tinygrad_edu"], strict=True)
    mine_fb = [f + b for f, b in zip(mine_f, mine_b, strict=True)]
    numpy_f = results["NumPy"]
    rows = [Row(section, "tinygrad_edu forward", 1e6 * statistics.median(mine_f), "us/op",
                ratios(mine_f, numpy_f), "NumPy"),
            Row(section, "tinygrad_edu backward", 1e6 * statistics.median(mine_b), "us/op"),
            Row(section, "tinygrad_edu forward + backward", 1e6 * statistics.median(mine_fb),
                "us/op"),
            Row(section, "NumPy forward only", 1e6 * statistics.median(numpy_f), "us/op",
                note="sigmoid as 1 / (1 + exp(-a)): 4 ufuncs")]
    if "PyTorch" in results:
        torch_f, torch_b = zip(*results["PyTorch"], strict=True)
        torch_fb = [f + b for f, b in zip(torch_f, torch_b, strict=True)]
        rows += [
            Row(section, "PyTorch forward", 1e6 * statistics.median(torch_f), "us/op"),
            Row(section, "PyTorch backward", 1e6 * statistics.median(torch_b), "us/op"),
            Row(section, "PyTorch forward + backward", 1e6 * statistics.median(torch_fb), "us/op"),
            Row(section, "tinygrad_edu / PyTorch, forward", ratio=ratios(mine_f, torch_f)),
            Row(section, "tinygrad_edu / PyTorch, backward", ratio=ratios(mine_b, torch_b)),
            Row(section, "tinygrad_edu / PyTorch, forward + backward",
                ratio=ratios(mine_fb, torch_fb), target=Target(1.0)),
        ]
    return rows, {"chain": n, **{k: v for k, v in results.items()}}


def _collected(function: Callable[..., Any], *args: Any) -> Any:
    gc.collect()
    return function(*args)


# ============================================================================ 3. scaling
def backward_per_node(n: int, nodes: int) -> float:
    """Backward seconds per node, over chains of length n repeated to about `nodes` nodes."""
    repeats = max(1, nodes // n)
    total = 0.0
    for _ in range(repeats):
        gc.collect()
        total += tinygrad_chain(n)[1] * n
    return total / (repeats * n)


class DepthMLP:
    """A ReLU MLP of `depth` Linear layers of width 30 on a small (30, 209) input."""

    def __init__(self, depth: int, y: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng(seed)
        sizes = [30] * depth + [1]
        self.model = models.CourseNet(sizes, "relu", init="he", rng=rng)
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.01)
        self.x = Tensor(rng.standard_normal((30, y.shape[1])))
        self.y = Tensor(y.astype(np.float64))

    def step(self) -> None:
        loss = nn.binary_cross_entropy(self.model(self.x), self.y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def section_scaling(cfg: Config, worker: TorchWorker | None) -> tuple[list[Row], dict[str, Any]]:
    chains = cfg.scaling_chains
    largest = max(chains)
    blocks = {n: functools.partial(backward_per_node, n, largest) for n in chains}
    interleave({n: functools.partial(backward_per_node, n, n) for n in chains}, rounds=1)
    scaling_rounds = max(3, cfg.rounds // 3)   # each round backpropagates 3 x `largest` nodes
    per_node = interleave(blocks, scaling_rounds)
    section = "3a. backward time per node, chains of (2, 2) mul/add/sigmoid, float64"
    smallest = min(chains)
    rows = [Row(section, f"chain of {n:,} ops", 1e6 * statistics.median(per_node[n]), "us/node",
                ratios(per_node[n], per_node[smallest]), f"chain of {smallest:,}")
            for n in chains]
    rows.append(Row(section, f"flatness: {largest:,} / {smallest:,} per node",
                    ratio=ratios(per_node[largest], per_node[smallest]),
                    target=Target(1.2, 0.8)))

    _, y, _ = load_data(np.float64, cfg.data_dir)
    mlps = {depth: DepthMLP(depth, y, cfg.seed) for depth in cfg.depths}
    depth_blocks = {depth: functools.partial(seconds_per_call, mlp.step, cfg.depth_block)
                    for depth, mlp in mlps.items()}
    interleave(depth_blocks, rounds=1)
    per_iteration = interleave(depth_blocks, cfg.rounds)
    section_b = "3b. ReLU MLP, width 30, input (30, 209), float64: time per iteration vs depth"
    shallow = min(cfg.depths)
    for depth in cfg.depths:
        per_layer = [t / depth for t in per_iteration[depth]]
        rows.append(Row(section_b, f"depth {depth}", 1e3 * statistics.median(per_iteration[depth]),
                        "ms/iter", ratios(per_iteration[depth], per_iteration[shallow]),
                        f"depth {shallow}",
                        note=f"{1e6 * statistics.median(per_layer):.0f} us per layer"))
    per_layer_ratio = ratios([t / max(cfg.depths) for t in per_iteration[max(cfg.depths)]],
                             [t / shallow for t in per_iteration[shallow]])
    rows.append(Row(section_b, f"per layer: depth {max(cfg.depths)} / depth {shallow}",
                    ratio=per_layer_ratio, note="below 1: fixed per-step costs amortised"))
    return rows, {"backward_per_node": {str(n): v for n, v in per_node.items()},
                  "per_iteration": {str(d): v for d, v in per_iteration.items()}}


# ============================================================================ 4. memory
MEMORY_CONTENDERS: dict[str, Callable[[Problem], Any]] = {
    "tinygrad_edu": TinygradStep,
    "course NumPy": CourseStep,
    "floor NumPy": functools.partial(CourseStep, input_grad=False),
}


def current_rss() -> int:
    """Resident memory now, in bytes (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """The resident high-water mark of this process, in bytes: VmHWM where /proc exists.

    Not ru_maxrss: on Linux getrusage(RUSAGE_SELF).ru_maxrss also keeps the high-water mark of
    the process image before exec, i.e. of the driver that spawned this child (measured: every
    child then reported the driver's 185 MiB), which would hide the child's own peak.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def reset_peak_rss() -> bool:
    """Reset this process's resident high-water mark, so that `peak_rss` measures from now.

    Linux: writing 5 to /proc/self/clear_refs resets VmHWM. Without it the peak would be that of
    loading the data, the same for every contender.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: train one contender and measure its memory.

    spec: contender, iterations, trace (bool: tracemalloc on, started after the setup),
    checkpoints (iterations after which the live memory is recorded), data_dir, seed.
    """
    problem = make_problem(np.float64, spec.get("data_dir"), spec.get("seed", 0))
    contender = MEMORY_CONTENDERS[spec["contender"]](problem)
    # OpenBLAS touches its work buffers (tens of MiB) at its first big product: do that in the
    # setup, the same for every contender, so that the peak measures what the steps allocate.
    BigProducts(problem).step()
    del problem
    gc.collect()
    peak_was_reset = reset_peak_rss()
    rss_setup = current_rss()
    if spec["trace"]:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if spec["trace"] else 0
    checkpoints, records = set(spec.get("checkpoints", ())), {}
    for iteration in range(1, spec["iterations"] + 1):
        contender.step()
        if iteration in checkpoints:
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] - base if spec["trace"] else None
            records[iteration] = {"rss": current_rss(), "traced": traced}
    result = {"rss_setup": rss_setup, "peak_was_reset": peak_was_reset,
              "peak_rss": peak_rss(), "records": records}
    if spec["trace"]:
        result["traced_peak"] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return result


def run_memory_child(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT,
                          env=subprocess_env(threads), timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {spec['contender']} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def section_memory(cfg: Config, worker: TorchWorker | None) -> tuple[list[Row], dict[str, Any]]:
    n = cfg.memory_iterations
    first, last = cfg.growth_checkpoints
    common = {"iterations": n, "data_dir": cfg.data_dir, "seed": cfg.seed}
    specs = {(name, trace): {**common, "contender": name, "trace": trace}
             for name in MEMORY_CONTENDERS for trace in (False, True)}
    specs["growth"] = {**common, "contender": "tinygrad_edu", "trace": True, "iterations": last,
                       "checkpoints": [first, last]}
    # Memory does not depend on timing, so the fresh processes may run side by side.
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(run_memory_child, spec, cfg.threads)
                   for key, spec in specs.items()}
        results = {key: future.result() for key, future in futures.items()}

    section = f"4a. peak memory, {n} relu5 training iterations, float64, each in a fresh process"
    base = "course NumPy"
    rss = {name: results[name, False] for name in MEMORY_CONTENDERS}
    traced = {name: results[name, True]["traced_peak"] for name in MEMORY_CONTENDERS}
    reset = all(r["peak_was_reset"] for r in rss.values())
    scope = "high-water mark reset after setup" if reset else "whole process, setup included"
    rows = []
    for name in MEMORY_CONTENDERS:
        target = Target(1.3) if name == "tinygrad_edu" else None
        above = (rss[name]["peak_rss"] - rss[name]["rss_setup"]) / MiB
        rows += [
            Row(section, f"{name}: peak RSS (VmHWM)", rss[name]["peak_rss"] / MiB, "MiB",
                Stat.of([rss[name]["peak_rss"] / rss[base]["peak_rss"]]), base, target,
                note=f"{scope}; {above:+.1f} MiB above the RSS after setup"),
            Row(section, f"{name}: tracemalloc peak of the loop", traced[name] / MiB, "MiB",
                Stat.of([traced[name] / traced[base]]), base, target,
                note="arrays and objects allocated by the steps, above the setup"),
        ]
    growth = results["growth"]
    start, end = growth["records"][str(first)], growth["records"][str(last)]
    section_g = (f"4b. growth of live memory, tinygrad_edu relu5 float64, iteration {first} -> "
                 f"{last}")
    rows += [
        Row(section_g, "tracemalloc current: change", (end["traced"] - start["traced"]) / MiB,
            "MiB", target=Target(0.1, on="value", unit=" MiB")),
        Row(section_g, "RSS: change", (end["rss"] - start["rss"]) / MiB, "MiB",
            note="allocator-dependent; for orientation"),
    ]
    raw = {f"{key[0]}, {'tracemalloc' if key[1] else 'rss'}" if isinstance(key, tuple) else key:
           value for key, value in results.items()}
    return rows, raw


# ============================================================================ 5. monitor overhead
def section_monitor(cfg: Config, worker: TorchWorker | None) -> tuple[list[Row], dict[str, Any]]:
    section = "5. GradientMonitor overhead, relu5_he float64 steps through fit()"
    try:
        from tinygrad_edu.monitor import GradientMonitor
    except ImportError as error:
        return [Row(section, "skipped", note=f"tinygrad_edu.monitor.GradientMonitor is not "
                                             f"available yet ({error})")], {}
    problem = make_problem(np.float64, cfg.data_dir, cfg.seed, model="relu5_he")
    spec = models.SPECS["relu5_he"]
    plain, monitored = TinygradStep(problem, "relu5_he"), TinygradStep(problem, "relu5_he")
    try:
        monitor = GradientMonitor(monitored.model)
    except TypeError as error:
        return [Row(section, "skipped", note=f"GradientMonitor(model) failed: {error}")], {}

    def block(run: TinygradStep, callbacks: tuple[Any, ...]) -> float:
        gc.collect()
        start = time.perf_counter()
        fit(run.model, run.x, run.y, run.optimizer, cfg.monitor_block,
            loss_fn=spec.loss_fn(), callbacks=callbacks)
        return (time.perf_counter() - start) / cfg.monitor_block

    blocks = {"without monitor": functools.partial(block, plain, ()),
              "with monitor": functools.partial(block, monitored, (monitor,))}
    interleave(blocks, rounds=1)
    times = interleave(blocks, cfg.rounds)
    if hasattr(monitor, "close"):
        monitor.close()
    base = times["without monitor"]
    rows = [Row(section, label, 1e3 * statistics.median(t), "ms/step", ratios(t, base),
                "without") for label, t in times.items()]
    rows.append(Row(section, "with / without monitor", ratio=ratios(times["with monitor"], base),
                    target=Target(1.05)))
    return rows, times


SECTION_FUNCTIONS = {"step": section_step, "perop": section_perop, "scaling": section_scaling,
                     "memory": section_memory, "monitor": section_monitor}


# ============================================================================ driver
def environment(cfg: Config, blas: list[dict[str, Any]],
                worker: TorchWorker | None) -> dict[str, Any]:
    _, _, source = load_data(np.float64, cfg.data_dir)
    env: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mode": "quick" if cfg.quick else "full",
        "data": source,
        "python": platform.python_version(), "numpy": np.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "threads (BLAS and intra-op, every contender)": cfg.threads,
        "NumPy BLAS": blas,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(not set)"),
        "rounds": cfg.rounds,
    }
    if worker is not None:
        env["PyTorch (worker process)"] = worker.info()
    elif "step" in cfg.sections or "perop" in cfg.sections:
        env["PyTorch"] = "not measured (--no-torch, or torch is not importable)"
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:  # internal: one memory measurement in this fresh process
        with blas_threads(args.threads):
            print(json.dumps(memory_child(json.loads(args.memory_child))))
        return 0

    try:  # a bad --data-dir is one line on stderr and exit status 2, like argparse's errors
        load_cat_or_synthetic(args.data_dir)
    except (DatasetNotFoundError, DatasetFormatError) as error:
        print(f"python -m benchmarks.speed: error: {error}", file=sys.stderr)
        return 2
    cfg = Config.from_args(args)
    needs_torch = cfg.torch and ("step" in cfg.sections or "perop" in cfg.sections)
    worker = TorchWorker(cfg.threads) if needs_torch else None
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    try:
        with blas_threads(cfg.threads) as blas:
            env = environment(cfg, blas, worker)
            print(f"data: {env['data']}\nthreads: {cfg.threads}; {cfg.rounds} rounds"
                  f"{'; quick' if cfg.quick else ''}", flush=True)
            for name in cfg.sections:
                started = time.perf_counter()
                print(f"running {name} ...", end=" ", flush=True)
                section_rows, raw[name] = SECTION_FUNCTIONS[name](cfg, worker)
                rows += section_rows
                print(f"{time.perf_counter() - started:.1f} s", flush=True)
    finally:
        if worker is not None:
            worker.close()
    env["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(text_table(rows))
    md_path, json_path = write_outputs(cfg.out, rows, env, raw)
    print(f"\nwrote {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
