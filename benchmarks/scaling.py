"""How cost grows with graph size and with tensor size (the chain workload).

graph: chains of ``GRAPH_SIZES`` ops on 64 floats; a linear engine shows a
flat time per op. tensor: a chain of ``TENSOR_OPS`` ops on vectors of
``TENSOR_SIZES`` floats; time per op is flat while per-op overhead dominates
and grows with the size once the arithmetic does.
"""

from __future__ import annotations

import dataclasses

from benchmarks.harness import Settings, build_and_check, time_peers
from benchmarks.workloads import BY_NAME

GRAPH_SIZES = (300, 1_000, 3_000, 10_000, 30_000, 100_000)
TENSOR_SIZES = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
TENSOR_OPS = 60
PEERS = ("numpy", "gradsight", "torch")


def run_scaling(keys, quick: bool = False, log=print) -> dict:
    """{"graph": {peer: [(n_ops, s/op)]}, "tensor": {peer: [(width, s/op)]}, ...}."""
    settings = Settings(
        quick=quick, sample_s=0.01, warmup_s=0.02, time_cap_s=3.0, min_samples=3, settle_s=0.1
    )
    base = dataclasses.replace(BY_NAME["chain_3k"], repeats=5, quick_repeats=3)
    variants = {
        "graph": [dataclasses.replace(base, n_ops=n) for n in GRAPH_SIZES],
        "tensor": [dataclasses.replace(base, n_ops=TENSOR_OPS, width=m) for m in TENSOR_SIZES],
    }
    out = {
        "describe": "chain workload, forward + backward, median time per op",
        "tensor_ops": TENSOR_OPS,
    }
    for part, workloads in variants.items():
        out[part] = {k: [] for k in keys}
        for w in workloads:
            log(f"scaling {part}: {w.n_ops} ops on {w.width} floats")
            runners, results = build_and_check(w, keys)
            time_peers(w, runners, results, settings, log)
            for k in keys:
                if results[k].median is not None:
                    size = w.n_ops if part == "graph" else w.width
                    out[part][k].append((size, results[k].median / w.n_ops))
    return out
