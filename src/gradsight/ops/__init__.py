"""The derivative table and the Tensor methods bound to it.

Primitives live in elementwise/reduce/shape/linalg/fused (forward and VJP
side by side); api.py holds the user-facing functions; this module binds them
to Tensor in one explicit table so that ``a * b`` and ``t.sum()`` resolve
without any lookup magic.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import binary_method, lift, unary_method
from gradsight._core.tensor import Tensor, new_tensor

from . import api, inplace, linalg
from . import elementwise as ew
from .api import *  # noqa: F401,F403 - re-exported for gradsight/__init__


def _compare(ufunc):
    def method(self, other):
        return new_tensor(np.asarray(ufunc(self.data, lift(other))), None, False)

    return method


def _inplace(ufunc, name, fallback=None):
    """``t.add_(other)`` and co, or ``t += other`` and co: a write into t's memory,
    recorded when t (or its base, or ``other``) requires grad (see ops/inplace.py).
    ``fallback`` (the out-of-place op) is no longer used: ``t += x`` on a non-leaf
    is a real in-place write, as in PyTorch."""
    return inplace.inplace_method(ufunc, name)


_setitem = inplace.setitem
_zero_ = inplace.zero_
_fill_ = inplace.fill_
_copy_ = inplace.copy_


_METHODS = {
    # operators
    "__add__": binary_method(ew.add),
    "__radd__": binary_method(ew.add, reflected=True),
    "__sub__": binary_method(ew.sub),
    "__rsub__": binary_method(ew.sub, reflected=True),
    "__mul__": binary_method(ew.mul),
    "__rmul__": binary_method(ew.mul, reflected=True),
    "__truediv__": binary_method(ew.div),
    "__rtruediv__": binary_method(ew.div, reflected=True),
    "__pow__": binary_method(ew.power),
    "__rpow__": binary_method(ew.power, reflected=True),
    "__matmul__": binary_method(linalg.matmul),
    "__rmatmul__": binary_method(linalg.matmul, reflected=True),
    "__neg__": unary_method(ew.neg),
    "__pos__": lambda self: self,
    "__getitem__": api.getitem,
    "__setitem__": _setitem,
    "__lt__": _compare(np.less),
    "__le__": _compare(np.less_equal),
    "__gt__": _compare(np.greater),
    "__ge__": _compare(np.greater_equal),
    "__eq__": _compare(np.equal),
    "__ne__": _compare(np.not_equal),
    # in place
    "__iadd__": _inplace(np.add, "+=", api.add),
    "__isub__": _inplace(np.subtract, "-=", api.sub),
    "__imul__": _inplace(np.multiply, "*=", api.mul),
    "__itruediv__": _inplace(np.true_divide, "/=", api.div),
    "add_": _inplace(np.add, "add_"),
    "sub_": _inplace(np.subtract, "sub_"),
    "mul_": _inplace(np.multiply, "mul_"),
    "div_": _inplace(np.true_divide, "div_"),
    "zero_": _zero_,
    "fill_": _fill_,
    "copy_": _copy_,
    # math
    "exp": unary_method(ew.exp),
    "log": unary_method(ew.log),
    "sqrt": unary_method(ew.sqrt),
    "abs": unary_method(ew.absolute),
    "__abs__": unary_method(ew.absolute),
    "tanh": unary_method(ew.tanh),
    "sigmoid": unary_method(ew.sigmoid),
    "relu": unary_method(ew.relu),
    "clip": api.clip,
    "pow": api.power,
    "astype": api.astype,
    "sum": api.sum,
    "mean": api.mean,
    "max": api.max,
    "min": api.min,
    "var": api.var,
    "logsumexp": api.logsumexp,
    "softmax": api.softmax,
    "log_softmax": api.log_softmax,
    "argmax": api.argmax,
    "argmin": api.argmin,
    # shape
    "reshape": api.reshape,
    "transpose": api.transpose,
    "flatten": api.flatten,
    "squeeze": api.squeeze,
    "expand_dims": api.expand_dims,
    "broadcast_to": api.broadcast_to,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: api.transpose(self))

from . import numpy_protocol as _numpy_protocol  # noqa: E402 - NEP 13/18 and NumPy methods

_numpy_protocol.bind()
