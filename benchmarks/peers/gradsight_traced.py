"""gradsight with gs.trace: the gradsight peer's steps, traced once and then replayed.

Verification is off (``verify=False``, whatever GRADSIGHT_TRACE_VERIFY says): the
rows time the replay alone. The traced function returns the loss Tensor (reading
it with .item() happens outside, after the replay); the first call traces, and its
duration is the row's tracing cost (``Runner.info["trace_s"]``).
"""

from __future__ import annotations

import time

import gradsight as gs
from benchmarks.peers import Runner
from benchmarks.peers.gradsight_impl import mlp_parts
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op


def version() -> str:
    return gs.__version__


def build(w: Workload, data: dict) -> Runner:
    if w.kind == "mlp":
        return _mlp(w, data)
    if w.kind == "chain":
        return _chain(w, data)
    raise ValueError(f"no traced version of the {w.kind} workload")


def _timed_first(traced, info: dict):
    """step() for the harness: the first call's time is the cost of tracing."""

    def step() -> float:
        if "trace_s" not in info:
            t0 = time.perf_counter()
            loss = traced()
            info["trace_s"] = time.perf_counter() - t0
        else:
            loss = traced()
        return loss.item()

    return step


def _mlp(w: Workload, data: dict) -> Runner:
    model, x, y, loss_fn, opt = mlp_parts(w, data)
    params = list(model.parameters())

    def train_step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    info: dict = {}
    runner = Runner(
        _timed_first(gs.trace(train_step, verify=False), info),
        lambda: [p.grad.numpy() for p in params],
    )
    runner.info = info
    return runner


def _chain(w: Workload, data: dict) -> Runner:
    x = gs.tensor(data["x"], requires_grad=True)
    ops = [chain_op(i) for i in range(w.n_ops)]

    def chain_step():
        x.grad = None
        h = x
        for op in ops:
            if op == "mul":
                h = h * CHAIN_MUL
            elif op == "add":
                h = h + CHAIN_ADD
            else:
                h = h.tanh()
        out = h.sum()
        out.backward()
        return out

    info: dict = {}
    runner = Runner(
        _timed_first(gs.trace(chain_step, verify=False), info), lambda: [x.grad.numpy()], info
    )
    return runner
