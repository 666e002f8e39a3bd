"""Each row of docs/engine.md's "Conventions, on purpose" table, tested.

Every test shows gradsight's behaviour against its own oracle (NumPy or a
closed form) and, where PyTorch is installed, that PyTorch does differ, so a
user can tell a convention from a bug.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


def _torch():
    return pytest.importorskip("torch")


def test_index_tuple_inside_an_index_is_an_integer_array_as_in_numpy():
    x = gs.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    y = x[(0, 0), :]
    np.testing.assert_array_equal(y.data, x.data[[0, 0], :])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data[0], [2.0, 2.0])


def test_negative_slice_steps_work_where_pytorch_refuses():
    x = gs.tensor(np.arange(4.0), requires_grad=True)
    (x[::-1] * gs.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 3.0, 2.0, 1.0])
    torch = _torch()
    with pytest.raises(ValueError):
        torch.arange(4.0)[::-1]


def test_type_promotion_follows_numpy_not_pytorch():
    ints = gs.tensor([1, 2]) / gs.tensor([2, 2])
    assert ints.dtype == np.true_divide(np.array([1, 2]), np.array([2, 2])).dtype == np.float64
    mixed = gs.tensor([1.0], dtype="float32") + np.array([1.0])
    assert mixed.dtype == np.float64  # NumPy: float32 array + float64 array
    weak = gs.tensor([1.0], dtype="float32") * 2.0
    assert weak.dtype == np.float32  # Python scalars are weak in both
    torch = _torch()
    assert (torch.tensor([1, 2]) / torch.tensor([2, 2])).dtype == torch.float32


def test_tied_maxima_share_the_gradient_evenly_where_torch_max_dim_picks_one():
    x = gs.tensor([[3.0, 1.0, 3.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.5, 0.0, 0.5]])
    torch = _torch()
    t = torch.tensor([[3.0, 1.0, 3.0]], requires_grad=True)
    t.max(dim=1).values.sum().backward()
    assert sorted(t.grad.numpy().ravel().tolist()) == [0.0, 0.0, 1.0]


def test_maximum_of_two_tensors_at_a_tie_gives_each_half():
    a = gs.tensor([2.0], requires_grad=True)
    b = gs.tensor([2.0], requires_grad=True)
    gs.maximum(a, b).sum().backward()
    assert (float(a.grad[0]), float(b.grad[0])) == (0.5, 0.5)


def test_squeezing_an_axis_longer_than_one_raises_where_pytorch_ignores_it():
    x = gs.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="cannot squeeze axis 0 of shape \\(2, 3\\)"):
        x.squeeze(0)
    torch = _torch()
    assert torch.zeros(2, 3).squeeze(0).shape == (2, 3)


def test_an_empty_axis_tuple_reduces_nothing_as_in_numpy():
    x = np.arange(6.0).reshape(2, 3)
    assert gs.tensor(x).sum(axis=()).shape == np.sum(x, axis=()).shape == (2, 3)
    torch = _torch()
    assert torch.tensor(x).sum(dim=()).shape == ()  # PyTorch: every axis


def test_var_is_the_population_variance_like_numpy():
    x = np.array([1.0, 2.0, 4.0])
    assert float(gs.tensor(x).var()) == np.var(x)
    torch = _torch()
    assert float(torch.tensor(x).var()) == np.var(x, ddof=1)


def test_pow_keeps_the_exact_mixed_second_derivative_at_a_zero_exponent():
    def mixed(lib_grad, x, y):
        (dx,) = lib_grad(x**y, [x], create_graph=True)
        (dxy,) = lib_grad(dx, [y])
        return float(dxy)

    x, y = gs.tensor(4.0, requires_grad=True), gs.tensor(0.0, requires_grad=True)
    assert mixed(gs.autograd.grad, x, y) == 0.25  # x^(y-1) (1 + y log x) = 1/x at y = 0
    torch = _torch()
    tx = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    assert mixed(torch.autograd.grad, tx, ty) == 0.0  # PyTorch masks it


def test_reducing_a_list_of_tensors_records_where_pytorch_raises():
    x = gs.tensor(2.0, requires_grad=True)
    gs.mean([x, 3 * x]).backward()
    assert float(x.grad) == 2.0
    torch = _torch()
    with pytest.raises(TypeError):
        torch.mean([torch.tensor(1.0), torch.tensor(2.0)])


def test_a_grad_that_captures_a_tracked_tensor_stays_differentiable_in_it():
    w = gs.tensor(3.0, requires_grad=True)
    g = gs.grad(lambda x: w * x * x)(1.0)  # 2 w x
    assert g.requires_grad
    (dw,) = gs.autograd.grad(g, [w])
    assert float(dw) == 2.0


def test_long_float32_sums_accumulate_in_float64():
    x = np.full((100_000, 2), 0.1, dtype=np.float32)
    got = gs.tensor(x).sum(axis=0).data
    assert got.dtype == np.float32
    assert got[0] == np.float32(np.sum(x.astype(np.float64), axis=0)[0])
    naive = np.add.reduce(x, axis=0)[0]  # NumPy's float32 running sum over rows
    assert abs(float(naive) - 10_000.0) > 1.0 > abs(float(got[0]) - 10_000.0)


def test_zero_d_reductions_accept_axis_zero_and_minus_one():
    x = gs.tensor(2.0, requires_grad=True)
    x.mean(axis=-1).backward()
    assert float(x.grad) == 1.0
    with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else Exception):
        np.mean(np.float64(2.0), axis=-1)


def test_a_nan_maximum_sends_the_gradient_to_the_nan_entries():
    x = gs.tensor([1.0, np.nan, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])
    torch = _torch()
    t = torch.tensor([1.0, np.nan, 3.0], requires_grad=True)
    t.amax().backward()
    assert np.isnan(t.grad.numpy()).all()


def test_abs_and_relu_at_nan():
    x = gs.tensor([np.nan], requires_grad=True)
    x.abs().sum().backward()
    assert np.isnan(x.grad.data[0])  # sign(nan) is nan: the NaN shows in the gradient
    y = gs.tensor([np.nan], requires_grad=True)
    y.relu().sum().backward()
    assert y.grad.data[0] == 0.0  # the mask x > 0 is False for nan
    torch = _torch()
    t = torch.tensor([np.nan], requires_grad=True)
    t.abs().sum().backward()
    assert t.grad.item() == 0.0


def test_bce_at_probabilities_zero_and_one():
    bce = gs.nn.functional.binary_cross_entropy
    p = gs.tensor([0.0, 1.0], requires_grad=True)
    bce(p, np.array([0.0, 1.0]), reduction="sum").backward()
    np.testing.assert_array_equal(p.grad.data, [1.0, -1.0])  # d(-log(1-p))/dp, d(-log p)/dp
    q = gs.tensor([1.0], requires_grad=True)
    loss = bce(q, np.array([0.0]), reduction="sum")
    loss.backward()
    assert float(loss) == 100.0 and q.grad.data[0] == 0.0  # on the clamp: flat
    torch = _torch()
    tq = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(tq, torch.zeros(1, dtype=torch.float64)).backward()
    assert tq.grad.item() > 1e11  # (p - y) / max(p (1 - p), 1e-12)


# inf - inf = nan in the row holding +inf: NumPy warns, and that nan is the point
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_softmax_of_a_row_holding_plus_inf():
    y = gs.softmax(gs.tensor([np.inf, 1.0]), axis=-1).data
    assert np.isnan(y[0]) and y[1] == 0.0
    torch = _torch()
    assert torch.isnan(torch.softmax(torch.tensor([np.inf, 1.0]), -1)).all()
