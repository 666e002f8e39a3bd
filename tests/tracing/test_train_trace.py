"""``gradsight train`` traces its step by default; --no-trace gives the same numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from tests.cli.conftest import run_cli

import gradsight as gs
from gradsight.tracing import training_step


@pytest.mark.parametrize("data, extra", [("xor", ["--epochs", "20"]), ("moons", ["--epochs", "2"])])
def test_train_traced_and_untraced_print_the_same(tmp_path, data, extra):
    outs = []
    for flag in ("--trace", "--no-trace"):
        res = run_cli("train", data, *extra, flag, "--optimizer", "sgd", cwd=tmp_path)
        assert res.rc == 0, res.err
        # every line but the one timing the steps (rows per second differ run to run)
        outs.append([line for line in res.out.splitlines() if "rows/s" not in line])
    assert outs[0] == outs[1]
    assert any(line.startswith("final") for line in outs[0]), outs[0]


def test_training_step_replays_and_falls_back_when_refused():
    gs.manual_seed(0)
    net = gs.nn.Linear(2, 1)
    opt = gs.optim.Adam(net.parameters(), lr=0.01)
    step = training_step(net, gs.nn.functional.mse_loss, opt)
    x, y = gs.tensor(np.ones((3, 2))), np.zeros((3, 1))
    for _ in range(4):
        step(x, y)
    assert step.traced.replays == 2  # traced twice: no Adam state, then with it
    net.weight.register_hook(lambda g: g)  # the next replay's guard fails, retracing refuses
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = step(x, y)
    assert any("untraced" in str(w.message) for w in caught)
    assert np.isfinite(loss.item())
    assert isinstance(net.weight.data, np.ndarray) and net.weight.grad is not None
