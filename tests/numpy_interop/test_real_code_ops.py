"""Hand-written NumPy layers that lean on the newly recorded functions, run unchanged.

Each is written the way such code is found in the wild (a forward and a
hand-derived backward, plain NumPy), and gs.check.backprop checks the hand
gradients against gradsight's, which needs the forward to run on Tensors:
a max-pooling layer built on ``sliding_window_view``, a Nielsen-style
cross-entropy cost class with ``np.nan_to_num``, and a convolution written
with ``einsum`` over ``...``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import gradsight as gs


# ---------------------------------------------------------------- max pooling
def pool_forward(params, x):
    """2x2 max pooling (stride 2) of conv features, then a linear read-out."""
    h = np.tanh(x @ params["w_in"])  # (N, 4, 4): N feature maps
    windows = sliding_window_view(h, (2, 2), axis=(1, 2))[:, ::2, ::2]  # (N, 2, 2, 2, 2)
    pooled = windows.max(axis=(-2, -1))  # (N, 2, 2)
    return np.sum(pooled.reshape(len(x), -1) @ params["w_out"])


def pool_backward(params, x):
    h = np.tanh(x @ params["w_in"])
    n = len(x)
    windows = sliding_window_view(h, (2, 2), axis=(1, 2))[:, ::2, ::2]
    pooled = windows.max(axis=(-2, -1))
    d_pooled = np.broadcast_to(params["w_out"].sum(axis=1), (n, 4)).reshape(n, 2, 2)
    # route each window's gradient to its maximum
    d_h = np.zeros_like(h)
    for i in range(2):
        for j in range(2):
            patch = h[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            mask = patch == pooled[:, i, j][:, None, None]
            d_h[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] += mask * d_pooled[:, i, j][:, None, None]
    d_pre = d_h * (1 - h**2)
    return {
        "w_in": np.einsum("nrk,nrc->kc", x, d_pre),
        "w_out": np.broadcast_to(pooled.reshape(n, -1).sum(axis=0)[:, None], (4, 3)).copy(),
    }


def test_max_pooling_built_on_sliding_window_view():
    rng = np.random.default_rng(0)
    params = {"w_in": rng.standard_normal((3, 4)), "w_out": rng.standard_normal((4, 3))}
    x = rng.standard_normal((2, 4, 3))
    report = gs.check.backprop(pool_forward, pool_backward, params, x)
    assert report.ok, report.to_text()


def test_a_planted_pooling_bug_is_found():
    def wrong(params, x):
        grads = pool_backward(params, x)
        grads["w_in"] = grads["w_in"] * 0.5  # forgot that each max gets the full gradient
        return grads

    rng = np.random.default_rng(1)
    params = {"w_in": rng.standard_normal((3, 4)), "w_out": rng.standard_normal((4, 3))}
    report = gs.check.backprop(pool_forward, wrong, params, rng.standard_normal((2, 4, 3)))
    assert not report.ok


# ---------------------------------------------------------------- cross-entropy cost class
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class CrossEntropyCost:
    """Nielsen's network2.py cost, in its usual form."""

    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


def cost_forward(params, x, y):
    a = _sigmoid(params["w"] @ x + params["b"])
    return CrossEntropyCost.fn(a, y)


def cost_backward(params, x, y):
    z = params["w"] @ x + params["b"]
    delta = CrossEntropyCost.delta(z, _sigmoid(z), y)
    return {"w": delta @ x.T, "b": delta.sum(axis=1, keepdims=True)}


def test_cross_entropy_cost_class_with_nan_to_num():
    rng = np.random.default_rng(2)
    params = {"w": rng.standard_normal((3, 5)) * 0.5, "b": np.zeros((3, 1))}
    x = rng.standard_normal((5, 4))
    y = (rng.random((3, 4)) > 0.5).astype(float)
    report = gs.check.backprop(cost_forward, cost_backward, params, x, y)
    assert report.ok, report.to_text()


def test_nan_to_num_passes_the_gradient_only_where_the_value_was_finite():
    a = gs.tensor([0.5, 1.0, 0.0], requires_grad=True)
    y = np.array([1.0, 1.0, 0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))
        cost.backward()
    np.testing.assert_allclose(cost.item(), -np.log(0.5))
    np.testing.assert_allclose(a.grad.data[0], -1 / 0.5)  # d/da of -log(a)


# ---------------------------------------------------------------- einsum over '...'
def test_a_batched_layer_written_with_einsum_ellipsis_matches_matmul():
    rng = np.random.default_rng(3)
    w = gs.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    x = rng.standard_normal((3, 5, 4))
    np.einsum("...i,ij->...j", x, w).sum().backward()
    np.testing.assert_allclose(w.grad.data, np.broadcast_to(x.sum(axis=(0, 1))[:, None], (4, 2)))
