"""Adversarial engine and graph cases: mutation of saved arrays, in-place ops,
shared sub-expressions, aliasing, custom ops with bad gradients, anomaly mode.

Each test states the attack and the behaviour gradsight promises; the
conventions are listed in docs/reliability.md.
"""

from __future__ import annotations

import inspect
import sys
import textwrap

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.node import Primitive, apply1


def leaf(values, dtype=np.float64) -> gs.Tensor:
    return gs.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------- saved arrays are protected
WRITES = {
    "setitem": lambda a: a.__setitem__(0, 9.0),
    "ufunc out=": lambda a: np.add(a, 1.0, out=a),
    "copyto": lambda a: np.copyto(a, 9.0),
    "fill": lambda a: a.fill(9.0),
    "sort": lambda a: a.sort(),
    "iadd": lambda a: a.__iadd__(1.0),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_writing_into_a_saved_output_is_refused(write):
    """y = x.exp(); y.data[0] = 9 would corrupt ExpBackward (it reuses its output)."""
    x = leaf([0.5, -1.0, 2.0])
    y = x.exp()
    with pytest.raises(ValueError, match="read-only"):
        write(y.data)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp([0.5, -1.0, 2.0]), rtol=1e-15)


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_writing_into_an_input_after_forward_is_refused(write):
    """MulBackward saved x itself; writing into x.data after forward is refused."""
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x).sum()
    for array in (x.data, x.numpy(), np.asarray(x.detach())):
        with pytest.raises(ValueError, match="read-only"):
            write(array)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])


def test_gradients_and_results_are_read_only_too():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (g,) = gs.autograd.grad((x * x).sum(), x)
    for array in (x.grad.data, g.data):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


INPLACE = {
    "setitem": lambda t: t.__setitem__(0, 100.0),
    "add_": lambda t: t.add_(100.0),
    "sub_": lambda t: t.sub_(100.0),
    "mul_": lambda t: t.mul_(100.0),
    "div_": lambda t: t.div_(100.0),
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(100.0),
    "copy_": lambda t: t.copy_(np.full(3, 100.0)),
}


@pytest.mark.parametrize("mutate", INPLACE.values(), ids=INPLACE.keys())
def test_inplace_on_a_saved_constant_is_refused_at_backward(mutate):
    """Mutating a constant that MulBackward saved (allowed: it needs no grad) writes
    into its memory, as PyTorch does; backward then refuses to use the changed
    values (PyTorch's version-counter error) and writes no gradient."""
    w = leaf([1.0, 1.0, 1.0])
    c = gs.tensor([2.0, 3.0, 4.0])
    y = (w * c).sum()
    mutate(c)
    assert not np.array_equal(c.data, [2.0, 3.0, 4.0])
    with pytest.raises(RuntimeError, match="MulBackward.*modified by an in-place write"):
        y.backward()
    assert w.grad is None


@pytest.mark.parametrize("mutate", INPLACE.values(), ids=INPLACE.keys())
def test_inplace_on_a_leaf_that_requires_grad_raises_outside_no_grad(mutate):
    w = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        mutate(w)
    np.testing.assert_array_equal(w.data, [1.0, 2.0, 3.0])  # nothing half-updated


def test_augmented_assignment_on_a_leaf_that_requires_grad_raises():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 0.5
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


@pytest.mark.parametrize("mutate", INPLACE.values(), ids=INPLACE.keys())
def test_inplace_on_a_leaf_is_allowed_under_no_grad(mutate):
    w = leaf([1.0, 2.0, 3.0])
    expected = np.array([1.0, 2.0, 3.0])
    mutate(_Recorder(expected))
    with gs.no_grad():
        mutate(w)
    np.testing.assert_array_equal(w.data, expected)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None
    assert not w.data.flags.writeable


class _Recorder:
    """Applies the same in-place operation to a plain array (the oracle)."""

    def __init__(self, array):
        self.a = array

    def __setitem__(self, i, v):
        self.a[i] = v

    def add_(self, v):
        self.a += v

    def sub_(self, v):
        self.a -= v

    def mul_(self, v):
        self.a *= v

    def div_(self, v):
        self.a /= v

    def zero_(self):
        self.a[...] = 0

    def fill_(self, v):
        self.a[...] = v

    def copy_(self, v):
        self.a[...] = v


def test_a_manual_update_between_forward_and_backward_is_refused_at_backward():
    """As PyTorch (version counter): the update writes into w's array, which the
    graph saved, so backward refuses rather than use the new values."""
    w = leaf([1.0, 2.0, 3.0])
    y = (w * w).sum()
    with gs.no_grad():
        w.sub_(10.0)
        w[1] = -50.0
    np.testing.assert_array_equal(w.data, [-9.0, -50.0, -7.0])
    with pytest.raises(RuntimeError, match="modified by an in-place write"):
        y.backward()
    assert w.grad is None


def test_an_optimizer_step_between_forward_and_backward_uses_forward_values():
    """The optimizers replace a parameter's array that something else holds (the
    graph here), so the gradient is d(y)/d(w) at the values the forward saw."""
    w = leaf([1.0, 2.0, 3.0])
    opt = gs.optim.SGD([w], lr=1.0)
    (w * 0).sum().backward()
    w.grad = gs.tensor([10.0, 10.0, 10.0])
    y = (w * w).sum()
    opt.step()
    np.testing.assert_array_equal(w.data, [-9.0, -8.0, -7.0])
    w.grad = None
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0, 6.0])


def test_augmented_assignment_on_a_non_leaf_is_recorded_in_place():
    x = leaf([1.0, 2.0])
    y = x * 2
    before = y
    y += x  # as in PyTorch: y's memory is written and its history is y_old + x
    assert y is before and y.data.tolist() == [3.0, 6.0]
    assert y.grad_fn.name == "AddBackward"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_inplace_writes_through_a_view_into_its_base():
    t = gs.tensor(np.arange(6.0))
    v = t.reshape(2, 3)  # v's array is a view of t's: as in NumPy, writes reach both
    with gs.no_grad():
        v.add_(1.0)
        t[0] = -1.0
    np.testing.assert_array_equal(t.data, [-1.0, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(v.data, t.data.reshape(2, 3))
    assert not t.data.flags.writeable and not v.data.flags.writeable


def test_from_numpy_shares_memory_both_ways():
    """from_numpy shares memory by contract, as torch.from_numpy: writes through the
    user's array show in the tensor, and in-place writes on the tensor reach the
    user's array; the array's own flags are never changed."""
    a = np.array([1.0, 2.0, 3.0])
    t = gs.from_numpy(a)
    a[0] = 7.0
    assert t.data[0] == 7.0
    with pytest.raises(ValueError, match="read-only"):
        t.data[1] = 0.0  # the tensor's array itself stays read-only
    t.add_(1.0)
    np.testing.assert_array_equal(t.data, [8.0, 3.0, 4.0])
    np.testing.assert_array_equal(a, [8.0, 3.0, 4.0])
    assert a.flags.writeable and not t.data.flags.writeable


# ------------------------------------------------------- shared sub-expressions
def test_b_equals_a_plus_a_twice_counts_each_path_once():
    a = leaf(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_diamond_and_shared_subexpression():
    x = leaf([0.5, -1.5, 2.0])
    s = x.exp()  # used three times
    left, right = s * 2.0, s * s
    z = (left * right + s).sum()  # 2 s^3 + s
    z.backward()
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad.data, 6 * e**3 + e, rtol=1e-14)


def test_one_leaf_used_many_times_sums_exactly():
    x = leaf([1.0, -2.0])
    total = x
    for _ in range(999):
        total = total + x
    total.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1000.0, 1000.0])


def _mlp_loss(params, x):
    w1, b1, w2 = params
    h = gs.linear(x, w1, b1).tanh()
    return ((h @ w2) ** 2).mean() + (h * h).sum() * 0.01


def _mlp_params(seed=0):
    rng = np.random.default_rng(seed)
    return [leaf(rng.normal(size=s)) for s in ((5, 3), (5,), (5, 2))]


def test_retain_graph_twice_gives_exactly_doubled_gradients():
    params = _mlp_params()
    x = np.random.default_rng(1).normal(size=(4, 3))
    loss = _mlp_loss(params, x)
    loss.backward(retain_graph=True)
    once = [p.grad.data.copy() for p in params]
    loss.backward(retain_graph=True)
    for p, g in zip(params, once):
        np.testing.assert_array_equal(p.grad.data, 2 * g)
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()
    for p, g in zip(params, once):
        np.testing.assert_array_equal(p.grad.data, 3 * g)  # the failed call added nothing


# ------------------------------------------------------- user arrays and aliasing
def test_array_given_to_tensor_is_copied():
    a = np.array([1.0, 2.0])
    for t in (gs.tensor(a), gs.Tensor(a), gs.tensor(a, requires_grad=True)):
        a[0] = 99.0
        assert t.data[0] == 1.0
        a[0] = 1.0
    assert a.flags.writeable  # the user's array keeps its flags


OPERAND_OPS = {  # each takes a Tensor t and a user's writable array a, both (3, 3)
    "add": lambda t, a: t + a,
    "rsub": lambda t, a: a - t,
    "mul": lambda t, a: t * a,
    "div": lambda t, a: t / (np.abs(a) + 1),
    "pow": lambda t, a: t.abs() ** a,
    "matmul": lambda t, a: t @ a.T,
    "rmatmul": lambda t, a: a @ t,
    "maximum": lambda t, a: gs.maximum(t, a),
    "minimum": lambda t, a: gs.minimum(a, t),
    "where": lambda t, a: gs.where(a > 0, t, a),
    "linear": lambda t, a: gs.linear(t, a, a[0]),
    "concatenate": lambda t, a: gs.concatenate([t, a], axis=0),
    "stack": lambda t, a: gs.stack([a, t], axis=1),
    "index-array": lambda t, a: t[np.array([0, 2, 2])],
    "clip": lambda t, a: t.clip(-0.5, 0.5) * a,
}


@pytest.mark.parametrize("op", OPERAND_OPS.values(), ids=OPERAND_OPS.keys())
def test_operand_arrays_and_upstream_gradients_are_never_mutated(op):
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 3))
    t = leaf(rng.normal(size=(3, 3)))
    a_before = a.copy()
    y = op(t, a)
    g = rng.normal(size=y.shape)
    g_before = g.copy()
    y.backward(g)
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(g, g_before)
    assert a.flags.writeable and g.flags.writeable
    assert not np.shares_memory(t.grad.data, g)


def test_loss_targets_are_never_mutated():
    from gradsight.ops.api import bce_with_logits, cross_entropy_logits

    logits = leaf(np.random.default_rng(5).normal(size=(4, 3)))
    classes = np.array([0, 2, 1, 2])
    probs = np.array([[1.0, 0.0, 0.5]] * 4)
    keep = classes.copy(), probs.copy()
    loss = cross_entropy_logits(logits, classes, "mean") + bce_with_logits(logits, probs, "sum")
    loss.backward()
    np.testing.assert_array_equal(classes, keep[0])
    np.testing.assert_array_equal(probs, keep[1])


def _all_arrays(*tensors):
    return [t.data for t in tensors if t is not None]


ROOTS = {  # graphs where a gradient can pass straight through to a leaf
    "leaf itself": lambda x, y: x,
    "add zero": lambda x, y: x + 0.0,
    "add two leaves": lambda x, y: x + y,
    "reshape": lambda x, y: x.reshape(2, 1).reshape(2),
    "getitem all": lambda x, y: x[...],
    "astype same": lambda x, y: x.astype(x.dtype),
    "pos": lambda x, y: +x,
    "shared": lambda x, y: (x + y) + (y + x),
}


@pytest.mark.parametrize("graph", ROOTS.values(), ids=ROOTS.keys())
def test_no_grad_aliases_the_upstream_gradient_or_another_tensor(graph):
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    out = graph(x, y)
    g = np.array([0.5, -0.5])
    out.backward(g, retain_graph=True)
    grads = _all_arrays(x.grad, y.grad)
    others = [g, x.data, y.data, out.data]
    for i, p in enumerate(grads):
        for q in others + grads[i + 1 :]:
            assert not np.shares_memory(p, q)
    g[:] = 100.0  # the user reuses their buffer: gradients must not follow
    assert np.all(np.abs(x.grad.data) <= 2.0)
    (gx,) = gs.autograd.grad(out, x, grad_outputs=gs.tensor([1.0, 1.0]), allow_unused=True)
    assert gx is None or not np.shares_memory(gx.data, x.grad.data)


def test_leaf_grad_does_not_alias_a_hook_replacement():
    x = leaf([1.0, 2.0])
    replacement = gs.tensor([5.0, 5.0])
    x.register_hook(lambda g: replacement)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0])
    assert not np.shares_memory(x.grad.data, replacement.data)


def test_retained_root_grad_does_not_alias_the_users_gradient():
    x = leaf([1.0, 2.0])
    y = x * 1.0
    y.retain_grad()
    g = np.array([1.0, 1.0])
    y.backward(g)
    g[0] = 42.0
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_a_hook_cannot_corrupt_a_sibling_branch():
    """AddBackward sends one array to both inputs; a hook on one input writing
    into its gradient must not change what the other input receives."""
    x = leaf([1.0, 2.0])
    a, b = x * 1.0, x * 2.0

    def scribble(g):
        try:
            g.data[...] = 100.0  # refused (read-only) or at least private
        except ValueError:
            pass

    a.register_hook(scribble)
    (b + a).sum().backward()
    assert x.grad.data.tolist() in ([3.0, 3.0], [102.0, 102.0])


def test_a_hook_cannot_write_into_the_users_gradient():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    y.register_hook(lambda grad: grad.data.__setitem__(0, 7.0))
    g = np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="read-only"):
        y.backward(g)
    np.testing.assert_array_equal(g, [1.0, 1.0])


# ------------------------------------------------------- custom ops with bad gradients
def _custom(rule, name="badop"):
    return Primitive(name, lambda x: x * 2.0, (rule,))


@pytest.mark.parametrize("bad_shape", [(7,), (2, 1), (3, 2), (6,), ()])
def test_wrong_shaped_custom_gradient_names_the_op_and_both_shapes(bad_shape):
    op = _custom(lambda F, g, out, x: np.ones(bad_shape))
    x = leaf(np.ones((2, 3)))
    (x * 1.0).sum().backward()  # an earlier, valid gradient
    y = apply1(op, x).sum()
    with pytest.raises(RuntimeError) as err:
        y.backward()
    msg = str(err.value)
    assert "BadopBackward" in msg and str(bad_shape) in msg and "(2, 3)" in msg
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))  # left as it was


def test_broadcast_shaped_custom_gradient_is_summed_like_pytorch():
    """A gradient of a shape the input broadcasts to is summed back (PyTorch's
    validate_outputs does the same); any other shape raises (test above)."""
    op = _custom(lambda F, g, out, x: np.ones((4,) + x.shape))
    x = leaf(np.ones((2, 3)))
    apply1(op, x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 4.0))


def test_wrong_dtype_custom_gradient_is_cast_to_the_inputs_dtype():
    op = _custom(lambda F, g, out, x: np.ones(x.shape, np.float32))
    x = leaf(np.ones(3))
    apply1(op, x).sum().backward()
    assert x.grad.dtype == np.float64


@pytest.mark.parametrize("value", [None, 1.0, [1.0, 1.0]], ids=["None", "float", "list"])
def test_non_array_custom_gradient_is_a_runtime_error_naming_the_op(value):
    op = _custom(lambda F, g, out, x: value)
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="BadopBackward"):
        apply1(op, x).sum().backward()


# ------------------------------------------------------- detect_anomaly
def test_detect_anomaly_names_the_op_and_the_users_line():
    x = leaf([0.0, 4.0])
    with gs.autograd.detect_anomaly():
        line = inspect.currentframe().f_lineno + 1
        y = x.sqrt()  # d sqrt / dx = inf at 0
        loss = (y * 3.0).sum()
        with np.errstate(divide="ignore"), pytest.raises(RuntimeError) as err:
            loss.backward()
    msg = str(err.value)
    assert "SqrtBackward" in msg
    assert f"{__file__}:{line}" in msg and "x.sqrt()" in msg
    assert x.grad is None


def test_without_anomaly_mode_the_same_graph_gives_ieee_values():
    x = leaf([0.0, 4.0])
    with np.errstate(divide="ignore"):
        (x.sqrt() * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [np.inf, 0.75])


def test_detect_anomaly_names_nan_from_a_helper_function():
    def user_helper(t):
        return t.log()  # the line the error must name

    x = leaf([0.0, 1.0])
    with gs.autograd.detect_anomaly():
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = (user_helper(x) * 0.0).sum()  # 0 * -inf = nan in forward
        with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(RuntimeError) as err:
            loss.backward()
    assert "LogBackward" in str(err.value) and "t.log()" in str(err.value)
    assert gs.is_grad_enabled()


def test_detect_anomaly_is_restored_after_an_exception():
    from gradsight._core.grad_mode import mode

    with pytest.raises(KeyError):
        with gs.autograd.detect_anomaly():
            raise KeyError("boom")
    assert mode.anomaly is False


def test_detect_anomaly_finds_user_code_in_a_directory_named_gradsight(tmp_path, monkeypatch):
    pkg = tmp_path / "gradsight" / "myproject"
    pkg.mkdir(parents=True)
    (pkg / "usercode_anomaly.py").write_text(
        textwrap.dedent(
            """
            def make(x):
                return x.log()  # USER LINE
            """
        )
    )
    monkeypatch.syspath_prepend(str(pkg))
    import usercode_anomaly

    try:
        x = leaf([0.0, 1.0])
        with gs.autograd.detect_anomaly():
            with np.errstate(divide="ignore"):
                loss = usercode_anomaly.make(x).sum()
            with np.errstate(divide="ignore"), pytest.raises(RuntimeError) as err:
                loss.backward()
        assert "usercode_anomaly.py:3" in str(err.value)
    finally:
        sys.modules.pop("usercode_anomaly", None)
