"""Per-op overhead of two gradsight source trees, timed in alternating fresh interpreters.

    python -m benchmarks.interleaved BEFORE_SRC AFTER_SRC [--rounds 7]

Each round runs every row once in a subprocess for BEFORE, then for AFTER (the
order alternates between rounds), with that tree's ``src`` first on sys.path;
a row's time is the best of 5 repeats of N calls. Prints, per row, the median
over rounds of after / before (ratios of rows timed in neighbouring processes,
so a busy machine slows both sides alike).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

ROWS = r"""
import json, sys, timeit
import numpy as np
import gradsight as gs

rng = np.random.default_rng(0)
out = {}

def best(fn, n):
    fn()
    return min(timeit.repeat(fn, number=n, repeat=5)) / n

# a chain of small ops: the fast recording path (binary/unary methods) and backward
x = gs.tensor(rng.standard_normal(16), requires_grad=True)
def chain():
    h = x
    for _ in range(100):
        h = (h * 0.9 + 0.1).tanh()
    h.sum().backward()
out["chain: 300 ops + backward, per op"] = best(chain, 20) / 300

# an MLP training step (linear, relu, cross_entropy, SGD), as the benchmark rows
model = gs.nn.MLP([64, 64, 64, 10], activation="relu")
opt = gs.optim.SGD(model.parameters(), lr=0.01)
X = gs.tensor(rng.standard_normal((32, 64)))
Y = gs.tensor(rng.integers(0, 10, 32))
def step():
    opt.zero_grad()
    loss = gs.nn.functional.cross_entropy(model(X), Y)
    loss.backward()
    opt.step()
out["MLP 64-64-64-10 step, batch 32"] = best(step, 50)

# the general path (apply1): view ops and reductions
m = gs.tensor(rng.standard_normal((8, 8)), requires_grad=True)
def views():
    return m[1:5].reshape(2, 16).T.sum()
out["m[1:5].reshape(2, 16).T.sum(), forward"] = best(views, 2000)

# the manual update under no_grad (the in-place write path)
p = gs.nn.Parameter(rng.standard_normal((4, 2)))
p.grad = gs.tensor(rng.standard_normal((4, 2)))
def update():
    q = p
    with gs.no_grad():
        q -= 0.1 * q.grad
out["with no_grad: p -= lr * p.grad"] = best(update, 5000)
json.dump(out, sys.stdout)
"""


def run(src: str) -> dict:
    env_path = f"import sys; sys.path.insert(0, {src!r})\n"
    proc = subprocess.run([sys.executable, "-c", env_path + ROWS], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"the rows failed with {src} first on sys.path:\n{proc.stderr}")
    return json.loads(proc.stdout)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    ratios: dict = {}
    times: dict = {}
    for r in range(args.rounds):
        order = (args.before, args.after) if r % 2 == 0 else (args.after, args.before)
        got = {src: run(src) for src in order}
        for row, t_before in got[args.before].items():
            ratios.setdefault(row, []).append(got[args.after][row] / t_before)
            times.setdefault(row, []).append((t_before, got[args.after][row]))
    width = max(len(row) for row in ratios)
    print(f"{'row':<{width}}  before (us)  after (us)  after/before median (min-max)")
    for row, rs in ratios.items():
        tb = statistics.median(t for t, _ in times[row]) * 1e6
        ta = statistics.median(t for _, t in times[row]) * 1e6
        print(
            f"{row:<{width}}  {tb:11.2f}  {ta:10.2f}  {statistics.median(rs):.3f} "
            f"({min(rs):.3f}-{max(rs):.3f})"
        )


if __name__ == "__main__":
    main()
