"""Opt-in cross-check: values and gradients of the spec table's ops against
PyTorch in float64 (skipped when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gradsight as gs

from .op_specs import SPECS, call, leaves

pytestmark = pytest.mark.torch


def _reduce(name):
    """torch.<name> over NumPy-style axis (None: every axis) and keepdims."""

    def fn(torch, x, axis, keepdims):
        dims = tuple(range(x.ndim)) if axis is None else axis
        if x.ndim == 0:
            dims = 0  # torch accepts dim 0 of a 0-d tensor
        if name == "var":
            return torch.var(x, dim=dims, correction=0, keepdim=keepdims)
        return getattr(torch, name)(x, dim=dims, keepdim=keepdims)

    return fn


# spec name -> the same computation written with torch
TORCH = {
    "add": lambda torch, a, b: a + b,
    "sub": lambda torch, a, b: a - b,
    "mul": lambda torch, a, b: a * b,
    "div": lambda torch, a, b: a / b,
    "pow": lambda torch, a, b: a**b,
    "neg": lambda torch, a: -a,
    "scalar/x": lambda torch, x: 1.5 / x,
    "scalar**x": lambda torch, x: 1.7**x,
    "exp": lambda torch, x: torch.exp(x),
    "log": lambda torch, x: torch.log(x),
    "sqrt": lambda torch, x: torch.sqrt(x),
    "abs": lambda torch, x: torch.abs(x),
    "tanh": lambda torch, x: torch.tanh(x),
    "sigmoid": lambda torch, x: torch.sigmoid(x),
    "relu": lambda torch, x: torch.relu(x),
    "clip": lambda torch, x: torch.clamp(x, -0.5, 0.5),
    "maximum": lambda torch, a, b: torch.maximum(a, b),
    "minimum": lambda torch, a, b: torch.minimum(a, b),
    "where": lambda torch, a, b, cond: torch.where(torch.from_numpy(cond), a, b),
    "matmul": lambda torch, a, b: torch.matmul(a, b),
    "sum": _reduce("sum"),
    "mean": _reduce("mean"),
    "max": _reduce("amax"),
    "min": _reduce("amin"),
    "var": _reduce("var"),
    "logsumexp": _reduce("logsumexp"),
    "softmax": lambda torch, x, axis: torch.softmax(x, dim=axis),
    "log_softmax": lambda torch, x, axis: torch.log_softmax(x, dim=axis),
    "reshape": lambda torch, x, shape: x.reshape(shape),
    "transpose": lambda torch, x, axes: x.permute(axes or tuple(reversed(range(x.ndim)))),
    "squeeze": lambda torch, x, axis: x.squeeze() if axis is None else x.squeeze(axis),
    "expand_dims": lambda torch, x, axis: x.unsqueeze(axis),
    "concatenate": lambda torch, *xs, axis: torch.cat(xs, dim=axis),
    "stack": lambda torch, *xs, axis: torch.stack(xs, dim=axis),
    "index[int array]": lambda torch, x, index: x[
        tuple(torch.from_numpy(np.asarray(i)) if not isinstance(i, slice) else i for i in index)
        if isinstance(index, tuple)
        else torch.from_numpy(index)
    ],
    "index[bool mask]": lambda torch, x, index: x[torch.from_numpy(index)],
}
PARITY_SPECS = [s for s in SPECS if s.name in TORCH]


def test_table_names_exist():
    assert len(PARITY_SPECS) == len(TORCH)


@pytest.mark.parametrize("spec", PARITY_SPECS, ids=repr)
@settings(max_examples=max(5, settings.default.max_examples // 2))
@given(data=st.data())
def test_values_and_gradients_match_torch(spec, data):
    torch = pytest.importorskip("torch")
    case = data.draw(spec.cases(max_side=4))
    assume(case.params.get("axis", 0) != ())  # torch reads dim=() as "every axis"
    xs = leaves(case)
    out = call(spec, xs, case)
    u = np.linspace(-1.0, 1.0, out.size).reshape(out.shape)
    grads = gs.autograd.grad(out, xs, grad_outputs=u)

    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in case.arrays]
    t_out = TORCH[spec.name](torch, *ts, **case.params)
    t_grads = torch.autograd.grad(t_out, ts, grad_outputs=torch.from_numpy(u))

    assert out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12, atol=1e-14)
    for g, tg in zip(grads, t_grads):
        assert g.shape == tuple(tg.shape)
        np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-11, atol=1e-13)


def test_tie_conventions_match_torch_where_torch_documents_them():
    """amax/amin split ties evenly; relu'(0) = 0; clamp passes at the bounds."""
    torch = pytest.importorskip("torch")
    values = np.array([[1.0, 3.0, 3.0], [0.0, 0.0, -1.0]])
    cases = [
        (lambda x: x.max(axis=1), lambda t: torch.amax(t, dim=1)),
        (lambda x: x.min(axis=1), lambda t: torch.amin(t, dim=1)),
        (lambda x: x.relu(), torch.relu),
        (lambda x: x.clip(0.0, 3.0), lambda t: torch.clamp(t, 0.0, 3.0)),
    ]
    for fn, t_fn in cases:
        x = gs.tensor(values, requires_grad=True)
        fn(x).sum().backward()
        t = torch.tensor(values, requires_grad=True)
        t_fn(t).sum().backward()
        np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_second_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    values = np.array([-1.2, 0.3, 0.9])
    for fn in ("tanh", "sigmoid", "exp"):
        x = gs.tensor(values, requires_grad=True)
        (g,) = gs.autograd.grad(getattr(x, fn)().sum(), x, create_graph=True)
        (h,) = gs.autograd.grad(g.sum(), x)
        t = torch.tensor(values, requires_grad=True)
        (tg,) = torch.autograd.grad(getattr(torch, fn)(t).sum(), t, create_graph=True)
        (th,) = torch.autograd.grad(tg.sum(), t)
        np.testing.assert_allclose(h.data, th.numpy(), rtol=1e-13, atol=1e-15)
