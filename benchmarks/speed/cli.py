"""Run the sections `python -m benchmarks.speed` asks for; print and write the table."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.speed.config import Config, parse_args
from benchmarks.speed.environment import describe, load_average
from benchmarks.speed.memory import section_memory
from benchmarks.speed.monitor_overhead import section_monitor
from benchmarks.speed.peers import section_peers
from benchmarks.speed.perop import section_perop
from benchmarks.speed.problem import load_data
from benchmarks.speed.scaling import section_scaling
from benchmarks.speed.step import section_step
from benchmarks.speed.table import Row, text_table, write_tables
from benchmarks.speed.workers import Worker
from tinygrad_edu.data import DatasetFormatError, DatasetNotFoundError

Section = Callable[[Config, Worker | None], tuple[list[Row], dict[str, Any]]]
SECTION_FUNCTIONS: dict[str, Section] = {
    "step": section_step, "perop": section_perop, "scaling": section_scaling,
    "memory": section_memory, "monitor": section_monitor, "peers": section_peers}
USES_CAT_DATA = ("step", "scaling", "memory", "monitor", "peers")   # peers: relu5_he batches


def main(argv: list[str] | None = None) -> int:
    cfg = Config.from_args(parse_args(argv))
    data_source = "none (no section asked for uses the cat/non-cat data)"
    try:
        if any(name in USES_CAT_DATA for name in cfg.sections):
            _, _, data_source = load_data(np.float64, cfg.data_dir, cfg.synthetic)
    except (DatasetNotFoundError, DatasetFormatError) as error:
        message = " ".join(str(error).split())
        print(f"python -m benchmarks.speed: {message} (or pass --synthetic for the stand-in)",
              file=sys.stderr)
        return 2
    needs_torch = cfg.torch and ("step" in cfg.sections or "perop" in cfg.sections)
    torch = Worker("benchmarks.speed.torch_contender", cfg.threads) if needs_torch else None
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    try:
        with threadpool_limits(limits=cfg.threads):
            env = describe(cfg, data_source, torch("info", threads=cfg.threads) if torch else None)
            print(f"data: {data_source}\nthreads: {cfg.threads}; {cfg.rounds} rounds"
                  f"{'; quick' if cfg.quick else ''}", flush=True)
            for name in cfg.sections:
                started = time.perf_counter()
                print(f"running {name} ...", end=" ", flush=True)
                section_rows, raw[name] = SECTION_FUNCTIONS[name](cfg, torch)
                rows += section_rows
                print(f"{time.perf_counter() - started:.1f} s", flush=True)
    finally:
        if torch is not None:
            torch.close()
    env["load average at end"] = load_average()
    print(text_table(rows))
    md_path, json_path = write_tables(cfg.out, rows, env, raw)
    print(f"\ndata: {data_source}\nwrote {md_path} and {json_path}")
    return 0
