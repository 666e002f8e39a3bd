"""One table describing every differentiable op of the Tensor contract.

Each ``OpSpec`` names an op, the gradsight call, an independent NumPy
reference, the input domain (kept away from poles, kinks and ties, so finite
differences are valid) and a *layout*: a Hypothesis strategy that draws the
input shapes (broadcasting pairs, matmul batches, ...) and the static
parameters (axis, keepdims, index, ...). ``test_ops_values``,
``test_ops_gradcheck`` and ``test_higher_order`` are all driven by ``SPECS``.

A spec's ``fn(*tensors, **params)`` returns a Tensor and its
``ref(*arrays, **params)`` the ndarray NumPy computes for the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradsight as gs

MAX_SIDE = 3  # small sides keep gradcheck (one backward per output element) cheap


@dataclass(frozen=True)
class Case:
    """One drawn example: the differentiable float64 inputs and static params."""

    arrays: tuple
    params: dict


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable  # (*tensors, **params) -> Tensor
    ref: Callable  # (*arrays, **params) -> ndarray
    arity: int  # number of tensor inputs; -1: a drawn number (concatenate, stack)
    domain: tuple  # one element strategy per input (the last one repeats)
    layout: Callable  # (spec, max_side) -> strategy of Case
    unique: bool = False  # draw pairwise-distinct values (max/min: no ties)
    differentiable: bool = True

    def cases(self, max_side: int = MAX_SIDE):
        return self.layout(self, max_side)

    def elements(self, i: int):
        return self.domain[min(i, len(self.domain) - 1)]

    def __repr__(self) -> str:  # shows in pytest ids and Hypothesis reports
        return self.name


# ---------------------------------------------------------------- domains
def _signed(lo: float, hi: float):
    """Values with lo <= |v| <= hi and either sign: away from a kink or pole at 0."""
    return st.tuples(st.floats(lo, hi), st.booleans()).map(lambda t: -t[0] if t[1] else t[0])


ANY = st.floats(-2.0, 2.0)
POSITIVE = st.floats(0.5, 2.5)  # log, sqrt, the base of x ** y
NONZERO = _signed(0.3, 2.0)  # divisors
AWAY_FROM_0 = _signed(0.05, 2.0)  # abs, relu
CLIP_LO, CLIP_HI = -0.5, 0.5
AWAY_FROM_BOUNDS = st.one_of(  # clip, kept 0.05 away from its bounds
    st.floats(-1.0, -0.55), st.floats(-0.45, 0.45), st.floats(0.55, 1.0)
)
GRID = st.integers(-40, 40).map(lambda k: 0.05 * k)  # with unique=True: no near-ties
ODD_GRID = st.integers(-20, 20).map(lambda k: 0.05 * (2 * k + 1))  # never equal to EVEN_GRID
EVEN_GRID = st.integers(-20, 20).map(lambda k: 0.1 * k)


# ---------------------------------------------------------------- layouts
def _shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = MAX_SIDE):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def _array(draw, spec: OpSpec, i: int, shape) -> np.ndarray:
    return draw(hnp.arrays(np.float64, shape, elements=spec.elements(i), unique=spec.unique))


def _case(draw, spec, shapes, **params) -> Case:
    return Case(tuple(_array(draw, spec, i, s) for i, s in enumerate(shapes)), params)


@st.composite
def elementwise(draw, spec, max_side):
    """Every input has the same shape (0-d to 3-d)."""
    shape = draw(_shapes(max_side=max_side))
    return _case(draw, spec, [shape] * spec.arity)


@st.composite
def broadcast(draw, spec, max_side):
    """Mutually broadcastable input shapes, e.g. (3, 1) with (2, 1, 3)."""
    shapes = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=spec.arity, max_dims=3, max_side=max_side)
    )
    return _case(draw, spec, shapes.input_shapes)


@st.composite
def with_constant(draw, spec, max_side):
    """One tensor and an ndarray constant ``c`` of a broadcastable shape."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=max_side))
    c = draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=ANY))
    return _case(draw, spec, shapes.input_shapes[:1], c=c)


def _axes(draw, ndim: int):
    """None, one axis (maybe negative) or a tuple of distinct axes (maybe empty)."""
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple)
    return draw(st.one_of(st.none(), one, many))


@st.composite
def reduction(draw, spec, max_side):
    """A reduction's input with ``axis`` (None, int, tuple) and ``keepdims``."""
    shape = draw(_shapes(max_side=max_side))
    return _case(draw, spec, [shape], axis=_axes(draw, len(shape)), keepdims=draw(st.booleans()))


@st.composite
def along_axis(draw, spec, max_side):
    """softmax-like ops: one integer axis (maybe negative)."""
    shape = draw(_shapes(min_dims=1, max_side=max_side))
    return _case(draw, spec, [shape], axis=draw(st.integers(-len(shape), len(shape) - 1)))


@st.composite
def matmul_shapes(draw, spec, max_side):
    """1-D and n-D operands; n-D batch dimensions broadcast against each other."""
    m, k, n = (draw(st.integers(1, max_side)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=max_side))
    ba, bb = batch.input_shapes
    kind = draw(st.sampled_from(["vec@vec", "vec@mat", "mat@vec", "mat@mat"]))
    a = (k,) if kind.startswith("vec") else ba + (m, k)
    b = (k,) if kind.endswith("vec") else bb + (k, n)
    return _case(draw, spec, [a, b])


def _prime_factors(n: int) -> list:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def reshape_target(draw, spec, max_side):
    """A shape and a random other factorisation of its size (maybe with one -1)."""
    shape = draw(_shapes(max_side=max_side))
    size = math.prod(shape)
    ndim = draw(st.integers(0 if size == 1 else 1, 4))
    dims = [1] * ndim
    for f in draw(st.permutations(_prime_factors(size))):
        dims[draw(st.integers(0, ndim - 1))] *= f
    if ndim and draw(st.booleans()):
        dims[draw(st.integers(0, ndim - 1))] = -1
    return _case(draw, spec, [shape], shape=tuple(dims))


@st.composite
def permutation(draw, spec, max_side):
    shape = draw(_shapes(max_side=max_side))
    axes = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    return _case(draw, spec, [shape], axes=axes)


@st.composite
def with_unit_axes(draw, spec, max_side):
    """A shape with some sides of 1, and ``axis``: None, one or several of them."""
    shape = list(draw(_shapes(max_dims=2, max_side=max_side)))
    for _ in range(draw(st.integers(0, 2))):
        shape.insert(draw(st.integers(0, len(shape))), 1)
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = None
    if ones and draw(st.booleans()):
        picked = draw(st.lists(st.sampled_from(ones), min_size=1, unique=True))
        neg = draw(st.booleans())
        picked = [a - len(shape) if neg else a for a in picked]
        axis = picked[0] if len(picked) == 1 else tuple(picked)
    return _case(draw, spec, [tuple(shape)], axis=axis)


@st.composite
def new_axis(draw, spec, max_side):
    shape = draw(_shapes(max_side=max_side))
    return _case(draw, spec, [shape], axis=draw(st.integers(-len(shape) - 1, len(shape))))


@st.composite
def joined(draw, spec, max_side):
    """1 to 3 inputs of one shape except along ``axis`` (concatenate)."""
    shape = list(draw(_shapes(min_dims=1, max_side=max_side)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    shapes = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, max_side))
        shapes.append(tuple(shape))
    return _case(draw, spec, shapes, axis=axis)


@st.composite
def stacked(draw, spec, max_side):
    """1 to 3 inputs of one shape and a new axis to stack them on."""
    shape = draw(_shapes(max_dims=2, max_side=max_side))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return _case(draw, spec, [shape] * draw(st.integers(1, 3)), axis=axis)


@st.composite
def conditional(draw, spec, max_side):
    """where(cond, a, b) with all three shapes mutually broadcastable."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=max_side))
    cond = draw(hnp.arrays(np.bool_, shapes.input_shapes[0]))
    return _case(draw, spec, shapes.input_shapes[1:], cond=cond)


@st.composite
def basic_index(draw, spec, max_side):
    """Ints, slices (any step), None and Ellipsis; a non-empty selection (empty
    results are tested on their own: gradcheck has nothing to compare there)."""
    shape = draw(_shapes(min_dims=1, max_side=max_side + 1))
    probe = np.empty(shape)
    index = draw(
        hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True).filter(
            lambda ix: probe[ix].size > 0
        )
    )
    return _case(draw, spec, [shape], index=index)


@st.composite
def integer_index(draw, spec, max_side):
    """Integer arrays (repeats are common, negatives included), alone or with a slice."""
    shape = draw(_shapes(min_dims=1, max_side=max_side + 1))
    result = hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)
    kind = draw(st.sampled_from(["first axis", "every axis", "after a slice"]))
    if kind == "after a slice" and len(shape) >= 2:
        idx = draw(hnp.arrays(np.intp, draw(result), elements=st.integers(-shape[1], shape[1] - 1)))
        index = (slice(None), idx)
    elif kind == "every axis":
        index = draw(hnp.integer_array_indices(shape, result_shape=result))
    else:
        index = draw(
            hnp.arrays(np.intp, draw(result), elements=st.integers(-shape[0], shape[0] - 1))
        )
    return _case(draw, spec, [shape], index=index)


@st.composite
def boolean_index(draw, spec, max_side):
    """A boolean mask over the leading 1..ndim axes, selecting at least one element."""
    shape = draw(_shapes(min_dims=1, max_side=max_side + 1))
    lead = draw(st.integers(1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[:lead]).filter(np.any))
    return _case(draw, spec, [shape], index=mask)


# ---------------------------------------------------------------- references
def _np_logsumexp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _np_softmax(x, axis):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _clip_spec(name, lo, hi):
    return OpSpec(
        name,
        lambda x: x.clip(lo, hi),
        lambda x: np.clip(x, lo, hi),
        1,
        (AWAY_FROM_BOUNDS,),
        elementwise,
    )


def _reduction_spec(name, method, ref, domain=ANY, unique=False):
    return OpSpec(
        name,
        lambda x, axis, keepdims: getattr(x, method)(axis=axis, keepdims=keepdims),
        ref,
        1,
        (domain,),
        reduction,
        unique=unique,
    )


_index = lambda x, index: x[index]

SPECS = [
    # -- arithmetic operators, broadcasting both sides
    OpSpec("add", lambda a, b: a + b, np.add, 2, (ANY,), broadcast),
    OpSpec("sub", lambda a, b: a - b, np.subtract, 2, (ANY,), broadcast),
    OpSpec("mul", lambda a, b: a * b, np.multiply, 2, (ANY,), broadcast),
    OpSpec("div", lambda a, b: a / b, np.divide, 2, (ANY, NONZERO), broadcast),
    OpSpec("pow", lambda a, b: a**b, np.power, 2, (POSITIVE, ANY), broadcast),
    OpSpec("neg", lambda a: -a, np.negative, 1, (ANY,), elementwise),
    # -- Python scalars and ndarrays on either side
    OpSpec("scalar+x", lambda x: 2.5 + x, lambda x: 2.5 + x, 1, (ANY,), elementwise),
    OpSpec("scalar-x", lambda x: 2.5 - x, lambda x: 2.5 - x, 1, (ANY,), elementwise),
    OpSpec("scalar/x", lambda x: 1.5 / x, lambda x: 1.5 / x, 1, (NONZERO,), elementwise),
    OpSpec("x**3", lambda x: x**3, lambda x: x**3, 1, (ANY,), elementwise),
    OpSpec("x**0.5", lambda x: x**0.5, np.sqrt, 1, (POSITIVE,), elementwise),
    OpSpec("scalar**x", lambda x: 1.7**x, lambda x: 1.7**x, 1, (ANY,), elementwise),
    OpSpec("ndarray*x", lambda x, c: c * x, lambda x, c: c * x, 1, (ANY,), with_constant),
    OpSpec("x-ndarray", lambda x, c: x - c, lambda x, c: x - c, 1, (ANY,), with_constant),
    # -- elementwise math
    OpSpec("exp", gs.exp, np.exp, 1, (ANY,), elementwise),
    OpSpec("log", gs.log, np.log, 1, (POSITIVE,), elementwise),
    OpSpec("sqrt", gs.sqrt, np.sqrt, 1, (POSITIVE,), elementwise),
    OpSpec("abs", gs.abs, np.abs, 1, (AWAY_FROM_0,), elementwise),
    OpSpec("tanh", gs.tanh, np.tanh, 1, (ANY,), elementwise),
    OpSpec("sigmoid", gs.sigmoid, lambda x: 1 / (1 + np.exp(-x)), 1, (ANY,), elementwise),
    OpSpec("relu", gs.relu, lambda x: np.where(x > 0, x, 0.0), 1, (AWAY_FROM_0,), elementwise),
    _clip_spec("clip", CLIP_LO, CLIP_HI),
    _clip_spec("clip(min only)", CLIP_LO, None),
    _clip_spec("clip(max only)", None, CLIP_HI),
    OpSpec("maximum", gs.maximum, np.maximum, 2, (ODD_GRID, EVEN_GRID), broadcast),
    OpSpec("minimum", gs.minimum, np.minimum, 2, (EVEN_GRID, ODD_GRID), broadcast),
    OpSpec(
        "where",
        lambda a, b, cond: gs.where(gs.tensor(cond), a, b),
        lambda a, b, cond: np.where(cond, a, b),
        2,
        (ANY,),
        conditional,
    ),
    OpSpec("matmul", gs.matmul, np.matmul, 2, (ANY,), matmul_shapes),
    OpSpec("@", lambda a, b: a @ b, np.matmul, 2, (ANY,), matmul_shapes),
    # -- reductions over axis / keepdims
    _reduction_spec("sum", "sum", np.sum),
    _reduction_spec("mean", "mean", np.mean),
    _reduction_spec("max", "max", np.max, GRID, unique=True),
    _reduction_spec("min", "min", np.min, GRID, unique=True),
    _reduction_spec("var", "var", np.var),
    _reduction_spec("logsumexp", "logsumexp", _np_logsumexp),
    OpSpec(
        "gs.sum",
        lambda x, axis, keepdims: gs.sum(x, axis=axis, keepdims=keepdims),
        np.sum,
        1,
        (ANY,),
        reduction,
    ),
    OpSpec("softmax", lambda x, axis: x.softmax(axis), _np_softmax, 1, (ANY,), along_axis),
    OpSpec(
        "log_softmax",
        lambda x, axis: gs.log_softmax(x, axis=axis),
        lambda x, axis: np.log(_np_softmax(x, axis)),
        1,
        (ANY,),
        along_axis,
    ),
    # -- shape
    OpSpec(
        "reshape",
        lambda x, shape: x.reshape(*shape),
        lambda x, shape: x.reshape(shape),
        1,
        (ANY,),
        reshape_target,
    ),
    OpSpec(
        "transpose",
        lambda x, axes: x.transpose() if axes is None else x.transpose(*axes),
        lambda x, axes: np.transpose(x, axes),
        1,
        (ANY,),
        permutation,
    ),
    OpSpec("T", lambda x: x.T, lambda x: x.T, 1, (ANY,), elementwise),
    OpSpec("flatten", lambda x: x.flatten(), lambda x: x.reshape(-1), 1, (ANY,), elementwise),
    OpSpec("squeeze", lambda x, axis: x.squeeze(axis), np.squeeze, 1, (ANY,), with_unit_axes),
    OpSpec("expand_dims", lambda x, axis: x.expand_dims(axis), np.expand_dims, 1, (ANY,), new_axis),
    OpSpec(
        "concatenate",
        lambda *xs, axis: gs.concatenate(list(xs), axis=axis),
        lambda *xs, axis: np.concatenate(xs, axis=axis),
        -1,
        (ANY,),
        joined,
    ),
    OpSpec(
        "stack",
        lambda *xs, axis: gs.stack(list(xs), axis=axis),
        lambda *xs, axis: np.stack(xs, axis=axis),
        -1,
        (ANY,),
        stacked,
    ),
    # -- indexing
    OpSpec("index[basic]", _index, _index, 1, (ANY,), basic_index),
    OpSpec("index[int array]", _index, _index, 1, (ANY,), integer_index),
    OpSpec("index[bool mask]", _index, _index, 1, (ANY,), boolean_index),
    # -- no gradient
    OpSpec(
        "argmax",
        lambda x, axis: x.argmax(axis),
        lambda x, axis: np.argmax(x, axis),
        1,
        (GRID,),
        along_axis,
        unique=True,
        differentiable=False,
    ),
]

DIFFERENTIABLE = [s for s in SPECS if s.differentiable]


def leaves(case: Case, requires_grad: bool = True) -> list:
    """The case's arrays as float64 leaf Tensors."""
    return [gs.tensor(a, requires_grad=requires_grad) for a in case.arrays]


def call(spec: OpSpec, tensors, case: Case):
    return spec.fn(*tensors, **case.params)
