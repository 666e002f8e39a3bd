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

from gradsight._core.grad_mode import mode
from gradsight._core.node import lift
from gradsight._core.tensor import Tensor, ufunc_inplace, write_inplace

from . import api, arrays, declare, np_linalg, statistics, table, ufuncs  # noqa: F401
from .api import *  # noqa: F401,F403 - the core functions, as gradsight.ops.<name>


def _check_inplace(t: Tensor, what: str) -> None:
    if t.requires_grad and mode.enabled:
        raise RuntimeError(
            f"{what}: a tensor that requires grad cannot be modified in place while grad mode "
            "is on (the change would not be recorded); do it inside gs.no_grad(), as optimizers "
            "do, or use the out-of-place operator"
        )


def _inplace(ufunc, name, fallback=None):
    """``t.add_(other)`` and co (``fallback`` None) or ``t += other`` and co:
    ``ufunc(a, value, out=a)`` on t's array, copy-on-write (see ufunc_inplace).

    On a tensor that requires grad, in grad mode, the ``add_`` forms raise; the
    augmented assignments give a non-leaf the out-of-place result instead,
    like ``t = t op other``, and raise on a leaf. The manual update
    ``p.sub_(lr * p.grad)`` under no_grad costs one check more than
    ``SGD.step``'s update of that parameter.
    """

    def method(self, other):
        if self.requires_grad and mode.enabled:
            if fallback is not None and self.grad_fn is not None:
                return fallback(self, other)
            _check_inplace(self, name)
        return ufunc_inplace(self, ufunc, other.data if other.__class__ is Tensor else lift(other))

    if fallback is None:
        method.__name__ = name
    return method


def _setitem(self, index, value):
    _check_inplace(self, "__setitem__")
    index = api._index(index)
    value = lift(value)

    def write(a):
        a[index] = value

    write_inplace(self, write)


def _zero_(self):
    _check_inplace(self, "zero_")
    return write_inplace(self, lambda a: a.fill(0))


def _fill_(self, value):
    _check_inplace(self, "fill_")
    return write_inplace(self, lambda a: a.fill(value))


def _copy_(self, src):
    _check_inplace(self, "copy_")
    value = lift(src)
    if np.shape(value) != self.data.shape:
        raise ValueError(f"copy_: source shape {np.shape(value)} != destination shape {self.shape}")
    return write_inplace(self, lambda a: np.copyto(a, value))


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
