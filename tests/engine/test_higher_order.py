"""Higher-order gradients: create_graph, nested gs.grad, jacobian, hessian."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.ops.drawn import call, leaves
from tests.ops.registry import drawn_ops

import gradsight as gs

DIFFERENTIABLE = drawn_ops(differentiable_only=True)

X = np.array([-1.3, -0.4, 0.2, 0.9, 1.7])
POS = np.array([0.3, 0.8, 1.5, 2.9])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# (name, f, f', f'', points): first and second derivatives in closed form
CLOSED_FORMS = [
    ("x**3", lambda x: x**3, lambda x: 3 * x**2, lambda x: 6 * x, X),
    (
        "tanh",
        gs.tanh,
        lambda x: 1 - np.tanh(x) ** 2,
        lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
        X,
    ),
    (
        "sigmoid",
        gs.sigmoid,
        lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
        lambda x: _sigmoid(x) * (1 - _sigmoid(x)) * (1 - 2 * _sigmoid(x)),
        X,
    ),
    ("log", gs.log, lambda x: 1 / x, lambda x: -1 / x**2, POS),
    ("exp", gs.exp, np.exp, np.exp, X),
    ("sqrt", gs.sqrt, lambda x: 0.5 / np.sqrt(x), lambda x: -0.25 * x**-1.5, POS),
    ("1/x", lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3, POS),
    (
        "x*exp(x)",
        lambda x: x * gs.exp(x),
        lambda x: (1 + x) * np.exp(x),
        lambda x: (2 + x) * np.exp(x),
        X,
    ),
]
IDS = [c[0] for c in CLOSED_FORMS]


@pytest.mark.parametrize("name, f, df, d2f, points", CLOSED_FORMS, ids=IDS)
def test_nested_grad_matches_closed_form(name, f, df, d2f, points):
    first = gs.grad(f)
    second = gs.grad(gs.grad(f))
    for x in points:
        np.testing.assert_allclose(first(x).item(), df(x), rtol=1e-13)
        np.testing.assert_allclose(second(x).item(), d2f(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name, f, df, d2f, points", CLOSED_FORMS, ids=IDS)
def test_backward_create_graph_then_backward_again(name, f, df, d2f, points):
    """The vectorised form: d/dx sum(f'(x)) is f''(x) elementwise for separable f."""
    x = gs.tensor(points, requires_grad=True)
    f(x).sum().backward(create_graph=True, retain_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.data, df(points), rtol=1e-13)
    (second,) = gs.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(second.data, d2f(points), rtol=1e-12, atol=1e-15)


def test_backward_create_graph_retains_the_graph_by_default():
    """PyTorch: retain_graph defaults to create_graph, so x.grad can be differentiated
    through rules that reuse the forward result (tanh' = 1 - out**2)."""
    x = gs.tensor([0.3, -0.8], requires_grad=True)
    x.tanh().sum().backward(create_graph=True)
    (second,) = gs.autograd.grad(x.grad.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(second.data, -2 * t * (1 - t**2), rtol=1e-13)


def test_third_derivative_of_cube_is_six():
    third = gs.grad(gs.grad(gs.grad(lambda x: x**3)))
    assert third(0.7).item() == pytest.approx(6.0, rel=1e-14)
    fourth = gs.grad(gs.grad(gs.grad(gs.grad(lambda x: x**3))))
    assert fourth(0.7).item() == 0.0


def test_autograd_grad_create_graph():
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    y = (x**2 * x.exp()).sum()
    (g,) = gs.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.data, (2 * x.data + x.data**2) * np.exp(x.data), rtol=1e-14)
    (h,) = gs.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, (2 + 4 * x.data + x.data**2) * np.exp(x.data), rtol=1e-14)
    assert x.grad is None  # autograd.grad never touches .grad


def test_mixed_partials_commute():
    """d2/dxdy (x**2 * y**3) = 6 x y**2 either way round."""

    def f(x, y):
        return x**2 * y**3

    dxy = gs.grad(gs.grad(f, argnums=0), argnums=1)
    dyx = gs.grad(gs.grad(f, argnums=1), argnums=0)
    assert dxy(1.5, -0.5).item() == pytest.approx(6 * 1.5 * 0.25, rel=1e-14)
    assert dyx(1.5, -0.5).item() == pytest.approx(6 * 1.5 * 0.25, rel=1e-14)


# ---------------------------------------------------------------- hessian / jacobian
def test_hessian_of_quadratic_form_is_its_symmetric_matrix():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((4, 4))
    a = m + m.T
    b = rng.standard_normal(4)
    hess = gs.hessian(lambda x: 0.5 * (x @ (gs.tensor(a) @ x)) + x @ b)(rng.standard_normal(4))
    assert hess.shape == (4, 4)
    np.testing.assert_allclose(hess.data, a, rtol=1e-14, atol=1e-14)


def test_hessian_of_nonsymmetric_form_is_symmetrised():
    a = np.array([[1.0, 2.0, 0.0], [-4.0, 3.0, 1.0], [0.5, 0.0, -2.0]])
    hess = gs.hessian(lambda x: x @ (gs.tensor(a) @ x))(np.ones(3))
    np.testing.assert_allclose(hess.data, a + a.T, rtol=1e-14)


def test_hessian_of_matrix_input_has_shape_in_plus_in():
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    hess = gs.hessian(lambda x: (x**3).sum())(x)
    assert hess.shape == (2, 2, 2, 2)
    expected = np.zeros((4, 4))
    np.fill_diagonal(expected, 6 * x.ravel())
    np.testing.assert_allclose(hess.data.reshape(4, 4), expected, rtol=1e-14)


def test_hessian_equals_jacobian_of_grad():
    f = lambda x: (x.tanh() * x).sum()
    x = np.array([0.1, -0.7, 1.2])
    np.testing.assert_allclose(gs.hessian(f)(x).data, gs.jacobian(gs.grad(f))(x).data, rtol=1e-14)


def test_jacobian_shape_and_values():
    w = np.arange(24.0).reshape(4, 2, 3) / 10
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    jac = gs.jacobian(lambda x: (gs.tensor(w) * x).sum(axis=(1, 2)))(x)
    assert jac.shape == (4, 2, 3)
    np.testing.assert_allclose(jac.data, w, rtol=1e-15)
    jac2 = gs.jacobian(lambda x: x**2)(x)  # out.shape + in.shape = (2, 3, 2, 3)
    assert jac2.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(jac2.data.reshape(6, 6), np.diag(2 * x.ravel()), rtol=1e-15)


def test_jacobian_of_scalar_output_and_argnums_tuple():
    f = lambda x, y: (x * y).sum()
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    jx, jy = gs.jacobian(f, argnums=(0, 1))(x, y)
    assert jx.shape == (2,) and jy.shape == (2,)
    np.testing.assert_array_equal(jx.data, y)
    np.testing.assert_array_equal(jy.data, x)


def test_jacobian_of_matmul_is_the_matrix():
    w = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    jac = gs.jacobian(lambda x: gs.tensor(w) @ x)(np.zeros(3))
    np.testing.assert_array_equal(jac.data, w)


# ---------------------------------------------------------------- grad / value_and_grad
def test_value_and_grad():
    f = lambda x: (x**2).sum() / 2
    value, grad = gs.value_and_grad(f)(np.array([1.0, -2.0, 3.0]))
    assert value.item() == 7.0
    assert grad.tolist() == [1.0, -2.0, 3.0]
    assert not value.requires_grad and not grad.requires_grad


def test_argnums_int_and_tuple():
    f = lambda a, b, c: (a * b + c**2).sum()
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 5.0]), np.array([-1.0, 4.0])
    assert gs.grad(f, argnums=1)(a, b, c).tolist() == [1.0, 2.0]
    ga, gc = gs.grad(f, argnums=(0, 2))(a, b, c)
    assert ga.tolist() == [3.0, 5.0] and gc.tolist() == [-2.0, 8.0]
    value, (gb,) = gs.value_and_grad(f, argnums=(1,))(a, b, c)
    assert value.item() == 1 * 3 + 2 * 5 + 1 + 16 and gb.tolist() == [1.0, 2.0]


def test_grad_takes_python_numbers_and_int_arrays():
    assert gs.grad(lambda x: x**2)(3).item() == 6.0
    g = gs.grad(lambda x: (x**2).sum())(np.array([1, 2]))
    assert g.dtype == np.float64 and g.tolist() == [2.0, 4.0]


def test_grad_of_unused_argument_is_zero():
    g = gs.grad(lambda x, y: (x * 2).sum(), argnums=1)(gs.tensor([1.0, 2.0]), np.ones(3))
    assert g.tolist() == [0.0, 0.0, 0.0]


def test_grad_keeps_float32():
    g = gs.grad(lambda x: (x * x).sum())(np.array([1.0, 2.0], dtype=np.float32))
    assert g.dtype == np.float32


def test_grad_inside_a_loss_is_differentiable():
    """A gradient-penalty style objective: d/dw |d/dx f(x, w)|**2."""
    x = gs.tensor([0.5, -1.0], requires_grad=True)
    w = gs.tensor([2.0, 3.0], requires_grad=True)
    (gx,) = gs.autograd.grad((w * x**2).sum(), x, create_graph=True)  # 2 w x
    ((gx**2).sum()).backward()  # d/dw sum(4 w^2 x^2) = 8 w x^2
    np.testing.assert_allclose(w.grad.data, 8 * w.data * x.data**2, rtol=1e-15)


# ---------------------------------------------------------------- every op, twice
@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=repr)
@settings(max_examples=max(3, settings.default.max_examples // 3))
@given(data=st.data())
def test_double_backward_gradcheck(spec, data):
    """The VJP built with create_graph=True is itself correctly differentiable
    (in the inputs and in the incoming gradient u)."""
    case = data.draw(spec.cases(max_side=2))
    xs = leaves(case)
    out = call(spec, xs, case)
    u = gs.tensor(np.linspace(-1.0, 1.5, out.size).reshape(out.shape), requires_grad=True)

    def vjp(*args):
        *inputs, g = args  # gradcheck's finite differences pass constants: track them here
        inputs = [x if x.requires_grad else x.detach().requires_grad_() for x in inputs]
        grads = gs.autograd.grad(
            call(spec, inputs, case),
            inputs,
            grad_outputs=g,
            create_graph=True,
            allow_unused=True,
        )
        return tuple(r for r in grads if r is not None)

    first = vjp(*xs, u)
    plain = gs.autograd.grad(call(spec, xs, case), xs, grad_outputs=u.data)
    for a, b in zip(first, plain):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-13, atol=1e-15)
    assert gs.gradcheck(vjp, [*xs, u])
