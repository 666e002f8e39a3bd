"""Elementwise primitives: forward and VJP side by side.

Each rule is ``rule(F, g, out, *inputs)``: g is the incoming gradient, out
the forward result; broadcasting is undone by the engine. Conventions at
kinks: relu'(0) = 0, |x|'(0) = 0; maximum/minimum split ties evenly (1/2 each);
clip passes the gradient at the bounds (like torch.clamp).
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import Primitive

from . import _util


def _tie_weight(F, out, a, b):
    """Share of the gradient going to ``a`` in maximum(a, b): 1, 0 or 1/2 at a tie.

    A NaN operand is what the result took (NumPy propagates it), so it gets the
    gradient, as a NaN extremum does in max/min (and as in PyTorch).
    """
    ad, bd, od = F.data(a), F.data(b), F.data(out)
    hit_a = ad == od
    hit_b = bd == od
    if od.dtype.kind == "f" and np.isnan(od).any():
        hit_a = hit_a | np.isnan(ad)
        hit_b = hit_b | np.isnan(bd)
    w = hit_a.astype(od.dtype)
    w -= 0.5 * (hit_a & hit_b)
    return w


add = Primitive(
    "add",
    np.add,
    (
        lambda F, g, out, x, y: g,
        lambda F, g, out, x, y: g,
    ),
)
sub = Primitive(
    "sub",
    np.subtract,
    (
        lambda F, g, out, x, y: g,
        lambda F, g, out, x, y: -g,
    ),
)
mul = Primitive(
    "mul",
    np.multiply,
    (
        lambda F, g, out, x, y: g * y,
        lambda F, g, out, x, y: g * x,
    ),
)
div = Primitive(
    "div",
    np.true_divide,
    (
        lambda F, g, out, x, y: g / y,
        lambda F, g, out, x, y: -g * out / y,
    ),
)


def _pow_dx(F, g, out, x, y):
    """y x^(y-1), and 0 at x = y = 0 (x^0 is constant; the formula reads 0 * inf).
    The exponent is swapped for 1 there, so no inf or nan is formed, not even in
    the graph a second derivative goes through. Elsewhere at y = 0 the formula
    gives 0 by itself and keeps its derivative in y (x^-1), which PyTorch's
    mask on y == 0 loses."""
    flat = (F.data(y) == 0) & (F.data(x) == 0)
    if not np.any(flat):
        return g * y * x ** (y - 1)
    y_safe = F.where(flat, 1.0, y)
    return F.where(flat, 0.0, g * y * x ** (y_safe - 1))


def _pow_dy(F, g, out, x, y):
    """x^y log x, and 0 where x == 0 and y >= 0 (0^y is constant there; PyTorch's
    convention). At x == 0, y < 0 it is -inf, as the limit from x > 0."""
    zero_base = (F.data(x) == 0) & (F.data(y) >= 0)
    if not np.any(zero_base):
        return g * out * F.log(x)
    x_safe = F.where(zero_base, 1.0, x)
    return F.where(zero_base, 0.0, g * out * F.log(x_safe))


power = Primitive("pow", np.power, (_pow_dx, _pow_dy))
maximum = Primitive(
    "maximum",
    np.maximum,
    (
        lambda F, g, out, x, y: g * _tie_weight(F, out, x, y),
        lambda F, g, out, x, y: g * _tie_weight(F, out, y, x),
    ),
)
minimum = Primitive(
    "minimum",
    np.minimum,
    (
        lambda F, g, out, x, y: g * _tie_weight(F, out, x, y),
        lambda F, g, out, x, y: g * _tie_weight(F, out, y, x),
    ),
)
where = Primitive(
    "where",
    np.where,
    (
        None,
        lambda F, g, out, c, x, y: F.where(c, g, 0),
        lambda F, g, out, c, x, y: F.where(c, 0, g),
    ),
)

neg = Primitive("neg", np.negative, (lambda F, g, out, x: -g,))
exp = Primitive("exp", _util.exp_quiet, (lambda F, g, out, x: g * out,))
log = Primitive("log", np.log, (lambda F, g, out, x: g / x,))
sqrt = Primitive("sqrt", np.sqrt, (lambda F, g, out, x: g / (2 * out),))  # inf at 0, as IEEE
absolute = Primitive("abs", np.abs, (lambda F, g, out, x: g * np.sign(F.data(x)),))


# tanh' = 1 - out^2 and sigmoid' = out (1 - out), each written without a
# scalar-array op: NumPy takes ~2x longer for `1 - a` than for `a * b` on
# small arrays (scalar conversion), and these run on every backward step.
def _tanh_vjp(F, g, out, x):
    return g - g * out * out


def _sigmoid_vjp(F, g, out, x):
    g_out = g * out
    return g_out - g_out * out


tanh = Primitive("tanh", np.tanh, (_tanh_vjp,))
sigmoid = Primitive("sigmoid", _util.sigmoid, (_sigmoid_vjp,))


def _relu(x):
    """max(x, 0) against an array of zeros: NumPy's maximum with a scalar operand
    takes 2-6x longer than with two arrays (no SIMD loop for a 0-stride input)."""
    zeros = np.empty(x.shape, x.dtype)
    zeros.fill(0)
    return np.maximum(x, zeros, out=zeros)


# relu and clip multiply by their 0/1 mask: np.where on float32 is ~20x slower than that.
# relu's mask comes from its output (out > 0 exactly where x > 0, NaN included), so a
# traced program can compute relu in place: its input is not needed after the forward.
relu = Primitive("relu", _relu, (lambda F, g, out, x: g * (F.data(out) > 0),))


def _clip(x, lo, hi):
    if lo is None and hi is None:
        return x.copy()
    return np.clip(x, lo, hi)


def _clip_mask(x, lo, hi):
    inside = np.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return inside


clip = Primitive(
    "clip",
    _clip,
    (lambda F, g, out, x, lo, hi: g * _clip_mask(F.data(x), lo, hi),),
    arity=1,
)
astype = Primitive(
    "astype",
    lambda x, dtype: x.astype(dtype),
    (lambda F, g, out, x, dtype: F.astype(g, x.dtype),),
    arity=1,
)
