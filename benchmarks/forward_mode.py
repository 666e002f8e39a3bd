"""Forward mode's cost: jvp against one forward pass, jacfwd against jacobian.

    PYTHONPATH=src python3 -m benchmarks.forward_mode [--quick] [--only NAME,...]

Rows (``ROWS`` below):

- ``jvp``: the network of an mlp workload (benchmarks/workloads.py, its seeded
  weights) applied to its batch: ``gs.jvp(model, (x,), (v,))`` with a random
  tangent ``v`` on the input, against one forward pass ``model(x)`` under
  ``gs.no_grad()``. The ratio is jvp / forward; the target is at most 3x.
- ``jac``: ``tanh(x @ W^T) * 2`` from ``n_in`` to ``n_out`` floats (float64):
  ``gs.jacfwd`` (one tangent pass per input) against ``gs.jacobian`` (one
  backward per output). Tall functions (few inputs, many outputs) favour
  forward mode, wide ones reverse mode.

The two timed functions alternate call by call within each round, so drift in
the machine's load affects both alike; the ratio is of the medians over rounds (the verdict's
figure), beside the ratio of the fastest rounds (less sensitive to a loaded machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

import gradsight as gs
from benchmarks.peers.gradsight_impl import mlp_parts
from benchmarks.workloads import BY_NAME, make_data


@dataclass(frozen=True)
class ForwardRow:
    """One row: ``kind`` "jvp" (of the named mlp workload) or "jac" (n_in -> n_out)."""

    name: str
    title: str
    kind: str
    workload: str = ""
    n_in: int = 0
    n_out: int = 0
    target: float | None = None  # the ratio must not exceed it
    repeats: int = 21
    quick_repeats: int = 7


ROWS = (
    ForwardRow("jvp_xor", "jvp of the XOR 2-4-1 network vs its forward", "jvp", "xor", target=3.0),
    ForwardRow(
        "jvp_mlp_small",
        "jvp of 2-16-16-1 relu, batch 100 vs forward",
        "jvp",
        "mlp_small",
        target=3.0,
    ),
    ForwardRow(
        "jvp_mlp_784",
        "jvp of 784-256-256-10 relu, batch 128, float32 vs forward",
        "jvp",
        "mlp_784",
        target=3.0,
    ),
    ForwardRow("jac_tall", "jacfwd vs jacobian, 4 -> 400 floats", "jac", n_in=4, n_out=400),
    ForwardRow("jac_wide", "jacfwd vs jacobian, 400 -> 4 floats", "jac", n_in=400, n_out=4),
)
BY_ROW = {r.name: r for r in ROWS}


def pair(row: ForwardRow):
    """(label, fn) twice: the measured function and its baseline, and a check."""
    if row.kind == "jvp":
        w = BY_NAME[row.workload]
        model, x, _, _, _ = mlp_parts(w, make_data(w))
        v = np.random.default_rng(1).standard_normal(x.shape).astype(x.dtype)

        def forward():
            with gs.no_grad():
                return model(x)

        def jvp():
            return gs.jvp(model, (x,), (v,))

        return ("jvp", jvp), ("forward", forward)
    w_mat = np.random.default_rng(2).standard_normal((row.n_out, row.n_in)) / np.sqrt(row.n_in)

    def f(x):
        return gs.tanh(x @ w_mat.T) * 2.0

    x0 = np.random.default_rng(3).standard_normal(row.n_in)
    return ("jacfwd", lambda: gs.jacfwd(f)(x0)), ("jacobian", lambda: gs.jacobian(f)(x0))


def check(row: ForwardRow) -> None:
    """The row computes what it says (used by the tests at toy size)."""
    (_, a), (_, b) = pair(row)
    if row.kind == "jvp":
        out, _ = a()
        np.testing.assert_allclose(out.data, b().data, rtol=1e-6)
    else:
        np.testing.assert_allclose(a().data, b().data, rtol=1e-12, atol=1e-14)


def time_row(row: ForwardRow, quick: bool) -> dict:
    (name_a, a), (name_b, b) = pair(row)
    a(), b()  # warm up
    inner = max(1, int(0.02 / max(_once(a), 1e-9)))
    times = {name_a: [], name_b: []}
    clock = time.perf_counter
    for _ in range(row.quick_repeats if quick else row.repeats):
        spent_a = spent_b = 0.0
        for _ in range(inner):  # call by call, so both see the same moments of load
            t0 = clock()
            a()
            t1 = clock()
            b()
            spent_a += t1 - t0
            spent_b += clock() - t1
        times[name_a].append(spent_a / inner)
        times[name_b].append(spent_b / inner)
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    return {
        "best_ratio": best[name_a] / best[name_b],
        "row": row.name,
        "title": row.title,
        name_a: med[name_a],
        name_b: med[name_b],
        "ratio": med[name_a] / med[name_b],
        "target": row.target,
        "measured": name_a,
        "baseline": name_b,
    }


def _once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def markdown(results: list) -> str:
    lines = [
        "| row | what | measured | baseline | ratio | ratio of the fastest rounds | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, b = r["measured"], r["baseline"]
        target = "" if r["target"] is None else f"<= {r['target']:g}x"
        verdict = ""
        if r["target"] is not None:
            verdict = " (met)" if r["ratio"] <= r["target"] else " (missed)"
        lines.append(
            f"| {r['row']} | {r['title']} | {a} {r[a] * 1e6:,.1f} µs | {b} {r[b] * 1e6:,.1f} µs "
            f"| {r['ratio']:.2f}x | {r['best_ratio']:.2f}x | {target}{verdict} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", help="comma-separated row names")
    args = parser.parse_args(argv)
    rows = ROWS if not args.only else [BY_ROW[n] for n in args.only.split(",")]
    results = []
    for row in rows:
        results.append(time_row(row, args.quick))
        print(f"{row.name}: {results[-1]['ratio']:.2f}x", file=sys.stderr)
    print(markdown(results))
    return 0


def tiny(row: ForwardRow) -> ForwardRow:
    """The row at toy size, for tests."""
    if row.kind == "jac":
        return dataclasses.replace(row, n_in=min(row.n_in, 6), n_out=min(row.n_out, 6))
    return row


if __name__ == "__main__":
    sys.exit(main())
