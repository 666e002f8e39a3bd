"""Where gradsight's step spends its time, phase by phase (``--breakdown NAME``).

mlp rows: zero_grad, forward (model(x)), loss, backward, optimizer step.
chain rows: forward (building the graph), backward. Each phase's cost is the
difference of medians of cumulative prefixes (zero_grad; + forward; + loss;
...), since a backward needs a fresh forward before it.

Every phase is measured twice, with Python's cycle collector on (as in real
use and in the harness, with everything alive beforehand frozen, see
harness.py) and off: the difference is what the collector costs that phase.
"""

from __future__ import annotations

import gc
import time

import numpy as np

from benchmarks.peers import gradsight_impl
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op, make_data

SECONDS_PER_PHASE = 0.5


def _median_time(fn) -> float:
    seconds = SECONDS_PER_PHASE
    fn()
    times, spent = [], 0.0
    while spent < seconds or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        times.append(t)
        spent += t
    return float(np.median(times))


def _prefixes(stages: list) -> list:
    """[(name, seconds with the collector on, seconds with it off)] from
    cumulative stage functions [(name, fn)]."""
    out, previous = [], [0.0, 0.0]
    gc.collect()
    gc.freeze()
    try:
        for name, fn in stages:
            totals = []
            for collector in (True, False):
                if not collector:
                    gc.disable()
                try:
                    totals.append(_median_time(fn))
                finally:
                    gc.enable()
            out.append((name, *(max(t - p, 0.0) for t, p in zip(totals, previous))))
            previous = totals
    finally:
        gc.unfreeze()
    return out


def mlp_phases(w: Workload) -> list:
    model, x, y, loss_fn, opt = gradsight_impl.mlp_parts(w, make_data(w))

    def zero():
        opt.zero_grad()

    def forward():
        zero()
        return model(x)

    def loss():
        return loss_fn(forward(), y)

    def backward():
        loss().backward()

    def step():
        backward()
        opt.step()

    return _prefixes(
        [
            ("zero_grad", zero),
            ("forward", forward),
            ("loss", loss),
            ("backward", backward),
            ("optimizer step", step),
        ]
    )


def chain_phases(w: Workload) -> list:
    import gradsight as gs

    x = gs.tensor(make_data(w)["x"], requires_grad=True)
    ops = [chain_op(i) for i in range(w.n_ops)]

    def forward():
        x.grad = None
        h = x
        for op in ops:
            h = h * CHAIN_MUL if op == "mul" else (h + CHAIN_ADD if op == "add" else h.tanh())
        return h.sum()

    def backward():
        forward().backward()

    return _prefixes([("forward", forward), ("backward", backward)])


def breakdown(w: Workload) -> list:
    if w.kind == "mlp":
        return mlp_phases(w)
    if w.kind == "chain":
        return chain_phases(w)
    raise ValueError(f"no phase breakdown for {w.kind} workloads")
