"""Forward values of every op against NumPy, plus dtype, stability and method forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.ops.drawn import call, leaves
from tests.ops.registry import drawn_ops

import gradsight as gs

SPECS = drawn_ops()


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@given(data=st.data())
def test_values_match_numpy(spec, data):
    case = data.draw(spec.cases())
    tensors = leaves(case, requires_grad=spec.differentiable)
    out = call(spec, tensors, case)
    expected = np.asarray(spec.ref(*case.arrays, **case.params))
    assert isinstance(out, gs.Tensor)
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    assert out.requires_grad == spec.differentiable
    for t, a in zip(tensors, case.arrays):  # inputs untouched
        np.testing.assert_array_equal(t.data, a)
    # no graph is recorded for constants or under no_grad, and the values are the same
    plain = call(spec, leaves(case, requires_grad=False), case)
    with gs.no_grad():
        quiet = call(spec, tensors, case)
    for t in (plain, quiet):
        assert t.grad_fn is None and not t.requires_grad
        np.testing.assert_array_equal(t.data, out.data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x * 2.0,
        lambda x: 2.0 - x,
        lambda x: x / 3.0,
        lambda x: x**2,
        lambda x: x.exp(),
        lambda x: x.sigmoid(),
        lambda x: x.tanh(),
        lambda x: x.sum(axis=0),
        lambda x: x.mean(),
        lambda x: x.var(axis=1),
        lambda x: x.logsumexp(axis=1),
        lambda x: x.softmax(),
        lambda x: x @ x.T,
        lambda x: x[[0, 0]],
    ],
)
def test_float_dtype_is_kept(fn, dtype):
    """Ops with Python scalars keep the tensor's float dtype (NumPy 2 promotion rules)."""
    x = gs.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=dtype, requires_grad=True)
    out = fn(x)
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype


def test_comparisons_return_bool_tensors_without_grad():
    a = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = np.array([3.0, 2.0, 1.0])
    results = {
        "<": (a < b, [True, False, False]),
        "<=": (a <= b, [True, True, False]),
        ">": (a > b, [False, False, True]),
        ">=": (a >= 2.0, [False, True, True]),
        "==": (a == gs.tensor(b), [False, True, False]),
        "!=": (a != b, [True, False, True]),
    }
    for op, (out, expected) in results.items():
        assert out.dtype == np.bool_, op
        assert not out.requires_grad and out.grad_fn is None, op
        assert out.tolist() == expected, op


def test_argmax_over_all_axes_and_one_axis():
    x = gs.tensor([[0.0, 5.0, 1.0], [7.0, -1.0, 2.0]], requires_grad=True)
    assert x.argmax().item() == 3
    assert x.argmax(axis=1).tolist() == [1, 0]
    assert not x.argmax(axis=0).requires_grad


@pytest.mark.parametrize(
    "method, fn",
    [
        ("exp", gs.exp),
        ("log", gs.log),
        ("sqrt", gs.sqrt),
        ("abs", gs.abs),
        ("tanh", gs.tanh),
        ("sigmoid", gs.sigmoid),
        ("relu", gs.relu),
        ("sum", gs.sum),
        ("mean", gs.mean),
        ("max", gs.max),
        ("min", gs.min),
        ("var", gs.var),
        ("logsumexp", gs.logsumexp),
        ("softmax", gs.softmax),
        ("log_softmax", gs.log_softmax),
        ("flatten", gs.flatten),
        ("transpose", gs.transpose),
    ],
)
def test_methods_and_functions_agree(method, fn):
    x = gs.tensor(np.linspace(0.1, 2.0, 12).reshape(3, 4))
    np.testing.assert_array_equal(getattr(x, method)().data, fn(x).data)


def test_python_scalars_arrays_and_tensors_on_either_side():
    x = gs.tensor([1.0, 2.0])
    c = np.array([10.0, 20.0])
    assert (c + x).tolist() == [11.0, 22.0]
    assert (c - x).tolist() == [9.0, 18.0]
    assert (c * x).tolist() == [10.0, 40.0]
    assert (c / x).tolist() == [10.0, 10.0]
    assert (c**x).tolist() == [10.0, 400.0]
    assert (2**x).tolist() == [2.0, 4.0]
    assert (np.eye(2) @ x).tolist() == [1.0, 2.0]
    for out in (c + x, c @ x, 3 - x):
        assert isinstance(out, gs.Tensor)


def test_stable_for_large_magnitudes():
    """sigmoid, logsumexp, softmax and log_softmax: no overflow warnings, no nan."""
    big = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        x = gs.tensor(big, requires_grad=True)
        outs = {
            "sigmoid": x.sigmoid(),
            "logsumexp": x.logsumexp(),
            "softmax": x.softmax(),
            "log_softmax": x.log_softmax(),
        }
        for name, out in outs.items():
            assert np.isfinite(out.data).all(), name
            x.grad = None
            out.sum().backward()
            assert np.isfinite(x.grad.data).all(), name
    np.testing.assert_allclose(
        outs["sigmoid"].data,
        [0.0, 1 / (1 + np.exp(50)), 0.5, 1 / (1 + np.exp(-50)), 1.0],
        rtol=1e-15,
    )
    np.testing.assert_allclose(outs["logsumexp"].item(), 1000.0, rtol=1e-15)
    np.testing.assert_allclose(outs["softmax"].data, [0, 0, 0, 0, 1], atol=1e-300)
    np.testing.assert_allclose(outs["log_softmax"].data, big - 1000.0, rtol=1e-15)


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    """Subtracting a max of -inf naively gives -inf - -inf = nan."""
    x = gs.tensor([[-np.inf, -np.inf], [0.0, -np.inf]])
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer here
        assert x.logsumexp(axis=1).tolist() == [-np.inf, 0.0]


def test_var_is_population_variance():
    x = gs.tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(1.25)  # ddof=0; ddof=1 would give 5/3


def test_sqrt_at_zero_value_and_infinite_gradient():
    x = gs.tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert x.grad.tolist() == [np.inf, 0.25]


def test_tensor_copies_and_from_numpy_shares():
    a = np.array([1.0, 2.0])
    t = gs.tensor(a)
    s = gs.from_numpy(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    assert s.tolist() == [9.0, 2.0]
    with pytest.raises(ValueError):
        t.data[0] = 5.0  # read-only


def test_dtype_inference_follows_numpy():
    assert gs.tensor([1.0, 2.0]).dtype == np.float64
    assert gs.tensor([1, 2]).dtype == np.array([1, 2]).dtype
    assert gs.tensor([True]).dtype == np.bool_
    assert gs.tensor([1, 2], dtype="float32").dtype == np.float32
