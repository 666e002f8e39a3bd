"""np.linalg's inv, solve, det and slogdet: forward, VJP and declaration of each.

All take stacks of square matrices (..., n, n), as NumPy does. With
A^-T the inverse transposed:

- inv:   X = A^-1,           dA = -X^T g X^T
- solve: X = A^-1 B,         dB = A^-T g,  dA = -dB X^T  (b a vector: -outer(dB, X))
- det:   d = det A,          dA = g d A^-T
- slogdet: (sign, log|det A|); the sign has no gradient, dA = g A^-T

At a singular matrix the inverse does not exist: inv, solve and the
gradients of det and slogdet raise NumPy's LinAlgError, like the forward of
inv (PyTorch gives det a gradient there through an SVD; gradsight refuses).
"""

from __future__ import annotations

import operator
from collections import namedtuple

import numpy as np

from gradsight._core.node import Primitive, apply, apply1

from . import api
from . import jvp as _jvp
from . import numpy_ops as nops
from .api import as_tensor
from .declare import declare


def _square(x, what: str):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise np.linalg.LinAlgError(
            f"{what}: needs square matrices in the last two dims, got shape {x.shape}"
        )


# ---------------------------------------------------------------- inv
def _inv_vjp(F, g, out, a):
    xt = F.mT(out)
    return -(xt @ g @ xt)


def _inv_jvp(F, dots, out, a):
    return -(out @ dots[0] @ out)  # d(A^-1) = -A^-1 dA A^-1


inv_p = Primitive("inv", np.linalg.inv, (_inv_vjp,))


def inv(a):
    """The inverse of a square matrix (or of each in a stack), np.linalg.inv."""
    a = as_tensor(a)
    _square(a, "inv")
    return apply1(inv_p, a)


# ---------------------------------------------------------------- solve
def _solve_forward(a, b):
    return np.linalg.solve(a, b)


def _solve_db(F, g, out, a, b):
    if b.ndim == 1:  # one right-hand side for every matrix: solve with it as a column
        return (F.inv(F.mT(a)) @ g[..., None])[..., 0]
    return F.inv(F.mT(a)) @ g


def _solve_da(F, g, out, a, b):
    db = _solve_db(F, g, out, a, b)
    if b.ndim == 1:
        return -(db[..., :, None] * out[..., None, :])
    return -(db @ F.mT(out))


def _solve_jvp(F, dots, out, a, b):
    """dX = A^-1 (dB - dA X)."""
    da, db = dots
    vector = b.ndim == 1
    rhs = db
    if da is not None:
        dax = (da @ out[..., None])[..., 0] if vector else da @ out
        rhs = -dax if rhs is None else rhs - dax
    if vector:
        return (F.inv(a) @ rhs[..., None])[..., 0]
    return F.inv(a) @ rhs


solve_p = Primitive("solve", _solve_forward, (_solve_da, _solve_db))


def solve(a, b):
    """x with a @ x = b (np.linalg.solve): b of shape (..., n, k), or (n,) for one vector."""
    a = as_tensor(a)
    _square(a, "solve")
    return apply(solve_p, (a, b))


# ---------------------------------------------------------------- det, slogdet
def _det_vjp(F, g, out, a):
    return (g * out)[..., None, None] * F.mT(F.inv(a))


_MATRIX = lambda a: ((-2, -1), False)  # noqa: E731 - the slice each output reads
det_jvp = _jvp.contraction(_det_vjp, _MATRIX)  # det * tr(A^-1 dA)
det_p = Primitive("det", np.linalg.det, (_det_vjp,))


def det(a):
    """The determinant of a square matrix (or of each in a stack), np.linalg.det."""
    a = as_tensor(a)
    _square(a, "det")
    return apply1(det_p, a)


def _logabsdet_vjp(F, g, out, a):
    return g[..., None, None] * F.mT(F.inv(a))


logabsdet_jvp = _jvp.contraction(_logabsdet_vjp, _MATRIX)  # tr(A^-1 dA)
logabsdet_p = Primitive("logabsdet", lambda a: np.linalg.slogdet(a)[1], (_logabsdet_vjp,))

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def slogdet(a):
    """(sign, log|det a|) as np.linalg.slogdet; the sign is a constant (no gradient)."""
    a = as_tensor(a)
    _square(a, "slogdet")
    sign = nops.constant(np.linalg.slogdet(a.data)[0])
    return SlogdetResult(sign, apply1(logabsdet_p, a))


# ---------------------------------------------------------------- np.linalg's names for products
def vecdot(x1, x2, /, *, axis=-1):
    """sum(x1 * x2, axis) with broadcasting (np.vecdot, np.linalg.vecdot; real inputs)."""
    return api.sum(as_tensor(x1) * as_tensor(x2), axis)


def multi_dot(arrays, *, out=None):
    """A @ B @ C ... (np.linalg.multi_dot; first and last may be 1-d), left to right."""
    if out is not None:
        raise TypeError("np.linalg.multi_dot(..., out=...) on a Tensor: use the returned Tensor")
    ts = [as_tensor(a) for a in arrays]
    if len(ts) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    result = ts[0]
    for t in ts[1:]:
        result = api.matmul(result, t)
    return result


def matrix_power(a, n):
    """a multiplied by itself n times (np.linalg.matrix_power); n < 0 inverts first."""
    a = as_tensor(a)
    _square(a, "matrix_power")
    n = operator.index(n)
    if n < 0:
        a, n = inv(a), -n
    if n == 0:
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        return nops.constant(eye.copy())
    result, base = None, a
    while n:  # binary powering: 2 log2(n) products at most
        if n & 1:
            result = base if result is None else api.matmul(result, base)
        n >>= 1
        if n:
            base = api.matmul(base, base)
    return result


def linalg_outer(x1, x2, /):
    """np.linalg.outer: the outer product of two 1-d tensors."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"linalg.outer: needs 1-d inputs, got {x1.shape} and {x2.shape}")
    return nops.outer(x1, x2)


def linalg_trace(x, /, *, offset=0, dtype=None):
    """np.linalg.trace: the trace of the last two axes."""
    x = as_tensor(x)
    return nops.trace(x if dtype is None else api.astype(x, dtype), offset, -2, -1)


def linalg_diagonal(x, /, *, offset=0):
    """np.linalg.diagonal: the diagonal of the last two axes."""
    return nops.diagonal(as_tensor(x), offset, -2, -1)


def linalg_tensordot(x1, x2, /, *, axes=2):
    return nops.tensordot(x1, x2, axes)


def linalg_matmul(x1, x2, /):
    return api.matmul(x1, x2)


# ---------------------------------------------------------------- declarations
_SINGULAR = "a singular matrix raises LinAlgError (no inverse)"
# reached as np.linalg.<name> on Tensors (not gs names: NumPy keeps them in np.linalg)
_LA = {"export": False}
declare("vecdot", vecdot, numpy=(np.vecdot, np.linalg.vecdot), **_LA)
declare("multi_dot", multi_dot, numpy=np.linalg.multi_dot, **_LA)
declare("matrix_power", matrix_power, numpy=np.linalg.matrix_power, **_LA)
declare("linalg.outer", linalg_outer, numpy=np.linalg.outer, **_LA)
declare("linalg.trace", linalg_trace, numpy=np.linalg.trace, **_LA)
declare("linalg.diagonal", linalg_diagonal, numpy=np.linalg.diagonal, **_LA)
declare("linalg.tensordot", linalg_tensordot, numpy=np.linalg.tensordot, **_LA)
declare("linalg.matmul", linalg_matmul, numpy=np.linalg.matmul, **_LA)
declare(
    "inv",
    inv,
    inv_p,
    numpy=np.linalg.inv,
    rules=(np.linalg.inv, inv),
    kinks=_SINGULAR,
    jvp=_inv_jvp,
    **_LA,
)
declare("solve", solve, solve_p, numpy=np.linalg.solve, kinks=_SINGULAR, jvp=_solve_jvp, **_LA)
declare(
    "det",
    det,
    det_p,
    numpy=np.linalg.det,
    kinks="the gradient at a singular matrix raises",
    jvp=det_jvp,
    **_LA,
)
declare(
    "slogdet",
    slogdet,
    logabsdet_p,
    numpy=np.linalg.slogdet,
    kinks="no gradient to the sign; at a singular matrix the gradient raises",
    jvp=logabsdet_jvp,
    **_LA,
)
