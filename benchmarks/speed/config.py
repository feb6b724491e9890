"""The command line of `python -m benchmarks.speed` and the settings of one run."""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import dataclass
from pathlib import Path

SECTIONS = ("step", "perop", "scaling", "memory", "monitor", "peers")


@dataclass
class Config:
    quick: bool
    rounds: int
    threads: int
    settle: float
    torch: bool
    data_dir: str | None
    synthetic: bool
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
    micrograd_steps: int              # micrograd's block: steps of the moons workload

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        quick = args.quick
        return cls(
            quick=quick, rounds=args.rounds or (7 if quick else 21), threads=args.threads,
            settle=args.settle if args.settle is not None else (0.0 if args.threads == 1 else 0.2),
            torch=not args.no_torch and importlib.util.find_spec("torch") is not None,
            data_dir=args.data_dir, synthetic=args.synthetic,
            seed=args.seed, sections=args.sections, out=Path(args.out),
            steps_per_block=2,  # short blocks, many rounds: a load spike spoils few ratios
            perop_chain=2_000 if quick else 10_000,
            scaling_chains=(1_000, 3_000, 10_000) if quick else (1_000, 10_000, 100_000),
            depths=(2, 5, 10, 20), depth_block=10 if quick else 30,
            memory_iterations=20 if quick else 200,
            growth_checkpoints=(20, 100) if quick else (100, 2000),
            monitor_block=2 if quick else 4,
            micrograd_steps=2 if quick else 3,
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
        description="tinygrad_edu's speed as ratios to hand-written NumPy, PyTorch and peers.")
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
    parser.add_argument("--synthetic", action="store_true",
                        help="use the synthetic stand-in instead of the real cat/non-cat files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    args = parser.parse_args(argv)
    if args.threads < 1 or (args.rounds is not None and args.rounds < 1):
        parser.error("--threads and --rounds must be at least 1")
    if args.synthetic and args.data_dir is not None:
        parser.error("--synthetic and --data-dir exclude each other: choose one data source")
    return args
