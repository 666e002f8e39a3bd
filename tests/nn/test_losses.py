"""Losses: closed forms, finite-difference gradients, stability, input validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn

F = nn.functional


def _x(shape, seed=0, scale=1.0):
    return gs.tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=True)


# ------------------------------------------------------------------ closed forms
def test_mse_closed_form_and_reductions():
    x = gs.tensor([[1.0, 2.0], [3.0, 5.0]])
    y = np.array([[0.0, 2.0], [1.0, 1.0]])
    assert F.mse_loss(x, y, "none").tolist() == [[1.0, 0.0], [4.0, 16.0]]
    assert F.mse_loss(x, y, "sum").item() == 21.0
    assert F.mse_loss(x, y).item() == 21.0 / 4


def test_mse_target_may_require_grad():
    x, y = _x((3,), 1), _x((3,), 2)
    F.mse_loss(x, y, "sum").backward()
    np.testing.assert_allclose(y.grad.data, -2 * (x.data - y.data))


def test_cross_entropy_closed_form():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = np.array([2, 0])
    expected = [np.log(np.exp(logits[0]).sum()) - 3.0, np.log(3.0)]
    np.testing.assert_allclose(F.cross_entropy(gs.tensor(logits), target, "none").data, expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_and_hessian_match_closed_forms(reduction):
    """First order (the array rule, which reuses the forward's log-softmax) and
    second order (the differentiable rule under create_graph): per row n with
    weight s_n, grad = s_n (p_n - onehot_n), hessian = s_n (diag(p_n) - p_n p_n^T)."""
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((3, 4)) * 3
    target = np.array([2, 0, 3])
    weights = np.array([0.5, 2.0, -1.0])  # the upstream gradient for "none"
    scale = {"mean": np.full(3, 1 / 3), "sum": np.ones(3), "none": weights}[reduction]

    def loss(a):
        out = F.cross_entropy(a, target, reduction)
        return (out * gs.tensor(weights)).sum() if reduction == "none" else out

    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(4)[target]
    x = gs.tensor(logits, requires_grad=True)
    loss(x).backward()
    np.testing.assert_allclose(x.grad.data, scale[:, None] * (p - onehot), rtol=1e-12, atol=1e-15)
    hess = gs.hessian(loss)(gs.tensor(logits)).data
    expected = np.zeros((3, 4, 3, 4))
    for n in range(3):
        expected[n, :, n, :] = scale[n] * (np.diag(p[n]) - np.outer(p[n], p[n]))
    np.testing.assert_allclose(hess, expected, rtol=1e-10, atol=1e-14)


def test_bce_with_logits_closed_form():
    x, y = np.array([-2.0, 0.0, 3.0]), np.array([0.0, 1.0, 0.25])
    p = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(gs.tensor(x), y, "none").data, expected, rtol=1e-13
    )


# ------------------------------------------------------------------ gradients by finite differences
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_gradients_pass_gradcheck(reduction):
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 1, (4, 3))
    classes = rng.integers(0, 3, 4)
    cases = [
        (lambda x: F.mse_loss(x, y, reduction), _x((4, 3), 4)),
        (
            lambda x: F.binary_cross_entropy(x, y, reduction),
            gs.tensor(rng.uniform(0.1, 0.9, (4, 3)), requires_grad=True),
        ),
        (lambda x: F.binary_cross_entropy_with_logits(x, y, reduction), _x((4, 3), 5)),
        (lambda x: F.cross_entropy(x, classes, reduction), _x((4, 3), 6)),
    ]
    for fn, x in cases:
        assert gs.gradcheck(fn, (x,))


# ------------------------------------------------------------------ stability
@pytest.mark.parametrize("scale", [1e4, 1e8, 1e15])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logit_losses_are_finite_for_huge_logits(scale, dtype):
    if dtype == "float32" and scale > 1e30:
        pytest.skip("beyond float32")
    rng = np.random.default_rng(7)
    logits = gs.tensor(rng.choice([-1.0, 1.0], (8, 5)) * scale, dtype=dtype, requires_grad=True)
    classes = rng.integers(0, 5, 8)
    y = rng.integers(0, 2, (8, 5)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for loss in (
                F.cross_entropy(logits, classes),
                F.binary_cross_entropy_with_logits(logits, y),
                F.binary_cross_entropy(logits.sigmoid(), y),
            ):
                logits.grad = None
                loss.backward()
                assert np.isfinite(loss.item())
                assert np.all(np.isfinite(logits.grad.data))


def test_cross_entropy_with_huge_logits_has_exact_values():
    logits = gs.tensor([[1e4, 0.0], [0.0, 1e4]], requires_grad=True)
    loss = F.cross_entropy(logits, [1, 1], "none")
    np.testing.assert_allclose(loss.data, [1e4, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad.data, [[1.0, -1.0], [0.0, 0.0]])


def test_bce_with_logits_huge_logits_exact_values():
    x = gs.tensor([1e4, -1e4, 1e4], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, [0.0, 1.0, 1.0], "none")
    np.testing.assert_allclose(loss.data, [1e4, 1e4, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, -1.0, 0.0])


def test_bce_on_saturated_probabilities_is_finite_and_quiet():
    p = gs.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            loss = F.binary_cross_entropy(p, [1.0, 0.0, 0.0, 1.0], "none")
            loss.sum().backward()
    assert loss.tolist() == [100.0, 100.0, 0.0, 0.0]
    assert np.all(np.isfinite(p.grad.data))


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "fn", [F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits]
)
def test_reduction_and_shape_are_checked(fn):
    x = gs.tensor(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="reduction must be .* got 'avg'"):
        fn(x, np.zeros((3, 2)), "avg")
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3,\)"):
        fn(x, np.zeros(3))


def test_loss_modules_check_reduction_when_built():
    with pytest.raises(ValueError, match="got 'avg'"):
        nn.MSELoss(reduction="avg")


def test_cross_entropy_validation_names_the_bad_value():
    x = gs.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"target\[1\] = 4 .*\[0, 4\)"):
        F.cross_entropy(x, [0, 4, 1])
    with pytest.raises(ValueError, match=r"target\[2\] = -1"):
        F.cross_entropy(x, [0, 1, -1])
    with pytest.raises(TypeError, match="integer class indices, got dtype float64"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target shape \(2,\)"):
        F.cross_entropy(x, [0, 1])
    with pytest.raises(ValueError, match=r"shape \(1,\) .* input shape \(4,\); expected \(\)"):
        F.cross_entropy(gs.tensor(np.zeros(4)), [0])  # unbatched logits take a 0-d class
    with pytest.raises(ValueError, match=r"class axis, .* got shape \(\)"):
        F.cross_entropy(gs.tensor(0.0), 0)
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(gs.tensor(np.zeros((3, 4), int)), [0, 1, 2])


def test_bce_range_checks_name_the_value():
    with pytest.raises(ValueError, match=r"input\[1\] = .*1\.5"):
        F.binary_cross_entropy(gs.tensor([0.5, 1.5]), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"input\[0\] = .*nan"):
        F.binary_cross_entropy(gs.tensor([np.nan, 0.5]), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"target\[0\] = .*-1"):
        F.binary_cross_entropy_with_logits(gs.tensor([0.5, 1.5]), [-1.0, 1.0])
    with pytest.raises(ValueError, match=r"target\[1\] = .*1\.25"):
        y = gs.tensor([0.5, 1.25], requires_grad=True)  # the target's own path checks it too
        F.binary_cross_entropy_with_logits(gs.tensor([0.5, 1.5]), y)


# ---------------------------------------------------------------- the fused mse node
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_passes_gradcheck_for_input_and_target(reduction):
    rng = np.random.default_rng(3)
    x = gs.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    y = gs.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert gs.gradcheck(lambda a, b: gs.nn.functional.mse_loss(a, b, reduction=reduction), (x, y))


def test_mse_loss_hessian_is_two_over_n_times_identity():
    target = gs.tensor([0.5, -1.0, 2.0, 0.0])
    h = gs.hessian(lambda a: gs.nn.functional.mse_loss(a, target))(gs.tensor([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(h.data, np.eye(4) * 2 / 4, atol=1e-15)
