"""The differentiable functions users call: ``gs.exp(t)``, ``t.sum(axis=0)`` ...

Thin wrappers that convert operands and hand the primitive to the engine's
apply functions; composite ops (var, stack, squeeze, ...) are written here
in terms of primitives.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from gradsight._core import node as _node
from gradsight._core.arrays import is_duck_array
from gradsight._core.node import apply, apply1, apply2, holds_tensor
from gradsight._core.tensor import Tensor, new_tensor

from . import elementwise as ew
from . import fused, linalg, reduce, shape
from ._util import kept_shape


def as_tensor(x) -> Tensor:
    """x itself if it is a Tensor, else a constant Tensor over its data (no copy)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)) and holds_tensor(x):
        return stack([as_tensor(item) for item in x])  # recorded, not cut by np.asarray
    if is_duck_array(x):  # an array of another type (gs.trace's): kept, not converted
        return new_tensor(x, None, False)
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"cannot use {type(x).__name__} as a tensor: {x!r:.80}")
    return new_tensor(arr, None, False)


# ---------------------------------------------------------------- binary
def add(a, b) -> Tensor:
    return apply2(ew.add, a, b)


def sub(a, b) -> Tensor:
    return apply2(ew.sub, a, b)


def mul(a, b) -> Tensor:
    return apply2(ew.mul, a, b)


def div(a, b) -> Tensor:
    return apply2(ew.div, a, b)


def power(a, b) -> Tensor:
    return apply2(ew.power, a, b)


def maximum(a, b) -> Tensor:
    """Elementwise max; at ties each side gets half the gradient."""
    return apply2(ew.maximum, a, b)


def minimum(a, b) -> Tensor:
    """Elementwise min; at ties each side gets half the gradient."""
    return apply2(ew.minimum, a, b)


def matmul(a, b) -> Tensor:
    """(..., m, k) @ (..., k, n) -> (..., m, n), NumPy's matmul rules."""
    return apply2(linalg.matmul, a, b)


def where(condition, a, b) -> Tensor:
    """a where condition else b, with broadcasting; no gradient to condition."""
    if isinstance(condition, Tensor):
        cond = condition.data
    elif hasattr(condition, "__array_function__"):  # an ndarray or a duck array (gs.trace's)
        cond = condition
    else:
        cond = np.asarray(condition)
    return apply(ew.where, (cond.astype(bool), a, b))


# ---------------------------------------------------------------- unary
def neg(x) -> Tensor:
    return apply1(ew.neg, as_tensor(x))


def exp(x) -> Tensor:
    return apply1(ew.exp, as_tensor(x))


def log(x) -> Tensor:
    return apply1(ew.log, as_tensor(x))


def sqrt(x) -> Tensor:
    return apply1(ew.sqrt, as_tensor(x))


def abs(x) -> Tensor:  # noqa: A001 - NumPy's name
    """|x|; the gradient at 0 is 0."""
    return apply1(ew.absolute, as_tensor(x))


def tanh(x) -> Tensor:
    return apply1(ew.tanh, as_tensor(x))


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)), without overflow for any input."""
    return apply1(ew.sigmoid, as_tensor(x))


def relu(x) -> Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    return apply1(ew.relu, as_tensor(x))


def clip(x, min=None, max=None) -> Tensor:  # noqa: A002 - NumPy's names
    """Values limited to [min, max]; the gradient passes where min <= x <= max."""
    return apply1(ew.clip, as_tensor(x), min, max)


def astype(x, dtype) -> Tensor:
    """Cast; the gradient is cast back to x's dtype. A cast to an integer or bool
    dtype ends the graph (rounding has no useful gradient; integer tensors never
    require grad), as ``.long()`` does in PyTorch."""
    x = as_tensor(x)
    dtype = np.dtype(dtype)
    if dtype == x.data.dtype:
        return x
    if dtype.kind != "f":
        return new_tensor(x.data.astype(dtype), None, False)
    return apply1(ew.astype, x, dtype)


# ---------------------------------------------------------------- reductions
def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply1(reduce.sum_, as_tensor(x), _axis(axis), keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    return apply1(reduce.mean, as_tensor(x), _axis(axis), keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum along axis; tied maxima share the gradient evenly."""
    return apply1(reduce.max_, as_tensor(x), _axis(axis), keepdims)


def min(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum along axis; tied minima share the gradient evenly."""
    return apply1(reduce.min_, as_tensor(x), _axis(axis), keepdims)


def var(x, axis=None, keepdims: bool = False, ddof=0) -> Tensor:
    """Variance as np.var: sum((x - mean(x))**2) / (N - ddof); ddof=0 (the
    default) is the population variance mean((x - mean(x))**2)."""
    x = as_tensor(x)
    d = x - mean(x, axis, True)
    if not ddof:
        return mean(d * d, axis, keepdims)
    kept = kept_shape(x.shape, _axis(axis))
    n = int(np.prod([s for s, k in zip(x.shape, kept) if k == 1 and s != 1] or [1]))
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy: inf or nan when N <= ddof
        return sum(d * d, axis, keepdims) / float(n - ddof if n > ddof else 0)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x), axis)), stable for any magnitude."""
    return apply1(reduce.logsumexp, as_tensor(x), _axis(axis), keepdims)


def softmax(x, axis: int = -1) -> Tensor:
    return apply1(reduce.softmax, as_tensor(x), axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    return apply1(reduce.log_softmax, as_tensor(x), axis)


def argmax(x, axis=None) -> Tensor:
    """Index of the maximum (no gradient)."""
    return _indices(np.argmax(as_tensor(x).data, axis=axis))


def argmin(x, axis=None) -> Tensor:
    return _indices(np.argmin(as_tensor(x).data, axis=axis))


def _indices(result) -> Tensor:
    """An integer result as a Tensor without a gradient; a 0-d one becomes an array
    through the engine's asarray, which gs.trace records instead of reading."""
    return new_tensor(_node._asarray(result), None, False)


# ---------------------------------------------------------------- shape
def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x, *shape_) -> Tensor:
    return apply1(shape.reshape, as_tensor(x), _shape_arg(shape_))


def transpose(x, *axes) -> Tensor:
    """Permute axes (all reversed when none are given), like ndarray.transpose."""
    x = as_tensor(x)
    if axes:
        axes = _permutation(_shape_arg(axes), x.ndim)
    else:
        axes = None
    return apply1(shape.transpose, x, axes)


def _permutation(axes: tuple, ndim: int) -> tuple:
    """``axes`` with negative entries made positive; the rule inverts this form."""
    try:
        perm = tuple(operator.index(a) % ndim if ndim else operator.index(a) for a in axes)
    except TypeError as err:
        raise TypeError(f"transpose: axes must be integers, got {axes!r}") from err
    if sorted(perm) != list(range(ndim)) or any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"transpose: axes {axes!r} are not a permutation of the {ndim} axes")
    return perm


def broadcast_to(x, shape_) -> Tensor:
    return apply1(shape.broadcast_to, as_tensor(x), tuple(shape_))


def sum_to(x, shape_) -> Tensor:
    """Sum x down to ``shape_`` (the inverse of broadcasting)."""
    return apply1(shape.sum_to, as_tensor(x), tuple(shape_))


def flatten(x) -> Tensor:
    return reshape(x, -1)


def squeeze(x, axis=None) -> Tensor:
    """Drop axes of length 1 (all of them, or the given ones, which must have length 1)."""
    x = as_tensor(x)
    try:
        shape = np.squeeze(np.empty(x.shape, dtype=bool), axis=axis).shape
    except ValueError as err:
        raise ValueError(f"squeeze: cannot squeeze axis {axis} of shape {x.shape}: {err}") from err
    return reshape(x, shape)


def expand_dims(x, axis) -> Tensor:
    x = as_tensor(x)
    return reshape(x, np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape)


def _index_item(item):
    """One entry of an index tuple: Tensors give their array, and a list or tuple
    inside the tuple is an integer (or boolean) array, as NumPy reads it."""
    if isinstance(item, Tensor):
        return item.data
    if isinstance(item, (list, tuple)):
        return _int_if_empty(np.asarray(item))
    return item


def _index(index):
    """An index in the one form the getitem rule needs: every integer-array entry
    an ndarray, so repeats are found (``x[(0, 0), :]`` is ``x[[0, 0], :]``)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(_index_item(i) for i in index)
    if isinstance(index, list):
        return _int_if_empty(np.asarray(index))
    return index


def _int_if_empty(arr: np.ndarray) -> np.ndarray:
    """``[]`` selects nothing, as in NumPy (np.asarray([]) alone would be float64)."""
    return arr.astype(np.intp) if arr.size == 0 and arr.dtype.kind == "f" else arr


def getitem(x, index) -> Tensor:
    """x[index]: basic, integer-array and boolean indexing; repeats accumulate."""
    return apply1(shape.getitem, as_tensor(x), _index(index))


def index_add(g, shape_, index) -> Tensor:
    """zeros(shape_) with g added at index (the VJP of getitem)."""
    return apply1(shape.index_add, as_tensor(g), tuple(shape_), _index(index))


def concatenate(tensors: Sequence, axis: int = 0) -> Tensor:
    if len(tensors) == 0:
        raise ValueError("concatenate needs at least one tensor")
    return apply(shape.concatenate, tuple(tensors), axis)


def stack(tensors: Sequence, axis: int = 0) -> Tensor:
    if len(tensors) == 0:
        raise ValueError("stack needs at least one tensor")
    shapes = {tuple(np.shape(t.data if isinstance(t, Tensor) else t)) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got shapes {sorted(shapes)}")
    return concatenate([expand_dims(t, axis) for t in tensors], axis)


# ---------------------------------------------------------------- fused nn ops
def linear(x, weight, bias=None) -> Tensor:
    """x @ weight^T + bias: (..., in) with (out, in) and (out,) -> (..., out)."""
    if bias is None:
        return matmul(x, transpose(weight))
    return apply(fused.linear, (x, weight, bias))


def cross_entropy_logits(logits, target: np.ndarray, reduction: str) -> Tensor:
    """Softmax cross-entropy of (N, C) logits and (N,) class indices (validated by nn)."""
    return apply1(fused.cross_entropy, as_tensor(logits), target, reduction, [])


def mse(x, y, reduction: str) -> Tensor:
    """Squared error (x - y)^2 reduced by "mean" | "sum" | "none" (validated by nn)."""
    return apply(fused.mse, (x, y), reduction)


def bce_with_logits(logits, target: np.ndarray, reduction: str) -> Tensor:
    return apply1(fused.binary_cross_entropy_with_logits, as_tensor(logits), target, reduction)
