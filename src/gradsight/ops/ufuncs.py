"""NumPy's elementwise math beyond the core ops: each op's forward, VJP and declaration.

Trigonometric and hyperbolic functions and their inverses, exp2/log10,
logaddexp/logaddexp2, reciprocal, sinc, the rounding functions, fabs,
degree/radian conversion and the remainders (``%``). Each is one ``unary`` or
``binary`` declaration (declare.py): the primitive, ``gs.<name>``, NumPy's
ufunc, and the Tensor method where NumPy has one.

Rules: ``rule(F, g, out, x)`` with g the incoming gradient and out the
forward result, written with operators and ``F``'s functions so that they run
on arrays and, for create_graph, on Tensors.

Conventions where the derivative does not exist (the same as PyTorch's):
the rounding functions (floor, ceil, trunc, rint) have gradient 0 everywhere,
their jumps included; the remainders pass the gradient to the dividend and
give the divisor ``-g * floor(a / b)`` (``trunc`` for fmod), also at a jump;
fabs has gradient 0 at 0; sinc's derivative at 0 is 0, its limit, and its
second derivative there the exact -pi^2/3 (PyTorch's is nan).
"""

from __future__ import annotations

import math

import numpy as np

from .declare import binary, declare, unary

_M = __name__
LN2 = math.log(2.0)
LN10 = math.log(10.0)
ROUNDING = "0 everywhere, also at the jumps (as PyTorch)"


# ---------------------------------------------------------------- trigonometric, hyperbolic
tan = unary(
    "tan",
    np.tan,
    lambda F, g, out, x: g + g * out * out,  # 1 + tan^2
    doc="tan(x); the derivative is 1 + tan(x)^2.",
    module=_M,
)
sinh = unary(
    "sinh",
    np.sinh,
    lambda F, g, out, x: g * F.cosh(x),
    doc="sinh(x).",
    module=_M,
    rules=True,
)
cosh = unary(
    "cosh",
    np.cosh,
    lambda F, g, out, x: g * F.sinh(x),
    doc="cosh(x).",
    module=_M,
    rules=True,
)
arcsin = unary(
    "arcsin",
    np.arcsin,
    lambda F, g, out, x: g / F.sqrt(1 - x * x),
    doc="arcsin(x), x in [-1, 1]; the derivative is inf at +-1.",
    module=_M,
    kinks="inf at x = +-1",
)
arccos = unary(
    "arccos",
    np.arccos,
    lambda F, g, out, x: -g / F.sqrt(1 - x * x),
    doc="arccos(x), x in [-1, 1]; the derivative is -inf at +-1.",
    module=_M,
    kinks="-inf at x = +-1",
)
arctan = unary(
    "arctan",
    np.arctan,
    lambda F, g, out, x: g / (1 + x * x),
    doc="arctan(x).",
    module=_M,
)
arcsinh = unary(
    "arcsinh",
    np.arcsinh,
    lambda F, g, out, x: g / F.sqrt(x * x + 1),
    doc="arcsinh(x).",
    module=_M,
)
arccosh = unary(
    "arccosh",
    np.arccosh,
    lambda F, g, out, x: g / F.sqrt(x * x - 1),
    doc="arccosh(x), x >= 1; the derivative is inf at 1.",
    module=_M,
    kinks="inf at x = 1",
)
arctanh = unary(
    "arctanh",
    np.arctanh,
    lambda F, g, out, x: g / (1 - x * x),
    doc="arctanh(x), x in (-1, 1).",
    module=_M,
    kinks="inf at x = +-1",
)


_SINC2 = -(np.pi**2) / 3  # sinc''(0)


def _sinc_vjp(F, g, out, x):
    """(cos(pi x) - sinc(x)) / x; at x = 0 its Taylor form sinc''(0) x, which is 0
    there and keeps the exact second derivative -pi^2/3 for create_graph."""
    at_zero = F.data(x) == 0
    if not np.any(at_zero):
        return g * (F.cos(np.pi * x) - out) / x
    x_safe = F.where(at_zero, 1.0, x)
    return F.where(at_zero, g * x * _SINC2, g * (F.cos(np.pi * x_safe) - out) / x_safe)


sinc = unary(
    "sinc",
    np.sinc,
    _sinc_vjp,
    doc="sin(pi x) / (pi x), 1 at 0 (NumPy's normalised sinc).",
    module=_M,
    kinks="0 at x = 0 (the limit), and the exact -pi^2/3 second derivative (PyTorch: nan)",
)

# ---------------------------------------------------------------- exponentials and logarithms
exp2 = unary(
    "exp2",
    np.exp2,
    lambda F, g, out, x: g * out * LN2,
    doc="2 ** x.",
    module=_M,
)
log10 = unary(
    "log10",
    np.log10,
    lambda F, g, out, x: g / (x * LN10),
    doc="log base 10; the derivative is inf at 0.",
    module=_M,
    kinks="inf at 0",
)
rsqrt = unary(
    "rsqrt",
    lambda x: 1 / np.sqrt(x),
    lambda F, g, out, x: g * out * out * out * -0.5,  # -x^(-3/2) / 2
    doc="1 / sqrt(x) (torch.rsqrt); the derivative is -inf at 0.",
    module=_M,
    method="rsqrt",
    numpy=None,  # NumPy has no rsqrt
    kinks="-inf at 0",
)
reciprocal = unary(
    "reciprocal",
    np.reciprocal,
    lambda F, g, out, x: -g * out * out,
    doc="1 / x.",
    module=_M,
    kinks="-inf at 0",
)
logaddexp = binary(
    "logaddexp",
    np.logaddexp,
    (
        lambda F, g, out, a, b: g * F.exp(a - out),
        lambda F, g, out, a, b: g * F.exp(b - out),
    ),
    doc="log(exp(a) + exp(b)) without overflow; the gradient is softmax's of (a, b).",
    module=_M,
)
logaddexp2 = binary(
    "logaddexp2",
    np.logaddexp2,
    (
        lambda F, g, out, a, b: g * F.exp((a - out) * LN2),
        lambda F, g, out, a, b: g * F.exp((b - out) * LN2),
    ),
    doc="log2(2 ** a + 2 ** b) without overflow.",
    module=_M,
)


def _over_sum_of_squares(F, a, b):
    return a / (a * a + b * b)


arctan2 = binary(
    "arctan2",
    np.arctan2,
    (
        lambda F, g, out, y, x: g * _over_sum_of_squares(F, x, y),
        lambda F, g, out, y, x: -g * _over_sum_of_squares(F, y, x),
    ),
    doc="The angle of the point (x, y): arctan2(y, x); NaN gradient at the origin.",
    module=_M,
    kinks="NaN at the origin (0/0, as PyTorch)",
)
hypot = binary(
    "hypot",
    np.hypot,
    (
        lambda F, g, out, a, b: g * a / out,
        lambda F, g, out, a, b: g * b / out,
    ),
    doc="sqrt(a^2 + b^2) without overflow; NaN gradient at the origin.",
    module=_M,
    kinks="NaN at the origin (0/0, as PyTorch)",
)
cbrt = unary(
    "cbrt",
    np.cbrt,
    lambda F, g, out, x: g / (3 * out * out),
    doc="The real cube root; the derivative is inf at 0.",
    module=_M,
    kinks="inf at 0",
)


# ---------------------------------------------------------------- rounding and sign-like
def _zero(F, g, out, x):
    return g * 0.0


floor = unary("floor", np.floor, _zero, doc="Round down; gradient 0.", module=_M, kinks=ROUNDING)
ceil = unary("ceil", np.ceil, _zero, doc="Round up; gradient 0.", module=_M, kinks=ROUNDING)
trunc = unary(
    "trunc", np.trunc, _zero, doc="Round toward 0; gradient 0.", module=_M, kinks=ROUNDING
)
rint = unary(
    "rint",
    np.rint,
    _zero,
    doc="Round to the nearest integer; gradient 0.",
    module=_M,
    kinks=ROUNDING,
)
fabs = unary(
    "fabs",
    np.fabs,
    lambda F, g, out, x: g * np.sign(F.data(x)),
    doc="|x| (as abs); the gradient at 0 is 0.",
    module=_M,
    kinks="0 at x = 0",
)
deg2rad = unary(
    "deg2rad",
    np.deg2rad,
    lambda F, g, out, x: g * (np.pi / 180),
    doc="Degrees to radians (also np.radians).",
    module=_M,
    numpy=(np.deg2rad, np.radians),
    export=("deg2rad", "radians"),
)
rad2deg = unary(
    "rad2deg",
    np.rad2deg,
    lambda F, g, out, x: g * (180 / np.pi),
    doc="Radians to degrees (also np.degrees).",
    module=_M,
    numpy=(np.rad2deg, np.degrees),
    export=("rad2deg", "degrees"),
)


# ---------------------------------------------------------------- remainders
def _quotient(F, a, b, rounding):
    """floor(a / b) (or trunc): piecewise constant, so a constant in every order."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return rounding(np.true_divide(F.data(a), F.data(b)))


mod = binary(
    "mod",
    np.remainder,
    (
        lambda F, g, out, a, b: g,
        lambda F, g, out, a, b: -g * _quotient(F, a, b, np.floor),
    ),
    doc="a mod b with the sign of b (np.mod, np.remainder, Python's %).",
    module=_M,
    dunder="mod",
    numpy=np.remainder,  # np.mod is the same ufunc
    export=("mod", "remainder"),
    kinks="d/da = 1, d/db = -floor(a/b), also at the jumps (as PyTorch's remainder)",
)
fmod = binary(
    "fmod",
    np.fmod,
    (
        lambda F, g, out, a, b: g,
        lambda F, g, out, a, b: -g * _quotient(F, a, b, np.trunc),
    ),
    doc="a mod b with the sign of a (C's fmod).",
    module=_M,
    kinks="d/da = 1, d/db = -trunc(a/b), also at the jumps (as PyTorch)",
)


# ---------------------------------------------------------------- np.round, np.around, np.fix
def round_(a, decimals: int = 0, out=None):
    """Round half to even to ``decimals`` places, as np.round (rint(a * 10^d) / 10^d);
    gradient 0, as rint's."""
    if out is not None:
        raise TypeError("np.round(..., out=...) on a Tensor: use the returned Tensor")
    if not decimals:
        return rint(a)
    scale = 10.0**decimals
    return rint(a * scale) / scale


def fix(x, out=None):
    """Round toward 0, as np.fix (trunc); gradient 0."""
    if out is not None:
        raise TypeError("np.fix(..., out=...) on a Tensor: use the returned Tensor")
    return trunc(x)


round_.__name__ = "round"
declare(
    "round",
    round_,
    numpy=(np.round, np.around),
    export=("round", "around"),
    kinks=ROUNDING,
)
declare("fix", fix, numpy=np.fix, kinks=ROUNDING)
