"""Per-op overhead of two gradsight source trees, compared row by row.

    python -m benchmarks.interleaved BEFORE_SRC AFTER_SRC [--rounds 7]
    python -m benchmarks.interleaved BEFORE_SRC AFTER_SRC --instructions

Timing (default): each round runs every row in a fresh interpreter for BEFORE,
then for AFTER (the order alternates between rounds), with that tree's ``src``
first on sys.path; a row's time is the best of 5 repeats of N calls, in CPU time
of the process (waiting for a core is not counted). Prints the median over
rounds of after / before.

``--instructions``: the instructions each call executes, counted by valgrind
(cachegrind) as the difference between runs of N and 2N calls (N: ``--scale``
times the row's timing calls), so start-up is not counted. Fixed seeds,
PYTHONHASHSEED=0, one BLAS thread and no address randomisation (setarch -R)
make the count repeat to about 1 in 10^6: the measure to use on a machine
too busy for timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

ROWS = r"""
import json, sys, time, timeit
src, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, src)
import numpy as np
import gradsight as gs

rng = np.random.default_rng(0)
gs.manual_seed(0)
rows = {}

# a chain of small ops: the fast recording path (binary/unary methods) and backward
x = gs.tensor(rng.standard_normal(16), requires_grad=True)
def chain():
    h = x
    for _ in range(100):
        h = (h * 0.9 + 0.1).tanh()
    h.sum().backward()
rows["chain of 300 small ops + backward"] = (chain, 20)

# the XOR row of python -m benchmarks: 2-4-1 sigmoid, MSE, batch 4 (overhead-bound)
xor = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
xopt = gs.optim.SGD(xor.parameters(), lr=0.5)
XX = gs.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XY = gs.tensor([[0.0], [1.0], [1.0], [0.0]])
def xor_step():
    xopt.zero_grad()
    loss = gs.nn.functional.mse_loss(xor(XX), XY)
    loss.backward()
    xopt.step()
rows["XOR 2-4-1 training step"] = (xor_step, 200)

# an MLP training step (linear, relu, cross_entropy, SGD)
model = gs.nn.MLP([64, 64, 64, 10], activation="relu")
opt = gs.optim.SGD(model.parameters(), lr=0.01)
X = gs.tensor(rng.standard_normal((32, 64)))
Y = gs.tensor(rng.integers(0, 10, 32))
def mlp_step():
    opt.zero_grad()
    loss = gs.nn.functional.cross_entropy(model(X), Y)
    loss.backward()
    opt.step()
rows["MLP 64-64-64-10 training step, batch 32"] = (mlp_step, 50)

# the general path (apply1): three view ops and a reduction
m = gs.tensor(rng.standard_normal((8, 8)), requires_grad=True)
def views():
    return m[1:5].reshape(2, 16).T.sum()
rows["m[1:5].reshape(2, 16).T.sum()"] = (views, 2000)

# the manual update under no_grad (the in-place write path)
p = gs.nn.Parameter(rng.standard_normal((4, 2)))
p.grad = gs.tensor(rng.standard_normal((4, 2)))
def update():
    q = p
    with gs.no_grad():
        q -= 0.1 * q.grad
rows["with gs.no_grad(): p -= lr * p.grad"] = (update, 5000)

if mode == "names":
    json.dump({name: n for name, (_, n) in rows.items()}, sys.stdout)
elif mode == "time":
    out = {}
    for name, (fn, n) in rows.items():
        fn()
        best = min(timeit.repeat(fn, number=n, repeat=5, timer=time.process_time))
        out[name] = best / n
    json.dump(out, sys.stdout)
else:  # one row, `count` calls, for the instruction counter
    fn = rows[mode][0]
    fn()
    for _ in range(count):
        fn()
"""


def _python(src: str, mode: str, count: int, wrap=()) -> subprocess.CompletedProcess:
    # one BLAS thread (idle threads spin) and fixed hashing: repeatable counts
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env["MKL_NUM_THREADS"] = "1"
    cmd = [*wrap, sys.executable, "-c", ROWS, src, mode, str(count)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"the rows failed with {src} first on sys.path:\n{proc.stderr}")
    return proc


def _row_calls(src: str) -> dict:
    """Each row's name and its number of calls per timing."""
    return json.loads(_python(src, "names", 0).stdout)


def instructions(src: str, row: str, count: int) -> int:
    wrap = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
    if shutil.which("setarch"):  # the same addresses every run (NumPy's loops peel by alignment)
        wrap = ("setarch", platform.machine(), "-R", *wrap)
    stderr = _python(src, row, count, wrap).stderr
    match = re.search(r"I\s+refs:\s+([\d,]+)", stderr)
    if match is None:
        raise SystemExit(f"no instruction count from valgrind:\n{stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--instructions", action="store_true", help="count with valgrind")
    p.add_argument(
        "--scale", type=int, default=2, help="--instructions: N = scale x the row's timing calls"
    )
    args = p.parse_args(argv)
    if args.instructions:
        print("row | before (instructions per call) | after | after / before")
        for row, calls in _row_calls(args.before).items():
            n = args.scale * calls
            per = []
            for src in (args.before, args.after):
                per.append((instructions(src, row, 2 * n) - instructions(src, row, n)) / n)
            print(f"{row} | {per[0]:,.0f} | {per[1]:,.0f} | {per[1] / per[0]:.3f}", flush=True)
        return
    ratios: dict = {}
    for r in range(args.rounds):
        order = (args.before, args.after) if r % 2 == 0 else (args.after, args.before)
        got = {src: json.loads(_python(src, "time", 0).stdout) for src in order}
        for row, t_before in got[args.before].items():
            ratios.setdefault(row, []).append((t_before, got[args.after][row]))
    print("row | before (us) | after (us) | after / before, median (min-max)")
    for row, pairs in ratios.items():
        rs = [a / b for b, a in pairs]
        tb = statistics.median(b for b, _ in pairs) * 1e6
        ta = statistics.median(a for _, a in pairs) * 1e6
        print(
            f"{row} | {tb:.2f} | {ta:.2f} | {statistics.median(rs):.3f} "
            f"({min(rs):.3f}-{max(rs):.3f})"
        )


if __name__ == "__main__":
    main()
