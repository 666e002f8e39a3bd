"""Fused primitives for nn, each one node where the composition would be many.

linear: x @ W^T + b in one node (one GEMM, bias added in place); the bias
gradient is g summed over batch axes, which the engine's un-broadcast does.
cross_entropy and binary_cross_entropy_with_logits: fused for stability
(log-sum-exp form, no exp overflow) and speed (gradient softmax - onehot).
mse: one node instead of three (sub, mul, mean) on every regression step.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import Primitive

from . import _util
from . import jvp as _jvp


def _linear(x, w, b):
    out = np.matmul(x, w.T)
    out += b
    return out


def _linear_dw(F, g, out, x, w, b):
    if g.ndim != 2:  # fold every batch axis into one: (B, out)^T @ (B, in)
        g = F.reshape(g, (-1, w.shape[0]))
        x = F.reshape(x, (-1, w.shape[1]))
    return g.T @ x


def linear_jvp(F, dots, out, x, w, b):
    """dx W^T + x dW^T + db."""
    dx, dw, db = dots
    total = None if dx is None else dx @ w.T
    if dw is not None:
        term = x @ dw.T
        total = term if total is None else total + term
    if db is not None:
        total = db if total is None else total + db
    return total


linear = Primitive(
    "linear",
    _linear,
    (
        lambda F, g, out, x, w, b: g @ w,
        _linear_dw,
        lambda F, g, out, x, w, b: g,
    ),
)


def _reduce(losses, reduction):
    if reduction == "mean":
        return _util.mean(losses)
    if reduction == "sum":
        return _util.add_reduce(losses)
    return losses


def _scale_by(F, g, reduction, count, ndim_extra):
    """The incoming gradient, shaped to multiply per-sample gradients."""
    if reduction == "mean":
        return g / count
    if reduction == "none" and ndim_extra:
        return g[..., None]
    return g


def _cross_entropy(x, target, reduction, saved):
    logp = _util.log_softmax(x, axis=1)
    saved.append(logp)  # the rule's softmax is exp(logp): no second pass over x
    losses = -logp[np.arange(x.shape[0]), target]
    return _reduce(losses, reduction)


def _cross_entropy_vjp(F, g, out, x, target, reduction, saved):
    """(softmax(x) - onehot(target)) * scale. ``saved`` holds the forward's log-softmax."""
    scale = _scale_by(F, g, reduction, x.shape[0], True)
    rows = np.arange(x.shape[0])
    if F.records:  # create_graph: softmax recomputed from x, differentiably
        onehot = np.zeros(x.shape, dtype=F.data(x).dtype)
        onehot[rows, target] = 1
        return (F.softmax(x, 1) - onehot) * scale
    grad = _util.exp_nonpositive(saved[0])  # a fresh array, ours to work in
    grad[rows, target] -= 1
    grad *= scale
    return grad


cross_entropy = Primitive("cross_entropy", _cross_entropy, (_cross_entropy_vjp,), arity=1)
# JVPs: each loss reads one row of x (cross-entropy) or one element (the others):
# sum(W * d) with W the VJP of ones, then reduced as the loss is
cross_entropy_jvp = _jvp.contraction(
    _cross_entropy_vjp, lambda x, t, reduction, saved: (1 if reduction == "none" else None, False)
)


def _bce_with_logits(x, y, reduction):
    with np.errstate(under="ignore"):
        losses = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    return _reduce(losses, reduction)


def _bce_with_logits_vjp(F, g, out, x, y, reduction):
    return (F.sigmoid(x) - y) * _scale_by(F, g, reduction, x.size, False)


binary_cross_entropy_with_logits = Primitive(
    "binary_cross_entropy_with_logits", _bce_with_logits, (_bce_with_logits_vjp,), arity=1
)
bce_with_logits_jvp = _jvp.contraction(
    _bce_with_logits_vjp, lambda x, y, reduction: (() if reduction == "none" else None, False)
)


def _mse(x, y, reduction):
    d = x - y
    return _reduce(d * d, reduction)


def _mse_dx(F, g, out, x, y, reduction):
    d = x - y
    return d * (2 * _scale_by(F, g, reduction, F.data(d).size, False))


mse = Primitive(
    "mse",
    _mse,
    (_mse_dx, lambda F, g, out, x, y, reduction: -_mse_dx(F, g, out, x, y, reduction)),
    arity=2,
)
mse_jvp = _jvp.contraction(
    mse.vjps, lambda x, y, reduction: (() if reduction == "none" else None, False)
)
