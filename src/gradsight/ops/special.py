"""Special functions for nn activations: erf, erfc and softplus, each a primitive.

NumPy has no error function, and gradsight does not depend on SciPy, so erf
and erfc are computed here in float64 with W. J. Cody's rational Chebyshev
approximations (Math. Comp. 23, 1969: the coefficients of the SPECFUN
routine CALERF): within a few units in the last place of the C library's
erf and erfc over the whole real line (tests/nn/test_activations.py checks
4e-15 relative). It costs about a hundred array operations per call (each
range's formula runs on every element and np.where picks: see _ranges),
which on a busy two-core machine timed within a factor of 1.5 of
``np.frompyfunc(math.erfc)`` either way, and 10-25 times np.tanh. The choice
is for precision without a dependency and for value-independent NumPy calls
(gs.trace replays them), not for speed.

The three ranges of |x|, for ``y = |x|``:

- y <= 0.46875: erf(x) = x P(x^2) / Q(x^2) (erfc = 1 - erf: no cancellation,
  erf is at most 0.5 there);
- 0.46875 < y <= 4: erfc(y) = exp(-y^2) P(y) / Q(y);
- y > 4: erfc(y) = exp(-y^2) / y (1/sqrt(pi) - z P(z) / Q(z)), z = 1/y^2.

Negative arguments use erfc(-y) = 2 - erfc(y) and erf(-x) = -erf(x), so
erfc stays accurate (relatively) in its tail, where erf has rounded to 1:
gelu uses erfc for that reason. float16/float32 inputs are computed in
float64 and rounded once.

softplus is a primitive rather than a composite because its stable form
(max(z, 0) + log1p(exp(-|z|))) and PyTorch's linear regime above
``threshold`` are a ``where`` whose untaken branch would otherwise sit in
the graph; as one node its rule is one line, g sigmoid(beta x).
"""

from __future__ import annotations

import math

import numpy as np

from gradsight._core.node import Primitive, apply1
from gradsight._core.tensor import Tensor

from . import _util, api
from . import jvp as _jvp

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_RSQRT_PI = 1.0 / math.sqrt(math.pi)
_SMALL = 0.46875  # erf by its own series below this |x|, erfc above
_CLAMP = 40.0  # erfc(y) is 0 in float64 for y > 27; clamping keeps inf out of exp's split

# Cody (1969), erf for |x| <= 0.46875: numerator in x^2 (degree 4), denominator (degree 4)
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)  # fmt: skip
# erfc for 0.46875 < |x| <= 4: degree 8 over degree 8 in |x|, times exp(-x^2)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
# erfc for |x| > 4: in z = 1/x^2, degree 5 over degree 5
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip


def _ratio(t, lead, pairs, last_num, last_den):
    """num(t) / den(t) in Cody's nested form: num = ((lead t + a0) t + a1) t ... + last_num,
    den = ((t + b0) t + b1) t ... + last_den, for ``pairs`` = ((a0, b0), (a1, b1), ...).

    On a plain array the steps run in place (two arrays for the whole evaluation,
    not one per step); on anything else (gs.trace's traced arrays) out of place.
    """
    num = t * lead
    if type(t) is np.ndarray:
        den = t.copy()
        for a, b in pairs:
            num += a
            num *= t
            den += b
            den *= t
        num += last_num
        den += last_den
        num /= den
        return num
    den = t
    for a, b in pairs:
        num = (num + a) * t
        den = (den + b) * t
    return (num + last_num) / (den + last_den)


_SMALL_PAIRS = tuple(zip(_A[:3], _B[:3]))
_MID_PAIRS = tuple(zip(_C[:7], _D[:7]))
_TAIL_PAIRS = tuple(zip(_P[:4], _Q[:4]))


def _exp_minus_square(y):
    """exp(-y^2) without y^2's rounding error in the exponent (it would be
    amplified by y^2): y = h + d with h a multiple of 1/16, so h^2 is exact and
    y^2 - h^2 = (y - h)(y + h) is small and accurate."""
    h = np.trunc(y * 16.0) / 16.0
    return _util.exp_nonpositive(-h * h) * _util.exp_nonpositive(-(y - h) * (y + h))


def _parts(x):
    """_ranges(x) with floating-point error reports off: its only possible errors are
    underflows to the right answer (x^2 of a subnormal x, exp(-x^2) times a tail)."""
    return _util._quietly(_ranges, x)


def _ranges(x):
    """(x in float64, erf(x) on the small range, erfc(|x|) beyond it, |x| > 0.46875).

    Each range's formula runs on every element, its argument clamped into the
    range, and np.where picks: no masks and no branches on values, so the same
    NumPy calls run whatever the data (a gs.trace replay needs that), and no
    formula warns outside its range. The middle range and the tail share one
    exp(-y^2) (y clamped at 40, where erfc is 0 in float64 long since).
    """
    if x.dtype != np.float64:
        x = x.astype(np.float64)
    y = np.abs(x)
    s = np.minimum(np.maximum(x, -_SMALL), _SMALL)
    small = s * _ratio(s * s, _A[4], _SMALL_PAIRS, _A[3], _B[3])
    mid = _ratio(np.minimum(np.maximum(y, _SMALL), 4.0), _C[8], _MID_PAIRS, _C[7], _D[7])
    y_tail = np.minimum(np.maximum(y, 4.0), _CLAMP)  # nan stays nan
    z = 1.0 / (y_tail * y_tail)
    tail = (_RSQRT_PI - z * _ratio(z, _P[5], _TAIL_PAIRS, _P[4], _Q[4])) / y_tail
    big = np.where(y <= 4.0, mid, tail) * _exp_minus_square(np.minimum(y, _CLAMP))
    return x, small, big, y > _SMALL


def _rounded(out, dtype):
    """The float64 result in the input's float dtype (float64 for integer input)."""
    if dtype.kind == "f" and dtype != np.float64:
        return out.astype(dtype)
    return out


def erf_array(x):
    """erf(x) elementwise, to a few ulp in float64."""
    x64, small, erfc_abs, big = _parts(x)
    one_minus = 1.0 - erfc_abs
    return _rounded(np.where(big, np.where(x64 < 0, -one_minus, one_minus), small), x.dtype)


def erfc_array(x):
    """erfc(x) = 1 - erf(x) elementwise, relatively accurate in its tail too."""
    x64, small, erfc_abs, big = _parts(x)
    return _rounded(
        np.where(big, np.where(x64 < 0, 2.0 - erfc_abs, erfc_abs), 1.0 - small), x.dtype
    )


def _gauss_slope(F, g, x):
    """g * 2/sqrt(pi) * exp(-x^2): erf's derivative (erfc's is its negative)."""
    return g * (F.exp(-(x * x)) * TWO_OVER_SQRT_PI)


_erf_vjps = (lambda F, g, out, x: _gauss_slope(F, g, x),)
_erfc_vjps = (lambda F, g, out, x: -_gauss_slope(F, g, x),)
# elementwise: the JVP is the VJP applied to the tangent (ops/jvp.py)
erf_p = Primitive("erf", erf_array, _erf_vjps, jvp=_jvp.elementwise(_erf_vjps))
erfc_p = Primitive("erfc", erfc_array, _erfc_vjps, jvp=_jvp.elementwise(_erfc_vjps))


def erf(x) -> Tensor:
    """The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise."""
    return apply1(erf_p, api.as_tensor(x))


def erfc(x) -> Tensor:
    """1 - erf(x), without the cancellation for large x (gelu's form)."""
    return apply1(erfc_p, api.as_tensor(x))


# ---------------------------------------------------------------- softplus
def _softplus(x, beta, threshold):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    rule). The log is taken in the stable form max(z, 0) + log1p(exp(-|z|))."""
    z = x * beta
    soft = np.maximum(z, 0) + np.log1p(_util.exp_nonpositive(-np.abs(z)))
    if beta != 1:
        soft = soft / beta
    return np.where(z > threshold, x, soft)


def _softplus_vjp(F, g, out, x, beta, threshold):
    """g sigmoid(beta x), and g itself where beta x > threshold (the forward's rule)."""
    linear = F.data(x) * beta > threshold
    slope = F.sigmoid(x * beta)
    if linear.any():
        slope = F.where(linear, 1.0, slope)
    return g * slope


softplus_p = Primitive(
    "softplus", _softplus, (_softplus_vjp,), arity=1, jvp=_jvp.elementwise((_softplus_vjp,))
)


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear (x) where beta x > threshold (validated by nn)."""
    return apply1(softplus_p, api.as_tensor(x), beta, threshold)
