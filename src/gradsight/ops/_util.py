"""Small array helpers shared by the ops table (pure NumPy, no graph)."""

from __future__ import annotations

import numpy as np


def kept_shape(shape: tuple, axis) -> tuple:
    """The shape a reduction over ``axis`` has with keepdims=True.

    A 0-d input keeps its shape () for every axis NumPy accepts there (None, 0, -1, ()).
    """
    ndim = len(shape)
    if ndim == 0:
        return ()
    if axis is None:
        return (1,) * ndim
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    kept = list(shape)
    for a in axes:
        kept[a % ndim] = 1
    return tuple(kept)


_ACCURATE_FROM = 4096  # float32/16 sums of more terms than this accumulate in float64
_np_add_reduce = np.add.reduce


def _terms(a: np.ndarray, axis) -> int:
    """How many elements each output of a sum over ``axis`` adds up."""
    if axis is None:
        return a.size
    shape = a.shape
    if isinstance(axis, (int, np.integer)):
        return shape[axis] if shape else 1
    n = 1
    for ax in axis:
        n *= shape[ax] if shape else 1
    return n


def add_reduce(a: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """np.add.reduce, accurate for long float32 sums.

    NumPy adds pairwise only along the contiguous axis; over any other axis it
    keeps a running sum whose error grows with the number of terms (0.9 % for a
    million float32 rows). Sums of more than _ACCURATE_FROM float32 (or float16)
    terms therefore accumulate in float64 and round once at the end; shorter
    ones keep NumPy's float32 loop (the batch sums of a training step).
    """
    dt = a.dtype
    if dt.kind == "f" and dt.itemsize < 8 and _terms(a, axis) > _ACCURATE_FROM:
        total = _np_add_reduce(a, axis=axis, dtype=np.float64, keepdims=keepdims)
        return total.astype(dt)
    return _np_add_reduce(a, axis=axis, keepdims=keepdims)


_add_reduce = add_reduce


def sum_to(a: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``a`` over the axes along which ``shape`` was broadcast to a.shape."""
    if a.shape == shape:
        return a
    lead = a.ndim - len(shape)
    if lead == 1 and a.shape[1:] == shape:  # a bias under a batch: the common case
        return _add_reduce(a, axis=0)
    if lead < 0:
        raise ValueError(f"cannot sum shape {a.shape} down to {shape}")
    axes = list(range(lead))
    for i, n in enumerate(shape):
        m = a.shape[lead + i]
        if n == 1 and m != 1:
            axes.append(lead + i)
        elif n != m:
            raise ValueError(f"cannot sum shape {a.shape} down to {shape}")
    if len(axes) == lead:  # only leading axes: the reduction already has the shape
        return _add_reduce(a, axis=tuple(axes))
    return _add_reduce(a, axis=tuple(axes), keepdims=True).reshape(shape)


def mean(x, axis=None, keepdims=False):
    """np.mean without its Python-level overhead (2 us on a small array, on every
    loss's path); integers are averaged in float64, as NumPy does."""
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    total = _add_reduce(x, axis=axis, keepdims=keepdims)
    count = x.size // total.size if total.size else 0
    return total / count if count else total + np.nan  # the mean of nothing is nan, as NumPy


def expand(a, shape: tuple) -> np.ndarray:
    """A new array of ``shape`` filled by broadcasting ``a`` (cheaper than broadcast_to
    for small arrays, and the result is owned, so the engine can add into it)."""
    if a.__class__ is np.ndarray or isinstance(a, np.generic):
        out = np.empty(shape, dtype=a.dtype)
        out[...] = a
        return out
    # another dispatching array type (gs.trace's): the same values, through NumPy calls
    # it dispatches (``np.empty(shape)`` would be a new plain array, not one of its kind)
    return np.broadcast_to(a, shape).copy()


def exp_quiet(x):
    """exp where underflow to 0 is the right answer, not an error."""
    with np.errstate(under="ignore"):
        return np.exp(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


try:  # the context variable np.errstate sets (NumPy >= 2.0)
    from numpy._core._ufunc_config import _extobj_contextvar as _fp_errors

    with np.errstate(all="ignore"):
        _FP_IGNORE = _fp_errors.get()
except (ImportError, AttributeError):  # pragma: no cover - NumPy 1.26
    _fp_errors = None


def _quietly(fn, x):
    """fn(x) with NumPy's floating-point error reports off, for computations whose
    only possible errors are over- or underflow to the right answer.

    It sets the context variable ``np.errstate`` sets, directly: a tenth of
    errstate's cost, which is a microsecond, as much as the arithmetic on a
    small array.
    """
    if _fp_errors is None:  # pragma: no cover - NumPy 1.26
        with np.errstate(all="ignore"):
            return fn(x)
    token = _fp_errors.set(_FP_IGNORE)
    try:
        return fn(x)
    finally:
        _fp_errors.reset(token)


def sigmoid(x):
    """1 / (1 + exp(-x)); exp overflow gives exactly 0, the correctly rounded result."""
    return _quietly(_sigmoid, x)


def exp_nonpositive(x):
    """exp of values <= 0 (or nan, +inf from inf inputs): it can only underflow to 0."""
    return _quietly(np.exp, x)


_max_reduce = np.maximum.reduce


def logsumexp(x, axis, keepdims):
    """log(sum(exp(x))) computed after subtracting the max (no overflow)."""
    m = _max_reduce(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = _add_reduce(exp_nonpositive(x - m), axis=axis, keepdims=True)
    out = np.log(s) + m
    if not keepdims:
        out = out.reshape(np.sum(s, axis=axis).shape) if axis is not None else out.reshape(())
    return out


def softmax(x, axis=-1):
    """exp(x - max) / sum; an infinite max is not subtracted (inf - inf would be nan
    in every entry, not just the infinite one), as in log_softmax."""
    m = _max_reduce(x, axis=axis, keepdims=True)
    if not np.isfinite(m).all():
        m = np.where(np.isfinite(m), m, 0)
    e = exp_nonpositive(x - m)
    e /= _add_reduce(e, axis=axis, keepdims=True)
    return e


def log_softmax(x, axis=-1):
    """(x - max) - log(sum(exp(x - max))): the shift is exact, so no cancellation."""
    m = _max_reduce(x, axis=axis, keepdims=True)
    shifted = x - np.where(np.isfinite(m), m, 0)
    s = _add_reduce(exp_nonpositive(shifted), axis=axis, keepdims=True)
    return shifted - np.log(s)


def is_basic_index(index) -> bool:
    """True when ``index`` selects each element at most once (no integer arrays)."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if isinstance(item, (list, np.ndarray)):
            if np.asarray(item).dtype != bool:
                return False
    return True


def index_add(g, shape, index):
    """zeros(shape) with g added at ``index``; repeated indices accumulate."""
    if g.__class__ is np.ndarray or isinstance(g, np.generic):
        z = np.zeros(shape, dtype=g.dtype)
    else:  # another dispatching array type (gs.trace's): a zeros array of its kind
        z = np.zeros_like(g, shape=shape)
    if is_basic_index(index):
        z[index] = g
    else:
        np.add.at(z, index, g)
    return z
