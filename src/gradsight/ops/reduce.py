"""Reductions and normalisations along axes (NumPy's ``axis``/``keepdims``).

max/min split the gradient evenly between tied maxima. logsumexp, softmax
and log_softmax are primitives rather than compositions: one node instead of
five, and their stable forms (max subtracted first) stay stable in backward.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import Primitive

from . import _util
from . import jvp as _jvp
from ._util import kept_shape


def _spread(F, g, x, axis):
    """Broadcast a reduced gradient back over the reduced axes of x."""
    if axis is None:  # g is 0-d (or all-ones shaped): it broadcasts as it is
        return F.broadcast_to(g, x.shape)
    return F.broadcast_to(F.reshape(g, kept_shape(x.shape, axis)), x.shape)


def _mean_vjp(F, g, out, x, axis, keepdims):
    n = x.size // max(F.data(out).size, 1) if x.size else 1
    return _spread(F, g / n, x, axis)


def _extremum_vjp(F, g, out, x, axis, keepdims):
    """Tied extrema share g evenly; a NaN extremum sends g to the NaN entries."""
    shape = kept_shape(x.shape, axis)
    xd, od = F.data(x), F.data(out).reshape(shape)
    hit = (xd == od) | (np.isnan(xd) & np.isnan(od))
    weight = hit / np.sum(hit, axis=axis, keepdims=True)
    return F.reshape(g, shape) * weight.astype(od.dtype)


def _logsumexp_vjp(F, g, out, x, axis, keepdims):
    # softmax(x) recomputed from x (not exp(x - out)): out is rounded at large |x|
    return F.reshape(g, kept_shape(x.shape, axis)) * F.softmax(x, axis)


def _softmax_vjp(F, g, out, x, axis):
    return out * (g - (g * out).sum(axis=axis, keepdims=True))


def _log_softmax_vjp(F, g, out, x, axis):
    return g - F.exp(out) * g.sum(axis=axis, keepdims=True)


# JVPs: softmax's Jacobian diag(s) - s s^T is symmetric, so its VJP is its JVP;
# log_softmax's is I - 1 s^T: d minus the softmax-weighted mean of d.
def softmax_jvp(F, dots, out, x, axis):
    return _softmax_vjp(F, dots[0], out, x, axis)


def log_softmax_jvp(F, dots, out, x, axis):
    d = dots[0]
    return d - (F.exp(out) * d).sum(axis=axis, keepdims=True)


extremum_jvp = _jvp.contraction(_extremum_vjp, _jvp.reduction_axes)  # ties as the VJP
logsumexp_jvp = _jvp.contraction(_logsumexp_vjp, _jvp.reduction_axes)


_add_reduce = _util.add_reduce


sum_ = Primitive(
    "sum",
    lambda x, axis, keepdims: _add_reduce(x, axis=axis, keepdims=keepdims),
    (lambda F, g, out, x, axis, keepdims: _spread(F, g, x, axis),),
    arity=1,
)
mean = Primitive("mean", _util.mean, (_mean_vjp,), arity=1)
max_ = Primitive(
    "max",
    lambda x, axis, keepdims: np.maximum.reduce(x, axis=axis, keepdims=keepdims),
    (_extremum_vjp,),
    arity=1,
)
min_ = Primitive(
    "min",
    lambda x, axis, keepdims: np.minimum.reduce(x, axis=axis, keepdims=keepdims),
    (_extremum_vjp,),
    arity=1,
)
logsumexp = Primitive("logsumexp", _util.logsumexp, (_logsumexp_vjp,), arity=1)
softmax = Primitive("softmax", _util.softmax, (_softmax_vjp,), arity=1)
log_softmax = Primitive("log_softmax", _util.log_softmax, (_log_softmax_vjp,), arity=1)
