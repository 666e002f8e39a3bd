"""Shape primitives: views where NumPy gives views; each VJP is its inverse.

broadcast_to and sum_to are each other's VJP, and so are getitem and
index_add (which accumulates repeated indices, so ``x[[0, 0]]`` gives 2).
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import Primitive

from . import _util

reshape = Primitive(
    "reshape", np.reshape, (lambda F, g, out, x, shape: F.reshape(g, x.shape),), arity=1
)
transpose = Primitive(
    "transpose",
    np.transpose,
    (lambda F, g, out, x, axes: F.transpose(g, None if axes is None else tuple(np.argsort(axes))),),
    arity=1,
)
broadcast_to = Primitive(
    "broadcast_to", np.broadcast_to, (lambda F, g, out, x, shape: F.sum_to(g, x.shape),), arity=1
)
sum_to = Primitive(
    "sum_to", _util.sum_to, (lambda F, g, out, x, shape: F.broadcast_to(g, x.shape),), arity=1
)
getitem = Primitive(
    "getitem",
    lambda x, index: x[index],
    (lambda F, g, out, x, index: F.index_add(g, x.shape, index),),
    arity=1,
)
index_add = Primitive(
    "index_add", _util.index_add, (lambda F, g, out, x, shape, index: g[index],), arity=1
)


class _ConcatRules:
    """Rule i of concatenate: the slice of g that came from input i."""

    def __getitem__(self, i):
        def rule(F, g, out, *args):
            *xs, axis = args
            axis = axis % g.ndim
            start = sum(x.shape[axis] for x in xs[:i])
            index = [slice(None)] * g.ndim
            index[axis] = slice(start, start + xs[i].shape[axis])
            return g[tuple(index)]

        return rule


concatenate = Primitive(
    "concatenate", lambda *args: np.concatenate(args[:-1], axis=args[-1]), _ConcatRules(), arity=-1
)
