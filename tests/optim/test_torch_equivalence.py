"""50 training steps of a 3-layer tanh MLP end with PyTorch's parameters (float64, rtol 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn

pytestmark = pytest.mark.torch

SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, momentum=0.8, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.02),
    dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.01),
]
ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.02, weight_decay=0.01),
    dict(lr=0.005, betas=(0.8, 0.99), eps=1e-6),
]


def _models(seed):
    torch = pytest.importorskip("torch")
    gs.manual_seed(seed)
    ours = nn.MLP([3, 8, 6, 2], activation="tanh")
    t = torch.nn
    theirs = t.Sequential(t.Linear(3, 8), t.Tanh(), t.Linear(8, 6), t.Tanh(), t.Linear(6, 2))
    theirs = theirs.double()
    with torch.no_grad():
        for p, tp in zip(ours.parameters(), theirs.parameters(), strict=True):
            tp.copy_(torch.from_numpy(np.array(p.data)))
    return ours, theirs


def _train_both(make_ours, make_theirs, steps=50, seed=0):
    """Train copies of one model with optimizers built by make_*(model); return both."""
    torch = pytest.importorskip("torch")
    ours, theirs = _models(seed)
    opt, topt = make_ours(ours), make_theirs(theirs)
    rng = np.random.default_rng(seed)
    for _ in range(steps):  # a fresh minibatch each step
        x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
        opt.zero_grad()
        nn.functional.mse_loss(ours(x), y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
    return ours, theirs


def _assert_same(ours, theirs, start):
    moved = 0.0
    for (name, p), tp, p0 in zip(ours.named_parameters(), theirs.parameters(), start):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=0, err_msg=name)
        moved = max(moved, np.abs(p.data - p0).max())
    assert moved > 1e-3  # training really changed the weights


@pytest.mark.parametrize(
    "kwargs", SGD_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())
)
def test_sgd_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    start = [np.array(p.data) for p in _models(0)[0].parameters()]
    ours, theirs = _train_both(
        lambda m: gs.optim.SGD(m.parameters(), **kwargs),
        lambda m: torch.optim.SGD(m.parameters(), **kwargs),
    )
    _assert_same(ours, theirs, start)


@pytest.mark.parametrize(
    "kwargs", ADAM_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())
)
def test_adam_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    start = [np.array(p.data) for p in _models(0)[0].parameters()]
    ours, theirs = _train_both(
        lambda m: gs.optim.Adam(m.parameters(), **kwargs),
        lambda m: torch.optim.Adam(m.parameters(), **kwargs),
    )
    _assert_same(ours, theirs, start)


def test_param_groups_match_torch():
    torch = pytest.importorskip("torch")

    def groups(model):
        ps = list(model.parameters())
        return [{"params": ps[:2], "lr": 0.2}, {"params": ps[2:]}]

    start = [np.array(p.data) for p in _models(0)[0].parameters()]
    ours, theirs = _train_both(
        lambda m: gs.optim.SGD(groups(m), lr=0.05, momentum=0.9),
        lambda m: torch.optim.SGD(groups(m), lr=0.05, momentum=0.9),
    )
    _assert_same(ours, theirs, start)
