"""The op registry: one entry per public op, its references and its samples.

How to add an op: append an ``OpInfo`` to ``REGISTRY`` below with

- ``name``: the op's name in the sweep's test ids;
- ``gs``: ``fn(*tensors, **kwargs) -> Tensor`` calling the op as users do;
- ``np``: ``fn(*arrays, **kwargs) -> ndarray``, NumPy's value for the same call;
- ``torch``: ``fn(torch, *tensors, **kwargs) -> torch.Tensor`` (None: no PyTorch
  counterpart; the gradient is then checked by finite differences only);
- ``samples``: a list of ``Sample`` from samples.py (write new samples *by kind*
  there, so every op of the kind gets them);
- ``covers``: every public name the entry exercises: ``gs.<name>``,
  ``Tensor.<name>`` and ``F.<name>`` (gs.nn.functional). test_coverage fails for
  any declared op (gradsight/ops/declare.py) that no entry covers;
- ``drawn`` (optional, set in DRAWN below): Hypothesis forms of the entry
  (drawn.py), whose shapes, axes and indices tests/engine draws at random.

``differentiable=False`` entries (comparisons, argmax, in-place methods) get the
forward check only. The generic checks live in test_sweep.py.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import gradsight as gs
from gradsight.nn import functional as gsF

from . import drawn as D
from . import samples as S
from .drawn import Drawn
from .samples import Sample


@dataclass
class OpInfo:
    name: str
    gs: Callable
    np: Callable
    torch: Callable | None
    samples: list
    covers: tuple = ()
    differentiable: bool = True
    rtol32: float = 1e-5  # float32 result vs float64, relative to the value's scale
    extra: dict = field(default_factory=dict)
    drawn: tuple = ()  # Hypothesis forms (drawn.py), filled from DRAWN below

    def __repr__(self) -> str:
        return self.name


# ---------------------------------------------------------------- helpers
def _binary(op):
    """gs/np side of a binary op, with the ``other`` constant on either side."""

    def call(*xs, other=None, left=False):
        if other is None:
            return op(*xs)
        return op(other, xs[0]) if left else op(xs[0], other)

    return call


def _torch_binary(name):
    def call(torch, *xs, other=None, left=False):
        fn = getattr(torch, name)
        if other is None:
            return fn(*xs)
        c = torch.as_tensor(other, dtype=xs[0].dtype) if isinstance(other, np.ndarray) else other
        if not isinstance(c, torch.Tensor):
            c = torch.tensor(c, dtype=xs[0].dtype)
        return fn(c, xs[0]) if left else fn(xs[0], c)

    return call


def _dims(axis, ndim):
    """NumPy's axis as PyTorch's dim (None -> every axis; () stays ())."""
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _torch_reduce(name):
    def call(torch, x, axis=None, keepdims=False):
        dims = _dims(axis, x.ndim)
        if dims == () or x.ndim == 0:  # NumPy: axis=() (or any axis of a 0-d) reduces nothing
            return x * 1.0 if name != "var" else x * 0.0
        if name == "var":
            return torch.var(x, dim=dims, keepdim=keepdims, correction=0)
        return getattr(torch, name)(x, dim=dims, keepdim=keepdims)

    return call


def _squeeze_ref(x, axis=None):
    return np.squeeze(x, axis=axis)


def _leaky(x, negative_slope=0.01):
    return np.where(x > 0, x, negative_slope * x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _logsumexp(x, axis=None, keepdims=False):
    if axis == () or np.ndim(x) == 0:
        return np.array(x, copy=True)
    m = np.max(x, axis=axis, keepdims=True) if x.size else 0.0
    return (
        np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        .__add__(m)
        .reshape(np.sum(x, axis=axis, keepdims=keepdims).shape)
    )


def _softmax(x, axis=-1):
    e = np.exp(x - (np.max(x, axis=axis, keepdims=True) if x.size else 0))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_reduce(fn):
    def call(x, axis=None, keepdims=False):
        if np.ndim(x) == 0 and axis is not None:  # np.mean/np.var refuse an axis on 0-d
            return np.asarray(fn(x))  # reducing one element: x itself (var: 0)
        return fn(x, axis=axis, keepdims=keepdims)

    return call


def _mse(x, y, reduction="mean"):
    d = (x - y) ** 2
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](d)


def _bce(p, target, reduction="mean"):
    losses = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](losses)


def _bce_logits(z, target, reduction="mean"):
    losses = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](losses)


def _ce(z, target, reduction="mean"):
    logp = z - _logsumexp(z, axis=1, keepdims=True)
    losses = -logp[np.arange(len(target)), target]
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](losses)


# ---------------------------------------------------------------- samples
def _pow_samples() -> list:
    base = S.normal((2, 3), 100, 0.5)
    out = [
        Sample((base, S.normal((2, 3), 101)), note="positive base"),
        Sample((S.normal((3, 1), 102, 0.5), S.normal((1, 4), 103)), note="broadcast both ways"),
        Sample((S.normal((), 104, 0.5), S.normal((2,), 105)), note="0-d base"),
        Sample((base,), {"other": 2.0}, "x ** 2"),
        Sample((S.normal((2, 3), 106),), {"other": 3.0}, "negative base, integer exponent"),
        Sample((S.normal((2, 3), 107),), {"other": 0.5, "left": True}, "0.5 ** y"),
        Sample((np.zeros(3),), {"other": 0.0}, "0 ** 0", fd=False, torch2=False),
        Sample((np.zeros(3),), {"other": 2.0}, "0 ** 2"),
        Sample(
            (np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]),),
            {"other": 0.0, "left": True},
            "0 ** y",
            fd=False,
            torch2=False,
        ),
        Sample(
            (np.array([0.0, 1.5]), np.array([0.0, 0.0])),
            note="x ** 0 at x = 0 and 1.5",
            fd=False,
            torch2=False,
        ),
        Sample((np.zeros((0, 2)), np.ones((1, 2))), note="size-0"),
    ]
    out[-2].note += " (PyTorch masks d2/dxdy at y = 0; gradsight keeps 1/x)"
    return out


def _extremum_pair_samples() -> list:
    out = S.binary()
    ties = np.array([1.0, -0.5, 2.0, 0.0])
    out.append(Sample((ties, np.array([1.0, 0.5, 2.0, -1.0])), note="exact ties", fd=False))
    out.append(Sample((ties,), {"other": 0.0}, "tie with scalar 0", fd=False))
    nan = np.array([np.nan, 3.0, np.nan, -1.0])
    out.append(
        Sample(
            (nan, np.array([2.0, np.nan, np.nan, 0.5])),
            note="NaN operands",
            fd=False,
            differs="the NaN operand gets the gradient; PyTorch gives it to both sides",
        )
    )
    return out


def _where_samples() -> list:
    cond = np.array([[True, False, True]])
    return [
        Sample((S.normal((2, 3), 110), S.normal((2, 3), 111)), {"cond": cond}, "broadcast cond"),
        Sample((S.normal((2, 1), 112), S.normal((3,), 113)), {"cond": cond}, "broadcast all"),
        Sample((S.normal((), 114), S.normal((), 115)), {"cond": np.array(False)}, "0-d"),
        Sample((np.zeros((0, 3)), np.zeros((0, 3))), {"cond": cond}, "size-0"),
    ]


def _clip_samples() -> list:
    out = [Sample(s.inputs, {"lo": -0.5, "hi": 0.5}, s.note, layout=s.layout) for s in S.unary()]
    out.append(
        Sample((np.array([-0.5, 0.5, 0.0, 2.0]),), {"lo": -0.5, "hi": 0.5}, "at bounds", fd=False)
    )
    out.append(Sample((S.normal((3,), 120),), {"lo": None, "hi": 0.1}, "upper only"))
    out.append(Sample((S.normal((3,), 121),), {"lo": -0.1, "hi": None}, "lower only"))
    return out


def _reshape_samples() -> list:
    x = S.normal((2, 3, 4), 130)
    out = [Sample((x,), {"shape": sh}, f"to {sh}") for sh in [(6, 4), (-1,), (4, -1, 2), (24, 1)]]
    out.append(Sample((S.normal((), 131),), {"shape": (1, 1)}, "0-d to (1, 1)"))
    out.append(Sample((np.zeros((0, 3)),), {"shape": (3, 0)}, "size-0"))
    out.append(Sample((S.normal((3, 4), 132),), {"shape": (12,)}, "T", layout="T"))
    return out


def _transpose_samples() -> list:
    x = S.normal((2, 3, 4), 140)
    axes = [None, (1, 2, 0), (1, -1, 0), (-2, -1, -3), (2, 0, 1)]
    out = [Sample((x,), {"axes": a}, f"axes={a}") for a in axes]
    out.append(Sample((S.normal((3, 4, 5, 6), 141),), {"axes": (-2, -1, 1, 0)}, "4-d negative"))
    out.append(Sample((S.normal((), 142),), {"axes": None}, "0-d"))
    out.append(Sample((S.normal((3, 4), 143),), {"axes": (1, 0)}, "T", layout="T"))
    return out


def _squeeze_samples() -> list:
    x = S.normal((1, 3, 1, 2), 150)
    out = [Sample((x,), {"axis": a}, f"axis={a}") for a in (None, 0, -2, (0, 2), (-4, -2))]
    out.append(Sample((S.normal((), 151),), {"axis": None}, "0-d"))
    out.append(Sample((np.zeros((0, 1)),), {"axis": 1}, "size-0"))
    return out


def _expand_samples() -> list:
    x = S.normal((2, 3), 160)
    out = [Sample((x,), {"axis": a}, f"axis={a}") for a in (0, 2, -1, -3, (0, -1))]
    out.append(Sample((S.normal((), 161),), {"axis": 0}, "0-d"))
    return out


def _broadcast_samples() -> list:
    return [
        Sample((S.normal((3, 1), 170),), {"shape": (2, 3, 4)}, "(3, 1) to (2, 3, 4)"),
        Sample((S.normal((), 171),), {"shape": (2, 2)}, "0-d"),
        Sample((S.normal((4,), 172),), {"shape": (0, 4)}, "to size-0"),
        Sample((S.normal((2, 3), 173),), {"shape": (2, 3)}, "same shape"),
    ]


def _concat_samples() -> list:
    a, b, c = S.normal((2, 3), 180), S.normal((1, 3), 181), S.normal((4, 3), 182)
    return [
        Sample((a, b, c), {"axis": 0}, "three along 0"),
        Sample((a, S.normal((2, 2), 183)), {"axis": -1}, "axis -1"),
        Sample((a,), {"axis": 1}, "one tensor"),
        Sample((a, np.zeros((0, 3))), {"axis": 0}, "with size-0"),
    ]


def _stack_samples() -> list:
    a, b = S.normal((2, 3), 190), S.normal((2, 3), 191)
    out = [Sample((a, b), {"axis": ax}, f"axis={ax}") for ax in (0, 1, 2, -1, -3)]
    out.append(Sample((S.normal((), 192), S.normal((), 193)), {"axis": 0}, "0-d"))
    return out


def _linear_samples() -> list:
    return [
        Sample((S.normal((4, 3), 200), S.normal((2, 3), 201), S.normal((2,), 202)), note="batch"),
        Sample((S.normal((3,), 203), S.normal((2, 3), 204), S.normal((2,), 205)), note="1-d x"),
        Sample(
            (S.normal((2, 4, 3), 206), S.normal((5, 3), 207), S.normal((5,), 208)),
            note="two batch axes",
        ),
        Sample((S.normal((4, 3), 209), S.normal((2, 3), 210)), note="no bias"),
    ]


def _loss_pair_samples(reductions=("mean", "sum", "none")) -> list:
    out = []
    for r in reductions:
        out.append(Sample((S.normal((4, 3), 220), S.normal((4, 3), 221)), {"reduction": r}, r))
    out.append(Sample((S.normal((), 222), S.normal((), 223)), {"reduction": "mean"}, "0-d"))
    return out


def _bce_samples() -> list:
    p = np.clip(np.abs(S.normal((4, 3), 230)) / 4 + 0.1, 0.05, 0.95)
    t = (S.normal((4, 3), 231) > 0).astype(np.float64)
    return [Sample((p,), {"target": t, "reduction": r}, r) for r in ("mean", "sum", "none")]


def _bce_logit_samples() -> list:
    z = S.normal((4, 3), 240) * 3
    t = (S.normal((4, 3), 241) > 0).astype(np.float64)
    out = [Sample((z,), {"target": t, "reduction": r}, r) for r in ("mean", "sum", "none")]
    out.append(
        Sample(
            (np.array([-800.0, 800.0]),),
            {"target": np.array([1.0, 0.0]), "reduction": "sum"},
            "huge logits",
        )
    )
    return out


def _ce_samples() -> list:
    z = S.normal((5, 4), 250)
    t = np.array([0, 3, 3, 1, 2])
    out = [Sample((z,), {"target": t, "reduction": r}, r) for r in ("mean", "sum", "none")]
    out.append(Sample((z * 300,), {"target": t, "reduction": "mean"}, "huge logits"))
    return out


def _astype_samples() -> list:
    return [
        Sample((S.normal((2, 3), 260) * 4,), {"dtype": d}, f"to {d}", fd=d == "float64")
        for d in ("float32", "float64", "int64", "bool")
    ]


def _compare_samples() -> list:
    a = np.array([[1.0, 2.0, 3.0]])
    return [
        Sample((a, np.array([[3.0], [2.0]])), note="broadcast with ties"),
        Sample((a,), {"other": 2.0}, "with scalar"),
    ]


def _inplace_samples() -> list:
    return [
        Sample((S.normal((2, 3), 270),), {"other": S.normal((3,), 271)}, "broadcast operand"),
        Sample((S.normal((2, 3), 272),), {"other": 0.5}, "scalar operand"),
    ]


def _inplace(method: str):
    def call(x, other):
        t = gs.tensor(x.data)  # a leaf that needs no gradient may be written in place
        out = getattr(t, method)(other) if not method.startswith("__i") else None
        if out is None:
            op = {
                "__iadd__": operator.iadd,
                "__isub__": operator.isub,
                "__imul__": operator.imul,
                "__itruediv__": operator.itruediv,
            }[method]
            out = op(t, other)
        return out

    return call


def _np_inplace(ufunc):
    return lambda x, other: ufunc(x, other).astype(x.dtype)  # in place keeps x's dtype


def _setitem(x, other):
    t = gs.tensor(x.data)
    t[0] = other if np.ndim(other) == 0 else other
    return t


def _np_setitem(x, other):
    y = x.copy()
    y[0] = other
    return y


def _fill(method):
    def call(x, other):
        t = gs.tensor(x.data)
        if method == "zero_":
            return t.zero_()
        if method == "fill_":
            return t.fill_(0.25)
        return t.copy_(np.broadcast_to(other, t.shape).copy())

    return call


def _np_fill(method):
    def call(x, other):
        if method == "zero_":
            return np.zeros_like(x)
        if method == "fill_":
            return np.full_like(x, 0.25)
        return np.broadcast_to(other, x.shape).astype(x.dtype)

    return call


# ---------------------------------------------------------------- the registry
def _tt(name):
    return lambda torch, x, **kw: getattr(torch, name)(x)


REGISTRY: list[OpInfo] = [
    # ------------------------------------------------ binary elementwise
    OpInfo(
        "add",
        _binary(operator.add),
        _binary(np.add),
        _torch_binary("add"),
        S.binary(),
        ("Tensor.__add__", "Tensor.__radd__"),
    ),
    OpInfo(
        "sub",
        _binary(operator.sub),
        _binary(np.subtract),
        _torch_binary("sub"),
        S.binary(),
        ("Tensor.__sub__", "Tensor.__rsub__"),
    ),
    OpInfo(
        "mul",
        _binary(operator.mul),
        _binary(np.multiply),
        _torch_binary("mul"),
        S.binary(),
        ("Tensor.__mul__", "Tensor.__rmul__"),
    ),
    OpInfo(
        "div",
        _binary(operator.truediv),
        _binary(np.true_divide),
        _torch_binary("div"),
        S.binary("positive"),
        ("Tensor.__truediv__", "Tensor.__rtruediv__"),
    ),
    OpInfo(
        "pow",
        _binary(operator.pow),
        _binary(np.power),
        _torch_binary("pow"),
        _pow_samples(),
        ("Tensor.__pow__", "Tensor.__rpow__", "Tensor.pow"),
    ),
    OpInfo(
        "maximum",
        _binary(gs.maximum),
        _binary(np.maximum),
        _torch_binary("maximum"),
        _extremum_pair_samples(),
        ("gs.maximum",),
    ),
    OpInfo(
        "minimum",
        _binary(gs.minimum),
        _binary(np.minimum),
        _torch_binary("minimum"),
        _extremum_pair_samples(),
        ("gs.minimum",),
    ),
    OpInfo(
        "matmul",
        operator.matmul,
        np.matmul,
        lambda torch, a, b: torch.matmul(a, b),
        S.matmul_shapes(),
        ("gs.matmul", "Tensor.__matmul__", "Tensor.__rmatmul__"),
    ),
    OpInfo(
        "where",
        lambda a, b, cond: gs.where(cond, a, b),
        lambda a, b, cond: np.where(cond, a, b),
        lambda torch, a, b, cond: torch.where(torch.from_numpy(cond), a, b),
        _where_samples(),
        ("gs.where",),
    ),
    # ------------------------------------------------ unary elementwise
    OpInfo("neg", operator.neg, np.negative, _tt("neg"), S.unary(), ("Tensor.__neg__",)),
    OpInfo("pos", operator.pos, np.positive, lambda torch, x: x, S.unary(), ("Tensor.__pos__",)),
    OpInfo("exp", gs.exp, np.exp, _tt("exp"), S.unary(), ("gs.exp", "Tensor.exp")),
    OpInfo(
        "log",
        gs.log,
        np.log,
        _tt("log"),
        S.unary("positive", poles=(0.0,)),
        ("gs.log", "Tensor.log"),
    ),
    OpInfo(
        "sqrt",
        gs.sqrt,
        np.sqrt,
        _tt("sqrt"),
        S.unary("positive", poles=(0.0,)),
        ("gs.sqrt", "Tensor.sqrt"),
    ),
    OpInfo(
        "abs",
        gs.abs,
        np.abs,
        _tt("abs"),
        S.unary(kinks=(0.0,)),
        ("gs.abs", "Tensor.abs", "Tensor.__abs__"),
    ),
    OpInfo("tanh", gs.tanh, np.tanh, _tt("tanh"), S.unary(), ("gs.tanh", "Tensor.tanh", "F.tanh")),
    OpInfo(
        "sigmoid",
        gs.sigmoid,
        _sigmoid,
        _tt("sigmoid"),
        S.unary() + [Sample((np.array([-800.0, 800.0, 0.0]),), note="saturated")],
        ("gs.sigmoid", "Tensor.sigmoid", "F.sigmoid"),
    ),
    OpInfo(
        "relu",
        gs.relu,
        lambda x: np.maximum(x, 0),
        _tt("relu"),
        S.unary(kinks=(0.0,)),
        ("gs.relu", "Tensor.relu", "F.relu"),
    ),
    OpInfo(
        "leaky_relu",
        gsF.leaky_relu,
        _leaky,
        lambda torch, x, **kw: torch.nn.functional.leaky_relu(x, **kw),
        [
            Sample(s.inputs, {"negative_slope": 0.2}, s.note, fd=s.fd, layout=s.layout)
            for s in S.unary(kinks=(0.0,))
        ],
        ("F.leaky_relu",),
    ),
    OpInfo(
        "clip",
        lambda x, lo, hi: gs.clip(x, lo, hi),
        lambda x, lo, hi: np.clip(x, lo, hi),
        lambda torch, x, lo, hi: torch.clamp(x, lo, hi),
        _clip_samples(),
        ("gs.clip", "Tensor.clip"),
    ),
    OpInfo(
        "astype",
        lambda x, dtype: x.astype(dtype),
        lambda x, dtype: x.astype(dtype),
        lambda torch, x, dtype: x.to(getattr(torch, dtype)),
        _astype_samples(),
        ("Tensor.astype",),
        rtol32=1e-6,
    ),
    # ------------------------------------------------ reductions
    OpInfo(
        "sum",
        gs.sum,
        _np_reduce(np.sum),
        _torch_reduce("sum"),
        S.reduction(),
        ("gs.sum", "Tensor.sum"),
    ),
    OpInfo(
        "mean",
        gs.mean,
        _np_reduce(np.mean),
        _torch_reduce("mean"),
        S.reduction(empty_ok=False),
        ("gs.mean", "Tensor.mean"),
    ),
    OpInfo(
        "var",
        gs.var,
        _np_reduce(np.var),
        _torch_reduce("var"),
        S.reduction(empty_ok=False),
        ("gs.var", "Tensor.var"),
        rtol32=1e-4,
    ),
    OpInfo(
        "max",
        gs.max,
        _np_reduce(np.max),
        _torch_reduce("amax"),
        S.reduction(S.distinct, ties=True, empty_ok=False),
        ("gs.max", "Tensor.max"),
    ),
    OpInfo(
        "min",
        gs.min,
        _np_reduce(np.min),
        _torch_reduce("amin"),
        S.reduction(S.distinct, ties=True, empty_ok=False),
        ("gs.min", "Tensor.min"),
    ),
    OpInfo(
        "logsumexp",
        gs.logsumexp,
        _logsumexp,
        _torch_reduce("logsumexp"),
        S.reduction(empty_ok=False),
        ("gs.logsumexp", "Tensor.logsumexp"),
    ),
    OpInfo(
        "softmax",
        gs.softmax,
        _softmax,
        lambda torch, x, axis: torch.softmax(x, axis),
        S.along_axis(),
        ("gs.softmax", "Tensor.softmax", "F.softmax"),
    ),
    OpInfo(
        "log_softmax",
        gs.log_softmax,
        lambda x, axis: np.log(_softmax(x, axis)),
        lambda torch, x, axis: torch.log_softmax(x, axis),
        S.along_axis(),
        ("gs.log_softmax", "Tensor.log_softmax", "F.log_softmax"),
    ),
    OpInfo(
        "argmax",
        lambda x, axis=None, keepdims=False: gs.argmax(x, axis),
        lambda x, axis=None, keepdims=False: np.argmax(x, axis),
        None,
        [
            s
            for s in S.reduction(S.distinct, ties=True, empty_ok=False)
            if isinstance(s.kwargs.get("axis"), (int, type(None))) and not s.kwargs["keepdims"]
        ],
        ("gs.argmax", "Tensor.argmax"),
        differentiable=False,
    ),
    OpInfo(
        "argmin",
        lambda x, axis=None, keepdims=False: gs.argmin(x, axis),
        lambda x, axis=None, keepdims=False: np.argmin(x, axis),
        None,
        [
            s
            for s in S.reduction(S.distinct, ties=True, empty_ok=False)
            if isinstance(s.kwargs.get("axis"), (int, type(None))) and not s.kwargs["keepdims"]
        ],
        ("gs.argmin", "Tensor.argmin"),
        differentiable=False,
    ),
    # ------------------------------------------------ shape
    OpInfo(
        "reshape",
        lambda x, shape: x.reshape(*shape),
        lambda x, shape: x.reshape(shape),
        lambda torch, x, shape: x.reshape(shape),
        _reshape_samples(),
        ("gs.reshape", "Tensor.reshape"),
    ),
    OpInfo(
        "flatten",
        gs.flatten,
        np.ravel,
        lambda torch, x: x.reshape(-1),
        S.unary(),
        ("gs.flatten", "Tensor.flatten"),
    ),
    OpInfo(
        "transpose",
        lambda x, axes: x.transpose(*(axes or ())),
        lambda x, axes: np.transpose(x, axes),
        lambda torch, x, axes: x.permute(*(axes or range(x.ndim - 1, -1, -1))) if x.ndim else x,
        _transpose_samples(),
        ("gs.transpose", "Tensor.transpose"),
    ),
    OpInfo(
        "T",
        lambda x: x.T,
        lambda x: x.T,
        lambda torch, x: x.permute(*range(x.ndim - 1, -1, -1)) if x.ndim else x,
        S.unary(),
        ("Tensor.T",),
    ),
    OpInfo(
        "squeeze",
        gs.squeeze,
        _squeeze_ref,
        lambda torch, x, axis=None: x.squeeze() if axis is None else x.squeeze(axis),
        _squeeze_samples(),
        ("gs.squeeze", "Tensor.squeeze"),
    ),
    OpInfo(
        "expand_dims",
        gs.expand_dims,
        np.expand_dims,
        lambda torch, x, axis: x.reshape(np.expand_dims(np.empty(tuple(x.shape)), axis).shape),
        _expand_samples(),
        ("gs.expand_dims", "Tensor.expand_dims"),
    ),
    OpInfo(
        "broadcast_to",
        lambda x, shape: gs.broadcast_to(x, shape),
        np.broadcast_to,
        lambda torch, x, shape: torch.broadcast_to(x, shape),
        _broadcast_samples(),
        ("gs.broadcast_to", "Tensor.broadcast_to"),
    ),
    OpInfo(
        "getitem",
        lambda x, index: x[index],
        lambda x, index: x[index],
        None,
        S.index_forms(),  # PyTorch has no negative steps; FD is exact (linear op)
        ("Tensor.__getitem__",),
    ),
    OpInfo(
        "concatenate",
        lambda *xs, axis: gs.concatenate(xs, axis),
        lambda *xs, axis: np.concatenate(xs, axis),
        lambda torch, *xs, axis: torch.cat(xs, axis),
        _concat_samples(),
        ("gs.concatenate",),
    ),
    OpInfo(
        "stack",
        lambda *xs, axis: gs.stack(xs, axis),
        lambda *xs, axis: np.stack(xs, axis),
        lambda torch, *xs, axis: torch.stack(xs, axis),
        _stack_samples(),
        ("gs.stack",),
    ),
    # ------------------------------------------------ nn
    OpInfo(
        "linear",
        gs.linear,
        lambda x, w, b=None: x @ w.T + (0 if b is None else b),
        lambda torch, *xs: torch.nn.functional.linear(*xs),
        _linear_samples(),
        ("gs.linear", "F.linear"),
    ),
    OpInfo(
        "mse_loss",
        gsF.mse_loss,
        _mse,
        lambda torch, x, y, reduction: torch.nn.functional.mse_loss(x, y, reduction=reduction),
        _loss_pair_samples(),
        ("F.mse_loss",),
    ),
    OpInfo(
        "binary_cross_entropy",
        lambda p, target, reduction: gsF.binary_cross_entropy(p, target, reduction=reduction),
        _bce,
        lambda torch, p, target, reduction: torch.nn.functional.binary_cross_entropy(
            p, torch.from_numpy(target).to(p.dtype), reduction=reduction
        ),
        _bce_samples(),
        ("F.binary_cross_entropy",),
        rtol32=1e-4,
    ),
    OpInfo(
        "bce_with_logits",
        lambda z, target, reduction: gsF.binary_cross_entropy_with_logits(
            z, target, reduction=reduction
        ),
        _bce_logits,
        lambda torch, z, target, reduction: torch.nn.functional.binary_cross_entropy_with_logits(
            z, torch.from_numpy(target).to(z.dtype), reduction=reduction
        ),
        _bce_logit_samples(),
        ("F.binary_cross_entropy_with_logits",),
    ),
    OpInfo(
        "cross_entropy",
        lambda z, target, reduction: gsF.cross_entropy(z, target, reduction=reduction),
        _ce,
        lambda torch, z, target, reduction: torch.nn.functional.cross_entropy(
            z, torch.from_numpy(target), reduction=reduction
        ),
        _ce_samples(),
        ("F.cross_entropy",),
    ),
]

_COMPARISONS = {
    "lt": ("__lt__", np.less),
    "le": ("__le__", np.less_equal),
    "gt": ("__gt__", np.greater),
    "ge": ("__ge__", np.greater_equal),
    "eq": ("__eq__", np.equal),
    "ne": ("__ne__", np.not_equal),
}
for _name, (_dunder, _ufunc) in _COMPARISONS.items():
    REGISTRY.append(
        OpInfo(
            _name,
            _binary(getattr(operator, _name)),
            _binary(_ufunc),
            None,
            _compare_samples(),
            (f"Tensor.{_dunder}",),
            differentiable=False,
        )
    )

_INPLACE = {
    "add_": np.add,
    "sub_": np.subtract,
    "mul_": np.multiply,
    "div_": np.true_divide,
    "__iadd__": np.add,
    "__isub__": np.subtract,
    "__imul__": np.multiply,
    "__itruediv__": np.true_divide,
}
for _method, _ufunc in _INPLACE.items():
    REGISTRY.append(
        OpInfo(
            _method,
            _inplace(_method),
            _np_inplace(_ufunc),
            None,
            _inplace_samples(),
            (f"Tensor.{_method}",),
            differentiable=False,
        )
    )
for _method in ("zero_", "fill_", "copy_"):
    REGISTRY.append(
        OpInfo(
            _method,
            _fill(_method),
            _np_fill(_method),
            None,
            _inplace_samples(),
            (f"Tensor.{_method}",),
            differentiable=False,
        )
    )
REGISTRY.append(
    OpInfo(
        "setitem",
        _setitem,
        _np_setitem,
        None,
        _inplace_samples(),
        ("Tensor.__setitem__",),
        differentiable=False,
    )
)

from .registry_arrays import entries as _array_entries  # noqa: E402 - ops/arrays.py
from .registry_math import entries as _math_entries  # noqa: E402 - ops/ufuncs.py
from .registry_numpy import entries as _numpy_entries  # noqa: E402 - issue 13's NumPy ops

REGISTRY.extend(_numpy_entries(OpInfo))
REGISTRY.extend(_math_entries(OpInfo))
REGISTRY.extend(_array_entries(OpInfo))
from .registry_nn import entries as _nn_entries  # noqa: E402 - nn.functional's activations, losses

REGISTRY.extend(_nn_entries(OpInfo))

BY_NAME = {info.name: info for info in REGISTRY}

# ---------------------------------------------------------------- drawn forms
# Each entry's Hypothesis forms: a layout drawing shapes and static arguments,
# and a domain per input away from the op's poles, kinks and ties.
_CLIP = D.AWAY_FROM_BOUNDS
DRAWN = {
    "add": [
        Drawn(D.broadcast, arity=2, note="broadcast"),
        Drawn(D.elementwise, params={"other": 2.5, "left": True}, note="scalar+x"),
    ],
    "sub": [
        Drawn(D.broadcast, arity=2, note="broadcast"),
        Drawn(D.elementwise, params={"other": 2.5, "left": True}, note="scalar-x"),
        Drawn(D.with_constant, note="x-ndarray"),
    ],
    "mul": [
        Drawn(D.broadcast, arity=2, note="broadcast"),
        Drawn(D.with_constant, params={"left": True}, note="ndarray*x"),
    ],
    "div": [
        Drawn(D.broadcast, (D.ANY, D.NONZERO), arity=2, note="broadcast"),
        Drawn(D.elementwise, (D.NONZERO,), params={"other": 1.5, "left": True}, note="scalar/x"),
    ],
    "pow": [
        Drawn(D.broadcast, (D.POSITIVE, D.ANY), arity=2, note="broadcast"),
        Drawn(D.elementwise, params={"other": 3}, note="x**3"),
        Drawn(D.elementwise, (D.POSITIVE,), params={"other": 0.5}, note="x**0.5"),
        Drawn(D.elementwise, params={"other": 1.7, "left": True}, note="scalar**x"),
    ],
    "neg": [Drawn(D.elementwise)],
    "exp": [Drawn(D.elementwise)],
    "log": [Drawn(D.elementwise, (D.POSITIVE,))],
    "sqrt": [Drawn(D.elementwise, (D.POSITIVE,))],
    "abs": [Drawn(D.elementwise, (D.AWAY_FROM_0,))],
    "tanh": [Drawn(D.elementwise)],
    "sigmoid": [Drawn(D.elementwise)],
    "relu": [Drawn(D.elementwise, (D.AWAY_FROM_0,))],
    "clip": [
        Drawn(D.elementwise, (_CLIP,), params={"lo": D.CLIP_LO, "hi": D.CLIP_HI}),
        Drawn(D.elementwise, (_CLIP,), params={"lo": D.CLIP_LO, "hi": None}, note="min only"),
        Drawn(D.elementwise, (_CLIP,), params={"lo": None, "hi": D.CLIP_HI}, note="max only"),
    ],
    "maximum": [Drawn(D.broadcast, (D.ODD_GRID, D.EVEN_GRID), arity=2)],
    "minimum": [Drawn(D.broadcast, (D.EVEN_GRID, D.ODD_GRID), arity=2)],
    "where": [Drawn(D.conditional, arity=2)],
    "matmul": [Drawn(D.matmul_shapes, arity=2)],
    "sum": [Drawn(D.reduction)],
    "mean": [Drawn(D.reduction)],
    "max": [Drawn(D.reduction, (D.GRID,), unique=True)],
    "min": [Drawn(D.reduction, (D.GRID,), unique=True)],
    "var": [Drawn(D.reduction)],
    "logsumexp": [Drawn(D.reduction)],
    "softmax": [Drawn(D.along_axis)],
    "log_softmax": [Drawn(D.along_axis)],
    "reshape": [Drawn(D.reshape_target)],
    "transpose": [Drawn(D.permutation)],
    "T": [Drawn(D.elementwise)],
    "flatten": [Drawn(D.elementwise)],
    "squeeze": [Drawn(D.with_unit_axes)],
    "expand_dims": [Drawn(D.new_axis)],
    "concatenate": [Drawn(D.joined, arity=-1)],
    "stack": [Drawn(D.stacked, arity=-1)],
    "getitem": [
        Drawn(D.basic_index, note="basic"),
        Drawn(D.integer_index, note="int array"),
        Drawn(D.boolean_index, note="bool mask"),
    ],
    "argmax": [Drawn(D.along_axis, (D.GRID,), unique=True)],
}
for _name, _forms in DRAWN.items():
    BY_NAME[_name].drawn = tuple(_forms)


@dataclass(frozen=True)
class DrawnOp:
    """One entry with one of its drawn forms, as tests/engine's Hypothesis tests use it:
    ``fn``/``ref``/``torch`` are the entry's gs, NumPy and PyTorch calls."""

    info: OpInfo
    form: Drawn

    @property
    def name(self) -> str:
        return f"{self.info.name}[{self.form.note}]" if self.form.note else self.info.name

    fn = property(lambda self: self.info.gs)
    ref = property(lambda self: self.info.np)
    torch = property(lambda self: self.info.torch)
    differentiable = property(lambda self: self.info.differentiable)

    def cases(self, max_side: int = D.MAX_SIDE):
        return self.form.cases(max_side)

    def __repr__(self) -> str:  # pytest ids and Hypothesis reports
        return self.name


def drawn_ops(differentiable_only: bool = False) -> list:
    """Every (entry, drawn form) of the registry, for the Hypothesis-driven tests."""
    return [
        DrawnOp(info, form)
        for info in REGISTRY
        if info.differentiable or not differentiable_only
        for form in info.drawn
    ]


def cases(differentiable_only: bool = False):
    """(entry, sample) pairs with readable ids, for pytest.mark.parametrize."""
    out = []
    for info in REGISTRY:
        if differentiable_only and not info.differentiable:
            continue
        for k, sample in enumerate(info.samples):
            out.append((info, sample, f"{info.name}-{k}-{sample.note}"))
    return out
