"""The declarations of the core ops (api.py) and of NumPy's names for them (numpy_ops.py).

One ``declare`` per op (declare.py): the primitive (its forward and VJP rules
live in elementwise/reduce/shape/linalg/fused), the function users call, the
NumPy functions and ufuncs it implements (with the adapter in
numpy_protocol.py where NumPy's keywords need one), its Tensor methods and
where it has kinks or ties. The families of ops added later declare
themselves in their own modules, forward, rules and declaration together.

The hot Tensor operators use the fast method factories of _core/node.py
(``unary_method``, ``binary_method``): a method call is the whole Python cost
of ``a * b``.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.arrays import as_result
from gradsight._core.node import binary_method, lift, unary_method
from gradsight._core.tensor import Tensor, new_tensor

from . import _util, api, fused, linalg, reduce, shape
from . import elementwise as ew
from . import jvp as J
from . import numpy_ops as nops
from . import numpy_protocol as npp
from .declare import declare, declare_primitive

TIES_SPLIT = "ties split the gradient evenly (1/2 each)"
TIED_EXTREMA = "tied extrema share the gradient evenly; a NaN extremum takes it"


def _compare(ufunc):
    """``t < other`` and co: a bool Tensor without gradient."""

    def method(self, other):
        return new_tensor(as_result(ufunc(self.data, lift(other))), None, False)

    return method


def _binary_methods(prim, name: str) -> dict:
    return {f"__{name}__": binary_method(prim), f"__r{name}__": binary_method(prim, True)}


# ---------------------------------------------------------------- arithmetic
declare(
    "add",
    nops.add,
    ew.add,
    numpy={np.add: api.add},
    methods=_binary_methods(ew.add, "add"),
    jvp=J.elementwise(ew.add.vjps),
)
declare(
    "subtract",
    nops.subtract,
    ew.sub,
    numpy={np.subtract: api.sub},
    methods=_binary_methods(ew.sub, "sub"),
    jvp=J.elementwise(ew.sub.vjps),
)
declare(
    "multiply",
    nops.multiply,
    ew.mul,
    numpy={np.multiply: api.mul},
    methods=_binary_methods(ew.mul, "mul"),
    jvp=J.elementwise(ew.mul.vjps),
)
declare(
    "true_divide",
    nops.true_divide,
    ew.div,
    numpy={np.true_divide: api.div},  # np.divide is the same ufunc
    methods=_binary_methods(ew.div, "truediv"),
    export=("true_divide", "divide"),
    jvp=J.elementwise(ew.div.vjps),
)
declare(
    "power",
    api.power,
    ew.power,
    numpy=np.power,
    methods={**_binary_methods(ew.power, "pow"), "pow": api.power},
    kinks="at x = 0: d/dx is 0 where y = 0; d/dy is 0 where y >= 0, -inf where y < 0",
    export=False,
    jvp=J.elementwise(ew.power.vjps),
)
declare(
    "negative",
    nops.negative,
    ew.neg,
    numpy={np.negative: api.neg},
    methods={"__neg__": unary_method(ew.neg)},
    jvp=J.elementwise(ew.neg.vjps),
)
declare(
    "positive",
    nops.positive,
    numpy=np.positive,
    methods={"__pos__": lambda self: self},
)
declare(
    "matmul",
    api.matmul,
    linalg.matmul,
    numpy=np.matmul,
    methods=_binary_methods(linalg.matmul, "matmul"),
    jvp=J.multilinear(linalg.matmul),
)
declare(
    "maximum",
    api.maximum,
    ew.maximum,
    numpy=np.maximum,
    kinks=TIES_SPLIT + "; a NaN operand takes the gradient",
    jvp=J.elementwise(ew.maximum.vjps),
)
declare(
    "minimum",
    api.minimum,
    ew.minimum,
    numpy=np.minimum,
    kinks=TIES_SPLIT + "; a NaN operand takes the gradient",
    jvp=J.elementwise(ew.minimum.vjps),
)
declare(
    "fmax",
    nops.fmax,
    nops.fmax_p,
    numpy=np.fmax,
    kinks=TIES_SPLIT + "; NaN operands ignored",
    jvp=J.elementwise(nops.fmax_p.vjps),
)
declare(
    "fmin",
    nops.fmin,
    nops.fmin_p,
    numpy=np.fmin,
    kinks=TIES_SPLIT + "; NaN operands ignored",
    jvp=J.elementwise(nops.fmin_p.vjps),
)
declare(
    "where",
    api.where,
    ew.where,
    numpy={np.where: npp.where},
    rules=(np.where, api.where),
    kinks="no gradient to the condition",
    jvp=J.elementwise(ew.where.vjps),
)

# ---------------------------------------------------------------- elementwise math
declare(
    "exp",
    api.exp,
    ew.exp,
    numpy=np.exp,
    methods={"exp": unary_method(ew.exp)},
    rules=_util.exp_quiet,
    jvp=J.elementwise(ew.exp.vjps),
)
declare(
    "log",
    api.log,
    ew.log,
    numpy=np.log,
    methods={"log": unary_method(ew.log)},
    rules=np.log,
    kinks="1/x: inf at 0",
    jvp=J.elementwise(ew.log.vjps),
)
declare(
    "sqrt",
    api.sqrt,
    ew.sqrt,
    numpy=np.sqrt,
    methods={"sqrt": unary_method(ew.sqrt)},
    rules=np.sqrt,
    kinks="inf at 0 (IEEE)",
    jvp=J.elementwise(ew.sqrt.vjps),
)
declare(
    "abs",
    api.abs,
    ew.absolute,
    numpy={np.absolute: api.abs},  # np.abs is the same ufunc
    methods={"abs": unary_method(ew.absolute), "__abs__": unary_method(ew.absolute)},
    kinks="0 at x = 0; NaN at NaN",
    export=("abs", "absolute"),
    jvp=J.elementwise(ew.absolute.vjps),
)
declare(
    "tanh",
    api.tanh,
    ew.tanh,
    numpy=np.tanh,
    methods={"tanh": unary_method(ew.tanh)},
    jvp=J.elementwise(ew.tanh.vjps),
)
declare(
    "sigmoid",
    api.sigmoid,
    ew.sigmoid,
    methods={"sigmoid": unary_method(ew.sigmoid)},
    rules=_util.sigmoid,
    jvp=J.elementwise(ew.sigmoid.vjps),
)
declare(
    "relu",
    api.relu,
    ew.relu,
    methods={"relu": unary_method(ew.relu)},
    kinks="0 at x = 0 (and at NaN)",
    jvp=J.elementwise(ew.relu.vjps),
)
declare(
    "clip",
    api.clip,
    ew.clip,
    numpy={np.clip: npp.clip},
    methods="clip",
    kinks="the gradient passes at the bounds (like torch.clamp)",
    jvp=J.elementwise(ew.clip.vjps),
)
declare(
    "astype",
    api.astype,
    ew.astype,
    methods="astype",
    rules=(lambda a, dtype: a.astype(dtype), api.astype),
    kinks="a cast to an integer or bool dtype ends the graph",
    export=False,
    jvp=J.linear(ew.astype),
)
declare("expm1", nops.expm1, nops.expm1_p, numpy=np.expm1, jvp=J.elementwise(nops.expm1_p.vjps))
declare("log1p", nops.log1p, nops.log1p_p, numpy=np.log1p, jvp=J.elementwise(nops.log1p_p.vjps))
declare("log2", nops.log2, nops.log2_p, numpy=np.log2, jvp=J.elementwise(nops.log2_p.vjps))
declare(
    "square", nops.square, nops.square_p, numpy=np.square, jvp=J.elementwise(nops.square_p.vjps)
)
declare("sin", nops.sin, nops.sin_p, numpy=np.sin, rules=np.sin, jvp=J.elementwise(nops.sin_p.vjps))
declare("cos", nops.cos, nops.cos_p, numpy=np.cos, rules=np.cos, jvp=J.elementwise(nops.cos_p.vjps))
declare(
    "copy",
    nops.copy,
    nops.copy_p,
    numpy={np.copy: npp.copy},
    methods="copy",
    jvp=J.linear(nops.copy_p),
)

# ---------------------------------------------------------------- no gradient
_NONE = "none"
declare(
    "sign",
    nops.sign,
    numpy={np.sign: npp.const(np.sign)},
    methods="sign",
    gradient=_NONE,
    kinks="no gradient: the derivative is 0 wherever it exists",
)
declare("isfinite", nops.isfinite, numpy={np.isfinite: npp.const(np.isfinite)}, gradient=_NONE)
declare("isnan", nops.isnan, numpy={np.isnan: npp.const(np.isnan)}, gradient=_NONE)
declare("full_like", nops.full_like, numpy={np.full_like: npp.like(np.full_like)}, gradient=_NONE)
for _name, _dunder in (
    ("less", "lt"),
    ("less_equal", "le"),
    ("greater", "gt"),
    ("greater_equal", "ge"),
    ("equal", "eq"),
    ("not_equal", "ne"),
):
    _ufunc = getattr(np, _name)
    declare(
        _name,
        getattr(nops, _name),
        numpy={_ufunc: npp.const(_ufunc)},
        methods={f"__{_dunder}__": _compare(_ufunc)},
        gradient=_NONE,
    )
for _f in (
    np.isinf,
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.logical_xor,
    np.isclose,
    np.allclose,
    np.array_equal,
    np.array_equiv,
    np.nonzero,
    np.count_nonzero,
):
    declare(_f.__name__, npp.const(_f), numpy=_f, export=False, gradient=_NONE)
declare("zeros_like", npp.like(np.zeros_like), numpy=np.zeros_like, export=False, gradient=_NONE)
declare("ones_like", npp.like(np.ones_like), numpy=np.ones_like, export=False, gradient=_NONE)
declare(  # zeros, not garbage: a defined value
    "empty_like", npp.like(np.zeros_like), numpy=np.empty_like, export=False, gradient=_NONE
)
declare("shape", npp.shape, numpy=np.shape, export=False, gradient=_NONE)
declare("ndim", npp.ndim, numpy=np.ndim, export=False, gradient=_NONE)
declare("size", npp.size, numpy=np.size, export=False, gradient=_NONE)
declare("argmax", api.argmax, numpy={np.argmax: npp.argmax}, methods="argmax", gradient=_NONE)
declare("argmin", api.argmin, numpy={np.argmin: npp.argmin}, methods="argmin", gradient=_NONE)

# ---------------------------------------------------------------- reductions
declare(
    "sum", api.sum, reduce.sum_, numpy={np.sum: npp.sum_}, methods="sum", jvp=J.linear(reduce.sum_)
)
declare(
    "mean",
    api.mean,
    reduce.mean,
    numpy={np.mean: npp.mean},
    methods="mean",
    jvp=J.linear(reduce.mean),
)
declare(
    "max",
    api.max,
    reduce.max_,
    numpy={np.max: npp.max_, np.amax: npp.max_},
    methods="max",
    kinks=TIED_EXTREMA,
    export=("max", "amax"),
    jvp=reduce.extremum_jvp,
)
declare(
    "min",
    api.min,
    reduce.min_,
    numpy={np.min: npp.min_, np.amin: npp.min_},
    methods="min",
    kinks=TIED_EXTREMA,
    export=("min", "amin"),
    jvp=reduce.extremum_jvp,
)
declare("var", api.var, numpy={np.var: npp.var}, methods="var", kinks="population (ddof=0)")
declare(
    "std",
    nops.std,
    nops.std_p,
    numpy={np.std: npp.std},
    methods={
        "std": lambda self, axis=None, keepdims=False, ddof=0: nops.std(self, axis, keepdims, ddof)
    },
    kinks="0 where the deviation is 0: over one element, and over equal values (as PyTorch)",
    jvp=nops.std_jvp,
)
declare("logsumexp", api.logsumexp, reduce.logsumexp, methods="logsumexp", jvp=reduce.logsumexp_jvp)
declare(
    "softmax",
    api.softmax,
    reduce.softmax,
    methods="softmax",
    rules=_util.softmax,
    kinks="a row holding +inf: NaN there, 0 elsewhere",
    jvp=reduce.softmax_jvp,
)
declare(
    "log_softmax",
    api.log_softmax,
    reduce.log_softmax,
    methods="log_softmax",
    jvp=reduce.log_softmax_jvp,
)
declare(
    "prod",
    nops.prod,
    nops.prod_p,
    numpy={np.prod: npp.prod},
    methods="prod",
    kinks="exact where x has zeros",
    jvp=nops.prod_jvp,
)
declare(
    "cumsum",
    nops.cumsum,
    nops.cumsum_p,
    numpy={np.cumsum: npp.cumsum},
    methods="cumsum",
    jvp=J.linear(nops.cumsum_p),
)
declare(
    "norm",
    nops.norm,
    nops.norm_p,
    numpy={np.linalg.norm: npp.norm},
    kinks="0 at the zero vector",
    jvp=nops.norm_jvp,
)

# ---------------------------------------------------------------- products
declare("dot", nops.dot, numpy={np.dot: npp.dot}, methods="dot")
declare("vdot", nops.vdot, numpy=np.vdot)
declare("inner", nops.inner, numpy=np.inner)
declare("outer", nops.outer, numpy={np.outer: npp.outer})
declare("tensordot", nops.tensordot, numpy=np.tensordot)
declare(
    "einsum",
    nops.einsum,
    nops.einsum_p,
    numpy={np.einsum: npp.einsum},
    jvp=J.multilinear(nops.einsum_p),
)
declare(  # gs.trace is the tracer; the op is np.trace and Tensor.trace
    "trace", nops.trace, numpy={np.trace: npp.trace}, methods="trace", export=False
)
declare("linear", api.linear, fused.linear, jvp=fused.linear_jvp)
declare_primitive(fused.cross_entropy, jvp=fused.cross_entropy_jvp)
declare_primitive(fused.binary_cross_entropy_with_logits, jvp=fused.bce_with_logits_jvp)
declare_primitive(fused.mse, jvp=fused.mse_jvp)

# ---------------------------------------------------------------- shape
declare(
    "reshape",
    api.reshape,
    shape.reshape,
    numpy={np.reshape: npp.reshape},
    methods="reshape",
    rules=(lambda a, shape_: a.reshape(shape_), api.reshape),
    jvp=J.linear(shape.reshape),
)
declare(
    "transpose",
    api.transpose,
    shape.transpose,
    numpy={np.transpose: npp.transpose},
    methods={"transpose": api.transpose, "T": property(lambda self: api.transpose(self))},
    rules=(
        lambda a, axes: a.transpose(axes),
        lambda a, axes: api.transpose(a, *(axes or ())),
    ),
    jvp=J.linear(shape.transpose),
)
declare("flatten", api.flatten, methods="flatten")
declare("squeeze", api.squeeze, numpy=np.squeeze, methods="squeeze")
declare("expand_dims", api.expand_dims, numpy=np.expand_dims, methods="expand_dims")
declare(
    "broadcast_to",
    api.broadcast_to,
    shape.broadcast_to,
    numpy={np.broadcast_to: npp.broadcast_to},
    methods="broadcast_to",
    rules=_util.expand,
    jvp=J.linear(shape.broadcast_to),
)
declare(
    "sum_to", api.sum_to, shape.sum_to, rules=_util.sum_to, export=False, jvp=J.linear(shape.sum_to)
)  # broadcast_to's VJP
declare(
    "getitem",
    api.getitem,
    shape.getitem,
    methods="__getitem__",
    export=False,
    jvp=J.linear(shape.getitem),
)
declare(
    "index_add",
    api.index_add,
    shape.index_add,
    rules=_util.index_add,
    export=False,
    jvp=J.linear(shape.index_add),
)  # getitem's VJP
declare(
    "concatenate",
    api.concatenate,
    shape.concatenate,
    numpy={np.concatenate: npp.concatenate},
    jvp=J.linear(shape.concatenate),
)
declare("stack", api.stack, numpy={np.stack: npp.stack})
declare("ravel", nops.ravel, numpy={np.ravel: npp.ravel}, methods="ravel")
declare("swapaxes", nops.swapaxes, numpy=np.swapaxes, methods="swapaxes")
declare("moveaxis", nops.moveaxis, numpy=np.moveaxis)
declare("atleast_1d", nops.atleast_1d, numpy={np.atleast_1d: npp.atleast_1d})
declare("atleast_2d", nops.atleast_2d, numpy={np.atleast_2d: npp.atleast_2d})
declare("hstack", nops.hstack, numpy={np.hstack: npp.hstack})
declare("vstack", nops.vstack, numpy={np.vstack: npp.vstack})
declare("split", nops.split, numpy=np.split)
declare("array_split", nops.array_split, numpy=np.array_split)
declare("tile", nops.tile, numpy=np.tile)
declare("repeat", nops.repeat, numpy={np.repeat: npp.repeat}, methods="repeat")
declare("flip", nops.flip, numpy=np.flip)
declare("pad", nops.pad, numpy=np.pad)
declare("tril", nops.tril, numpy=np.tril)
declare("triu", nops.triu, numpy=np.triu)
declare("diag", nops.diag, numpy=np.diag)
declare("diagonal", nops.diagonal, numpy=np.diagonal, methods="diagonal")

del _f, _name, _dunder, _ufunc
_ = Tensor  # the methods declared here are bound to Tensor by gradsight.ops
