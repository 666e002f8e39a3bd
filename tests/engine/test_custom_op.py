"""The public custom-op path: gs.autograd.Primitive + gs.autograd.apply (docs/engine.md §2)."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight.autograd import Primitive, apply


def _softplus(x):
    return np.logaddexp(0.0, x)


# d softplus(x)/dx = sigmoid(x) = 1 - exp(-softplus(x)): the rule reuses `out`
softplus = Primitive("softplus", _softplus, (lambda F, g, out, x: g * (1 - F.exp(-out)),))

# a static parameter: sum of x ** p along an axis
powsum = Primitive(
    "powsum",
    lambda x, p, axis: np.sum(x**p, axis=axis),
    (
        lambda F, g, out, x, p, axis: (
            F.broadcast_to(F.reshape(g, _kept(x, axis)), x.shape) * p * x ** (p - 1)
        ),
        None,
    ),
)


def _kept(x, axis):
    shape = list(x.shape)
    shape[axis] = 1
    return tuple(shape)


def test_custom_op_matches_finite_differences():
    x = gs.tensor(np.linspace(-3, 3, 7), requires_grad=True)
    assert gs.gradcheck(lambda t: apply(softplus, t), (x,))
    y = apply(softplus, x)
    assert y.grad_fn.name == "SoftplusBackward"
    np.testing.assert_allclose(y.numpy(), np.log1p(np.exp(x.numpy())), rtol=1e-12)


def test_custom_op_second_derivative():
    x = gs.tensor(0.7, requires_grad=True)
    (d1,) = gs.autograd.grad(apply(softplus, x), x, create_graph=True)
    (d2,) = gs.autograd.grad(d1, x)
    s = 1 / (1 + np.exp(-0.7))
    np.testing.assert_allclose(d1.item(), s, rtol=1e-12)
    np.testing.assert_allclose(d2.item(), s * (1 - s), rtol=1e-9)


def test_static_params_reach_forward_and_rule():
    x = gs.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    y = apply(powsum, x, 3.0, params=(1,))  # the exponent is a constant input
    np.testing.assert_allclose(y.numpy(), (x.numpy() ** 3).sum(axis=1))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)
    assert gs.gradcheck(lambda t: apply(powsum, t, 3.0, params=(0,)), (x,))


def test_no_record_without_grad_mode():
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    with gs.no_grad():
        y = apply(softplus, x)
    assert y.grad_fn is None and not y.requires_grad


def test_bad_calls_name_the_problem():
    x = gs.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="softplus takes 1 input"):
        apply(softplus, x, x)
    with pytest.raises(TypeError, match="Primitive, got function"):
        apply(_softplus, x)
    with pytest.raises(TypeError, match="params must be a tuple"):
        apply(powsum, x, 2.0, params=0)
