"""The derivative table and the Tensor methods bound to it.

Primitives live in elementwise/reduce/shape/linalg/fused (forward and VJP
side by side); api.py and numpy_ops.py hold the user-facing functions; each
op is declared once (declare.py; the core ops in table.py, later families in
their own modules). This module binds what the declarations generate: the
Tensor methods (so ``a * b`` and ``t.sum()`` resolve without any lookup
magic), NumPy's dispatch table and the ``gs`` names (``__all__``). The
in-place methods are bound here, from the table below.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.tensor import Tensor

from . import api, arrays, declare, inplace, np_linalg, statistics, table, ufuncs  # noqa: F401
from .api import *  # noqa: F401,F403 - the core functions, as gradsight.ops.<name>


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
    "__setitem__": _setitem,
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
}

for _name, _fn in {**declare.methods(), **_METHODS}.items():
    setattr(Tensor, _name, _fn)

from . import numpy_protocol as _numpy_protocol  # noqa: E402 - NEP 13/18

_numpy_protocol.bind(declare.numpy_table())

globals().update(declare.exports())
__all__ = sorted(declare.exports())  # what gradsight exports as gs.<name>
_ = table  # imported for its declarations
