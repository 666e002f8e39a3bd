"""Adversarial resources: 100,000-op graphs, dropping deep graphs, memory over
1,000 training steps.

No timings here: the "linear in size" claim is measured by
benchmarks/scaling_adversarial.py (10k vs 100k chain and fan-in). These tests
check that deep and wide graphs give exact gradients without recursion,
that dropping them frees them without a crash (in a subprocess, so a crash
fails the test instead of killing the run), and that training keeps memory
and the number of live graph objects flat.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.node import Node
from gradsight._core.tensor import Tensor

N = 100_000
SRC = str(Path(__file__).resolve().parents[2] / "src")


# ------------------------------------------------------- deep and wide graphs
def test_100k_op_chain_gives_the_exact_gradient_without_recursion():
    limit = sys.getrecursionlimit()
    x = gs.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(N):
        y = y * 1.0000001
    y.backward()
    assert sys.getrecursionlimit() == limit
    np.testing.assert_allclose(x.grad.item(), 1.0000001**N, rtol=1e-12)


def test_100k_term_fan_in_sum_counts_every_term_once():
    x = gs.tensor(2.0, requires_grad=True)
    leaves = [gs.tensor(float(i), requires_grad=True) for i in range(N)]
    total = x * 0.5
    for leaf in leaves:
        total = total + leaf * x  # x is used 100,001 times, each leaf once
    total.backward()
    assert x.grad.item() == 0.5 + N * (N - 1) / 2
    assert all(leaf.grad.item() == 2.0 for leaf in leaves)


def test_one_node_with_100k_consumers():
    x = gs.tensor(np.arange(3.0), requires_grad=True)
    s = x.exp()  # one node feeding 100,000 others
    y = s * 0.0
    for k in range(1, N):
        y = y + s * float(k)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(np.arange(3.0)) * (N * (N - 1) / 2), rtol=1e-12)


def test_graph_introspection_on_a_100k_chain_is_iterative():
    x = gs.tensor(2.0, requires_grad=True)
    y = x
    for _ in range(N):
        y = y + 1.0
    nodes = gs.autograd.graph_nodes(y)
    assert len(nodes) == N + 1 and nodes[-1].name == "AccumulateGrad"
    steps = gs.autograd.trace_backward(y)
    assert len(steps) == N + 1 and x.grad is None
    y.backward()
    assert x.grad.item() == 1.0


_DROP = """
import sys, threading, weakref
sys.path.insert(0, {src!r})
import gradsight as gs

def build_and_drop():
    x = gs.tensor(1.0, requires_grad=True)
    y = x
    for _ in range({n}):
        y = y * 1.0
    ref = weakref.ref(y.grad_fn)
    del y  # {n} nodes released by reference counting, no backward
    assert ref() is None, "graph still alive"
    print("dropped")

build_and_drop()
threading.stack_size(256 * 1024)  # a small thread stack: deep recursive frees would crash
t = threading.Thread(target=build_and_drop)
t.start()
t.join()
"""


def test_dropping_a_deep_graph_frees_it_without_a_crash():
    code = _DROP.format(src=SRC, n=N)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONFAULTHANDLER="1"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["dropped", "dropped"]


def test_backward_frees_saved_arrays_as_it_goes():
    x = gs.tensor(np.ones(1000), requires_grad=True)
    mid = x.exp()
    out = (mid * 2.0).sum()
    node, ref = mid.grad_fn, weakref.ref(mid)
    out.backward()
    assert node.args is None and node.out is None  # saved arrays released
    del mid
    assert ref() is None


# ------------------------------------------------------- memory over training
def _count_live() -> tuple:
    """Live Tensors and Nodes. issubclass(type(o), ...) rather than isinstance: some
    objects warn when asked for .__class__. The list holds this very frame, a cycle
    the disabled collector would never break, so it is emptied before returning."""
    objects = gc.get_objects()
    counts = tuple(sum(1 for o in objects if issubclass(type(o), c)) for c in (Tensor, Node))
    objects.clear()
    return counts


def test_1000_training_steps_keep_memory_and_graph_objects_flat():
    """Memory is read with tracemalloc after 100 warm-up steps and after 1,000.
    Interpreter free lists fill up during the run (about 150 kB here), hence the
    generous 1 MB bound; one step's kept graph is about 200 kB, so a leak of
    graphs would show as some 180 MB. The cycle collector is off throughout:
    graphs must be freed by reference counting alone (no reference cycles)."""
    nn = pytest.importorskip("gradsight.nn")
    optim = pytest.importorskip("gradsight.optim")
    gs.manual_seed(0)
    model = nn.MLP([8, 32, 32, 4], activation="tanh")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x, target = rng.normal(size=(64, 8)), rng.integers(0, 4, size=64)
    loss_fn = nn.CrossEntropyLoss()
    losses = []

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())

    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(100):
            step()
        mem_warm, objects_warm = tracemalloc.get_traced_memory()[0], _count_live()
        for _ in range(900):
            step()
        mem_end, objects_end = tracemalloc.get_traced_memory()[0], _count_live()
    finally:
        tracemalloc.stop()
        gc.enable()
    losses_kept = len(losses) * 64  # the floats we appended on purpose
    assert objects_end == objects_warm, (objects_warm, objects_end)
    assert mem_end - mem_warm < 1_000_000 + losses_kept, mem_end - mem_warm
    assert losses[-1] < losses[0]  # it did train
