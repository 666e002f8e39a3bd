"""The idiomatic manual update: reflected operators, in-place methods, grad-mode contexts."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.grad_mode import plain


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


def test_inplace_method_copies_an_array_shared_with_a_graph():
    w = gs.nn.Parameter(np.array([1.0, 2.0]))
    y = (w * w).sum()  # the graph saved w's array
    saved = w.numpy()
    with gs.no_grad():
        w.sub_(gs.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(saved, [1.0, 2.0])  # copy-on-write: the graph's copy kept
    np.testing.assert_array_equal(w.numpy(), [0.0, 1.0])
    assert not w.numpy().flags.writeable
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])  # gradient at the old value


def test_inplace_method_on_a_grad_tensor_in_grad_mode_is_refused():
    w = gs.nn.Parameter(np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="sub_: a tensor that requires grad"):
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
