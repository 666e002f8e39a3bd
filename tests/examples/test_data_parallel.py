"""examples/data_parallel.py: two processes (gloo on 127.0.0.1) end with identical
parameters, equal to single-process gradsight training on the same global batches."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradsight as gs

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "data_parallel.py"
WARMUP, STEPS, BATCH, SAMPLES, LR, MOMENTUM, SEED = 5, 30, 32, 96, 0.2, 0.9, 3


def _make_data():
    spec = importlib.util.spec_from_file_location("example_data_parallel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_data(SAMPLES, SEED)


def _single_process(phases: list[int]) -> dict:
    """gradsight alone: SGD with momentum, global batch s = rows s*B .. s*B+B-1 (mod n).

    Each phase starts a new optimizer (the momentum buffer restarts), as the
    script does when it hands the model over to PyTorch after the warm-up.
    """
    X, y = _make_data()
    gs.manual_seed(SEED)
    model = gs.nn.MLP([2, 16, 1], activation="tanh")
    loss_fn = gs.nn.functional.binary_cross_entropy_with_logits
    first = 0
    for n_steps in phases:
        opt = gs.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        for step in range(first, first + n_steps):
            rows = (step * BATCH + np.arange(BATCH)) % SAMPLES
            opt.zero_grad()
            loss_fn(model(gs.tensor(X[rows])), y[rows]).backward()
            opt.step()
        first += n_steps
    return model.state_dict()


@pytest.mark.skipif(
    not torch.distributed.is_available(), reason="this torch build has no torch.distributed"
)
def test_two_gloo_ranks_match_each_other_and_single_process_training(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    args = [f"--warmup={WARMUP}", f"--steps={STEPS}", f"--batch-size={BATCH}"]
    args += [f"--samples={SAMPLES}", f"--lr={LR}", f"--momentum={MOMENTUM}", f"--seed={SEED}"]
    res = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--world-size=2", f"--out={tmp_path}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "largest difference between ranks: 0" in res.stdout
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    single, before = _single_process([WARMUP, STEPS]), _single_process([WARMUP])
    assert list(rank0) == list(rank1) == list(single)
    for k, v in single.items():
        assert torch.equal(rank0[k], rank1[k]), k  # DDP: the very same update on both ranks
        assert rank0[k].dtype == torch.float64
        assert not np.allclose(v, before[k])  # the data-parallel steps moved every parameter
        np.testing.assert_allclose(rank0[k].numpy(), v, rtol=1e-12, atol=1e-12, err_msg=k)
