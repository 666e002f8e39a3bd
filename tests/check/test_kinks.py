"""Kinks and ties: a correct backward choosing another subgradient than autograd is no mistake.

Max-pooling whose backward routes a tied window's gradient to the first
argmax (autograd splits ties evenly), ReLU written ``np.maximum(Z, 0)`` with
exact zeros (autograd's tie rule gives 1/2 at 0, the hand's ``Z > 0`` gives
0): both correct, both reported as ``kink``. A real bug at a tie still
reads MISMATCH.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


def pool_forward(p, X, T):
    """conv-free CNN head: relu(X * w) -> 2x2 max-pool (reshape style) -> linear -> squared loss."""
    Z = X * p["w"]
    A = np.maximum(Z, 0)
    N, C, H, W = A.shape
    pooled = A.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))
    Y = pooled.reshape(N, -1) @ p["V"]
    return 0.5 * np.sum((Y - T) ** 2)


def pool_backward(p, X, T, tie_rule="first"):
    """By hand, with loops over windows like a naive CS231n max_pool_backward."""
    Z = X * p["w"]
    A = np.maximum(Z, 0)
    N, C, H, W = A.shape
    pooled = A.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))
    flat = pooled.reshape(N, -1)
    dY = flat @ p["V"] - T
    dpooled = (dY @ p["V"].T).reshape(pooled.shape)
    dA = np.zeros_like(A)
    for n in range(N):
        for c in range(C):
            for i in range(H // 2):
                for j in range(W // 2):
                    window = A[n, c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                    if tie_rule == "first":  # the first argmax takes it all
                        a, b = np.unravel_index(np.argmax(window), window.shape)
                        dA[n, c, 2 * i + a, 2 * j + b] = dpooled[n, c, i, j]
                    else:  # bug: every maximum takes all of it
                        mask = window == window.max()
                        dA[n, c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = mask * dpooled[n, c, i, j]
    dZ = dA * (Z > 0)
    return {"w": np.sum(dZ * X), "V": flat.T @ dY, "A": dA, "Z": dZ, "pooled": dpooled}


def pool_problem():
    rng = np.random.default_rng(0)
    X = rng.integers(-2, 3, size=(2, 1, 4, 4)).astype(float)  # small integers: many ties
    X[0, 0, :2, :2] = 2.0  # a whole window tied at its maximum
    p = {"w": np.array(1.5), "V": rng.normal(size=(4, 3))}
    return p, X, rng.normal(size=(2, 3))


def test_maxpool_first_argmax_at_ties_is_a_kink_not_a_mismatch():
    p, X, T = pool_problem()
    report = gs.check.backprop(pool_forward, pool_backward, p, X, T)
    assert report.ok, report
    assert "MISMATCH" not in report.to_text()
    assert report["A"].status == "kink"
    point = report["A"].kink.points[0]
    assert {point.left, point.right} != {point.hand}  # the one-sided values are both shown
    assert min(point.left, point.right) - 1e-6 <= point.hand <= max(point.left, point.right) + 1e-6
    assert "max" in report["A"].kink.ops
    assert "one-sided derivatives" in report.verdict()


def test_maxpool_bug_at_a_tie_is_still_flagged():
    p, X, T = pool_problem()
    report = gs.check.backprop(pool_forward, lambda *a: pool_backward(*a, tie_rule="all"), p, X, T)
    assert not report.ok
    assert report["A"].status == "MISMATCH"
    assert report.first_divergence.name == "A"


def relu_forward(p, X, T):
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.maximum(Z1, 0)
    Z2 = H1 @ p["W2"]
    return 0.5 * np.sum((Z2 - T) ** 2) / len(X)


def relu_backward(p, X, T, at_zero=0.0):
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.maximum(Z1, 0)
    dZ2 = (H1 @ p["W2"] - T) / len(X)
    dH1 = dZ2 @ p["W2"].T
    dZ1 = dH1 * (Z1 > 0) + at_zero * dH1 * (Z1 == 0)
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(0), "W2": H1.T @ dZ2, "Z1": dZ1, "H1": dH1}


def relu_problem():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 3))
    X[:2] = 0.0  # zero rows and zero bias: Z1 is exactly 0 there
    p = {"W1": rng.normal(size=(3, 4)), "b1": np.zeros(4), "W2": rng.normal(size=(4, 2))}
    return p, X, rng.normal(size=(6, 2))


def test_relu_as_np_maximum_at_exact_zeros_is_no_mismatch():
    p, X, T = relu_problem()
    report = gs.check.backprop(relu_forward, relu_backward, p, X, T)
    assert report.ok, report
    assert {r.name for r in report.kinks} >= {"Z1", "b1"}
    assert report.first_divergence is None


@pytest.mark.parametrize("at_zero", [1.0, 0.5])
def test_any_subgradient_in_between_is_accepted(at_zero):
    p, X, T = relu_problem()
    report = gs.check.backprop(relu_forward, lambda *a: relu_backward(*a, at_zero=at_zero), p, X, T)
    assert report.ok, report


def test_relu_bug_sitting_at_a_zero_is_flagged():
    p, X, T = relu_problem()
    report = gs.check.backprop(relu_forward, lambda *a: relu_backward(*a, at_zero=-1.0), p, X, T)
    assert not report.ok
    assert report.first_divergence.name == "Z1"


def test_a_mismatch_without_any_kink_op_is_never_excused():
    def forward(p, x):
        return np.sum(np.tanh(p["w"] * x))

    def backward(p, x):
        return {"w": x * (1 - np.tanh(p["w"] * x))}  # tanh' written wrong

    report = gs.check.backprop(forward, backward, {"w": np.array([0.0, 0.5])}, np.ones(2))
    assert report["w"].status == "MISMATCH" and report["w"].kink is None
