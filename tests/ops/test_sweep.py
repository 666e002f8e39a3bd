"""Every registry sample through every generic check (issue 12's sweep).

Checks: forward against NumPy (value and promoted dtype); first-order gradients
against central finite differences of the NumPy reference and against PyTorch
(float64); second order (create_graph=True) against PyTorch; the three entry
points (backward(), autograd.grad, autograd.grad with create_graph) agreeing;
float32 runs against the float64 run within the entry's stated tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from . import checks as C
from .registry import cases

# pole and overflow samples warn in NumPy's reference and in gradsight alike
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ALL = cases()
DIFF = cases(differentiable_only=True)


def _params(rows):
    return pytest.mark.parametrize(
        "info,sample", [(i, s) for i, s, _ in rows], ids=[name for _, _, name in rows]
    )


@_params(ALL)
def test_forward_matches_numpy(info, sample):
    xs, out = C.run(info, sample)
    want = np.asarray(info.np(*sample.arrays(), **sample.kwargs))
    assert out.dtype == want.dtype, f"dtype {out.dtype}, NumPy gives {want.dtype}"
    C.assert_close(out.data, want, "forward", rtol=1e-12)


@_params([r for r in DIFF if r[1].fd])
def test_gradient_matches_finite_differences(info, sample):
    arrays = sample.arrays()
    xs, out = C.run(info, sample)
    v = C.upstream(out.shape, dtype=out.dtype)
    got = C.grads(out, xs, v)
    for g, x in zip(got, xs):
        assert g.shape == x.shape and g.dtype == x.dtype, f"gradient {g.shape} {g.dtype}"
    scale = 1e-6 * max(1.0, float(np.sum(np.abs(v * out.data))))
    if sum(a.size for a in arrays) <= C.FD_MAX_ELEMENTS:
        want = C.finite_difference(info.np, arrays, sample.kwargs, v)
        for i, (g, w) in enumerate(zip(got, want)):
            C.assert_close(g.data, w, f"input {i} vs finite differences", rtol=1e-5, atol=scale)
    else:
        dirs = [C.upstream(a.shape, seed=11 + i) for i, a in enumerate(arrays)]
        numeric = C.projected_difference(info.np, arrays, sample.kwargs, v, dirs)
        analytic = sum(float(np.sum(g.data * d)) for g, d in zip(got, dirs))
        assert abs(analytic - numeric) <= 1e-5 * abs(numeric) + scale * 1e3


@_params(DIFF)
def test_gradient_matches_pytorch(info, sample):
    torch = pytest.importorskip("torch")
    if info.torch is None:
        pytest.skip("no PyTorch counterpart")
    if sample.differs:
        pytest.skip(f"a convention, on purpose: {sample.differs}")
    xs, out = C.run(info, sample)
    v = C.upstream(out.shape, dtype=out.dtype)
    want, tout = C.torch_grads(torch, info, sample, v)
    C.assert_close(out.data, tout, "forward vs PyTorch", rtol=1e-12)
    for i, (g, w) in enumerate(zip(C.grads(out, xs, v), want)):
        C.assert_close(g.data, w, f"input {i} vs PyTorch")


@_params([r for r in DIFF if r[1].torch2 and not r[1].differs and not r[1].long])
def test_second_order_matches_pytorch(info, sample):
    torch = pytest.importorskip("torch")
    if info.torch is None:
        pytest.skip("no PyTorch counterpart")
    xs, out = C.run(info, sample)
    v = C.upstream(out.shape, dtype=out.dtype)
    w = [C.upstream(x.shape, seed=3 + i) for i, x in enumerate(xs)]
    want, _ = C.torch_grads(torch, info, sample, v, order=2, w=w)
    for i, (h, hw) in enumerate(zip(C.second_order(xs, out, v, w), want)):
        C.assert_close(h, hw, f"second order, input {i} vs PyTorch", rtol=1e-9, atol=1e-10)


@_params(DIFF)
def test_three_entry_points_agree(info, sample):
    xs, out = C.run(info, sample)
    v = C.upstream(out.shape, dtype=out.dtype)
    by_grad = C.as_arrays(C.grads(out, xs, v, retain_graph=True))
    by_graph = C.as_arrays(C.grads(out, xs, v, retain_graph=True, create_graph=True))
    if out.requires_grad:
        out.backward(gradient=v)
    by_backward = [np.zeros_like(x.data) if x.grad is None else x.grad.data for x in xs]
    for i in range(len(xs)):
        C.assert_close(by_backward[i], by_grad[i], f"input {i}: backward() vs autograd.grad")
        C.assert_close(by_graph[i], by_grad[i], f"input {i}: create_graph vs plain")


@_params(ALL)
def test_float32_matches_float64(info, sample):
    if "dtype" in sample.kwargs:
        pytest.skip("the op's own dtype argument decides the result dtype")
    xs64, out64 = C.run(info, sample)
    xs32, out32 = C.run(info, sample, np.float32)
    kw32 = C.kwargs_in(sample, np.float32)
    want_dtype = np.asarray(info.np(*sample.arrays(np.float32), **kw32)).dtype
    assert out32.dtype == want_dtype, f"float32 result is {out32.dtype}, NumPy gives {want_dtype}"
    ref = np.asarray(out64.data, dtype=np.float64)
    tol = info.rtol32 * (np.abs(ref) + np.max(np.abs(ref[np.isfinite(ref)]), initial=1.0))
    assert np.all((np.abs(out32.data - ref) <= tol) | (out32.data == ref) | np.isnan(ref)), (
        f"float32 forward off by {np.nanmax(np.abs(out32.data - ref)):.3g}"
    )
    if not info.differentiable:
        return
    v = C.upstream(out64.shape)
    g64 = C.grads(out64, xs64, v)
    g32 = C.grads(out32, xs32, v.astype(out32.dtype))
    for i, (a, b) in enumerate(zip(g32, g64)):
        a = np.asarray(a.data if hasattr(a, "data") else a)
        b = np.asarray(b.data if hasattr(b, "data") else b)
        assert a.dtype == xs32[i].dtype, f"input {i}: float32 gradient came back {a.dtype}"
        big = np.max(np.abs(b[np.isfinite(b)]), initial=1.0)
        tol = info.rtol32 * (np.abs(b) + big)
        ok = (np.abs(a - b) <= tol) | (a == b) | np.isnan(b)
        assert np.all(ok), f"input {i}: float32 gradient off by {np.nanmax(np.abs(a - b)):.3g}"
