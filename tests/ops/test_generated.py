"""Hypothesis-drawn shapes, axes, permutations and indices for the ops where a
fixed list of samples could miss a combination (the registry holds the fixed
awkward cases). Oracles: PyTorch float64 where it exists, else NumPy itself
(np.add.at is the gradient of indexing).

Examples per test: 25 by default; GS_SWEEP=deep raises it to 400.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradsight as gs

from .registry import BY_NAME

DEEP = os.environ.get("GS_SWEEP", "").lower() == "deep"
SWEEP = settings(
    max_examples=400 if DEEP else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _shape(min_dims=0, max_dims=4, min_side=0):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=4)


@st.composite
def axes_for(draw, ndim):
    """None, an int of either sign, or a tuple of distinct axes each of either sign."""
    if ndim == 0:
        return draw(st.sampled_from([None, 0, -1, ()]))
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).flatmap(
        lambda ax: st.tuples(*[st.sampled_from([a, a - ndim]) for a in ax])
    )
    return draw(st.one_of(st.none(), one, many))


def _torch():
    return pytest.importorskip("torch")


def _compare_with_torch(info, arrays, kwargs):
    torch = _torch()
    xs = [gs.tensor(a, requires_grad=True) for a in arrays]
    out = info.gs(*xs, **kwargs)
    v = np.random.default_rng(0).standard_normal(out.shape)
    got = gs.autograd.grad(out, xs, grad_outputs=v, allow_unused=True) if out.requires_grad else ()
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = info.torch(torch, *ts, **kwargs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    if not tout.requires_grad:
        return
    want = torch.autograd.grad(tout, ts, torch.from_numpy(v), allow_unused=True)
    for g, w, x in zip(got, want, xs):
        g = np.zeros(x.shape) if g is None else g.data
        w = np.zeros(x.shape) if w is None else w.numpy()
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "max", "min", "logsumexp"])
@SWEEP
@given(data=st.data())
def test_reductions_over_drawn_shapes_and_axes_match_pytorch(name, data):
    nonempty = name != "sum"
    shape = data.draw(_shape(min_side=1 if nonempty else 0), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    size = int(np.prod(shape))
    x = (np.random.default_rng(size).permutation(size) - size / 2).reshape(shape) / 8.0
    _compare_with_torch(BY_NAME[name], [x], {"axis": axis, "keepdims": keepdims})


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
@SWEEP
@given(data=st.data())
def test_binary_ops_over_drawn_broadcasts_match_pytorch(name, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3))
    rng = np.random.default_rng(len(shapes.result_shape))
    a = rng.standard_normal(shapes.input_shapes[0])
    b = rng.standard_normal(shapes.input_shapes[1])
    if name in ("div", "pow"):
        b = np.abs(b) + 0.5
    if name == "pow":
        a, b = b, a  # positive base
    _compare_with_torch(BY_NAME[name], [a, b], {})


@SWEEP
@given(data=st.data())
def test_transpose_with_drawn_permutations_of_either_sign_matches_pytorch(data):
    shape = data.draw(_shape(min_dims=1, max_dims=5, min_side=1))
    perm = data.draw(st.permutations(range(len(shape))))
    axes = tuple(data.draw(st.sampled_from([a, a - len(shape)])) for a in perm)
    x = np.random.default_rng(0).standard_normal(shape)
    _compare_with_torch(BY_NAME["transpose"], [x], {"axes": axes})


@st.composite
def advanced_index(draw, shape):
    """Integer arrays (repeats and negatives likely), lists or tuples, mixed with slices."""
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "array", "list", "tuple", "int"]))
        if kind == "slice":
            items.append(slice(draw(st.integers(-n, n)), None, draw(st.sampled_from([1, -1, 2]))))
            continue
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
            continue
        picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4))
        items.append(
            np.array(picks) if kind == "array" else picks if kind == "list" else tuple(picks)
        )
    n_arrays = [i for i in items if isinstance(i, (list, tuple, np.ndarray))]
    lengths = {len(i) for i in n_arrays}
    if len(lengths) > 1:  # index arrays must broadcast: make them one length
        k = min(lengths)
        items = [
            type(i)(list(i)[:k])
            if isinstance(i, (list, tuple))
            else i[:k]
            if isinstance(i, np.ndarray)
            else i
            for i in items
        ]
    return tuple(items)


@SWEEP
@given(data=st.data())
def test_indexing_with_drawn_repeated_indices_accumulates_like_np_add_at(data):
    shape = data.draw(_shape(min_dims=1, max_dims=3, min_side=1))
    index = data.draw(advanced_index(shape))
    x = np.random.default_rng(0).standard_normal(shape)
    t = gs.tensor(x, requires_grad=True)
    out = t[index]
    np.testing.assert_array_equal(out.data, x[_numpy_form(index)])
    v = np.random.default_rng(1).standard_normal(out.shape)
    (g,) = gs.autograd.grad(out, [t], grad_outputs=v)
    want = np.zeros(shape)
    np.add.at(want, _numpy_form(index), v)
    np.testing.assert_allclose(g.data, want, rtol=1e-12, atol=1e-12)


def _numpy_form(index):
    """What NumPy reads the index as: a list or tuple inside a tuple is an array."""
    return tuple(np.asarray(i) if isinstance(i, (list, tuple)) else i for i in index)
