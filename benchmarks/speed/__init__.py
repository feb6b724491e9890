"""How fast is tinygrad_edu? Ratios against hand-written NumPy, PyTorch and peers, in one run.

    python -m benchmarks.speed              # the full run (several minutes)
    python -m benchmarks.speed --quick      # a shorter run: fewer rounds, shorter chains
    python -m benchmarks.speed --sections step,perop --threads 1 --out results/
    python -m benchmarks.speed --synthetic  # without the real cat/non-cat files: the stand-in
    python -m benchmarks.speed.combine RUN1 RUN2 RUN3 --out results   # several runs, one table

Sections (--sections, all by default), one module each:
  step     (step.py) one training step of relu5 (12288-30-30-30-30-1, full batch of the 209
           training images, BCE on the sigmoid output, SGD), float64 and float32: tinygrad_edu
           against the course's layer math in NumPy (the BASELINE, which also computes the
           gradient of the input data at layer 1, as the course does), the same without that
           gradient (the FLOOR: only the necessary matrix products) and PyTorch on the CPU
  perop    (perop.py) per-operation overhead: forward and backward through a chain of tiny
           (2, 2) elementwise ops (mul, add, sigmoid, repeated)
  scaling  (scaling.py) backward time per node for chains of growing length (flat is right),
           and the time per iteration of ReLU MLPs of growing depth
  memory   (memory.py) peak memory of training, each contender in a fresh process, and no
           growth of the live memory from iteration 100 on (the graph is released every step)
  monitor  (monitor_overhead.py) the overhead of tinygrad_edu.monitor.GradientMonitor on
           relu5_he training steps
  peers    (peers.py, moons.py, moons_trainers.py, minibatch.py) micrograd's demo, a 2-16-16-1
           MLP on 100 two-moons points, in tinygrad_edu, NumPy, PyTorch, micrograd, HIPS
           autograd, MyGrad and tinygrad, each in its own process, loss curves checked to agree
           before any time is taken; and relu5_he in mini-batches of 64 against the NumPy floor

Shared pieces: stats.py (interleaved rounds, median of per-round ratios), table.py (rows and
targets of speed.md and speed.json, written by benchmarks/tables.py, the study's writer too),
environment.py (the description of the run), workers.py (worker processes and BLAS threads
through threadpoolctl), problem.py (the relu5 problem and its in-process contenders),
torch_contender.py (PyTorch, run in its own process), config.py (the command line). And
combine.py: several runs' speed.json as one table, per row the median and range over runs.

The data: the real cat/non-cat files (found like tinygrad_edu.data.load_cat_dataset finds them,
or --data-dir); without them the run stops with a one-line error (exit code 2) unless
--synthetic asks for the stand-in. The first line of the output and the table say which data.

How to read the numbers: see stats.py (ratios within interleaved rounds, their median and IQR)
and workers.py (why every foreign contender has a process of its own and one BLAS thread).
"""
