"""Drawn inputs: Hypothesis strategies that draw an op's shapes and static arguments.

A registry entry's ``drawn`` forms (registry.py) each name a *layout* (how the
input shapes and the static parameters are drawn: broadcasting pairs, matmul
batches, axes, permutations, indices ...) and a *domain* per input, kept away
from the op's poles, kinks and ties so that finite differences are valid.
tests/engine's gradcheck, double-backward, value and PyTorch tests draw from
them; the fixed samples (samples.py) hold the awkward cases by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 3  # small sides keep gradcheck (one backward per output element) cheap


@dataclass(frozen=True)
class Case:
    """One drawn example: the differentiable float64 inputs and static params."""

    arrays: tuple
    params: dict


@dataclass(frozen=True)
class Drawn:
    """One drawn form of an entry: ``layout(form, max_side)`` draws a Case whose
    params are merged over ``params`` (fixed arguments, e.g. a scalar operand)."""

    layout: object
    domain: tuple = ()  # one element strategy per input (the last one repeats)
    arity: int = 1  # number of tensor inputs; -1: a drawn number (concatenate, stack)
    unique: bool = False  # pairwise-distinct values (max/min: no ties)
    params: dict = field(default_factory=dict)
    note: str = ""

    def cases(self, max_side: int = MAX_SIDE):
        fixed = self.params
        if not fixed:
            return self.layout(self, max_side)
        return self.layout(self, max_side).map(lambda c: Case(c.arrays, {**fixed, **c.params}))

    def elements(self, i: int):
        domain = self.domain or (ANY,)
        return domain[min(i, len(domain) - 1)]


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


def _array(draw, form, i: int, shape) -> np.ndarray:
    return draw(hnp.arrays(np.float64, shape, elements=form.elements(i), unique=form.unique))


def _case(draw, form, shapes, **params) -> Case:
    return Case(tuple(_array(draw, form, i, s) for i, s in enumerate(shapes)), params)


@st.composite
def elementwise(draw, form, max_side):
    """Every input has the same shape (0-d to 3-d)."""
    shape = draw(_shapes(max_side=max_side))
    return _case(draw, form, [shape] * form.arity)


@st.composite
def broadcast(draw, form, max_side):
    """Mutually broadcastable input shapes, e.g. (3, 1) with (2, 1, 3)."""
    shapes = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=form.arity, max_dims=3, max_side=max_side)
    )
    return _case(draw, form, shapes.input_shapes)


@st.composite
def with_constant(draw, form, max_side):
    """One tensor and an ndarray operand ``other`` of a broadcastable shape."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=max_side))
    c = draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=ANY))
    return _case(draw, form, shapes.input_shapes[:1], other=c)


def _axes(draw, ndim: int):
    """None, one axis (maybe negative) or a tuple of distinct axes (maybe empty)."""
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple)
    return draw(st.one_of(st.none(), one, many))


@st.composite
def reduction(draw, form, max_side):
    """A reduction's input with ``axis`` (None, int, tuple) and ``keepdims``."""
    shape = draw(_shapes(max_side=max_side))
    return _case(draw, form, [shape], axis=_axes(draw, len(shape)), keepdims=draw(st.booleans()))


@st.composite
def along_axis(draw, form, max_side):
    """softmax-like ops: one integer axis (maybe negative)."""
    shape = draw(_shapes(min_dims=1, max_side=max_side))
    return _case(draw, form, [shape], axis=draw(st.integers(-len(shape), len(shape) - 1)))


@st.composite
def matmul_shapes(draw, form, max_side):
    """1-D and n-D operands; n-D batch dimensions broadcast against each other."""
    m, k, n = (draw(st.integers(1, max_side)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=max_side))
    ba, bb = batch.input_shapes
    kind = draw(st.sampled_from(["vec@vec", "vec@mat", "mat@vec", "mat@mat"]))
    a = (k,) if kind.startswith("vec") else ba + (m, k)
    b = (k,) if kind.endswith("vec") else bb + (k, n)
    return _case(draw, form, [a, b])


def _prime_factors(n: int) -> list:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def reshape_target(draw, form, max_side):
    """A shape and a random other factorisation of its size (maybe with one -1)."""
    shape = draw(_shapes(max_side=max_side))
    size = math.prod(shape)
    ndim = draw(st.integers(0 if size == 1 else 1, 4))
    dims = [1] * ndim
    for f in draw(st.permutations(_prime_factors(size))):
        dims[draw(st.integers(0, ndim - 1))] *= f
    if ndim and draw(st.booleans()):
        dims[draw(st.integers(0, ndim - 1))] = -1
    return _case(draw, form, [shape], shape=tuple(dims))


@st.composite
def permutation(draw, form, max_side):
    shape = draw(_shapes(max_side=max_side))
    axes = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    return _case(draw, form, [shape], axes=axes)


@st.composite
def with_unit_axes(draw, form, max_side):
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
    return _case(draw, form, [tuple(shape)], axis=axis)


@st.composite
def new_axis(draw, form, max_side):
    shape = draw(_shapes(max_side=max_side))
    return _case(draw, form, [shape], axis=draw(st.integers(-len(shape) - 1, len(shape))))


@st.composite
def joined(draw, form, max_side):
    """1 to 3 inputs of one shape except along ``axis`` (concatenate)."""
    shape = list(draw(_shapes(min_dims=1, max_side=max_side)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    shapes = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, max_side))
        shapes.append(tuple(shape))
    return _case(draw, form, shapes, axis=axis)


@st.composite
def stacked(draw, form, max_side):
    """1 to 3 inputs of one shape and a new axis to stack them on."""
    shape = draw(_shapes(max_dims=2, max_side=max_side))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return _case(draw, form, [shape] * draw(st.integers(1, 3)), axis=axis)


@st.composite
def conditional(draw, form, max_side):
    """where(cond, a, b) with all three shapes mutually broadcastable."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=max_side))
    cond = draw(hnp.arrays(np.bool_, shapes.input_shapes[0]))
    return _case(draw, form, shapes.input_shapes[1:], cond=cond)


@st.composite
def basic_index(draw, form, max_side):
    """Ints, slices (any step), None and Ellipsis; a non-empty selection (empty
    results are tested on their own: gradcheck has nothing to compare there)."""
    shape = draw(_shapes(min_dims=1, max_side=max_side + 1))
    probe = np.empty(shape)
    index = draw(
        hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True).filter(
            lambda ix: probe[ix].size > 0
        )
    )
    return _case(draw, form, [shape], index=index)


@st.composite
def integer_index(draw, form, max_side):
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
    return _case(draw, form, [shape], index=index)


@st.composite
def boolean_index(draw, form, max_side):
    """A boolean mask over the leading 1..ndim axes, selecting at least one element."""
    shape = draw(_shapes(min_dims=1, max_side=max_side + 1))
    lead = draw(st.integers(1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[:lead]).filter(np.any))
    return _case(draw, form, [shape], index=mask)


def leaves(case: Case, requires_grad: bool = True) -> list:
    """The case's arrays as float64 leaf Tensors."""
    import gradsight as gs

    return [gs.tensor(a, requires_grad=requires_grad) for a in case.arrays]


def call(op, tensors, case: Case):
    """``op.fn(*tensors, **case.params)``: the registry entry's gs call on a drawn case."""
    return op.fn(*tensors, **case.params)
