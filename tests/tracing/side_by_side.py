"""A training loop run eager and traced side by side, for the tests of what a step
reads: a small tanh MLP, a few batches, and a manual SGD step as people write it."""

from __future__ import annotations

import numpy as np

import gradsight as gs


def mse(pred, y):
    return ((pred - y) ** 2).mean()


def batches(n):
    rng = np.random.default_rng(3)
    return [(rng.normal(size=(5, 3)), rng.normal(size=(5, 2))) for _ in range(n)]


def net():
    """The same 3-6-2 tanh MLP on every call (seeded)."""
    gs.manual_seed(1)
    return gs.nn.MLP([3, 6, 2], activation="tanh")


def manual_sgd(model, lr_of, loss_of=mse):
    """A plain loop: gradients cleared by hand, a manual update under no_grad, the
    learning rate read through ``lr_of()`` on each step."""

    def step(x, y):
        for p in model.parameters():
            p.grad = None
        loss = loss_of(model(gs.tensor(x)), y)
        loss.backward()
        with gs.no_grad():
            for p in model.parameters():
                p -= lr_of() * p.grad
        return loss

    return step


def run(make_step, change, calls=6, at=3):
    """Eager and traced twins of ``make_step(net)``, ``change()`` before call ``at``:
    each call's loss and the final parameters equal bit for bit. Returns the traced."""
    eager_net, traced_net = net(), net()
    eager, traced = make_step(eager_net), gs.trace(make_step(traced_net))
    for k, (x, y) in enumerate(batches(calls)):
        if k == at:
            change()
        want, got = eager(x, y), traced(x, y)
        assert got.data.tobytes() == want.data.tobytes(), f"call {k}"
    for p, q in zip(traced_net.parameters(), eager_net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
    assert traced.replays >= 2  # the calls between changes replay
    return traced
