"""Random training steps, traced and eager side by side: equal bit for bit.

Hypothesis draws the network (widths, activations, dtype), the loss, the
optimizer and its settings, the batch sizes of successive calls (so guards
retrace and programs alternate) and whether the step zeroes gradients; the
traced loop must give exactly the eager loop's losses, parameters, gradients
and optimizer state after every call.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradsight as gs

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

F = gs.nn.functional
ACTIVATIONS = ["relu", "sigmoid", "tanh"]
LOSSES = ["mse", "cross_entropy", "bce_logits", "bce"]


@st.composite
def configs(draw):
    widths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    loss = draw(st.sampled_from(LOSSES))
    classes = draw(st.integers(2, 4)) if loss == "cross_entropy" else 1
    return {
        "sizes": [draw(st.integers(1, 5))] + widths + [classes],
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "dtype": draw(st.sampled_from(["float64", "float32"])),
        "loss": loss,
        "optimizer": draw(st.sampled_from(["sgd", "momentum", "nesterov", "adam"])),
        "weight_decay": draw(st.sampled_from([0.0, 0.01])),
        "batches": draw(st.lists(st.integers(1, 5), min_size=2, max_size=7)),
        "zero_grad": draw(st.booleans()),
        "manual": draw(st.booleans()),  # p -= lr * p.grad under no_grad instead of the optimizer
        "returns": draw(st.sampled_from(["loss", "tuple"])),
        "seed": draw(st.integers(0, 2**16)),
    }


def _optimizer(cfg, params):
    wd = cfg["weight_decay"]
    if cfg["optimizer"] == "adam":
        return gs.optim.Adam(params, lr=0.01, weight_decay=wd)
    mu = 0.0 if cfg["optimizer"] == "sgd" else 0.9
    return gs.optim.SGD(
        params, lr=0.1, momentum=mu, weight_decay=wd, nesterov=cfg["optimizer"] == "nesterov"
    )


def _data(cfg, rows, rng):
    x = rng.standard_normal((rows, cfg["sizes"][0])).astype(cfg["dtype"])
    if cfg["loss"] == "cross_entropy":
        y = rng.integers(0, cfg["sizes"][-1], rows)
    elif cfg["loss"] in ("bce_logits", "bce"):
        y = rng.integers(0, 2, (rows, 1)).astype(cfg["dtype"])
    else:
        y = rng.standard_normal((rows, 1)).astype(cfg["dtype"])
    return gs.tensor(x), gs.tensor(y)


def _run(cfg, traced: bool):
    gs.manual_seed(cfg["seed"])
    output = "sigmoid" if cfg["loss"] == "bce" else None
    net = gs.nn.MLP(
        cfg["sizes"], activation=cfg["activation"], output_activation=output, dtype=cfg["dtype"]
    )
    params = list(net.parameters())
    opt = _optimizer(cfg, net.parameters())
    loss_fn = {
        "mse": F.mse_loss,
        "cross_entropy": F.cross_entropy,
        "bce_logits": F.binary_cross_entropy_with_logits,
        "bce": F.binary_cross_entropy,
    }[cfg["loss"]]

    def step(x, y):
        if cfg["zero_grad"]:
            opt.zero_grad()
        out = net(x)
        loss = loss_fn(out, y)
        loss.backward()
        if cfg["manual"]:
            with gs.no_grad():
                for p in params:
                    p -= 0.05 * p.grad
        else:
            opt.step()
        return (loss, out) if cfg["returns"] == "tuple" else loss

    run = gs.trace(step) if traced else step
    rng = np.random.default_rng(cfg["seed"])
    history = []
    for rows in cfg["batches"]:
        x, y = _data(cfg, rows, rng)
        got = run(x, y)
        loss = (got[0] if isinstance(got, tuple) else got).item()
        values = [p.numpy().copy() for p in net.parameters()]
        grads = [None if p.grad is None else p.grad.numpy().copy() for p in net.parameters()]
        state = [
            {k: np.array(v, copy=True) for k, v in opt.state.get(p, {}).items()}
            for p in net.parameters()
        ]
        history.append((loss, values, grads, state))
    return history


@settings(max_examples=300 if os.environ.get("GS_SWEEP") == "deep" else 40, deadline=None)
@given(configs())
def test_random_steps_traced_equal_eager_bit_for_bit(cfg):
    eager, traced = _run(cfg, False), _run(cfg, True)
    for (le, pe, ge, se), (lt, pt, gt, st_) in zip(eager, traced):
        assert le == lt or (le != le and lt != lt)
        for a, b in zip(
            pe + [g for g in ge if g is not None], pt + [g for g in gt if g is not None]
        ):
            np.testing.assert_array_equal(a, b)
        assert [g is None for g in ge] == [g is None for g in gt]
        for a, b in zip(se, st_):
            assert a.keys() == b.keys()
            for k in a:
                np.testing.assert_array_equal(a[k], b[k])
