"""Is backprop linear in graph size? 10k vs 100k ops, for a chain and two fan-ins.

    PYTHONPATH=src python3 benchmarks/scaling_adversarial.py [--repeats 5] [--json out.json]

Workloads (n = 10,000 and 100,000):

- chain:        y = x; y = y * c, n times              (depth n, one path)
- fan-in sum:   s = sum of n leaves by chained +       (n leaves, each gets a gradient)
- fan-in node:  s = x.exp(); y = sum_k s * k, k < n    (one node receives n gradients)

For each, the graph is built (timed as "forward"), then ``backward()`` is timed
on its own, then dropping the graph (``del``) is timed. Each size is repeated
and the median and minimum are printed, with the cycle collector on (what users
get) and off (to show how much of any excess is the collector scanning the
many objects alive at 100k). A linear-time backward gives a 100k/10k ratio
near 10; the script prints that ratio and flags anything above 15.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time

import numpy as np

import gradsight as gs

SIZES = (10_000, 100_000)


def chain(n: int):
    x = gs.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0000001
    return y, [x]


def fan_in_sum(n: int):
    leaves = [gs.tensor(float(i), requires_grad=True) for i in range(n)]
    s = leaves[0]
    for t in leaves[1:]:
        s = s + t
    return s, leaves


def fan_in_node(n: int):
    x = gs.tensor(np.arange(3.0), requires_grad=True)
    s = x.exp()
    y = s * 0.0
    for k in range(1, n):
        y = y + s * float(k)
    return y.sum(), [x]


WORKLOADS = {"chain": chain, "fan-in sum": fan_in_sum, "fan-in node": fan_in_node}


def measure(build, n: int, collector: bool) -> dict:
    """Seconds for forward (build), backward and dropping the graph, one run."""
    gc.collect()
    if not collector:
        gc.disable()
    try:
        t0 = time.perf_counter()
        root, keep = build(n)
        t1 = time.perf_counter()
        root.backward()
        t2 = time.perf_counter()
        del root, keep
        t3 = time.perf_counter()
    finally:
        gc.enable()
    return {"forward": t1 - t0, "backward": t2 - t1, "drop": t3 - t2}


def run(repeats: int) -> dict:
    results = {}
    for name, build in WORKLOADS.items():
        for collector in (True, False):
            key = f"{name} (gc {'on' if collector else 'off'})"
            measure(build, SIZES[0], collector)  # warm-up
            per_size = {}
            for n in SIZES:
                runs = [measure(build, n, collector) for _ in range(repeats)]
                per_size[n] = {
                    phase: {
                        "median": statistics.median(r[phase] for r in runs),
                        "min": min(r[phase] for r in runs),
                    }
                    for phase in ("forward", "backward", "drop")
                }
            results[key] = per_size
    return results


def report(results: dict) -> str:
    small, big = SIZES
    lines = [
        f"gradsight {gs.__version__}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, {platform.machine()}",
        f"{'workload':<24}{'phase':<10}{small:>12,}{big:>12,}{'ratio':>8}  (median s)",
    ]
    for key, per_size in results.items():
        for phase in ("forward", "backward", "drop"):
            a, b = per_size[small][phase]["median"], per_size[big][phase]["median"]
            ratio = b / a if a > 0 else float("inf")
            flag = "  <- above 15: not linear" if phase == "backward" and ratio > 15 else ""
            lines.append(f"{key:<24}{phase:<10}{a:>12.4f}{b:>12.4f}{ratio:>8.1f}{flag}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per size (default 5)")
    parser.add_argument("--json", help="also write the raw numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    results = run(args.repeats)
    print(report(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {k: {str(n): v for n, v in r.items()} for k, r in results.items()}, f, indent=2
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
