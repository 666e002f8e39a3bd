"""Forward mode on every registry sample (the generic sweep's JVP checks).

- The dot-product test: for random u (output-shaped) and v (one per input),
  <u, J v> from the JVP rules equals <J^T u, v> from the VJP rules, in float64.
  It checks each op's two rules against each other, without finite differences.
- JVP against PyTorch's ``torch.func.jvp`` (float64) on every sample with a PyTorch
  counterpart that follows the same convention.
- ``gs.jacfwd`` equals ``gs.jacobian`` on every sample small enough for a dense
  Jacobian.

A primitive reached by a sample without a JVP rule of its own fails these checks by
name ("no JVP rule"): forward mode would otherwise transpose its VJP, and the
dot-product test would compare the VJP with itself.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs

from . import checks as C
from .registry import cases

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DIFF = cases(differentiable_only=True)
DENSE_MAX = 4_000  # out.size * in.size above this: no dense Jacobian (the long-axis samples)


def _params(rows):
    return pytest.mark.parametrize(
        "info,sample", [(i, s) for i, s, _ in rows], ids=[name for _, _, name in rows]
    )


def _function(info, sample):
    kwargs = C.kwargs_in(sample)
    return lambda *xs: info.gs(*xs, **kwargs)


def _directions(sample, out_shape):
    arrays = sample.arrays()
    vs = [C.upstream(a.shape, seed=31 + i) for i, a in enumerate(arrays)]
    return arrays, vs, C.upstream(out_shape, seed=5)


def _rtol(out) -> float:
    """1e-10 in float64; an op whose result is float32 (a dtype argument) rounds there."""
    return max(1e-10, 100 * float(np.finfo(out.dtype).eps)) if out.dtype.kind == "f" else 1e-10


def assert_every_primitive_has_a_jvp(out) -> None:
    missing = sorted(
        {
            node.prim.name
            for node in gs.autograd.graph_nodes(out)
            if node.prim is not None and getattr(node.prim, "jvp", None) is None
        }
    )
    assert not missing, f"no JVP rule for the primitive(s) {missing} (declare(..., jvp=...))"


@_params(DIFF)
def test_dot_product_jvp_against_vjp(info, sample):
    xs, out = C.run(info, sample)
    assert_every_primitive_has_a_jvp(out)
    arrays, vs, u = _directions(sample, out.shape)
    _, jv = gs.jvp(_function(info, sample), tuple(arrays), tuple(vs))
    assert jv.shape == out.shape and jv.dtype == out.dtype, f"tangent {jv.shape} {jv.dtype}"
    jtu = C.grads(out, xs, u)
    lhs = float(np.sum(u * jv.data))
    rhs = float(sum(np.sum(g.data * v if hasattr(g, "data") else g * v) for g, v in zip(jtu, vs)))
    if np.isnan(lhs) and np.isfinite(rhs) and np.isnan(out.data).any():
        # a mean over nothing (all targets ignored, an all-NaN slice) is 0/0 = NaN, as
        # in PyTorch; the VJP's convention sends zeros back, the tangent is 0/0 too
        pytest.skip("the output is NaN (a mean over nothing): its tangent is NaN, its VJP 0")
    if not (np.isfinite(lhs) and np.isfinite(rhs)):  # a pole: both rules must see it
        assert np.isfinite(lhs) == np.isfinite(rhs), f"<u, Jv> = {lhs}, <J^T u, v> = {rhs}"
        return
    scale = float(np.sum(np.abs(u * jv.data))) + sum(
        float(np.sum(np.abs(np.asarray(getattr(g, "data", g)) * v))) for g, v in zip(jtu, vs)
    )
    assert abs(lhs - rhs) <= _rtol(out) * scale + 1e-12, (
        f"<u, J v> = {lhs!r} but <J^T u, v> = {rhs!r}: the JVP and VJP rules disagree"
    )


@_params(DIFF)
def test_jvp_matches_pytorch(info, sample):
    torch = pytest.importorskip("torch")
    if info.torch is None:
        pytest.skip("no PyTorch counterpart")
    if sample.differs:
        pytest.skip(f"a convention, on purpose: {sample.differs}")
    xs, out = C.run(info, sample)
    assert_every_primitive_has_a_jvp(out)
    arrays, vs, _ = _directions(sample, out.shape)
    ts = tuple(torch.tensor(a, dtype=torch.float64) for a in arrays)
    tvs = tuple(torch.tensor(v, dtype=torch.float64) for v in vs)
    try:
        tout, tjv = torch.func.jvp(lambda *t: info.torch(torch, *t, **sample.kwargs), ts, tvs)
    except (RuntimeError, NotImplementedError) as err:  # PyTorch's own gaps, named
        pytest.skip(f"PyTorch has no forward-mode rule here: {str(err).splitlines()[0]}")
    _, jv = gs.jvp(_function(info, sample), tuple(arrays), tuple(vs))
    want = tjv.detach().numpy()
    C.assert_close(jv.data, want, "JVP vs torch.func.jvp", rtol=_rtol(out), atol=1e-11)


@_params(DIFF)
def test_jacfwd_equals_jacobian(info, sample):
    xs, out = C.run(info, sample)
    assert_every_primitive_has_a_jvp(out)
    arrays = sample.arrays()
    if out.size * sum(a.size for a in arrays) > DENSE_MAX:
        pytest.skip("too large for a dense Jacobian")
    nums = tuple(range(len(arrays)))
    fwd = gs.jacfwd(_function(info, sample), argnums=nums)(*arrays)
    rev = gs.jacobian(_function(info, sample), argnums=nums)(*arrays)
    for i, (a, b) in enumerate(zip(fwd, rev)):
        a, b = a.data, b.data
        # at a pole the one-hot directions meet 0 * inf = NaN: along rows in reverse
        # mode, along columns in forward mode; the true entry there is the other's 0
        artifact = (np.isnan(a) & (b == 0)) | (np.isnan(b) & (a == 0))
        if not sample.fd:
            a, b = np.where(artifact, 0.0, a), np.where(artifact, 0.0, b)
        C.assert_close(a, b, f"jacfwd vs jacobian, input {i}", rtol=_rtol(out), atol=1e-12)
