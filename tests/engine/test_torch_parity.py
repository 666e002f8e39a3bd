"""Opt-in cross-check: values and gradients of the registry's drawn forms against
PyTorch in float64 (skipped when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.ops.drawn import call, leaves
from tests.ops.registry import drawn_ops

import gradsight as gs

pytestmark = pytest.mark.torch

# every drawn form whose registry entry has a PyTorch counterpart
PARITY_SPECS = [op for op in drawn_ops(differentiable_only=True) if op.torch is not None]


def test_the_drawn_forms_with_a_torch_counterpart_cover_the_core_ops():
    names = {op.info.name for op in PARITY_SPECS}
    assert {"add", "pow", "matmul", "sum", "max", "softmax", "reshape", "stack"} <= names


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
    t_out = spec.torch(torch, *ts, **case.params)
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
