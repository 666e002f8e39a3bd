"""HIPS autograd's own cases for these functions, ported.

- tests/test_scipy.py ``test_erf`` / ``test_erfc``: ``unary_ufunc_check`` on
  [-3, 3] (a scalar, a (2,) vector, (3, 2) and (1, 2) matrices) with
  ``check_grads(order=2)``: the vector-Jacobian product against finite
  differences, then the same for the gradient function. Here gs.gradcheck
  checks the first order and a gradcheck of ``grad`` the second. (The complex
  inputs have no counterpart: gradsight's tensors are real.)
- examples/neural_net.py: the MNIST classifier's objective, written with
  parameters as a list of ``(W, b)`` tuples and ``log_lik = sum(log_probs *
  targets)`` for one-hot targets: the same number, and gradients, as
  gradsight's cross_entropy with probability targets and nll_loss.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight.nn import functional as F
from gradsight.ops import special


def _transform(lims, x):
    return x * (lims[1] - lims[0]) + lims[0]


def _unary_inputs(lims, seed=1):
    """HIPS's unary_ufunc_check inputs: scalar 0.4, rand(2), rand(3, 2), rand(1, 2)."""
    rng = np.random.default_rng(seed)
    return [
        _transform(lims, np.array(0.4)),
        _transform(lims, rng.random(2)),
        _transform(lims, rng.random((3, 2))),
        _transform(lims, rng.random((1, 2))),
    ]


def _check_grads_order_2(fn, x):
    """check_grads(fn, modes=["rev"], order=2)(x), in gradsight's terms."""
    t = gs.tensor(x, requires_grad=True)
    assert gs.gradcheck(fn, (t,))
    v = gs.tensor(np.random.default_rng(2).standard_normal(np.shape(x)))

    def vjp(a):  # HIPS's grad_f: the vector-Jacobian product, differentiated again
        if not a.requires_grad:  # gradcheck's finite differences pass plain tensors
            a = a.detach().requires_grad_()
        with gs.enable_grad():
            (g,) = gs.autograd.grad(fn(a), (a,), grad_outputs=v, create_graph=True)
        return g

    assert gs.gradcheck(vjp, (gs.tensor(x, requires_grad=True),))


@pytest.mark.parametrize("fn", [special.erf, special.erfc], ids=["erf", "erfc"])
def test_erf_and_erfc_pass_hips_unary_check(fn):
    for x in _unary_inputs([-3.0, 3.0]):
        _check_grads_order_2(fn, x)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_passes_the_same_unary_check(approximate):
    for x in _unary_inputs([-3.0, 3.0], seed=3):
        _check_grads_order_2(lambda a: F.gelu(a, approximate), x)


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 1.0), (0.5, np.inf)])
def test_softplus_passes_the_same_unary_check(beta, threshold):
    for x in _unary_inputs([-3.0, 3.0], seed=4):  # |beta x| stays off the threshold
        _check_grads_order_2(lambda a: F.softplus(a, beta, threshold), x)


# ---------------------------------------------------------------- examples/neural_net.py
def _init_random_params(scale, layer_sizes, rs):
    return [
        (scale * rs.standard_normal((m, n)), scale * rs.standard_normal(n))
        for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


def _neural_net_predict(params, inputs):
    """HIPS's code, on gradsight tensors: returns normalized class log-probabilities."""
    for W, b in params:
        outputs = inputs @ W + b
        inputs = outputs.tanh()
    return outputs - outputs.logsumexp(axis=1, keepdims=True)


def _outputs(params, inputs):
    for W, b in params:
        outputs = inputs @ W + b
        inputs = outputs.tanh()
    return outputs


def test_neural_net_log_likelihood_is_cross_entropy_with_probability_targets():
    rs = np.random.default_rng(0)
    arrays = _init_random_params(0.1, [64, 20, 10], rs)
    images = rs.standard_normal((32, 64))
    labels = rs.integers(0, 10, 32)
    targets = np.eye(10)[labels]

    def grads(loss_of):
        params = [
            (gs.tensor(W, requires_grad=True), gs.tensor(b, requires_grad=True)) for W, b in arrays
        ]
        loss = loss_of(params)
        flat = [p for pair in params for p in pair]
        return loss.item(), [g.numpy() for g in gs.autograd.grad(loss, flat)]

    hips = grads(lambda ps: -(_neural_net_predict(ps, gs.tensor(images)) * targets).sum())
    soft = grads(lambda ps: F.cross_entropy(_outputs(ps, images), targets, reduction="sum"))
    index = grads(lambda ps: F.cross_entropy(_outputs(ps, images), labels, reduction="sum"))
    nll = grads(
        lambda ps: F.nll_loss(_neural_net_predict(ps, gs.tensor(images)), labels, reduction="sum")
    )
    for other in (soft, index, nll):
        np.testing.assert_allclose(other[0], hips[0], rtol=1e-13)
        for a, b in zip(other[1], hips[1]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
