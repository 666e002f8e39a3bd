"""The idiomatic manual update: reflected operators, in-place methods, grad-mode contexts."""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.grad_mode import mode, plain


@pytest.mark.parametrize(
    "expr, grad",
    [
        (lambda x: 0.5 * x, lambda x: np.full_like(x, 0.5)),
        (lambda x: 2.0 - x, lambda x: -np.ones_like(x)),
        (lambda x: 3.0 / x, lambda x: -3.0 / x**2),
        (lambda x: 2.0**x, lambda x: np.log(2.0) * 2.0**x),
        (lambda x: np.array([1.0, 2.0, 3.0]) * x, lambda x: np.array([1.0, 2.0, 3.0])),
        (lambda x: np.eye(3) @ x, lambda x: np.ones_like(x)),
    ],
    ids=["rmul", "rsub", "rtruediv", "rpow", "ndarray-rmul", "ndarray-rmatmul"],
)
def test_reflected_operators_value_and_gradient(expr, grad):
    x = gs.tensor([0.5, 1.5, 2.5], requires_grad=True)
    out = expr(x)
    np.testing.assert_array_equal(out.numpy(), expr(x.numpy()))
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), grad(x.numpy()), rtol=1e-12)
    assert out.grad_fn.next_functions[0] is None  # the left operand needs no gradient


def test_reflected_method_called_with_a_tensor_tracks_both_sides():
    a = gs.tensor([1.0, 2.0], requires_grad=True)
    b = gs.tensor([3.0, 4.0], requires_grad=True)
    out = b.__rmul__(a)  # a * b
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_reflected_operator_without_grad_records_nothing():
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    with gs.no_grad():
        y = 0.5 * x
    assert y.grad_fn is None and not y.requires_grad


def test_manual_update_equals_sgd_step_bit_for_bit():
    rng = np.random.default_rng(0)
    w0, g0 = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    p, q = gs.nn.Parameter(w0.copy()), gs.nn.Parameter(w0.copy())
    p.grad, q.grad = gs.tensor(g0), gs.tensor(g0)
    with gs.no_grad():
        p.sub_(0.1 * p.grad)
    gs.optim.SGD([q], lr=0.1).step()
    np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_inplace_method_on_an_array_a_graph_saved_is_refused_at_backward():
    w = gs.nn.Parameter(np.array([1.0, 2.0]))
    y = (w * w).sum()  # the graph saved w's array
    saved = w.numpy()
    with gs.no_grad():
        w.sub_(gs.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(saved, [0.0, 1.0])  # written in place, as in PyTorch
    np.testing.assert_array_equal(w.numpy(), [0.0, 1.0])
    assert not w.numpy().flags.writeable
    with pytest.raises(RuntimeError, match="MulBackward.*modified by an in-place write"):
        y.backward()  # the values it saved changed: refused (PyTorch's version check)
    assert w.grad is None


def test_inplace_method_on_a_grad_tensor_in_grad_mode_is_refused():
    w = gs.nn.Parameter(np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="sub_: a leaf tensor that requires grad"):
        w.sub_(1.0)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_grad_mode_contexts_nest_and_restore():
    assert gs.is_grad_enabled() and plain.on
    with gs.no_grad():
        assert not gs.is_grad_enabled() and not plain.on
        with gs.no_grad():
            assert not gs.is_grad_enabled()
        with gs.enable_grad():
            assert gs.is_grad_enabled() and plain.on
        assert not gs.is_grad_enabled() and not plain.on
    assert gs.is_grad_enabled() and plain.on

    @gs.no_grad
    def f():
        return gs.is_grad_enabled()

    assert f() is False and gs.is_grad_enabled() and plain.on


def test_no_grad_in_one_thread_leaves_another_recording():
    inside, go = threading.Event(), threading.Event()

    def worker():
        with gs.no_grad():
            inside.set()
            go.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    try:
        assert not plain.on  # some thread is off the default state
        x = gs.tensor([1.0], requires_grad=True)
        assert (x * 2.0).grad_fn is not None and (0.5 * x).grad_fn is not None
    finally:
        go.set()
        t.join()
    assert plain.on


# ------------------------------------------------ grad-mode contexts, written out
def _state():
    return gs.is_grad_enabled(), mode.anomaly, plain.on


@pytest.mark.parametrize(
    "decorate, inner",
    [
        (gs.no_grad, False),
        (gs.no_grad(), False),
        (gs.enable_grad, True),
        (gs.enable_grad(), True),
    ],
    ids=["@no_grad", "@no_grad()", "@enable_grad", "@enable_grad()"],
)
@pytest.mark.parametrize("outer", [True, False], ids=["called-recording", "called-in-no_grad"])
def test_decorator_forms_set_the_mode_and_restore_it(decorate, inner, outer):
    @decorate
    def f(x, *, scale):
        """Doc kept."""
        return gs.is_grad_enabled(), mode.anomaly, (x * scale).requires_grad

    x = gs.tensor([1.0, 2.0], requires_grad=True)
    assert f.__name__ == "f" and f.__doc__ == "Doc kept."
    context = gs.enable_grad() if outer else gs.no_grad()
    with context:
        before = _state()
        assert f(x, scale=2.0) == (inner, False, inner)
        assert _state() == before
    assert _state() == (True, False, True)


def test_contexts_restore_the_mode_when_the_block_raises():
    with pytest.raises(KeyError):
        with gs.no_grad():
            raise KeyError("inside no_grad")
    assert _state() == (True, False, True)
    with gs.no_grad():
        with pytest.raises(KeyError):
            with gs.enable_grad():
                assert _state() == (True, False, True)
                raise KeyError("inside enable_grad")
        assert _state() == (False, False, False)
    assert _state() == (True, False, True)


def test_decorated_function_restores_the_mode_when_it_raises():
    @gs.no_grad
    def boom():
        assert not gs.is_grad_enabled()
        raise ValueError("inside a no_grad function")

    with pytest.raises(ValueError, match="inside a no_grad function"):
        boom()
    assert _state() == (True, False, True)


def test_random_nesting_of_every_mode_switch_keeps_the_fast_flag_exact():
    """A seeded random walk through nested no_grad / enable_grad (contexts and
    decorators) and detect_anomaly, checked at every step against a stack model:
    ``plain.on`` must be True exactly when this (only) thread is in the default
    state, and ops must record exactly when grad mode is on."""
    rng = np.random.default_rng(1234)
    x = gs.tensor([1.0], requires_grad=True)
    switches = {
        "no_grad": (gs.no_grad, False, None),
        "enable_grad": (gs.enable_grad, True, None),
        "anomaly": (gs.autograd.detect_anomaly, None, True),
    }
    model = [(True, False)]  # (grad enabled, anomaly) per nesting level

    def check():
        enabled, anomaly = model[-1]
        assert _state() == (enabled, anomaly, enabled and not anomaly)
        assert (x * 2.0).requires_grad is enabled and (0.5 * x).requires_grad is enabled

    def walk(depth):
        check()
        for _ in range(int(rng.integers(0, 3)) if depth < 6 else 0):
            name = list(switches)[int(rng.integers(0, 3))]
            ctx, enabled, anomaly = switches[name]
            enabled = model[-1][0] if enabled is None else enabled
            anomaly = model[-1][1] if anomaly is None else anomaly
            model.append((enabled, anomaly))
            if name != "anomaly" and rng.random() < 0.5:
                ctx(walk)(depth + 1)  # the decorator form
            else:
                with ctx():
                    walk(depth + 1)
            model.pop()
            check()

    for _ in range(30):
        walk(0)
    assert _state() == (True, False, True)


# ------------------------------------------------ in-place updates: into the array
def test_inplace_update_writes_into_an_array_nothing_else_holds():
    p = gs.nn.Parameter(np.array([1.0, 2.0, 3.0]))
    arr = weakref.ref(p.data)  # a weak reference does not count as an owner
    with gs.no_grad():
        p.sub_(0.5 * gs.tensor([2.0, 2.0, 2.0]))
        p -= 1.0
        p.mul_(2.0)
    assert arr() is p.data  # the same array, written in place
    np.testing.assert_array_equal(p.numpy(), [-2.0, 0.0, 2.0])
    assert not p.numpy().flags.writeable


def test_inplace_update_writes_through_to_a_detached_alias():
    p = gs.nn.Parameter(np.array([1.0, 2.0]))
    q = p.detach()  # shares p's array, as torch's detach shares storage
    with gs.no_grad():
        p.add_(gs.tensor([10.0, 10.0]))
    np.testing.assert_array_equal(q.numpy(), [11.0, 12.0])
    np.testing.assert_array_equal(p.numpy(), [11.0, 12.0])
    assert np.shares_memory(p.numpy(), q.numpy())
    assert not p.numpy().flags.writeable and not q.numpy().flags.writeable


def test_inplace_update_with_a_refused_cast_leaves_the_tensor_unchanged():
    t = gs.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="subtract"):
        t.sub_(0.5)  # NumPy refuses float64 -> int64 in place (same_kind casting)
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t.numpy(), [1, 2, 3])
    assert not t.numpy().flags.writeable


def test_tutorial_update_with_augmented_assignment_equals_sgd_step():
    rng = np.random.default_rng(5)
    w0, g0 = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    p, q = gs.nn.Parameter(w0.copy()), gs.nn.Parameter(w0.copy())
    p.grad, q.grad = gs.tensor(g0), gs.tensor(g0)
    same = p
    with gs.no_grad():
        p -= 0.1 * p.grad
    gs.optim.SGD([q], lr=0.1).step()
    assert p is same and p.is_leaf and p.requires_grad
    np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("first", ["with no_grad()", "@no_grad", "with enable_grad()"])
def test_a_threads_first_grad_mode_switch_starts_from_its_own_defaults(first):
    """The contexts read the thread's own switches directly; a thread whose
    first touch of grad mode is one of them starts recording, without anomaly
    mode, even while the main thread is inside no_grad."""
    x = gs.tensor([1.0], requires_grad=True)
    seen = {}

    def body():
        seen["inside"] = (gs.is_grad_enabled(), mode.anomaly, (x * 2.0).requires_grad)

    def worker():
        if first == "with no_grad()":
            with gs.no_grad():
                body()
        elif first == "@no_grad":
            gs.no_grad(body)()
        else:
            with gs.enable_grad():
                body()
        seen["after"] = (gs.is_grad_enabled(), mode.anomaly, (x * 2.0).requires_grad)

    with gs.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join(10)
        assert not gs.is_grad_enabled() and not plain.on
    recording = first == "with enable_grad()"
    assert seen == {"inside": (recording, False, recording), "after": (True, False, True)}
    assert _state() == (True, False, True)
