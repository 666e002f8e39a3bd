"""Adversarial threading: grad mode and anomaly mode are per thread, threads
training their own models agree with a single-threaded run bit for bit, and
no_grad inference in a worker keeps no graph.

``sys.setswitchinterval`` is lowered inside these tests so the interpreter
switches threads every few bytecodes, and barriers make the threads overlap.
"""

from __future__ import annotations

import gc
import sys
import threading
import tracemalloc
from contextlib import contextmanager

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.grad_mode import mode
from gradsight._core.node import Node


@contextmanager
def fast_switching(interval: float = 1e-6):
    saved = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)


def run_threads(target, n: int, *args) -> list:
    """Run target(i, *args) in n threads; return results; re-raise the first error."""
    results, errors = [None] * n, []

    def wrap(i):
        try:
            results[i] = target(i, *args)
        except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
            errors.append(err)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


# ------------------------------------------------------- thread-local modes
def test_no_grad_in_one_thread_never_leaks_into_another():
    inside = threading.Event()
    checked = threading.Event()
    seen = {}

    def worker():
        with gs.no_grad():
            inside.set()
            checked.wait(10)
            x = gs.tensor([1.0], requires_grad=True)
            seen["worker"] = (gs.is_grad_enabled(), (x * 2).requires_grad)
        seen["worker after"] = gs.is_grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(10)
    x = gs.tensor([1.0], requires_grad=True)
    seen["main"] = (gs.is_grad_enabled(), (x * 2).requires_grad)
    checked.set()
    t.join(10)
    assert seen == {"main": (True, True), "worker": (False, False), "worker after": True}


def test_new_threads_start_with_grad_on_even_when_spawned_under_no_grad():
    with gs.no_grad():
        (state,) = run_threads(lambda i: (gs.is_grad_enabled(), mode.anomaly), 1)
    assert state == (True, False)


def test_interleaved_no_grad_and_enable_grad_in_many_threads():
    """Eight threads nest no_grad/enable_grad (context managers and decorators)
    while switching constantly; each sees only its own state."""
    barrier = threading.Barrier(8)

    @gs.no_grad()
    def frozen(x):
        return (x * x).requires_grad

    def worker(i):
        x = gs.tensor([float(i)], requires_grad=True)
        barrier.wait()
        wrong = 0
        for step in range(300):
            if (i + step) % 2:
                with gs.no_grad():
                    wrong += (x + 1).requires_grad
                    with gs.enable_grad():
                        wrong += not (x + 1).requires_grad
                    wrong += gs.is_grad_enabled()
            else:
                wrong += frozen(x)
                wrong += not (x + 1).requires_grad
        return wrong

    with fast_switching():
        assert run_threads(worker, 8) == [0] * 8


def test_detect_anomaly_is_per_thread():
    inside = threading.Event()
    done = threading.Event()

    def worker():
        with gs.autograd.detect_anomaly():
            inside.set()
            done.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(10)
    x = gs.tensor([0.0], requires_grad=True)
    y = x.sqrt()  # made while the other thread is in anomaly mode: no trace here
    done.set()
    t.join(10)
    assert y.grad_fn.trace is None and mode.anomaly is False


# ------------------------------------------------------- training in threads
def _train(seed: int, steps: int = 60) -> list:
    """Train a 4-16-16-3 tanh MLP with SGD + momentum on its own data; return params."""
    nn = pytest.importorskip("gradsight.nn")
    optim = pytest.importorskip("gradsight.optim")
    rng = np.random.default_rng(seed)
    model = nn.MLP([4, 16, 16, 3], activation="tanh")
    model.load_state_dict(  # weights from this thread's own generator, not the global one
        {k: rng.normal(scale=0.5, size=v.shape) for k, v in model.state_dict().items()}
    )
    x = rng.normal(size=(32, 4))
    target = rng.integers(0, 3, size=32)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def test_four_threads_training_separate_models_match_single_threaded_bitwise():
    expected = [_train(seed) for seed in range(4)]
    barrier = threading.Barrier(4)

    def worker(i):
        barrier.wait()
        return _train(i)

    with fast_switching(1e-5):
        got = run_threads(worker, 4)
    for params_thread, params_single in zip(got, expected):
        for a, b in zip(params_thread, params_single):
            assert a.tobytes() == b.tobytes()


def test_concurrent_backward_into_a_shared_leaf_loses_nothing():
    """PyTorch locks gradient accumulation; four threads each adding 200 gradients
    of 2.0 into one shared weight must leave exactly 4 * 200 * 2.0."""
    w = gs.tensor(np.zeros((256, 256)), requires_grad=True)
    barrier = threading.Barrier(4)

    def worker(i):
        x = gs.tensor(np.ones((2, 256)))
        barrier.wait()
        for _ in range(200):
            (x @ w).sum().backward()

    with fast_switching():
        run_threads(worker, 4)
    np.testing.assert_array_equal(w.grad.data, np.full((256, 256), 4 * 200 * 2.0))


# ------------------------------------------------------- no_grad inference in a worker
def _live_nodes() -> int:
    gc.collect()
    objects = gc.get_objects()  # holds this frame: emptied below to break the cycle
    count = sum(1 for o in objects if issubclass(type(o), Node))
    objects.clear()
    return count


def test_no_grad_inference_in_a_worker_keeps_no_graph():
    rng = np.random.default_rng(0)
    w1 = gs.tensor(rng.normal(size=(32, 8)), requires_grad=True)
    w2 = gs.tensor(rng.normal(size=(4, 32)), requires_grad=True)
    x = rng.normal(size=(16, 8))

    def infer(_):
        outs = []
        with gs.no_grad():
            for _ in range(50):
                out = gs.linear(gs.linear(x, w1).tanh(), w2).softmax(axis=-1)
                outs.append((out.requires_grad, out.grad_fn, out.is_leaf))
        return outs

    before = _live_nodes()
    (outs,) = run_threads(infer, 1)
    assert all(o == (False, None, True) for o in outs)
    assert _live_nodes() == before
    assert w1.grad is None and w2.grad is None


def test_no_grad_inference_in_a_worker_keeps_memory_flat():
    rng = np.random.default_rng(1)
    w = gs.tensor(rng.normal(size=(64, 64)), requires_grad=True)
    x = rng.normal(size=(32, 64))
    kept = []

    def infer(_, steps):
        with gs.no_grad():
            for _ in range(steps):
                kept.append(float((gs.linear(x, w).tanh() * 2.0).sum().item()))

    run_threads(infer, 1, 20)  # warm-up: caches, interned objects
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        run_threads(infer, 1, 500)
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    # 500 floats appended (~20 kB with list growth); a kept graph would be ~50 kB per step
    assert growth < 200_000, f"memory grew by {growth} bytes over 500 no_grad steps"
