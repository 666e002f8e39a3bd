"""NumPy's NaN-ignoring reductions, average and ptp: composites of recorded ops, declared.

The NaN-ignoring reductions replace NaN by the reduction's neutral value
(0 for sums, 1 for products, -inf/+inf for max/min) with a recorded ``where``,
so a NaN entry gets gradient 0 and the others get the gradient of the plain
reduction; nanmean divides by the count of numbers. An all-NaN slice gives
NumPy's value (0 for nansum, NaN for nanmean and nanmax) and gradient 0.
"""

from __future__ import annotations

import numpy as np

from . import api
from . import numpy_ops as nops
from .api import as_tensor
from .declare import declare


def _filled(a, fill):
    a = as_tensor(a)
    nan = np.isnan(a.data) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    return api.where(~nan, a, np.asarray(fill, dtype=a.dtype)), nan


def _no_out(name, out):
    if out is not None:
        raise TypeError(f"np.{name}(..., out=...) on a Tensor: use the returned Tensor")


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, **_):
    """The sum treating NaN as 0 (np.nansum); NaN entries get gradient 0."""
    _no_out("nansum", out)
    x, _nan = _filled(a if dtype is None else api.astype(as_tensor(a), dtype), 0.0)
    return api.sum(x, axis, keepdims)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, **_):
    """The product treating NaN as 1 (np.nanprod)."""
    _no_out("nanprod", out)
    x, _nan = _filled(a if dtype is None else api.astype(as_tensor(a), dtype), 1.0)
    return nops.prod(x, axis, keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, **_):
    """The mean of the numbers, NaN ignored (np.nanmean); an all-NaN slice gives NaN."""
    _no_out("nanmean", out)
    x, nan = _filled(a if dtype is None else api.astype(as_tensor(a), dtype), 0.0)
    count = np.sum(~nan, axis=api._axis(axis), keepdims=keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        return api.sum(x, axis, keepdims) / count.astype(x.dtype)


def _nan_extremum(name, fn, fill):
    def reduce(a, axis=None, out=None, keepdims=False, **_):
        _no_out(name, out)
        x, nan = _filled(a, fill)
        result = fn(x, axis, keepdims)
        empty = np.all(nan, axis=api._axis(axis), keepdims=keepdims)
        if np.any(empty):  # an all-NaN slice: NaN, as NumPy (which also warns)
            return api.where(~empty, result, np.asarray(np.nan, dtype=x.dtype))
        return result

    reduce.__name__ = name
    reduce.__doc__ = f"np.{name}: NaN ignored (filled with {fill}); gradient 0 at NaN."
    return reduce


nanmax = _nan_extremum("nanmax", api.max, -np.inf)
nanmin = _nan_extremum("nanmin", api.min, np.inf)


def ptp(a, axis=None, out=None, keepdims=False):
    """max - min along axis (np.ptp); tied extrema share the gradient, as in max/min."""
    _no_out("ptp", out)
    a = as_tensor(a)
    return api.max(a, axis, keepdims) - api.min(a, axis, keepdims)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """The weighted mean sum(a * w) / sum(w) along axis (np.average); weights may be a
    Tensor (recorded too), of a's shape or 1-D along a single axis."""
    a = as_tensor(a)
    if weights is None:
        avg = api.mean(a, axis, keepdims)
        scl = np.asarray(a.size / max(avg.size, 1), dtype=avg.dtype)
        return (avg, api.as_tensor(np.broadcast_to(scl, avg.shape))) if returned else avg
    w = as_tensor(weights)
    if w.shape != a.shape:
        if axis is None or w.ndim != 1 or not isinstance(axis, (int, np.integer)):
            raise TypeError(
                f"average: weights of shape {w.shape} need a 1-D array along one axis of a "
                f"{a.shape}, or a's shape"
            )
        shape = [1] * a.ndim
        shape[axis % a.ndim] = w.shape[0]
        w = api.reshape(w, tuple(shape))
    total = api.sum(a * w, axis, keepdims)
    scl = api.sum(api.broadcast_to(w, a.shape), axis, keepdims)
    avg = total / scl
    return (avg, scl) if returned else avg


_NAN = "0 at NaN entries (filled with the reduction's neutral value)"
declare("nansum", nansum, numpy=np.nansum, kinks=_NAN)
declare("nanprod", nanprod, numpy=np.nanprod, kinks=_NAN)
declare("nanmean", nanmean, numpy=np.nanmean, kinks=_NAN)
declare("nanmax", nanmax, numpy=np.nanmax, kinks=_NAN + "; tied maxima share it")
declare("nanmin", nanmin, numpy=np.nanmin, kinks=_NAN + "; tied minima share it")
declare("ptp", ptp, numpy=np.ptp, kinks="tied extrema share the gradient evenly")
declare("average", average, numpy=np.average)
