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

from collections import namedtuple

import numpy as np

from gradsight._core.node import Primitive, apply, apply1

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


# ---------------------------------------------------------------- declarations
_SINGULAR = "a singular matrix raises LinAlgError (no inverse)"
# reached as np.linalg.<name> on Tensors (not gs names: NumPy keeps them in np.linalg)
_LA = {"export": False}
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
