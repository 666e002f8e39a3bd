"""The backward pass: shared sub-expressions, accumulation, retain_graph, hooks,
detach, dtypes, deep graphs, freeing memory, and thread-local grad mode."""

from __future__ import annotations

import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import gradsight as gs


def leaf(values, dtype=None):
    return gs.tensor(values, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------- graph shapes
def test_shared_subexpression_counts_once_per_use():
    a = leaf(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_diamond():
    """y = (2x) * (3x) = 6x^2, dy/dx = 12x: two paths from x meet again."""
    x = leaf([1.0, -2.0])
    left, right = x * 2, x * 3
    (left * right).sum().backward()
    assert x.grad.tolist() == [12.0, -24.0]


def test_stacked_diamonds_with_reused_intermediates():
    """h = x^2; y = (h + h) * h + h = 2x^4 + x^2; dy/dx = 8x^3 + 2x."""
    x = leaf([0.5, 1.5, -1.0])
    h = x * x
    y = (h + h) * h + h
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 8 * x.data**3 + 2 * x.data, rtol=1e-15)


def test_same_tensor_as_both_operands():
    x = leaf([3.0])
    (x * x).backward(gs.ones(1))
    assert x.grad.tolist() == [6.0]


def test_inputs_without_requires_grad_get_no_grad():
    x = leaf([1.0, 2.0])
    c = gs.tensor([5.0, 7.0])
    (x * c).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0] and c.grad is None


def test_grad_fn_names_and_leaves():
    x = leaf([1.0])
    y = (x * 2).exp()
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn.name == "ExpBackward"
    assert (x * 2).grad_fn.name == "MulBackward"
    assert (x + 1).grad_fn.name == "AddBackward"


def test_non_scalar_backward_with_gradient():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(gradient=np.array([1.0, 0.5, -1.0]))
    assert x.grad.tolist() == [2.0, 2.0, -6.0]


# ---------------------------------------------------------------- accumulation
def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [3 + 2.0, 3 + 4.0]


def test_retain_graph_twice_doubles():
    x = leaf([1.0, 2.0])
    y = (x**3).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [6.0, 24.0]


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward()
    assert y.grad_fn.args is None  # saved arrays released
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(x.data))  # unchanged by the failure


def test_grad_does_not_alias_the_gradient_passed_in():
    x = leaf([1.0, 2.0])
    g = np.array([5.0, 6.0])
    (x * 1.0).backward(g)
    assert not np.shares_memory(x.grad.data, g)
    g[0] = 100.0
    assert x.grad.tolist() == [5.0, 6.0]


def test_grads_of_two_leaves_do_not_alias_each_other():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)


def test_failed_backward_leaves_grad_unchanged():
    """z's gradient is complete before the hook on y fails; it must not be written."""
    x, z = leaf([1.0, 2.0]), leaf([1.0, 1.0])
    (z * 2).sum().backward()
    y = x * 3

    def boom(grad):
        raise ValueError("hook failure")

    y.register_hook(boom)
    for loss in ((y + z).sum(), (z + y).sum()):  # either processing order
        with pytest.raises(ValueError, match="hook failure"):
            loss.backward()
        assert z.grad.tolist() == [2.0, 2.0] and x.grad is None


# ---------------------------------------------------------------- hooks
def test_leaf_hook_sees_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [3.0, 3.0]


def test_leaf_hook_replacement_is_stored():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [30.0, 30.0]


def test_intermediate_hook_replacement_flows_upstream():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.register_hook(lambda g: gs.zeros_like(g) + 1.0)  # overwrite d/dh with ones
    (h * h).sum().backward()  # true d/dh = 2h
    assert x.grad.tolist() == [2.0, 2.0]


def test_hooks_run_in_order_and_chain():
    x = leaf([1.0])
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [30.0]


def test_removed_hook_does_not_run():
    x = leaf([1.0])
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0]


def test_hook_gets_a_private_read_only_gradient():
    """A hook can neither write into a gradient other branches share nor alias .grad."""
    x = leaf([1.0, 2.0])
    kept = []

    def hook(g):
        kept.append(g)
        with pytest.raises(ValueError):
            g.data[0] = 99.0

    x.register_hook(hook)
    h = x * 1.0
    h.register_hook(hook)
    (h + h).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert not np.shares_memory(kept[-1].data, x.grad.data)


def test_hook_returning_wrong_shape_raises():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.register_hook(lambda g: gs.zeros(3))
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
        h.sum().backward()


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gs.tensor([1.0]).register_hook(lambda g: g)


# ---------------------------------------------------------------- detach, requires_grad_
def test_detach_shares_data_and_blocks_gradient():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    y = x * d
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]  # d treated as a constant
    assert np.shares_memory(x.detach().data, x.data)


def test_requires_grad_toggle():
    x = gs.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    x.requires_grad_(False)
    assert (x * 2).grad_fn is None


def test_requires_grad_on_non_leaf_raises():
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


# ---------------------------------------------------------------- dtypes
def test_gradient_dtype_and_shape_follow_each_parameter():
    w32 = leaf(np.ones((3, 2)), dtype=np.float32)
    b64 = leaf([0.5, -0.5])
    x = gs.tensor(np.arange(6.0).reshape(2, 3))  # float64 data
    out = (x @ w32 + b64).tanh()  # float32 @ float64 promotes to float64
    assert out.dtype == np.float64
    out.sum().backward()
    assert w32.grad.dtype == np.float32 and w32.grad.shape == (3, 2)
    assert b64.grad.dtype == np.float64 and b64.grad.shape == (2,)


def test_float32_chain_keeps_float32_grad():
    w = leaf([[1.0, 2.0]], dtype="float32")
    y = (w * 3.0).exp().sum()
    y.backward()
    assert w.grad.dtype == np.float32 and w.grad.shape == (1, 2)
    np.testing.assert_allclose(w.grad.data, 3 * np.exp(3 * w.data), rtol=1e-6)


def test_astype_sends_gradient_back_in_the_source_dtype():
    x = leaf([1.0, 2.0], dtype=np.float32)
    (x.astype(np.float64) * 2).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 2.0]


# ---------------------------------------------------------------- deep graphs
N_DEEP = 100_000


@pytest.fixture
def no_recursion_limit_changes(monkeypatch):
    calls = []
    monkeypatch.setattr(sys, "setrecursionlimit", lambda n: calls.append(n))
    before = sys.getrecursionlimit()
    yield
    assert calls == [], f"the engine called sys.setrecursionlimit({calls})"
    assert sys.getrecursionlimit() == before


def test_100k_op_chain_exact_gradient(no_recursion_limit_changes):
    """y = x + x + ... (100,001 terms, a 100,000-deep chain): dy/dx = 100,001 exactly."""
    x = leaf(0.25)
    y = x
    for _ in range(N_DEEP):
        y = y + x
    y.backward()
    assert x.grad.item() == N_DEEP + 1
    del y  # tearing down a 100k-deep chain must not overflow the C stack either


def test_100k_op_chain_of_products(no_recursion_limit_changes):
    """y = x * c * c * ... with c = -1: dy/dx = (-1)^N, every step on the path."""
    x = leaf([2.0, 3.0])
    y = x
    for _ in range(N_DEEP - 1):
        y = y * -1.0
    y.sum().backward()
    assert x.grad.tolist() == [-1.0, -1.0]


def test_deep_chain_with_create_graph(no_recursion_limit_changes):
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0 + x * 0.0
    (g,) = gs.autograd.grad(y, x, create_graph=True)
    assert g.item() == 1.0


# ---------------------------------------------------------------- memory
def test_intermediate_is_freed_after_backward():
    gc_was_enabled = gc.isenabled()
    gc.disable()  # freed by reference counting alone: the graph holds no cycles
    try:
        x = leaf(np.ones(1000))
        h = x.exp()
        tensor_ref, array_ref = weakref.ref(h), weakref.ref(h.data)
        y = (h * h).sum()
        y.backward()
        del h
        assert tensor_ref() is None
        assert array_ref() is None, "backward without retain_graph kept the saved array"
        assert y.grad_fn is not None  # the root (and its now empty graph) still alive
    finally:
        if gc_was_enabled:
            gc.enable()


def test_retain_graph_keeps_saved_arrays_until_the_graph_goes():
    x = leaf(np.ones(10))
    h = x.exp()
    array_ref = weakref.ref(h.data)
    y = (h * h).sum()
    y.backward(retain_graph=True)
    del h
    assert array_ref() is not None  # still needed for another backward
    y.backward()
    assert array_ref() is None


def test_dropping_an_unused_graph_frees_it():
    x = leaf(np.ones(10))
    y = (x.exp() * 2).sum()
    node_ref = weakref.ref(y.grad_fn)
    del y
    assert node_ref() is None


# ---------------------------------------------------------------- in place and saved values
def test_inplace_update_after_forward_is_refused_by_backward_not_used():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    with gs.no_grad():
        x.mul_(10.0)  # a manual update between forward and backward
    assert x.tolist() == [10.0, 20.0]
    with pytest.raises(RuntimeError, match="modified by an in-place write"):
        y.backward()  # the saved x changed: refused, never computed with the new values
    assert x.grad is None


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        x.add_(1.0)
    with gs.no_grad():
        x -= 0.5
        x[0] = x.data[0] * 2
    assert x.tolist() == [1.0] and x.requires_grad and x.is_leaf


# ---------------------------------------------------------------- grad mode
def test_no_grad_and_enable_grad_nest():
    x = leaf([1.0])
    with gs.no_grad():
        assert not gs.is_grad_enabled()
        assert (x * 2).grad_fn is None
        with gs.enable_grad():
            assert gs.is_grad_enabled()
            assert (x * 2).grad_fn is not None
        assert not gs.is_grad_enabled()
    assert gs.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(KeyError):
        with gs.no_grad():
            raise KeyError("x")
    assert gs.is_grad_enabled()
    with gs.no_grad():
        with pytest.raises(KeyError):
            with gs.enable_grad():
                raise KeyError("x")
        assert not gs.is_grad_enabled()


def test_no_grad_as_decorator():
    @gs.no_grad()
    def step(x):
        assert not gs.is_grad_enabled()
        return x * 2

    @gs.no_grad()
    def fails():
        raise ValueError("inside")

    x = leaf([1.0])
    assert step(x).grad_fn is None and step.__name__ == "step"
    assert gs.is_grad_enabled()
    with pytest.raises(ValueError):
        fails()
    assert gs.is_grad_enabled()


def test_enable_grad_as_decorator_inside_no_grad():
    @gs.enable_grad()
    def record(x):
        return x * 2

    with gs.no_grad():
        assert record(leaf([1.0])).grad_fn is not None
        assert not gs.is_grad_enabled()


def test_no_grad_is_thread_local():
    """Thread A sits inside no_grad while thread B records a graph, and vice versa."""
    barrier = threading.Barrier(2, timeout=10)
    results = {}
    errors = []

    def thread_a():
        try:
            with gs.no_grad():
                barrier.wait()  # 1: A is inside no_grad
                barrier.wait()  # 2: B has checked its own mode
                results["a_inside"] = gs.is_grad_enabled()
                results["a_records"] = (leaf([1.0]) * 2).grad_fn is not None
            results["a_after"] = gs.is_grad_enabled()
            barrier.wait()  # 3: A has left no_grad
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
            barrier.abort()

    def thread_b():
        try:
            barrier.wait()  # 1
            results["b_while_a_in_no_grad"] = gs.is_grad_enabled()
            results["b_records"] = (leaf([1.0]) * 2).grad_fn is not None
            barrier.wait()  # 2
            barrier.wait()  # 3
            results["b_end"] = gs.is_grad_enabled()
        except Exception as err:  # pragma: no cover
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors
    assert results == {
        "a_inside": False,
        "a_records": False,
        "a_after": True,
        "b_while_a_in_no_grad": True,
        "b_records": True,
        "b_end": True,
    }


def test_new_thread_starts_with_grad_enabled_while_main_is_in_no_grad():
    seen = []
    with gs.no_grad():
        t = threading.Thread(target=lambda: seen.append(gs.is_grad_enabled()))
        t.start()
        t.join()
        assert not gs.is_grad_enabled()
    assert seen == [True]


def test_plain_switch_is_off_exactly_while_some_thread_leaves_the_default():
    """grad_mode.plain.on lets ops skip the thread-local lookup; it must never be
    True while any thread is in no_grad or detect_anomaly, and must come back."""
    from gradsight._core.grad_mode import plain

    assert plain.on
    with gs.no_grad():
        assert not plain.on
        with gs.enable_grad():
            assert plain.on  # this thread is back in the default state
        assert not plain.on
    assert plain.on
    with pytest.raises(ZeroDivisionError):
        with gs.no_grad():
            raise ZeroDivisionError
    assert plain.on
    with gs.autograd.detect_anomaly():
        assert not plain.on
    assert plain.on
    inside = threading.Event()
    release = threading.Event()

    def other():
        with gs.no_grad():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    try:
        assert not plain.on  # another thread's no_grad turns it off here too
        y = leaf([1.0, 2.0]).tanh() * 2.0  # ... and this thread still records
        assert y.grad_fn is not None and y.grad_fn.parents[0].name == "TanhBackward"
    finally:
        release.set()
        t.join(10)
    assert plain.on


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x * 2.0,
        lambda x: 2.0 * x,
        lambda x: x - x,
        lambda x: 1.0 / (x + 3.0),
        lambda x: x**2,
        lambda x: 2.0**x,
        lambda x: x.tanh(),
        lambda x: -x,
        lambda x: x.exp(),
        lambda x: abs(x),
        lambda x: x.sigmoid(),
        lambda x: x.relu(),
        lambda x: x.reshape(2, 1) @ x.reshape(1, 2),
    ],
)
def test_operator_methods_record_only_in_grad_mode_and_trace_under_anomaly(make):
    from gradsight._core.engine import _user_frame

    x = leaf([0.5, 1.5])
    assert make(x).grad_fn is not None
    with gs.no_grad():
        assert make(x).grad_fn is None and not make(x).requires_grad
    with gs.autograd.detect_anomaly():
        node = make(x).grad_fn
    assert node.trace is not None and _user_frame(node.trace).filename == __file__


def test_hooks_run_without_recording_and_grad_mode_is_restored_after():
    """Backward runs hooks (user code) with grad mode off, as PyTorch does, and
    gives the caller back its mode, also when a hook raises."""
    seen = []
    x = leaf([1.0, 2.0])
    y = x * 3.0

    def hook(grad):
        seen.append((gs.is_grad_enabled(), (grad * x).requires_grad))

    y.register_hook(hook)
    x.register_hook(hook)
    (y * y).sum().backward()
    assert seen == [(False, False), (False, False)]
    assert gs.is_grad_enabled()

    z = leaf([1.0]) * 2.0
    z.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        z.sum().backward()
    assert gs.is_grad_enabled()
    with gs.no_grad():
        w = leaf([1.0])
    with gs.enable_grad():
        (w * 2.0).sum().backward()
    assert gs.is_grad_enabled()


def test_node_parents_for_one_two_three_and_any_number_of_inputs():
    """Nodes keep one or two parents inline (node.py); ``parents`` and
    ``next_functions`` give the same tuples whatever the arity."""
    x, w, b = leaf([[1.0, 2.0]]), leaf([[1.0, 0.0], [0.0, 1.0]]), leaf([0.5, 0.5])

    def var(p):
        return None if p is None else p.variable

    assert [var(p) for p in x.tanh().grad_fn.parents] == [x]
    assert [var(p) for p in (x * 2.0).grad_fn.parents] == [x, None]
    assert [var(p) for p in (2.0 - x).grad_fn.parents] == [None, x]
    assert [var(p) for p in (x @ w).grad_fn.next_functions] == [x, w]
    lin = gs.nn.functional.linear(gs.tensor([[1.0, 2.0]]), w, b).grad_fn
    assert [var(p) for p in lin.parents] == [None, w, b]
    cat = gs.concatenate([x, x * 2.0, gs.tensor([[3.0, 4.0]])], axis=0).grad_fn
    assert [var(p) if p is not None and p.prim is None else p for p in cat.parents][0] is x
    assert cat.parents[1].name == "MulBackward" and cat.parents[2] is None
    nodes = gs.autograd.graph_nodes((x.tanh() * x).sum())
    leaves = [n for n in nodes if n.prim is None]
    assert [n.variable for n in leaves] == [x] and leaves[0].parents == ()
    assert sorted(len(n.parents) for n in nodes) == [0, 1, 1, 2]


# ---------------------------------------------------------------- the collector pause
def _chain_loss(n):
    x = gs.tensor([0.5, 1.5], requires_grad=True)
    h = x
    for _ in range(n):
        h = h * 1.0
    return x, h.sum()


@pytest.mark.parametrize("enabled_before", [True, False])
def test_a_large_backward_restores_the_collectors_state(enabled_before):
    import gc

    from gradsight._core.engine import GC_PAUSE_NODES

    x, loss = _chain_loss(GC_PAUSE_NODES + 10)
    (gc.enable if enabled_before else gc.disable)()
    try:
        loss.backward()
        assert gc.isenabled() is enabled_before
        np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
        _, loss = _chain_loss(GC_PAUSE_NODES + 10)
        loss.backward()
        with pytest.raises(RuntimeError, match="retain_graph"):
            loss.backward()  # fails inside the paused section
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()


def test_no_grad_decorates_with_and_without_parentheses():
    @gs.no_grad
    def bare():
        return gs.is_grad_enabled()

    @gs.no_grad()
    def called():
        return gs.is_grad_enabled()

    assert bare() is False and called() is False and gs.is_grad_enabled() is True


def test_trained_model_and_optimizer_pickle_and_keep_training():
    # backward leaves a weak reference (the leaf's graph node) on every parameter;
    # pickling a trained model failed with "cannot pickle 'weakref.ReferenceType'"
    import pickle

    gs.manual_seed(0)
    model = gs.nn.MLP([3, 4, 2])
    opt = gs.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = gs.tensor(np.linspace(-1, 1, 6).reshape(2, 3))

    def step(m, o):
        o.zero_grad()
        (m(x) ** 2).sum().backward()
        o.step()

    step(model, opt)
    model2, opt2 = pickle.loads(pickle.dumps((model, opt)))  # noqa: S301 - our own bytes
    assert opt2.param_groups[0]["params"][0] is next(iter(model2.parameters()))
    step(model, opt)
    step(model2, opt2)  # the momentum state came along: the same second step
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
