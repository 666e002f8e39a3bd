"""Forward values and gradients equal PyTorch's for the same weights (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn

pytestmark = pytest.mark.torch

RTOL = 1e-12


def _torch():
    torch = pytest.importorskip("torch")
    return torch


def _copy_weights(gs_module, torch_module):
    torch = _torch()
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(
            gs_module.named_parameters(), torch_module.named_parameters(), strict=True
        ):
            assert p.shape == tuple(tp.shape), (name, tname)
            tp.copy_(torch.from_numpy(np.array(p.data)))


def _compare(gs_module, torch_module, x):
    """Same output for x, and the same gradients of sum(out * w) for a random w."""
    torch = _torch()
    _copy_weights(gs_module, torch_module)
    rng = np.random.default_rng(1)
    xg = gs.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, tout = gs_module(xg), torch_module(xt)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=RTOL, atol=1e-14)
    w = rng.standard_normal(out.shape)
    (out * w).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(xg.grad.data, xt.grad.numpy(), rtol=RTOL, atol=1e-14)
    for (name, p), tp in zip(gs_module.named_parameters(), torch_module.parameters()):
        np.testing.assert_allclose(
            p.grad.data, tp.grad.numpy(), rtol=RTOL, atol=1e-14, err_msg=name
        )


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3,), (2, 4, 3)])
def test_linear_matches_torch(bias, shape):
    torch = _torch()
    x = np.random.default_rng(0).standard_normal(shape)
    _compare(nn.Linear(3, 4, bias=bias), torch.nn.Linear(3, 4, bias=bias, dtype=torch.float64), x)


def test_sequential_matches_torch():
    torch = _torch()
    t = torch.nn
    ours = nn.Sequential(
        nn.Linear(3, 5),
        nn.ReLU(),
        nn.Linear(5, 4),
        nn.LeakyReLU(0.1),
        nn.Linear(4, 2),
        nn.Softmax(-1),
    )
    theirs = t.Sequential(
        t.Linear(3, 5), t.ReLU(), t.Linear(5, 4), t.LeakyReLU(0.1), t.Linear(4, 2), t.Softmax(-1)
    ).double()
    _compare(ours, theirs, np.random.default_rng(2).standard_normal((7, 3)))


@pytest.mark.parametrize("act, tact", [("sigmoid", "Sigmoid"), ("tanh", "Tanh"), ("relu", "ReLU")])
def test_mlp_matches_torch(act, tact):
    torch = _torch()
    t = torch.nn
    ours = nn.MLP([4, 8, 6, 3], activation=act, output_activation="sigmoid")
    theirs = t.Sequential(
        t.Linear(4, 8),
        getattr(t, tact)(),
        t.Linear(8, 6),
        getattr(t, tact)(),
        t.Linear(6, 3),
        t.Sigmoid(),
    ).double()
    _compare(ours, theirs, np.random.default_rng(3).standard_normal((10, 4)))


def _loss_case(name, rng):
    """(our function, torch function, input, target) for one loss."""
    torch = _torch()
    tf = torch.nn.functional
    F = nn.functional
    if name == "mse":
        return F.mse_loss, tf.mse_loss, rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    if name == "bce":
        p = rng.uniform(0.02, 0.98, (6, 3))
        return F.binary_cross_entropy, tf.binary_cross_entropy, p, rng.uniform(0, 1, (6, 3))
    if name == "bce_logits":
        return (
            F.binary_cross_entropy_with_logits,
            tf.binary_cross_entropy_with_logits,
            rng.standard_normal((6, 3)) * 3,
            rng.integers(0, 2, (6, 3)).astype(float),
        )
    return F.cross_entropy, tf.cross_entropy, rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse", "bce", "bce_logits", "cross_entropy"])
def test_losses_match_torch(name, reduction):
    torch = _torch()
    ours, theirs, x, y = _loss_case(name, np.random.default_rng(4))
    xg = gs.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = ours(xg, y, reduction=reduction)
    tout = theirs(xt, torch.from_numpy(y), reduction=reduction)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=RTOL)
    w = np.random.default_rng(5).standard_normal(out.shape)
    (out * w).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(xg.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("cls", ["MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss"])
def test_loss_modules_match_functions(cls):
    torch = _torch()
    name = {"MSELoss": "mse", "BCELoss": "bce", "BCEWithLogitsLoss": "bce_logits"}.get(
        cls, "cross_entropy"
    )
    _, theirs, x, y = _loss_case(name, np.random.default_rng(6))
    value = getattr(nn, cls)(reduction="sum")(gs.tensor(x), y)
    expected = theirs(torch.from_numpy(x), torch.from_numpy(y), reduction="sum")
    np.testing.assert_allclose(value.data, expected.numpy(), rtol=RTOL)


def test_bce_clamps_logs_like_torch_at_zero_and_one():
    torch = _torch()
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.3])
    ours = nn.functional.binary_cross_entropy(gs.tensor(p), y, reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(
        torch.from_numpy(p), torch.from_numpy(y), reduction="none"
    )
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=RTOL)
    assert ours.data[0] == 100.0


def test_init_gains_match_torch():
    torch = _torch()
    for name in ("linear", "sigmoid", "tanh", "relu", "selu"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )
