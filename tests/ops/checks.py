"""The generic checks every registry sample goes through (see test_sweep.py).

Oracles, none of which shares code with gradsight's rules:
- NumPy's value on the same arrays (forward, and the dtype NumPy promotes to);
- central finite differences of the *NumPy* reference (not of gradsight);
- PyTorch in float64, first and second order (when torch is installed).
"""

from __future__ import annotations

import numpy as np

import gradsight as gs

FD_EPS = 1e-6
FD_MAX_ELEMENTS = 200  # above this, one random direction (u^T J v) instead of every element


def leaves(arrays) -> list:
    """Leaf tensors sharing the arrays' memory, so non-contiguous layouts reach the op."""
    return [gs.from_numpy(a).requires_grad_() for a in arrays]


def upstream(shape, seed: int = 7, dtype=np.float64) -> np.ndarray:
    """A random upstream gradient (in the output's dtype, as PyTorch requires)."""
    dtype = dtype if np.dtype(dtype).kind == "f" else np.float64
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def kwargs_in(sample, dtype=np.float64) -> dict:
    """The sample's static arguments, float arrays among them cast to ``dtype``."""
    return {
        k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
        for k, v in sample.kwargs.items()
    }


def run(info, sample, dtype=np.float64):
    """(input tensors, output tensor) of the op on the sample's arrays."""
    xs = leaves(sample.arrays(dtype))
    return xs, info.gs(*xs, **kwargs_in(sample, dtype))


def grads(out, xs, v, **kw) -> list:
    """d <v, out> / d xs through gs.autograd.grad, zeros where unused (as arrays)."""
    if not out.requires_grad:
        return [np.zeros_like(x.data) for x in xs]
    got = gs.autograd.grad(out, xs, grad_outputs=v, allow_unused=True, **kw)
    return [np.zeros_like(x.data) if g is None else g for g, x in zip(got, xs)]


def as_arrays(gs_grads) -> list:
    return [g.data if isinstance(g, gs.Tensor) else g for g in gs_grads]


def finite_difference(ref, arrays, kwargs, v) -> list:
    """Central differences of sum(v * ref(arrays)) in every element of every input."""
    arrays = [np.array(a, order="C") for a in arrays]  # reshape(-1) below must be a view
    out = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        flat = g.reshape(-1)
        for j in range(a.size):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[i].reshape(-1)[j] += FD_EPS
            minus[i].reshape(-1)[j] -= FD_EPS
            hi = np.sum(v * ref(*plus, **kwargs))
            lo = np.sum(v * ref(*minus, **kwargs))
            flat[j] = (hi - lo) / (2 * FD_EPS)
        out.append(g)
    return out


def projected_difference(ref, arrays, kwargs, v, directions) -> float:
    """d/dt sum(v * ref(arrays + t directions)) at t = 0, centrally."""
    hi = np.sum(v * ref(*[a + FD_EPS * d for a, d in zip(arrays, directions)], **kwargs))
    lo = np.sum(v * ref(*[a - FD_EPS * d for a, d in zip(arrays, directions)], **kwargs))
    return (hi - lo) / (2 * FD_EPS)


def torch_grads(torch, info, sample, v, order: int = 1, w=None):
    """PyTorch's first-order gradients (or the second-order <w, d grad>), float64."""
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in sample.arrays()]
    out = info.torch(torch, *ts, **sample.kwargs)
    vt = torch.from_numpy(np.asarray(v)).to(out.dtype)
    if not out.requires_grad:
        return [np.zeros(t.shape) for t in ts], out.detach().numpy()
    g = torch.autograd.grad(out, ts, vt, allow_unused=True, create_graph=order == 2)
    g = [torch.zeros_like(t) if gi is None else gi for gi, t in zip(g, ts)]
    if order == 1:
        return [gi.detach().numpy() for gi in g], out.detach().numpy()
    s = sum((gi * torch.from_numpy(wi)).sum() for gi, wi in zip(g, w))
    if not s.requires_grad:
        return [np.zeros(t.shape) for t in ts], out.detach().numpy()
    h = torch.autograd.grad(s, ts, allow_unused=True)
    # abs and relu's double backward is a ZeroTensor, which needs force=True to convert
    return [np.zeros(t.shape) if hi is None else hi.numpy(force=True) for hi, t in zip(h, ts)], None


def second_order(xs, out, v, w) -> list:
    """<w, d/dx (d <v, out> / dx)> through create_graph=True."""
    if not out.requires_grad:
        return [np.zeros_like(x.data) for x in xs]
    g = gs.autograd.grad(out, xs, grad_outputs=v, allow_unused=True, create_graph=True)
    terms = [(gi * wi).sum() for gi, wi in zip(g, w) if gi is not None and gi.requires_grad]
    if not terms:
        return [np.zeros_like(x.data) for x in xs]
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    h = gs.autograd.grad(s, xs, allow_unused=True)
    return [np.zeros_like(x.data) if hi is None else hi.data for hi, x in zip(h, xs)]


def assert_close(got, want, what: str, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
