"""The NumPy-named ops a hand-written network uses, beyond the core ops of api.py.

New primitives (expm1, log1p, log2, square, sin, cos, copy, fmax/fmin, prod,
cumsum, einsum, norm) sit with their VJP rules; everything else is written
in terms of primitives (tensordot is transpose + reshape + matmul, tile and
repeat are an integer-array index, tril/pad a ``where``), so gradients,
broadcasting and create_graph come from the pieces.

Rules that need a second op (sin's needs cos) call ``_on(F, ...)``: the
recorded gs function when backward builds a graph, NumPy's otherwise.
Ops without a gradient (sign, comparisons, isfinite, argmax ...) return a
constant Tensor: their derivative is zero almost everywhere.
"""

from __future__ import annotations

import math
import string

import numpy as np

from gradsight._core.node import Primitive, apply, apply1, apply2
from gradsight._core.tensor import Tensor, new_tensor

from . import api
from . import elementwise as ew
from . import jvp as _jvp
from ._util import kept_shape
from .api import as_tensor

LN2 = math.log(2.0)


def _on(F, recorded, plain, *args):
    """``recorded(*args)`` when the rule builds a graph (F.records), else ``plain(*args)``."""
    return recorded(*args) if F.records else plain(*args)


def constant(arr) -> Tensor:
    """A Tensor that needs no gradient, over ``arr`` (made an ndarray)."""
    arr = np.asarray(arr)
    arr.setflags(write=False)
    return new_tensor(arr, None, False)


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# ---------------------------------------------------------------- elementwise primitives
expm1_p = Primitive("expm1", np.expm1, (lambda F, g, out, x: g * out + g,))
log1p_p = Primitive("log1p", np.log1p, (lambda F, g, out, x: g / (x + 1),))
log2_p = Primitive("log2", np.log2, (lambda F, g, out, x: g / (x * LN2),))
square_p = Primitive("square", np.square, (lambda F, g, out, x: g * (x + x),))
sin_p = Primitive("sin", np.sin, (lambda F, g, out, x: g * _on(F, cos, np.cos, x),))
cos_p = Primitive("cos", np.cos, (lambda F, g, out, x: -g * _on(F, sin, np.sin, x),))
copy_p = Primitive("copy", np.copy, (lambda F, g, out, x: g,))
# fmax/fmin ignore a NaN operand; the tie weight of maximum already sends g to the number
fmax_p = Primitive("fmax", np.fmax, ew.maximum.vjps)
fmin_p = Primitive("fmin", np.fmin, ew.minimum.vjps)


def expm1(x) -> Tensor:
    """exp(x) - 1, accurate near 0."""
    return apply1(expm1_p, as_tensor(x))


def log1p(x) -> Tensor:
    """log(1 + x), accurate near 0."""
    return apply1(log1p_p, as_tensor(x))


def log2(x) -> Tensor:
    return apply1(log2_p, as_tensor(x))


def square(x) -> Tensor:
    return apply1(square_p, as_tensor(x))


def sin(x) -> Tensor:
    return apply1(sin_p, as_tensor(x))


def cos(x) -> Tensor:
    return apply1(cos_p, as_tensor(x))


def copy(x) -> Tensor:
    """A recorded copy (gradient passes unchanged)."""
    return apply1(copy_p, as_tensor(x))


def positive(x) -> Tensor:
    """+x, as np.positive: a copy."""
    return copy(x)


def fmax(a, b) -> Tensor:
    """Elementwise max ignoring NaN; ties split the gradient evenly, as maximum."""
    return apply2(fmax_p, a, b)


def fmin(a, b) -> Tensor:
    return apply2(fmin_p, a, b)


# ---------------------------------------------------------------- no gradient
def sign(x) -> Tensor:
    """-1, 0 or 1 (no gradient: the derivative is 0 almost everywhere)."""
    return constant(np.sign(_data(x)))


def isfinite(x) -> Tensor:
    return constant(np.isfinite(_data(x)))


def isnan(x) -> Tensor:
    return constant(np.isnan(_data(x)))


def full_like(x, fill_value, dtype=None) -> Tensor:
    """A constant Tensor of x's shape filled with ``fill_value``."""
    return constant(np.full_like(_data(x), fill_value, dtype=dtype))


# ---------------------------------------------------------------- reductions
def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _prod_vjp(F, g, out, x, axis, keepdims):
    """d prod / d x_i = the product of the others, exact where x has zeros.

    Plain backward: with xs = x where zeros are replaced by 1 and p = prod(xs),
    no zero in the slice gives p / xs; one zero gives p at the zero and 0
    elsewhere; two or more give 0. create_graph: the product of the others
    is formed explicitly (each element replaced by 1 in turn, O(n^2) for a
    slice of n), so every higher derivative is exact with zeros too.
    """
    shape = kept_shape(F.data(x).shape, axis)
    if F.records:
        return F.reshape(g, shape) * _others_recorded(x, axis)
    zero = x == 0
    n_zero = zero.sum(axis=axis, keepdims=True)
    xs = np.where(zero, 1.0, x).astype(x.dtype, copy=False)
    p = np.prod(xs, axis=axis, keepdims=True)
    others = np.where(n_zero == 0, p / xs, np.where(zero & (n_zero == 1), p, 0.0))
    return g.reshape(shape) * others.astype(x.dtype, copy=False)


def _others_recorded(x: Tensor, axis) -> Tensor:
    """others[i] = prod_{j != i} x[j] over the reduced axes, as recorded ops."""
    ndim = x.ndim
    if ndim == 0:  # prod of one element: d/dx = 1
        return np.ones((), x.dtype)
    red = list(range(ndim)) if axis is None else [a % ndim for a in np.atleast_1d(axis)]
    keep = [a for a in range(ndim) if a not in red]
    perm = keep + red
    kshape = tuple(x.shape[a] for a in keep)
    rshape = tuple(x.shape[a] for a in red)
    n = int(np.prod(rshape))
    flat = api.reshape(api.transpose(x, *perm), kshape + (1, n))
    rows = api.broadcast_to(flat, kshape + (n, n))
    eye = np.eye(n, dtype=bool)
    others = prod(api.where(eye, np.ones((), x.dtype), rows), -1)
    back = api.reshape(others, kshape + rshape)
    return api.transpose(back, *np.argsort(perm))


prod_jvp = _jvp.contraction(_prod_vjp, _jvp.reduction_axes)  # exact with zeros, as the VJP
prod_p = Primitive(
    "prod",
    lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    (_prod_vjp,),
    arity=1,
)


def prod(x, axis=None, keepdims: bool = False) -> Tensor:
    """Product along axis; the gradient is exact where x has zeros."""
    return apply1(prod_p, as_tensor(x), _axis(axis), keepdims)


def _reversed(axis, ndim):
    return (slice(None),) * (axis % ndim) + (slice(None, None, -1),)


def _cumsum_vjp(F, g, out, x, axis):
    """The sum of g over positions at or after each index: a reversed cumsum."""
    rev = _reversed(axis, x.ndim)
    return _on(F, cumsum, lambda a, ax: np.cumsum(a, axis=ax), g[rev], axis)[rev]


cumsum_p = Primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis), (_cumsum_vjp,), arity=1)


def cumsum(x, axis=None) -> Tensor:
    """Running sum along axis (over the flattened tensor when axis is None)."""
    x = as_tensor(x)
    if axis is None:
        x, axis = api.reshape(x, -1), 0
    if x.ndim == 0:
        raise ValueError("cumsum: axis given for a 0-d tensor")
    return apply1(cumsum_p, x, int(axis))


def _std(x, axis, keepdims, ddof):
    if x.ndim == 0:  # a 0-d tensor reduces over axis None, 0, -1 or (): its one element
        axis = None
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy: inf or nan when N <= ddof
        return np.std(x, axis=axis, keepdims=keepdims, ddof=ddof)


def _std_vjp(F, g, out, x, axis, keepdims, ddof):
    """(x - mean) / ((N - ddof) std); 0 where std is 0: over one element std is
    constant, and over equal values (a kink) 0 is PyTorch's choice too."""
    shape = kept_shape(F.data(x).shape, axis)
    if not shape:
        axis = None
    o = F.reshape(out, shape)
    n = F.data(x).size // max(F.data(out).size, 1) if F.data(x).size else 1
    flat = F.data(o) == 0
    d = x - x.mean(axis=axis, keepdims=True)
    if not np.any(flat):
        return F.reshape(g, shape) * d / (o * (n - ddof))
    safe = F.where(flat, 1.0, o)
    return F.where(flat, 0.0, F.reshape(g, shape) * d / (safe * (n - ddof)))


std_jvp = _jvp.contraction(_std_vjp, _jvp.reduction_axes)  # 0 where the deviation is 0
std_p = Primitive("std", _std, (_std_vjp,), arity=1)


def std(x, axis=None, keepdims: bool = False, ddof=0) -> Tensor:
    """The standard deviation, as np.std: sqrt(sum((x - mean)^2) / (N - ddof)).

    The gradient is 0 where the deviation is 0: over one element (the function is
    constant there) and over equal values (a kink; PyTorch's convention)."""
    return apply1(std_p, as_tensor(x), _axis(axis), keepdims, ddof)


def _norm_vjp(F, g, out, x, axis, keepdims):
    """d ||x|| / dx = x / ||x||, and 0 where the norm is 0 (x is 0 there too)."""
    shape = kept_shape(x.shape, axis)
    o = F.reshape(out, shape)
    safe = F.where(F.data(o) == 0, 1.0, o)
    return F.reshape(g, shape) * x / safe


norm_jvp = _jvp.contraction(_norm_vjp, _jvp.reduction_axes)  # 0 at the zero vector
norm_p = Primitive(
    "norm",
    lambda x, axis, keepdims: np.linalg.norm(x, None, axis, keepdims),
    (_norm_vjp,),
    arity=1,
)


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A002 - NumPy's name
    """The 2-norm of vectors and the Frobenius norm of matrices, as np.linalg.norm.

    ``ord`` may be None, 2 (vectors: axis an int, or x 1-D) or "fro"
    (matrices: axis a pair, or x 2-D); other norms raise ValueError.
    The gradient at the zero vector is 0.
    """
    x = as_tensor(x)
    if isinstance(axis, list):
        axis = tuple(axis)
    n_axes = x.ndim if axis is None else (1 if isinstance(axis, (int, np.integer)) else len(axis))
    if not (ord is None or (ord == 2 and n_axes == 1) or (ord == "fro" and n_axes == 2)):
        raise ValueError(
            f"norm: ord={ord!r} over {n_axes} axes is not supported; gradsight has the vector "
            "2-norm (ord=None or 2) and the Frobenius norm (ord=None or 'fro')"
        )
    if axis is None and x.ndim > 2 and ord is not None:
        raise ValueError(f"norm: ord={ord!r} needs a 1-D or 2-D tensor, got shape {x.shape}")
    return apply1(norm_p, x, axis, keepdims)


# ---------------------------------------------------------------- products
def _pair(axes, a_ndim):
    """tensordot's ``axes`` as two lists of non-negative axes of a and b."""
    if isinstance(axes, (int, np.integer)):
        if axes < 0 or axes > a_ndim:
            raise ValueError(f"tensordot: axes={axes} does not fit a tensor of {a_ndim} dims")
        return list(range(a_ndim - axes, a_ndim)), list(range(axes))
    ax_a, ax_b = axes
    ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
    ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes {ax_a} and {ax_b} differ in length")
    return ax_a, ax_b


def tensordot(a, b, axes=2) -> Tensor:
    """Sum over ``axes`` of a and b, as np.tensordot: a transpose-reshape-matmul."""
    a, b = as_tensor(a), as_tensor(b)
    ax_a, ax_b = _pair(axes, a.ndim)
    ax_a = [i % a.ndim for i in ax_a] if a.ndim else ax_a
    ax_b = [i % b.ndim for i in ax_b] if b.ndim else ax_b
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"tensordot: shapes {a.shape} and {b.shape} differ along axes {i} and {j}"
            )
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a]))
    at = api.reshape(api.transpose(a, *(free_a + ax_a)), (-1, k))
    bt = api.reshape(api.transpose(b, *(ax_b + free_b)), (k, -1))
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return api.reshape(api.matmul(at, bt), out_shape)


def dot(a, b) -> Tensor:
    """np.dot: a product with a scalar, matmul for 1-D/2-D, else a sum over a's last
    axis and b's second-to-last."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return api.mul(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return api.matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [max(b.ndim - 2, 0)]))


def vdot(a, b) -> Tensor:
    """The dot product of the flattened (real) tensors."""
    a, b = as_tensor(a), as_tensor(b)
    if a.size != b.size:
        raise ValueError(f"vdot: sizes differ, shapes {a.shape} and {b.shape}")
    return api.matmul(api.reshape(a, -1), api.reshape(b, -1))


def inner(a, b) -> Tensor:
    """Sum over the last axes of a and b (a product when either is a scalar)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return api.mul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def outer(a, b) -> Tensor:
    """out[i, j] = a.ravel()[i] * b.ravel()[j]."""
    return api.mul(api.reshape(as_tensor(a), (-1, 1)), api.reshape(as_tensor(b), (1, -1)))


def _parse_einsum(spec: str, ndims) -> tuple[list[str], str]:
    """Input and output subscripts of an einsum, '...' spelled out in letters of its own.

    The input subscripts may repeat a letter (a diagonal); the output may not.
    """
    spec = spec.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    subs = ins.split(",")
    if len(subs) != len(ndims):
        raise ValueError(f"einsum: {spec!r} names {len(subs)} operands, got {len(ndims)}")
    named = set(spec) - set(",->.")
    if not named <= set(string.ascii_letters):
        raise ValueError(f"einsum: subscripts {spec!r} must be letters, ',', '->' and '...'")
    spare = [c for c in string.ascii_letters if c not in named]
    ell_dims = [nd - (len(s) - 3) if "..." in s else 0 for s, nd in zip(subs, ndims)]
    width = max(ell_dims, default=0)
    ell = "".join(spare[:width])
    for i, (s, nd) in enumerate(zip(subs, ndims)):
        if "..." in s:
            if s.count("...") > 1 or ell_dims[i] < 0:
                raise ValueError(f"einsum: subscripts {s!r} do not fit an operand of {nd} dims")
            s = s.replace("...", ell[width - ell_dims[i] :])
        if len(s) != nd or "." in s:
            raise ValueError(f"einsum: subscripts {s!r} do not fit an operand of {nd} dims")
        subs[i] = s
    if arrow:
        if out.count("...") > 1 or ("." in out.replace("...", "")):
            raise ValueError(f"einsum: output subscripts {out!r} are not valid")
        if width and "..." not in out:  # NumPy's rule: '...' dims are not summed implicitly
            raise ValueError(f"einsum: {spec!r} has '...' in its inputs but not in its output")
        out = out.replace("...", ell)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {out!r} repeat a letter")
    else:
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return subs, out


def _diagonals(x: Tensor, sub: str) -> tuple[Tensor, str]:
    """x with every repeated letter of ``sub`` reduced to its diagonal (on the last axis)."""
    while len(set(sub)) != len(sub):
        c = next(ch for ch in sub if sub.count(ch) > 1)
        i = sub.index(c)
        j = sub.index(c, i + 1)
        if x.shape[i] != x.shape[j]:
            raise ValueError(
                f"einsum: the axes of {c!r} differ in size: {x.shape[i]}, {x.shape[j]}"
            )
        x = diagonal(x, 0, i, j)
        sub = sub[:i] + sub[i + 1 : j] + sub[j + 1 :] + c
    return x, sub


class _EinsumRules:
    """Rule i: g contracted with the other operands onto operand i's subscripts;
    letters only operand i has (summed in forward) come back by broadcasting."""

    def __getitem__(self, i):
        def rule(F, g, out, *args):
            *ops, spec = args
            subs, out_sub = spec
            others = [s for j, s in enumerate(subs) if j != i]
            have = set(out_sub).union(*others) if others else set(out_sub)
            target = "".join(c for c in subs[i] if c in have)
            expr = ",".join([out_sub, *others]) + "->" + target
            operands = [g, *(op for j, op in enumerate(ops) if j != i)]
            r = _on(F, lambda *o: einsum(expr, *o), lambda *o: np.einsum(expr, *o), *operands)
            shape = ops[i].shape
            kept = tuple(n if c in have else 1 for c, n in zip(subs[i], shape))
            return F.broadcast_to(F.reshape(r, kept), shape)

        return rule


einsum_p = Primitive(
    "einsum",
    lambda *args: np.einsum(",".join(args[-1][0]) + "->" + args[-1][1], *args[:-1]),
    _EinsumRules(),
    arity=-1,
)


def einsum(subscripts: str, *operands) -> Tensor:
    """np.einsum: explicit or implicit output, '...' and repeated indices (diagonals).

    A repeated index is first reduced to its diagonal and size-1 axes are
    broadcast to their letter's size (both recorded), so the einsum primitive
    sees distinct letters of one size each."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: give the subscripts as a string, e.g. 'ij,jk->ik'")
    ops = [as_tensor(o) for o in operands]
    subs, out = _parse_einsum(subscripts, [o.ndim for o in ops])
    for i, (o, s) in enumerate(zip(ops, subs)):
        ops[i], subs[i] = _diagonals(o, s)
    sizes = {}
    for o, s in zip(ops, subs):
        for c, n in zip(s, o.shape):
            if n != 1 and sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: index {c!r} has sizes {sizes[c]} and {n}")
    for i, (o, s) in enumerate(zip(ops, subs)):
        target = tuple(sizes.get(c, 1) for c in s)
        if target != o.shape:
            ops[i] = api.broadcast_to(o, target)
    return apply(einsum_p, tuple(ops), (tuple(subs), out))


# ---------------------------------------------------------------- shape
def _axis_index(axis, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for {ndim} dims")
    return axis % ndim


def ravel(x) -> Tensor:
    return api.reshape(x, -1)


def swapaxes(x, axis1: int, axis2: int) -> Tensor:
    x = as_tensor(x)
    perm = list(range(x.ndim))
    i, j = _axis_index(axis1, x.ndim, "swapaxes"), _axis_index(axis2, x.ndim, "swapaxes")
    perm[i], perm[j] = perm[j], perm[i]
    return api.transpose(x, *perm)


def moveaxis(x, source, destination) -> Tensor:
    """Move axes to new positions, the others keeping their order (np.moveaxis)."""
    x = as_tensor(x)
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {src} and destination {dst} differ in length")
    src = [_axis_index(a, x.ndim, "moveaxis") for a in src]
    dst = [_axis_index(a, x.ndim, "moveaxis") for a in dst]
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return api.transpose(x, *order)


def atleast_1d(x) -> Tensor:
    x = as_tensor(x)
    return api.reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(x) -> Tensor:
    x = as_tensor(x)
    return api.reshape(x, (1,) * (2 - x.ndim) + x.shape) if x.ndim < 2 else x


def hstack(tensors) -> Tensor:
    """Concatenate along axis 1 (axis 0 for 1-D inputs), as np.hstack."""
    ts = [atleast_1d(t) for t in tensors]
    return api.concatenate(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Stack rows: inputs made at least 2-D, concatenated along axis 0."""
    return api.concatenate([atleast_2d(t) for t in tensors], 0)


def _take(x: Tensor, index: np.ndarray) -> Tensor:
    """x.ravel()[index]: the result has index's shape; repeats accumulate gradient."""
    return api.getitem(api.reshape(x, -1), index)


def _positions(x: Tensor) -> np.ndarray:
    return np.arange(x.size).reshape(x.shape)


def split(x, indices_or_sections, axis: int = 0) -> list:
    """Pieces of x along axis (np.split; np.array_split allows uneven sections)."""
    return _split(x, indices_or_sections, axis, np.split)


def array_split(x, indices_or_sections, axis: int = 0) -> list:
    return _split(x, indices_or_sections, axis, np.array_split)


def _split(x, ios, axis, how) -> list:
    x = as_tensor(x)
    axis = _axis_index(axis, x.ndim, "split")
    pieces = how(np.arange(x.shape[axis]), ios)
    lead = (slice(None),) * axis
    out = []
    for p in pieces:
        start = int(p[0]) if p.size else 0
        out.append(api.getitem(x, lead + (slice(start, start + p.size),)))
    return out


def tile(x, reps) -> Tensor:
    x = as_tensor(x)
    return _take(x, np.tile(_positions(x), reps))


def repeat(x, repeats, axis=None) -> Tensor:
    """Each element repeated (np.repeat); the gradient sums over the copies."""
    x = as_tensor(x)
    return _take(x, np.repeat(_positions(x), _data(repeats), axis=axis))


def flip(x, axis=None) -> Tensor:
    x = as_tensor(x)
    axes = range(x.ndim) if axis is None else ([axis] if np.ndim(axis) == 0 else axis)
    index = [slice(None)] * x.ndim
    for a in axes:
        index[_axis_index(a, x.ndim, "flip")] = slice(None, None, -1)
    return api.getitem(x, tuple(index))


def _masked(x: Tensor, mask: np.ndarray, fill=0.0) -> Tensor:
    return api.where(mask, x, np.asarray(fill, dtype=x.dtype))


def tril(x, k: int = 0) -> Tensor:
    """The lower triangle of the last two axes (the rest set to 0)."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"tril needs at least 2 dims, got shape {x.shape}")
    return _masked(x, np.tril(np.ones(x.shape[-2:], dtype=bool), k))


def triu(x, k: int = 0) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"triu needs at least 2 dims, got shape {x.shape}")
    return _masked(x, np.triu(np.ones(x.shape[-2:], dtype=bool), k))


def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal of the (axis1, axis2) planes, on a new last axis (np.diagonal)."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal needs at least 2 dims, got shape {x.shape}")
    m = moveaxis(x, (axis1, axis2), (-2, -1))
    rows, cols = m.shape[-2:]
    i = np.arange(max(0, -offset), min(rows, cols - offset)) if cols - offset > 0 else np.arange(0)
    return api.getitem(m, (Ellipsis, i, i + offset))


def diag(x, k: int = 0) -> Tensor:
    """A 2-D tensor's k-th diagonal, or the square matrix with a 1-D tensor on it."""
    x = as_tensor(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"diag needs a 1-D or 2-D tensor, got shape {x.shape}")
    n = x.shape[0] + abs(k)
    mask = np.eye(n, k=k, dtype=bool)
    index = np.zeros((n, n), dtype=np.intp)
    index[mask] = np.arange(x.shape[0])
    return _masked(api.getitem(x, index), mask) if x.shape[0] else constant(np.zeros((n, n)))


def trace(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    return api.sum(diagonal(x, offset, axis1, axis2), -1)


PAD_BY_INDEX = ("edge", "reflect", "symmetric", "wrap")  # pads that copy elements of x


def pad(x, pad_width, mode: str = "constant", constant_values=0, reflect_type="even") -> Tensor:
    """np.pad with mode 'constant' or one of the modes that copy elements of x
    ('edge', 'reflect', 'symmetric', 'wrap'): an integer-array index of x, so a
    copied element's gradient adds up over its copies."""
    x = as_tensor(x)
    if mode in PAD_BY_INDEX:
        if x.size == 0:
            raise ValueError(f"pad: cannot pad an empty tensor of shape {x.shape}")
        if reflect_type != "even":  # 'odd' computes 2 x_edge - x: not a copy
            raise ValueError(f"pad: reflect_type={reflect_type!r} is not supported; use 'even'")
        return _take(x, np.pad(_positions(x), pad_width, mode=mode))
    if mode != "constant":
        raise ValueError(
            f"pad: mode={mode!r} is not supported; gradsight pads with 'constant' or the modes "
            f"that copy elements ({', '.join(PAD_BY_INDEX)})"
        )
    if x.size == 0:
        raise ValueError(f"pad: cannot pad an empty tensor of shape {x.shape}")
    index = np.pad(_positions(x), pad_width)
    inside = np.pad(np.ones(x.shape, dtype=bool), pad_width)
    return _masked(_take(x, index), inside, constant_values)


# ---------------------------------------------------------------- NumPy's names for the core ops
def add(a, b) -> Tensor:
    """a + b (np.add)."""
    return api.add(a, b)


def subtract(a, b) -> Tensor:
    """a - b (np.subtract)."""
    return api.sub(a, b)


def multiply(a, b) -> Tensor:
    """a * b (np.multiply)."""
    return api.mul(a, b)


def true_divide(a, b) -> Tensor:
    """a / b (np.true_divide, also np.divide)."""
    return api.div(a, b)


divide = true_divide


def negative(x) -> Tensor:
    """-x (np.negative)."""
    return api.neg(x)


def _comparison(ufunc):
    def compare(a, b) -> Tensor:
        return constant(ufunc(_data(a), _data(b)))

    compare.__name__ = ufunc.__name__
    compare.__doc__ = f"np.{ufunc.__name__} on the values: a bool Tensor without gradient."
    return compare


less = _comparison(np.less)
less_equal = _comparison(np.less_equal)
greater = _comparison(np.greater)
greater_equal = _comparison(np.greater_equal)
equal = _comparison(np.equal)
not_equal = _comparison(np.not_equal)
