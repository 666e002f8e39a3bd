"""Gradients of every op: gs.gradcheck and a random-projection oracle over
Hypothesis-drawn float64 inputs, plus the documented conventions at kinks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.ops.drawn import call, leaves
from tests.ops.registry import drawn_ops

import gradsight as gs

from .oracles import assert_projection_close

DIFFERENTIABLE = drawn_ops(differentiable_only=True)


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=repr)
@given(data=st.data())
def test_gradcheck(spec, data):
    case = data.draw(spec.cases())
    tensors = leaves(case)
    assert gs.gradcheck(lambda *xs: call(spec, xs, case), tensors)


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=repr)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_random_projection(spec, data, seed):
    """Larger inputs than gradcheck can afford: u^T J v, analytic vs numeric."""
    case = data.draw(spec.cases(max_side=5))
    rng = np.random.default_rng(seed)
    assert_projection_close(lambda *xs: call(spec, xs, case), case.arrays, rng)


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=repr)
@given(data=st.data())
def test_gradient_accumulates_into_leaves_with_their_shape(spec, data):
    """backward() puts d(sum(w * out))/dx into every input's .grad, of its exact shape."""
    case = data.draw(spec.cases())
    tensors = leaves(case)
    out = call(spec, tensors, case)
    w = np.linspace(-1.0, 2.0, out.size).reshape(out.shape)
    (out * w).sum().backward()
    expected = gs.autograd.grad(
        call(spec, tensors, case), tensors, grad_outputs=w, allow_unused=True
    )
    for t, e in zip(tensors, expected):
        assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype
        np.testing.assert_allclose(t.grad.data, 0 if e is None else e.data, rtol=1e-12)


# ---------------------------------------------------------------- broadcasting
@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 3)), ((5, 1, 1), (1, 2, 3)), ((1,), (3,))],
)
def test_broadcast_gradients_are_summed_back(shape_a, shape_b):
    a = gs.tensor(np.full(shape_a, 2.0), requires_grad=True)
    b = gs.tensor(np.full(shape_b, 3.0), requires_grad=True)
    (a * b).sum().backward()
    out_size = np.broadcast_shapes(shape_a, shape_b)
    n = int(np.prod(out_size))
    # each element of a meets n / a.size elements of b, all equal to 3
    np.testing.assert_array_equal(a.grad.data, np.full(shape_a, 3.0 * n / a.size))
    np.testing.assert_array_equal(b.grad.data, np.full(shape_b, 2.0 * n / b.size))


# ---------------------------------------------------------------- indexing
def test_repeated_integer_indices_accumulate():
    x = gs.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_repeated_index_pairs_accumulate_in_2d():
    x = gs.tensor(np.zeros((2, 3)), requires_grad=True)
    rows, cols = np.array([1, 1, 0, 1]), np.array([2, 2, 0, -1])
    y = x[rows, cols]
    (y * gs.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [[3.0, 0.0, 0.0], [0.0, 0.0, 7.0]]


def test_boolean_mask_gradient():
    x = gs.tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    x[x.data > 0].sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_tensor_as_index():
    x = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[gs.tensor([2, 2])].sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 2.0]


# ---------------------------------------------------------------- conventions
def _grad(fn, values):
    x = gs.tensor(values, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.tolist()


def test_relu_and_abs_have_zero_gradient_at_zero():
    assert _grad(gs.relu, [-1.0, 0.0, 2.0]) == [0.0, 0.0, 1.0]
    assert _grad(gs.abs, [-1.0, 0.0, 2.0]) == [-1.0, 0.0, 1.0]


def test_max_and_min_split_ties_evenly():
    assert _grad(lambda x: x.max(), [1.0, 3.0, 3.0, 3.0]) == [0.0, 1 / 3, 1 / 3, 1 / 3]
    assert _grad(lambda x: x.min(), [0.0, 0.0, 5.0]) == [0.5, 0.5, 0.0]
    assert _grad(lambda x: x.max(axis=1), [[2.0, 2.0], [1.0, 4.0]]) == [[0.5, 0.5], [0.0, 1.0]]


def test_maximum_and_minimum_split_ties_evenly():
    a = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = gs.tensor([2.0, 2.0, 2.0], requires_grad=True)
    gs.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.5, 1.0]
    assert b.grad.tolist() == [1.0, 0.5, 0.0]
    a.grad = b.grad = None
    gs.minimum(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.5, 0.0]
    assert b.grad.tolist() == [0.0, 0.5, 1.0]


def test_maximum_tie_with_broadcast_scalar():
    a = gs.tensor([0.0, 1.0, 0.0], requires_grad=True)
    b = gs.tensor(0.0, requires_grad=True)
    gs.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0, 0.5]
    assert b.grad.item() == 1.0


def test_clip_passes_gradient_at_the_bounds():
    assert _grad(lambda x: x.clip(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0]) == [0, 1, 1, 1, 0]


def test_where_sends_no_gradient_to_the_unselected_side():
    a = gs.tensor([1.0, 2.0], requires_grad=True)
    b = gs.tensor([3.0, 4.0], requires_grad=True)
    gs.where(np.array([True, False]), a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0] and b.grad.tolist() == [0.0, 1.0]


def test_softmax_gradient_of_a_constant_sum_is_zero():
    x = gs.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    x.softmax(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.0, atol=1e-15)
