"""The seven defects of issue 12, one test each (each fails if its fix is reverted).

Oracles: closed forms, NumPy on the same arrays, float64 against float32, and
PyTorch's values where the issue quotes them (written out here as the closed
form they are).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


def test_transpose_with_negative_axes_sends_each_gradient_back_to_its_element():
    rng = np.random.default_rng(0)
    x = gs.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = rng.standard_normal((3, 4, 2))  # the shape of x.transpose(1, -1, 0)
    (x.transpose(1, -1, 0) * w).sum().backward()
    # d/dx sum(x^T(1,2,0) * w) = w permuted back: w[j, k, i] lands on x[i, j, k]
    np.testing.assert_array_equal(x.grad.data, np.transpose(w, (2, 0, 1)))


def test_transpose_with_all_negative_axes_backprops_to_the_input_shape():
    x = gs.tensor(np.arange(360.0).reshape(3, 4, 5, 6), requires_grad=True)
    y = x.transpose(-2, -1, 1, 0)
    assert y.shape == (5, 6, 4, 3)
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data)


@pytest.mark.parametrize(
    "index",
    [((0, 0), slice(None)), ([0, 0], slice(None)), (np.array([0, 0]), slice(None)), (0, 0)],
    ids=["tuple", "list", "array", "plain-ints"],
)
def test_repeated_row_indices_accumulate_in_every_form(index):
    x = gs.tensor(np.zeros((3, 2)), requires_grad=True)
    x[index].sum().backward()
    expected = np.zeros((3, 2))
    np.add.at(expected, index, 1.0)  # NumPy's own reading of the same index
    np.testing.assert_array_equal(x.grad.data, expected)


def test_tuple_of_repeated_indices_on_every_axis_accumulates():
    x = gs.tensor(np.zeros((2, 2)), requires_grad=True)
    x[(1, 1, 0), (0, 0, 1)].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 1.0], [2.0, 0.0]])


@pytest.mark.parametrize("reduce", [gs.mean, gs.sum])
def test_reducing_a_python_list_of_tensors_records_the_gradient(reduce):
    # mean([x, x + 2]) = x + 1 and sum([x, x + 2]) = 2x + 2
    slope = {gs.mean: 1.0, gs.sum: 2.0}[reduce]
    assert float(gs.grad(lambda x: reduce([x, x + 2]))(0.0)) == slope


def test_a_list_of_tensors_as_an_operator_operand_is_refused_not_cut():
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="gs.stack"):
        x * [x, x]


def test_nested_grad_keeps_a_tensor_captured_from_the_enclosing_scope():
    x = gs.tensor(1.0, requires_grad=True)
    (x * gs.grad(lambda y: x * y)(2.0)).backward()
    assert float(x.grad) == 2.0  # d/dx (x * x) at 1


def test_grad_of_a_captured_tensor_gives_the_mixed_partial():
    x = gs.tensor(1.5, requires_grad=True)
    g = gs.grad(lambda y: x * y * y)(2.0)  # 2 x y = 6
    g.backward()
    assert (float(g), float(x.grad)) == (6.0, 4.0)  # d(2xy)/dx = 2y


# 0 ** -2 and log(0) on purpose: NumPy warns of the division by zero whose inf is tested
@pytest.mark.filterwarnings("ignore:divide by zero encountered in power:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_pow_gradients_at_zero_follow_the_limits():
    assert float(gs.grad(lambda x: x**0.0)(0.0)) == 0.0
    assert float(gs.grad(lambda y: gs.tensor(0.0) ** y)(0.3)) == 0.0
    y = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    g = gs.grad(lambda y: (gs.tensor(0.0) ** y).sum())(y)
    np.testing.assert_array_equal(g.data, [-np.inf, -np.inf, 0.0, 0.0, 0.0, 0.0])


def test_pow_second_derivative_in_the_exponent_at_zero_exponent_is_exact():
    # d/dy (d/dx x^y) = x^(y-1) (1 + y log x) = 1/x at y = 0 (PyTorch masks it to 0)
    x = gs.tensor(2.0, requires_grad=True)
    y = gs.tensor(0.0, requires_grad=True)
    (dx,) = gs.autograd.grad(x**y, [x], create_graph=True)
    (dxy,) = gs.autograd.grad(dx, [y])
    assert float(dxy) == 0.5


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1, (), None])
def test_zero_d_reductions_backprop_with_every_axis_numpy_accepts(name, axis):
    x = gs.tensor(1.5, requires_grad=True)
    y = getattr(x, name)(axis=axis)
    assert y.shape == ()
    y.backward()
    assert float(x.grad) == 1.0  # each reduces one element: the identity


def test_float32_bias_gradient_over_a_million_rows_is_accurate():
    rng = np.random.default_rng(1)
    x = gs.tensor(rng.standard_normal((1_000_000, 2)).astype(np.float32))
    b = gs.tensor(np.zeros(2, np.float32), requires_grad=True)
    (x + b).mean().backward()
    assert b.grad.dtype == np.float32
    np.testing.assert_allclose(b.grad.data, 0.5, rtol=1e-6)


@pytest.mark.parametrize("name", ["sum", "mean", "var"])
@pytest.mark.parametrize("axis", [0, None])
def test_float32_reductions_over_a_million_rows_match_float64(name, axis):
    rng = np.random.default_rng(2)
    x64 = rng.standard_normal((1_000_000, 3)) + 3.0
    x32 = x64.astype(np.float32)
    got = getattr(gs.tensor(x32), name)(axis=axis)
    want = getattr(x32.astype(np.float64), name)(axis=axis)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.data, want, rtol=1e-6)


# ---------------------------------------------------------------- found by the sweep's probes
def test_a_cast_to_an_integer_dtype_ends_the_graph():
    # floor-like rounding has no useful gradient, and integer tensors never require grad
    x = gs.tensor([1.5, -2.25], requires_grad=True)
    y = x.astype(np.int64)
    assert not y.requires_grad and y.dtype == np.int64
    assert not y.astype(np.float64).requires_grad


def test_maximum_sends_the_gradient_to_a_nan_operand():
    a = gs.tensor([np.nan, 3.0], requires_grad=True)
    b = gs.tensor([2.0, np.nan], requires_grad=True)
    gs.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0])
    np.testing.assert_array_equal(b.grad.data, [0.0, 1.0])


# inf / inf = nan in the row holding +inf: NumPy warns, and that nan is the point
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_softmax_of_a_row_with_an_infinite_maximum_is_nan_only_there():
    x = gs.tensor([[np.inf, 1.0, 0.0], [3.0, 1.0, 0.0]], requires_grad=True)
    y = gs.softmax(x, axis=-1)
    np.testing.assert_array_equal(np.isnan(y.data), [[True, False, False], [False] * 3])
    np.testing.assert_array_equal(y.data[0, 1:], [0.0, 0.0])
    (g,) = gs.autograd.grad(gs.logsumexp(x, axis=-1).sum(), [x])
    assert g.data[0, 1] == 0.0 and g.data[0, 2] == 0.0  # exp(1 - inf): no nan off the inf entry


@pytest.mark.parametrize(
    "axes, kind, words",
    [
        ((0, 0, 1), ValueError, "(0, 0, 1) are not a permutation of the 3 axes"),
        ((0, 1), ValueError, "(0, 1) are not a permutation of the 3 axes"),
        ((0, 1, 3), ValueError, "(0, 1, 3) are not a permutation"),
        ((0, -4, 1), ValueError, "(0, -4, 1) are not a permutation"),
        ((0, 1.0, 2), TypeError, "axes must be integers, got (0, 1.0, 2)"),
    ],
)
def test_transpose_with_bad_axes_names_them(axes, kind, words):
    x = gs.tensor(np.zeros((2, 3, 4)), requires_grad=True)
    with pytest.raises(kind) as err:
        x.transpose(*axes)
    assert words in str(err.value)
