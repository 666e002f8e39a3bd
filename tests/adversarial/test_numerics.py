"""Adversarial numerics: huge logits, kinks and ties, mixed dtypes, empty and
0-d tensors, bitwise reproducibility.

Huge-input tests run under ``np.errstate(all="raise")`` with warnings turned
into errors: any overflow, underflow or invalid operation inside gradsight
(outside its own deliberate, local errstate) fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

import gradsight as gs
from gradsight.ops import _util
from gradsight.ops.api import bce_with_logits, cross_entropy_logits

DTYPES = [np.float32, np.float64]
MAGNITUDES = [1e4, 1e8]
EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


@contextmanager
def strict_fp():
    """Every floating-point exception raises and every warning is an error."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def leaf(values, dtype=np.float64) -> gs.Tensor:
    return gs.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def value_and_grad(fn, x_values, dtype, weights=None):
    """fn(x), and d sum(w * fn(x)) / dx with w = 1, 2, 3, ... (or ``weights``)."""
    x = leaf(x_values, dtype)
    y = fn(x)
    w = np.arange(1, y.size + 1, dtype=dtype).reshape(y.shape) if weights is None else weights
    (y * gs.tensor(w.astype(dtype))).sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    return y.data, x.grad.data, w


def close(actual, expected, dtype, ulps=8):
    np.testing.assert_allclose(actual, expected, rtol=ulps * EPS[dtype], atol=0)


# ------------------------------------------------------- huge logits, closed forms
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_sigmoid_and_tanh_saturate_exactly(dtype, m):
    # weights 1, 2, 3: the middle gradient is 2 * f'(0) = 2 * 1/4 (sigmoid), 2 * 1 (tanh)
    for fn, lo, mid_grad in ((gs.sigmoid, 0.0, 0.5), (gs.tanh, -1.0, 2.0)):
        with strict_fp():
            y, g, _ = value_and_grad(fn, [-m, 0.0, m], dtype)
        np.testing.assert_array_equal(y, np.array([lo, (1 + lo) / 2, 1.0], dtype))
        np.testing.assert_array_equal(g, np.array([0.0, mid_grad, 0.0], dtype))


def test_sigmoid_restores_the_callers_error_state():
    """sigmoid silences over/underflow by setting NumPy's error state itself; the
    caller's state must be back afterwards, even when the forward raises."""
    x = leaf([-1e4, 0.0, 1e4])
    with np.errstate(all="raise", under="warn"):
        before = np.geterr()
        gs.sigmoid(x).sum().backward()
        assert np.geterr() == before
        with pytest.raises(TypeError):
            _util.sigmoid(np.array(["text"]))
        assert np.geterr() == before
        with pytest.raises(FloatingPointError):
            np.exp(np.array([1e4]))


HUGE_ROWS = {  # the row-wise normalisations, applied to (2, 3) logits
    "softmax": lambda t: t.softmax(axis=-1),
    "log_softmax": lambda t: t.log_softmax(axis=-1),
    "logsumexp": lambda t: t.logsumexp(axis=-1),
    "cross_entropy": lambda t: cross_entropy_logits(t, np.array([0, 0]), "none"),
}


def _huge_rows(m, dtype):
    """Rows whose softmax is exact: [0, 0, 1] and [1/3, 1/3, 1/3]."""
    return np.array([[-m, 0.0, m], [m, m, m]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
@pytest.mark.parametrize("name", HUGE_ROWS)
def test_normalisations_of_huge_logits_are_finite(name, m, dtype):
    """No overflow, underflow or invalid operation escapes; value and gradient finite."""
    for sign in (1, -1):
        with strict_fp():
            y, g, _ = value_and_grad(HUGE_ROWS[name], sign * _huge_rows(m, dtype), dtype)
        assert np.isfinite(y).all() and np.isfinite(g).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_softmax_of_huge_logits_is_exact(dtype, m):
    with strict_fp():
        p, g, w = value_and_grad(HUGE_ROWS["softmax"], _huge_rows(m, dtype), dtype)
    exact = np.array([[0.0, 0.0, 1.0], [1 / 3] * 3], dtype)
    close(p, exact, dtype)
    s = (w * exact).sum(axis=-1, keepdims=True)  # d sum(w softmax) = p (w - sum(w p))
    np.testing.assert_allclose(g, exact * (w - s), rtol=8 * EPS[dtype], atol=8 * EPS[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_log_softmax_of_huge_logits_is_accurate(dtype, m):
    with strict_fp():
        y, g, w = value_and_grad(HUGE_ROWS["log_softmax"], _huge_rows(m, dtype), dtype)
    log3 = np.log(dtype(3))
    close(y, np.array([[-2 * m, -m, 0.0], [-log3] * 3], dtype), dtype)
    p = np.array([[0.0, 0.0, 1.0], [1 / 3] * 3], dtype)  # d sum(w log_softmax) = w - p sum(w)
    close(g, w - p * w.sum(axis=-1, keepdims=True), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_logsumexp_of_huge_logits_is_accurate(dtype, m):
    with strict_fp():
        y, _, _ = value_and_grad(HUGE_ROWS["logsumexp"], _huge_rows(m, dtype), dtype)
    close(y, np.array([m, m + np.log(3)], dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_logsumexp_gradient_of_huge_logits_is_the_softmax(dtype, m):
    with strict_fp():
        _, g, w = value_and_grad(HUGE_ROWS["logsumexp"], _huge_rows(m, dtype), dtype)
    close(g, np.array([[0.0, 0.0, 1.0], [2 / 3] * 3], dtype), dtype)  # weights 1, 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_cross_entropy_gradient_of_huge_logits(dtype, m):
    logits = np.array([[-m, 0.0, m], [m, -m, 0.0], [m, m, -m]], dtype)
    with strict_fp():
        x = leaf(logits, dtype)
        loss = cross_entropy_logits(x, np.array([0, 0, 0]), "sum")
        loss.backward()
    assert loss.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(loss.item())
    expected = np.array([[-1, 0, 1], [0, 0, 0], [-0.5, 0.5, 0]], dtype)  # softmax - onehot
    np.testing.assert_allclose(x.grad.data, expected, atol=4 * EPS[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_cross_entropy_of_huge_logits_is_accurate(dtype, m):
    logits = np.array([[-m, 0.0, m], [m, -m, 0.0], [m, m, -m]], dtype)
    with strict_fp():
        loss = cross_entropy_logits(leaf(logits, dtype), np.array([0, 0, 0]), "none")
    close(loss.data, np.array([2 * m, 0.0, np.log(2)], dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", MAGNITUDES)
def test_bce_with_logits_of_huge_logits(dtype, m):
    logits = np.array([m, -m, m, -m, 0.0], dtype)
    target = np.array([0.0, 1.0, 1.0, 0.0, 1.0], dtype)
    with strict_fp():
        x = leaf(logits, dtype)
        loss = bce_with_logits(x, target, "none")
        (loss * gs.tensor(np.ones(5, dtype))).sum().backward()
    np.testing.assert_array_equal(loss.data[:4], np.array([m, m, 0.0, 0.0], dtype))
    close(loss.data[4], dtype(np.log(2)), dtype)
    np.testing.assert_array_equal(x.grad.data, np.array([1.0, -1.0, 0.0, 0.0, -0.5], dtype))


# ------------------------------------------------------- shift invariance
SHIFT_INVARIANT = {
    "softmax": lambda t: t.softmax(axis=-1),
    "log_softmax": lambda t: t.log_softmax(axis=-1),
    "cross_entropy": lambda t: cross_entropy_logits(t, np.array([2, 0]), "none"),
}
SHIFTS = [1e4, -1e4, 1e8, -1e8]
_GRID = np.array([[-32.0, 0.0, 16.0], [48.0, 48.0, -16.0]])  # x + c exact for these c


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", SHIFTS)
@pytest.mark.parametrize("fn", SHIFT_INVARIANT.values(), ids=SHIFT_INVARIANT.keys())
def test_shift_invariance_is_bitwise(fn, c, dtype):
    """Multiples of 16 shifted by c are exact in both dtypes, so f(x + c) must
    equal f(x) bit for bit once the max is subtracted first."""
    x = _GRID.astype(dtype)
    with strict_fp():
        base, g_base, _ = value_and_grad(fn, x, dtype)
        shifted, g_shifted, _ = value_and_grad(fn, x + dtype(c), dtype)
    np.testing.assert_array_equal(shifted, base)
    np.testing.assert_array_equal(g_shifted, g_base)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", SHIFTS)
def test_logsumexp_value_shifts_by_the_shift(dtype, c):
    x = _GRID.astype(dtype)
    with strict_fp():
        base, _, _ = value_and_grad(lambda t: t.logsumexp(axis=-1), x, dtype)
        shifted, _, _ = value_and_grad(lambda t: t.logsumexp(axis=-1), x + dtype(c), dtype)
    np.testing.assert_allclose(shifted, base + dtype(c), rtol=2 * EPS[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", SHIFTS)
def test_logsumexp_gradient_is_shift_invariant(dtype, c):
    x = _GRID.astype(dtype)
    with strict_fp():
        _, g_base, _ = value_and_grad(lambda t: t.logsumexp(axis=-1), x, dtype)
        _, g_shifted, _ = value_and_grad(lambda t: t.logsumexp(axis=-1), x + dtype(c), dtype)
    np.testing.assert_array_equal(g_shifted, g_base)


def test_minus_inf_masked_logits_match_pytorch():
    torch = pytest.importorskip("torch")
    row = np.array([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]])
    for name in ("softmax", "log_softmax", "logsumexp"):
        with strict_fp():
            y, g, _ = value_and_grad(lambda t: getattr(t, name)(axis=-1), row, np.float64, None)
        tx = torch.tensor(row, requires_grad=True)
        fn = getattr(torch, name)
        ty = fn(tx, -1) if name != "logsumexp" else torch.logsumexp(tx, -1)
        (
            ty * torch.arange(1, ty.numel() + 1, dtype=torch.float64).reshape(ty.shape)
        ).sum().backward()
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-15)
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("m", MAGNITUDES)
def test_huge_logits_match_pytorch(m):
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    logits = np.array([[-m, 0.0, m, 3.0], [m, -m, 0.5, m]])
    target = np.array([1, 3])
    x = leaf(logits)
    with strict_fp():
        loss = cross_entropy_logits(x, target, "mean") + bce_with_logits(
            x, (logits > 0).astype(float), "mean"
        )
        loss.backward()
    tx = torch.tensor(logits, requires_grad=True)
    tloss = f.cross_entropy(tx, torch.tensor(target)) + f.binary_cross_entropy_with_logits(
        tx, torch.tensor((logits > 0).astype(float))
    )
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-14, atol=1e-16)


# ------------------------------------------------------- kinks and ties
def test_relu_and_abs_at_zero_give_zero():
    for fn in (gs.relu, gs.abs):
        x = leaf([-2.0, -0.0, 0.0, 3.0])
        fn(x).sum().backward()
        expected = [0.0, 0.0, 0.0, 1.0] if fn is gs.relu else [-1.0, 0.0, 0.0, 1.0]
        np.testing.assert_array_equal(x.grad.data, expected)


@pytest.mark.parametrize(
    "values, expected",
    [
        ([3.0, 1.0, 3.0], [0.5, 0.0, 0.5]),
        ([2.0, 2.0, 2.0, 2.0], [0.25] * 4),
        ([5.0, 5.0, 5.0, -1.0], [1 / 3, 1 / 3, 1 / 3, 0.0]),
        ([1.0, 0.0], [1.0, 0.0]),
    ],
)
def test_max_and_min_ties_split_evenly(values, expected):
    for reduce, sign in ((gs.max, 1.0), (gs.min, -1.0)):
        x = leaf(sign * np.array(values))
        reduce(x).backward()
        np.testing.assert_array_equal(x.grad.data, expected)


def test_max_ties_split_evenly_per_slice_along_an_axis():
    x = leaf([[1.0, 4.0, 4.0], [7.0, 7.0, 7.0], [0.0, -1.0, -2.0]])
    g = np.array([[6.0], [3.0], [1.0]])
    gs.max(x, axis=1, keepdims=True).backward(g)
    expected = [[0.0, 3.0, 3.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    np.testing.assert_array_equal(x.grad.data, expected)


def test_maximum_and_minimum_ties_give_each_side_half():
    for fn in (gs.maximum, gs.minimum):
        a, b = leaf([1.0, 2.0, 5.0]), leaf([1.0, 3.0, 4.0])
        fn(a, b).sum().backward()
        win_a = [0.5, 0.0, 1.0] if fn is gs.maximum else [0.5, 1.0, 0.0]
        np.testing.assert_array_equal(a.grad.data, win_a)
        np.testing.assert_array_equal(b.grad.data, 1.0 - np.array(win_a))


def test_kink_conventions_match_pytorch():
    torch = pytest.importorskip("torch")
    v = np.array([[0.0, 2.0, 2.0], [-1.0, 0.0, -1.0]])
    x = leaf(v)
    (x.relu().sum() + x.abs().sum() + x.max() + gs.maximum(x, 0.0).sum()).backward()
    t = torch.tensor(v, requires_grad=True)
    (t.relu().sum() + t.abs().sum() + t.amax() + torch.maximum(t, torch.zeros(())).sum()).backward()
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_sqrt_at_zero_has_an_infinite_gradient_as_ieee_says():
    x = leaf([0.0, 4.0])
    y = x.sqrt()
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [np.inf, 0.25])


# ------------------------------------------------------- NaN inputs
NAN_OPS = {
    "sum": lambda t: t.sum(axis=1),
    "mean": lambda t: t.mean(axis=1),
    "exp": lambda t: t.exp(),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "relu": lambda t: t.relu(),
    "abs": lambda t: t.abs(),
    "sqrt of abs": lambda t: t.abs().sqrt(),
    "softmax": lambda t: t.softmax(axis=1),
    "log_softmax": lambda t: t.log_softmax(axis=1),
    "logsumexp": lambda t: t.logsumexp(axis=1),
    "var": lambda t: t.var(axis=1),
    "matmul": lambda t: t @ gs.tensor(np.ones((3, 2))),
    "maximum": lambda t: gs.maximum(t, 0.0),
    "clip": lambda t: t.clip(-1.0, 1.0),
    "cross_entropy": lambda t: cross_entropy_logits(t, np.ones(len(t), int), "none"),
    "bce_with_logits": lambda t: bce_with_logits(t, np.ones(t.shape), "none"),
    "max": lambda t: t.max(axis=1),
    "min": lambda t: t.min(axis=1),
}


@pytest.mark.parametrize("fn", NAN_OPS.values(), ids=NAN_OPS.keys())
def test_nan_inputs_propagate_without_floating_point_errors(fn):
    """A NaN in row 0 gives NaN results, never an exception or a warning (outside
    detect_anomaly), and row 1, which holds no NaN, is unaffected."""
    v = np.array([[1.0, np.nan, 3.0], [0.5, -1.0, 2.0]])
    x, clean = leaf(v), leaf(v[1:])
    with strict_fp():
        y = fn(x)
        y.backward(np.ones(y.shape))
        y_clean = fn(clean)
        y_clean.backward(np.ones(y_clean.shape))
    if y.ndim and y.shape[0] == 2:  # row-wise ops: row 1 is exactly the NaN-free result
        np.testing.assert_array_equal(y.data[1], y_clean.data[0])
        np.testing.assert_array_equal(x.grad.data[1], clean.grad.data[0])
    assert np.isnan(y.data).any()


def test_a_nan_extremum_sends_the_gradient_to_the_nan_entries():
    """Convention: max/min of a slice holding NaN is NaN, and its gradient goes to the
    NaN entries (split evenly), so the NaN's source is what shows up in .grad."""
    for reduce in (gs.max, gs.min):
        x = leaf([[1.0, np.nan, 3.0, np.nan], [0.5, -1.0, 2.0, 0.0]])
        with strict_fp():
            reduce(x, axis=1).backward(np.array([4.0, 1.0]))
        row1 = [0.0, 0.0, 1.0, 0.0] if reduce is gs.max else [0.0, 1.0, 0.0, 0.0]
        np.testing.assert_array_equal(x.grad.data, [[0.0, 2.0, 0.0, 2.0], row1])


# ------------------------------------------------------- dtypes
OTHERS = {  # the second operand, as a user would pass it
    "float64 tensor": lambda s: leaf(np.full(s, 0.5), np.float64),
    "float32 tensor": lambda s: leaf(np.full(s, 0.5), np.float32),
    "float64 array": lambda s: np.full(s, 0.5),
    "int tensor": lambda s: gs.tensor(np.full(s, 2)),
    "python float": lambda s: 0.5,
    "python int": lambda s: 2,
    "numpy float64 scalar": lambda s: np.float64(0.5),
}
BINARY = {  # (gradsight, NumPy oracle); operators serve both
    "add": (lambda a, b: a + b,) * 2,
    "mul": (lambda a, b: a * b,) * 2,
    "rdiv": (lambda a, b: b / (a + 3.0),) * 2,
    "pow": (lambda a, b: (a + 3.0) ** b,) * 2,
    "maximum": (gs.maximum, np.maximum),
    "matmul": (lambda a, b: a @ b,) * 2,
    "where": (
        lambda a, b: gs.where(np.array([True, False, True]), a, b),
        lambda a, b: np.where(np.array([True, False, True]), a, b),
    ),
}


MIXED = [  # matmul needs an array on both sides: no Python scalars there
    (op, other)
    for op in BINARY
    for other in OTHERS
    if op != "matmul" or "scalar" not in other and "python" not in other
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, other", MIXED)
def test_mixed_dtypes_follow_numpy_and_grads_keep_each_leafs_dtype(name, other, dtype):
    op, oracle = BINARY[name]
    a = leaf(np.array([[0.5, 1.5, -1.0], [2.0, 0.0, 1.0]]), dtype)
    b = OTHERS[other]((3, 2) if name == "matmul" else (3,))
    out = op(a, b)
    expected = oracle(a.data.copy(), b.data.copy() if isinstance(b, gs.Tensor) else b)
    assert isinstance(expected, (np.ndarray, np.generic))
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=EPS[np.float32] * 4)
    out.backward(np.ones(out.shape, out.dtype))
    for p in (a, b):
        if isinstance(p, gs.Tensor) and p.requires_grad:
            assert p.grad.dtype == p.dtype and p.grad.shape == p.shape


def test_astype_round_trip_grads_keep_dtype():
    a = leaf([1.0, 2.0], np.float32)
    b = leaf([3.0, 4.0], np.float64)
    y = (a.astype(np.float64) * b).sum() + (b.astype(np.float32) * a).sum()
    y.backward()
    assert (a.grad.dtype, b.grad.dtype) == (np.float32, np.float64)
    np.testing.assert_allclose(a.grad.data, [6.0, 8.0])


# ------------------------------------------------------- empty and 0-d tensors
EMPTY_CASES = {  # name: (gradsight, the same in PyTorch, input shape)
    "sum": (lambda t: t.sum(), lambda t, torch: t.sum(), (0, 3)),
    "sum axis 0": (lambda t: t.sum(axis=0), lambda t, torch: t.sum(0), (0, 3)),
    "sum axis 1": (lambda t: t.sum(axis=1), lambda t, torch: t.sum(1), (0, 3)),
    "exp": (lambda t: t.exp().sum(), lambda t, torch: t.exp().sum(), (0, 3)),
    "matmul inner 0": (
        lambda t: t @ gs.tensor(np.ones((0, 2))),
        lambda t, torch: t @ torch.ones((0, 2), dtype=torch.float64),
        (2, 0),
    ),
    "matmul outer 0": (
        lambda t: t @ gs.tensor(np.ones((3, 2))),
        lambda t, torch: t @ torch.ones((3, 2), dtype=torch.float64),
        (0, 3),
    ),
    "softmax": (lambda t: t.softmax(axis=-1), lambda t, torch: t.softmax(-1), (0, 3)),
    "logsumexp": (lambda t: t.logsumexp(axis=-1), lambda t, torch: t.logsumexp(-1), (0, 3)),
    "broadcast add": (lambda t: t + gs.tensor(np.ones(3)), lambda t, torch: t + 1.0, (0, 3)),
    "getitem": (lambda t: t[1:1], lambda t, torch: t[1:1], (4,)),
    "reshape": (lambda t: t.reshape(3, 0), lambda t, torch: t.reshape(3, 0), (0, 3)),
}


@pytest.mark.parametrize("name", EMPTY_CASES)
def test_size_zero_tensors_behave_like_pytorch(name):
    torch = pytest.importorskip("torch")
    fn, torch_fn, shape = EMPTY_CASES[name]
    x = leaf(np.zeros(shape))
    y = fn(x)
    y.backward(np.ones(y.shape))
    tx = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    ty = torch_fn(tx, torch)
    ty.backward(torch.ones_like(ty))
    assert y.shape == tuple(ty.shape) and y.dtype == np.float64
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    assert x.grad.shape == shape and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())


def test_mean_of_nothing_is_nan_like_numpy_and_pytorch():
    x = leaf(np.zeros((0, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = x.mean()
    assert np.isnan(m.item())
    with pytest.warns(RuntimeWarning):
        assert np.isnan(np.mean(np.zeros((0, 3))))


def test_max_of_nothing_names_the_shape():
    with pytest.raises(ValueError, match=r"\(0, 3\)"):
        leaf(np.zeros((0, 3))).max()


def test_zero_dim_tensors():
    x = leaf(3.0)
    assert x.shape == () and x.ndim == 0 and x.size == 1
    y = (x * x).exp() / x
    y.backward()  # no gradient needed for a 0-d root
    e = np.exp(9.0)
    np.testing.assert_allclose(x.grad.data, e * 2 - e / 9.0, rtol=1e-14)
    assert x.grad.shape == ()
    z = leaf(2.0)
    w = (z.reshape(1, 1) * gs.tensor(np.ones((2, 3)))).sum() + z[()]
    w.backward()
    assert z.grad.shape == () and z.grad.item() == 7.0
    assert leaf([5.0]).sum().shape == () and gs.tensor(4.0).item() == 4.0


# ------------------------------------------------------- reproducibility
def _training_grads(seed: int = 0):
    rng = np.random.default_rng(seed)
    w1 = leaf(rng.normal(size=(32, 8)))
    b1 = leaf(rng.normal(size=32))
    w2 = leaf(rng.normal(size=(10, 32)))
    x = rng.normal(size=(64, 8))
    target = rng.integers(0, 10, size=64)
    h = gs.linear(x, w1, b1).tanh()
    shared = h * h  # fan-out: reused below, gradients accumulate
    logits = gs.linear(shared + h, w2) + h.sum(axis=1, keepdims=True) * 0.1
    loss = cross_entropy_logits(logits, target, "mean") + shared.mean() + gs.max(logits) * 0.01
    loss.backward()
    return [p.grad.data for p in (w1, b1, w2)]


def test_two_identical_passes_give_bitwise_identical_gradients():
    first, second = _training_grads(), _training_grads()
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes()


_CHILD = """
import hashlib, sys
sys.path[:0] = [{src!r}, {tests!r}]
from adversarial.test_numerics import _training_grads
print(hashlib.sha256(b"".join(g.tobytes() for g in _training_grads())).hexdigest())
"""


def test_gradients_are_bitwise_identical_across_processes_and_hash_seeds():
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.path.join(os.path.dirname(tests), "src")
    digests = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(src=src, tests=tests)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
