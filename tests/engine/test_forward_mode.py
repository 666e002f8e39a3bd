"""Forward mode: gs.jvp, gs.jacfwd, gs.hvp and gs.elementwise_grad.

Oracles: the reverse-mode Jacobian and Hessian (gs.jacobian, gs.hessian, whose
rules the registry checks against finite differences and PyTorch), directional
central differences, closed forms, and torch.func where the test opts in.
The per-op checks (dot-product test, torch.func.jvp, jacfwd = jacobian on every
registry sample) live in tests/ops/test_forward_sweep.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight.ops import declare

RNG = np.random.default_rng(0)


def mlp(x, w1, b1, w2):
    """A small tanh network with a scalar output, written as users write one."""
    h = gs.tanh(x @ w1 + b1)
    return (gs.sigmoid(h @ w2) ** 2).sum()


def _mlp_args():
    return (
        RNG.standard_normal((4, 3)),
        RNG.standard_normal((3, 5)),
        RNG.standard_normal(5),
        RNG.standard_normal((5, 2)),
    )


def directional_difference(f, xs, vs, eps=1e-6):
    """d/dt f(xs + t vs) at t = 0, centrally, on plain arrays."""
    hi = f(*[gs.tensor(x + eps * v) for x, v in zip(xs, vs)]).data
    lo = f(*[gs.tensor(x - eps * v) for x, v in zip(xs, vs)]).data
    return (hi - lo) / (2 * eps)


# ---------------------------------------------------------------- declarations
def test_every_declared_primitive_has_a_jvp_rule():
    missing = sorted(p.name for p in declare.primitives() if p.jvp is None)
    assert not missing, f"no JVP rule for {missing}: add jvp= to their declarations"


def test_declared_rule_is_the_primitives():
    for op in declare.OPS.values():
        if op.prim is not None and op.jvp is not None:
            assert op.prim.jvp is op.jvp or declare.op_of(op.prim) is not op, op.name


# ---------------------------------------------------------------- jvp
def test_jvp_matches_the_jacobian_on_a_network():
    args = _mlp_args()
    vs = tuple(RNG.standard_normal(a.shape) for a in args)
    out, t = gs.jvp(mlp, args, vs)
    jacs = gs.jacobian(mlp, argnums=(0, 1, 2, 3))(*args)
    want = sum(float(np.sum(j.data * v)) for j, v in zip(jacs, vs))
    assert out.data == pytest.approx(mlp(*[gs.tensor(a) for a in args]).data, rel=1e-15)
    assert t.item() == pytest.approx(want, rel=1e-12)
    assert t.item() == pytest.approx(directional_difference(mlp, args, vs), rel=1e-7)


def test_jvp_returns_tuples_for_tuple_outputs_and_aux():
    x = np.array([0.5, -1.0, 2.0])
    v = np.array([1.0, 2.0, -1.0])

    def f(x):
        return (gs.exp(x), x.sum() * 3.0), "aux"

    (e, s), (te, ts), aux = gs.jvp(f, (x,), (v,), has_aux=True)
    np.testing.assert_allclose(te.data, np.exp(x) * v, rtol=1e-15)
    assert ts.item() == pytest.approx(3.0 * v.sum())
    assert aux == "aux" and not e.requires_grad and not s.requires_grad


def test_jvp_of_an_output_that_ignores_the_input_is_zero():
    c = gs.tensor([1.0, 2.0])
    out, t = gs.jvp(lambda x: c * 2.0, (np.ones(3),), (np.ones(3),))
    np.testing.assert_array_equal(t.data, np.zeros(2))
    out, t = gs.jvp(lambda x: x, (np.arange(3.0),), (np.array([1.0, 2.0, 3.0]),))
    np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])


def test_jvp_keeps_float32():
    x = np.ones(3, np.float32)
    out, t = gs.jvp(gs.tanh, (x,), (np.ones(3),))
    assert out.dtype == t.dtype == np.float32


def test_jvp_runs_through_augmented_assignments():
    def f(x):
        h = x * 2.0
        h += x**2
        h *= gs.sin(x)
        h /= 3.0
        return h

    x, v = np.array([0.3, 0.7, 1.1]), np.array([1.0, -2.0, 0.5])
    _, t = gs.jvp(f, (x,), (v,))
    np.testing.assert_allclose(t.data, gs.jacobian(f)(x).data @ v, rtol=1e-12)


def test_jvp_bad_arguments_are_named():
    with pytest.raises(TypeError, match="tuple"):
        gs.jvp(gs.exp, np.ones(2), (np.ones(2),))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(3,\).*\(2,\)"):
        gs.jvp(gs.exp, (np.ones(2),), (np.ones(3),))
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        gs.jvp(gs.add, (np.ones(2), np.ones(2)), (np.ones(2),))
    with pytest.raises(TypeError, match="Tensor or a tuple of Tensors"):
        gs.jvp(lambda x: 3.0, (np.ones(2),), (np.ones(2),))


# ---------------------------------------------------------------- jacfwd
@pytest.mark.parametrize("shape_in,shape_out", [((2,), (30,)), ((30,), (2,)), ((2, 3), (3, 2))])
def test_jacfwd_equals_jacobian(shape_in, shape_out):
    n_in, n_out = int(np.prod(shape_in)), int(np.prod(shape_out))
    w = RNG.standard_normal((n_out, n_in))

    def f(x):
        return gs.reshape(gs.tanh(gs.reshape(x, -1) @ w.T) * 2.0, shape_out)

    x = RNG.standard_normal(shape_in)
    np.testing.assert_allclose(gs.jacfwd(f)(x).data, gs.jacobian(f)(x).data, rtol=1e-12, atol=1e-15)


def test_jacfwd_argnums_tuple_and_aux():
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    (ja, jb), aux = gs.jacfwd(lambda a, b: (a * gs.exp(b), 7), argnums=(0, 1), has_aux=True)(a, b)
    np.testing.assert_allclose(ja.data, np.diag(np.exp(b)), rtol=1e-15)
    np.testing.assert_allclose(jb.data, np.diag(a * np.exp(b)), rtol=1e-15)
    assert aux == 7


def test_jacfwd_of_jacfwd_and_of_grad_is_the_hessian():
    x = RNG.standard_normal(4)

    def f(x):
        return (gs.sin(x) ** 3).sum() + (x[0] * x[1] * x[3])

    h = gs.hessian(f)(x).data
    np.testing.assert_allclose(gs.jacfwd(gs.jacfwd(f))(x).data, h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gs.jacfwd(gs.grad(f))(x).data, h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gs.jacobian(gs.jacfwd(f))(x).data, h, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- hvp
def test_hvp_matches_hessian_times_vector():
    args = _mlp_args()
    vs = tuple(RNG.standard_normal(a.shape) for a in args)
    out, hv = gs.hvp(mlp, args, vs)
    assert out.item() == pytest.approx(mlp(*[gs.tensor(a) for a in args]).item())
    assert len(hv) == 4
    flat = [a.reshape(-1) for a in args]
    sizes = np.cumsum([0] + [a.size for a in args])

    def packed(z):
        parts = [gs.reshape(z[sizes[i] : sizes[i + 1]], a.shape) for i, a in enumerate(args)]
        return mlp(*parts)

    h = gs.hessian(packed)(np.concatenate(flat)).data
    want = h @ np.concatenate([v.reshape(-1) for v in vs])
    for i in range(len(args)):
        got = hv[i].data.reshape(-1)
        np.testing.assert_allclose(got, want[sizes[i] : sizes[i + 1]], rtol=1e-10, atol=1e-12)


def test_hvp_of_a_quadratic_is_the_matrix_product():
    a = RNG.standard_normal((4, 4))
    sym = a + a.T
    v = RNG.standard_normal(4)
    _, (hv,) = gs.hvp(lambda x: 0.5 * (x @ (sym @ x)), (RNG.standard_normal(4),), (v,))
    np.testing.assert_allclose(hv.data, sym @ v, rtol=1e-13)


def test_hvp_with_aux():
    out, (hv,), aux = gs.hvp(
        lambda x: ((x**3).sum(), "seen"), (np.array([1.0, 2.0]),), (np.ones(2),), has_aux=True
    )
    np.testing.assert_allclose(hv.data, [6.0, 12.0])
    assert aux == "seen" and out.item() == 9.0


def test_grad_of_a_jvp_is_the_hvp():
    x, v = RNG.standard_normal(3), RNG.standard_normal(3)

    def f(x):
        return (gs.exp(x) * gs.cos(x)).sum()

    got = gs.grad(lambda x: gs.jvp(f, (x,), (v,))[1])(x)
    np.testing.assert_allclose(got.data, gs.hessian(f)(x).data @ v, rtol=1e-12)


# ---------------------------------------------------------------- elementwise_grad
def test_elementwise_grad_is_the_derivative_at_every_element():
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(gs.elementwise_grad(gs.tanh)(x).data, 1 - np.tanh(x) ** 2)
    d2 = gs.elementwise_grad(gs.elementwise_grad(gs.sin))(x)
    np.testing.assert_allclose(d2.data, -np.sin(x), rtol=1e-13, atol=1e-15)
    dy = gs.elementwise_grad(lambda a, b: a * b**2, 1)(x, x + 1)
    np.testing.assert_allclose(dy.data, 2 * x * (x + 1))


# ---------------------------------------------------------------- custom ops
def _cube_vjp(F, g, out, x):
    return g * 3.0 * x * x


def _scaled_outer_vjps():
    return (
        lambda F, g, out, a, b, s: (g @ b) * s,
        lambda F, g, out, a, b, s: (a @ g) * s,
    )


def test_custom_op_without_jvp_transposes_its_vjp():
    cube = gs.autograd.Primitive("cube", lambda x: x**3, (_cube_vjp,))
    outer = gs.autograd.Primitive(
        "scaled_outer", lambda a, b, s: np.multiply.outer(a, b) * s, _scaled_outer_vjps()
    )

    def f(a, b):
        c = gs.autograd.apply(cube, a)
        return gs.autograd.apply(outer, c, gs.sin(b), params=(0.5,))

    a, b = RNG.standard_normal(3), RNG.standard_normal(4)
    va, vb = RNG.standard_normal(3), RNG.standard_normal(4)
    _, t = gs.jvp(f, (a, b), (va, vb))
    want = directional_difference(f, (a, b), (va, vb))
    np.testing.assert_allclose(t.data, want, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gs.jacfwd(f, (0, 1))(a, b)[1].data, gs.jacobian(f, 1)(a, b).data)


def test_custom_op_with_its_own_jvp_uses_it():
    calls = []

    def cube_jvp(F, dots, out, x):
        calls.append(1)
        return dots[0] * 3.0 * x * x

    cube = gs.autograd.Primitive("cube", lambda x: x**3, (_cube_vjp,), jvp=cube_jvp)
    _, t = gs.jvp(lambda x: gs.autograd.apply(cube, x), (np.array([2.0]),), (np.array([1.0]),))
    assert calls and t.item() == 12.0


def test_custom_op_whose_vjp_is_not_recordable_is_refused():
    opaque = gs.autograd.Primitive(
        "opaque", np.exp, (lambda F, g, out, x: np.asarray(F.data(g)) * out,)
    )
    with pytest.raises(TypeError, match="opaque has no JVP rule.*jvp="):
        gs.jvp(lambda x: gs.autograd.apply(opaque, x), (np.ones(2),), (np.ones(2),))


# ---------------------------------------------------------------- PyTorch
@pytest.mark.torch
def test_jvp_and_hvp_match_torch_func():
    torch = pytest.importorskip("torch")
    args = _mlp_args()
    vs = tuple(RNG.standard_normal(a.shape) for a in args)

    def tmlp(x, w1, b1, w2):
        h = torch.tanh(x @ w1 + b1)
        return (torch.sigmoid(h @ w2) ** 2).sum()

    ts = tuple(torch.tensor(a) for a in args)
    tvs = tuple(torch.tensor(v) for v in vs)
    _, want = torch.func.jvp(tmlp, ts, tvs)
    _, got = gs.jvp(mlp, args, vs)
    assert got.item() == pytest.approx(want.item(), rel=1e-12)
    _, want_h = torch.autograd.functional.hvp(tmlp, ts, tvs)
    _, got_h = gs.hvp(mlp, args, vs)
    for g, w in zip(got_h, want_h):
        np.testing.assert_allclose(g.data, w.numpy(), rtol=1e-10, atol=1e-12)


def test_jvp_of_a_module_leaves_its_parameters_alone():
    gs.manual_seed(0)
    model = gs.nn.Sequential(gs.nn.Linear(3, 4), gs.nn.Tanh(), gs.nn.Linear(4, 2))
    x, v = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    out, t = gs.jvp(model, (x,), (v,))
    assert all(p.grad is None for p in model.parameters())
    w1, b1 = model[0].weight.numpy(), model[0].bias.numpy()
    w2 = model[2].weight.numpy()
    want = ((1 - np.tanh(x @ w1.T + b1) ** 2) * (v @ w1.T)) @ w2.T  # chain rule by hand
    np.testing.assert_allclose(t.data, want, rtol=1e-12, atol=1e-15)
    assert not out.requires_grad and not t.requires_grad


def test_jvp_takes_tensor_tangents_and_integer_primals():
    out, t = gs.jvp(lambda x: x * x, (np.array([1, 2, 3]),), (gs.tensor([1.0, 1.0, 2.0]),))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(t.data, [2.0, 4.0, 12.0])


# ---------------------------------------------------------------- through in-place writes
def test_forward_mode_runs_through_in_place_writes_and_views():
    """The code users write (a slice assignment, an index write, a write through a view,
    np.clip with out=): jacfwd equals jacobian, and both equal central differences."""

    def f(x):
        y = x * 2.0
        y[0] = 0.0  # the write cuts x[0] out of y[0]
        y[np.array([1, 1])] += x[2]  # repeated indices: += is applied once, as NumPy does
        v = y[2:]
        v *= x[:2]  # through a view: lands in y
        np.clip(y, -1.5, 1.5, out=y)
        return y

    x0 = np.array([0.3, -0.4, 0.5, 0.7])
    fwd = gs.jacfwd(f)(x0).data
    rev = gs.jacobian(f)(x0).data
    eps = 1e-6
    fd = np.stack(
        [(f(x0 + eps * e) - f(x0 - eps * e)) / (2 * eps) for e in np.eye(4)],
        axis=1,  # NumPy
    )
    np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fwd, fd, rtol=1e-6, atol=1e-8)
    assert np.abs(fwd[0]).max() == 0.0 and fwd[2, 0] != 0.0  # the view write reached y
