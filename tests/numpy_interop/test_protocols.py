"""NumPy's ufuncs and functions on Tensors: NumPy's value, recorded, correct gradient."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs

from .cases import CASES, NO_GRAD


def _inputs(shapes, domain, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(*domain, size=s) for s in shapes]


@pytest.mark.parametrize("name", sorted(CASES))
def test_value_is_numpys_and_result_is_recorded(name):
    call, shapes, domain = CASES[name]
    arrays = _inputs(shapes, domain)
    expected = call(*arrays)
    tensors = [gs.tensor(a, requires_grad=True) for a in arrays]
    out = call(*tensors)
    assert isinstance(out, gs.Tensor), type(out)
    assert out.grad_fn is not None
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_central_differences(name):
    """Autograd's gradient of sum(w * call(x)) against central finite differences."""
    call, shapes, domain = CASES[name]
    arrays = _inputs(shapes, domain, seed=1)
    w = np.random.default_rng(2).normal(size=np.shape(call(*arrays)))
    tensors = [gs.tensor(a, requires_grad=True) for a in arrays]
    assert gs.gradcheck(lambda *ts: (call(*ts) * w).sum(), tensors)


@pytest.mark.parametrize("name", sorted(NO_GRAD))
def test_calls_without_gradient_give_constants(name):
    call = NO_GRAD[name]
    x = np.array([[0.5, -1.0, np.nan], [2.0, np.inf, 0.0]])
    out = call(gs.tensor(x, requires_grad=True))
    assert isinstance(out, gs.Tensor) and out.grad_fn is None and not out.requires_grad
    np.testing.assert_array_equal(out.data, call(x))


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**", "@", "<", "=="])
def test_array_on_the_left_gives_a_recorded_tensor(op):
    import operator

    fn = {
        "+": operator.add,
        "-": operator.sub,
        "*": operator.mul,
        "/": operator.truediv,
        "**": operator.pow,
        "@": operator.matmul,
        "<": operator.lt,
        "==": operator.eq,
    }[op]
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = gs.tensor([[0.5, 1.5], [2.5, 1.0]], requires_grad=True)
    out = fn(a, t)
    assert isinstance(out, gs.Tensor)
    np.testing.assert_allclose(out.data, fn(a, t.data))
    assert (out.grad_fn is not None) == (op not in ("<", "=="))


@pytest.mark.parametrize(
    "call",
    [
        lambda t, a: np.add(a, t),
        lambda t, a: np.add(t, a),
        lambda t, a: np.multiply(2.0, t),
        lambda t, a: np.float64(2.0) * t,
        lambda t, a: np.where(a > 1, t, 0.0),
        lambda t, a: np.concatenate([a, t]),
        lambda t, a: np.dot(a, t),
        lambda t, a: np.maximum(a, t),
    ],
)
def test_mixed_operands_in_any_position_record(call):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = gs.tensor([[0.5, 1.5], [2.5, 1.0]], requires_grad=True)
    out = call(t, a)
    assert isinstance(out, gs.Tensor) and out.grad_fn is not None
    np.testing.assert_allclose(out.data, call(t.data, a))
    out.sum().backward()
    assert t.grad is not None and t.grad.shape == t.shape


def test_methods_where_numpy_has_them():
    x = np.random.default_rng(0).normal(size=(3, 4))
    t = gs.tensor(x, requires_grad=True)
    pairs = {
        "dot": (t.dot(t.T), x.dot(x.T)),
        "prod": (t.prod(axis=0), x.prod(axis=0)),
        "cumsum": (t.cumsum(1), x.cumsum(1)),
        "std": (t.std(ddof=1), x.std(ddof=1)),
        "var": (t.var(axis=0, ddof=1), x.var(axis=0, ddof=1)),
        "ravel": (t.ravel(), x.ravel()),
        "swapaxes": (t.swapaxes(0, 1), x.swapaxes(0, 1)),
        "repeat": (t.repeat(2, axis=1), x.repeat(2, axis=1)),
        "trace": (t.trace(), x.trace()),
        "diagonal": (t.diagonal(), x.diagonal()),
        "copy": (t.copy(), x.copy()),
    }
    for name, (got, want) in pairs.items():
        assert got.grad_fn is not None, name
        np.testing.assert_allclose(got.data, want, rtol=1e-12, err_msg=name)


def test_gs_functions_match_numpy():
    x = np.random.default_rng(0).uniform(0.5, 2.0, size=(3, 4))
    for name in ("expm1", "log1p", "log2", "square", "sin", "cos", "sign", "ravel", "copy"):
        np.testing.assert_allclose(getattr(gs, name)(x).data, getattr(np, name)(x), err_msg=name)
    np.testing.assert_allclose(gs.norm(x).data, np.linalg.norm(x))
    np.testing.assert_allclose(gs.einsum("ij->j", x).data, x.sum(0))


# ------------------------------------------------------------ keywords and refusals
def test_dtype_is_honoured_and_recorded():
    t = gs.tensor([1.0, 2.0], requires_grad=True)
    out = np.exp(t, dtype=np.float32)
    assert out.dtype == np.float32 and out.grad_fn is not None
    assert np.sum(t, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda t: np.exp(t, out=np.empty(2)), "out="),
        (lambda t: np.add(t, 1.0, where=np.array([True, False])), "where="),
        (lambda t: np.sum(t, out=np.empty(())), "out="),
        (lambda t: np.sum(t, where=np.array([True, False])), "where="),
        (lambda t: np.max(t, initial=0.0), "initial="),
        (lambda t: np.add(t, 1.0, casting="unsafe"), "casting="),
        (lambda t: np.add.at(t, [0], 1.0), "np.add.at"),
        (lambda t: np.copysign(t, 1.0), "np.copysign"),
        (lambda t: np.linalg.eigh(t.reshape(1, 2) * t.reshape(2, 1)), "np.linalg.eigh"),
        (lambda t: np.asarray(t), "np.asarray"),
        (lambda t: np.array(t), "np.asarray/np.array"),
        (lambda t: np.linalg.norm(t.reshape(1, 2), 2), "ord=2"),
        (lambda t: np.pad(t, 1, mode="median"), "mode='median'"),
    ],
)
def test_unsupported_calls_raise_naming_the_function(call, words):
    t = gs.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises((TypeError, ValueError)) as info:
        call(t)
    assert words in str(info.value)


def test_in_place_array_update_from_a_tensor_rebinds_the_name_to_the_recorded_tensor():
    a = np.zeros(2)
    alias = a
    t = gs.tensor([1.0, 2.0], requires_grad=True)
    a += t  # an array cannot hold a recorded result: `a` now names the Tensor
    assert isinstance(a, gs.Tensor) and a.grad_fn is not None
    np.testing.assert_array_equal(a.data, [1.0, 2.0])
    np.testing.assert_array_equal(alias, [0.0, 0.0])  # other names of the array: unchanged
    (a * t).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [2.0, 4.0])  # d(t*t)/dt


def test_conversion_policy():
    """np.asarray refuses only where a gradient would be lost; .numpy() is the explicit exit."""
    t = gs.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(t.detach()), [1.0, 2.0])
    with gs.no_grad():
        np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0])
        assert isinstance(np.copysign(t, 1.0), np.ndarray)  # nothing recorded: values are fine
    constant = gs.tensor([1.0, 4.0])
    np.testing.assert_array_equal(np.asarray(constant), [1.0, 4.0])
    np.testing.assert_allclose(np.copysign(constant, -1.0), np.copysign([1.0, 4.0], -1.0))
    assert "requires_grad=True" in repr(t) and "[1., 2.]" in str(t)


def test_create_graph_through_new_rules():
    """Second derivatives of sin, prod and cumsum by their recorded rules."""
    x = gs.tensor([0.3, -0.7, 1.1], requires_grad=True)
    (g,) = gs.autograd.grad(np.sum(np.sin(x)), [x], create_graph=True)
    (h,) = gs.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.data, -np.sin(x.data))
    (g,) = gs.autograd.grad(np.prod(x), [x], create_graph=True)
    (h,) = gs.autograd.grad(g[0], [x])  # d/dx (x1 x2) = (0, x2, x1)
    np.testing.assert_allclose(h.data, [0.0, 1.1, -0.7])
