"""Adam's bias corrections in a traced step are Python floats, as in the eager step.

Eagerly, Adam computes ``1 - beta1 ** t`` with ``t`` a Python int (as PyTorch's
non-capturable Adam does): C's ``pow``. A traced step count computed with
``np.power`` instead differs from it in the last bit for some step counts on
some platforms, so a retrace at such a step (a smaller last batch) would part
the traced run from the eager one. Which step counts differ depends on the
platform's libm and NumPy's SIMD loops: the tests look for one at run time.
"""

from __future__ import annotations

import numpy as np
from tests.cli.conftest import run_cli

import gradsight as gs
from gradsight.tracing.recorder import Recorder

BETAS = (0.9, 0.999)


def _differs(beta: float, t: int) -> bool:
    return float(np.power(beta, np.asarray(t))) != beta**t


def _parting_step(low: int = 3, high: int = 3000) -> int | None:
    """The first step count in [low, high) where np.power and ``**`` differ here."""
    return next((t for t in range(low, high) if any(_differs(b, t) for b in BETAS)), None)


PARTING = _parting_step()
RETRACE_AT = PARTING or 23  # (none on this platform: a retrace at an ordinary step)


def _mlp():
    gs.manual_seed(3)
    net = gs.nn.Sequential(gs.nn.Linear(4, 8), gs.nn.Tanh(), gs.nn.Linear(8, 3))
    return net, gs.optim.Adam(net.parameters(), lr=0.01, betas=BETAS)


def _step_for(net, opt):
    def step(x, y):
        opt.zero_grad()
        loss = gs.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def test_adam_retrace_at_a_parting_step_count_matches_eager_bit_for_bit():
    rng = np.random.default_rng(0)
    x_full, y_full = rng.normal(size=(16, 4)), rng.integers(0, 3, 16)
    x_last, y_last = x_full[:5], y_full[:5]  # a smaller last batch: the program retraces
    eager_net, eager_opt = _mlp()
    traced_net, traced_opt = _mlp()
    eager, traced = _step_for(eager_net, eager_opt), gs.trace(_step_for(traced_net, traced_opt))
    for t in range(1, RETRACE_AT + 4):
        x, y = (x_last, y_last) if t == RETRACE_AT else (x_full, y_full)
        want, got = eager(x, y), traced(x, y)
        assert got.data.tobytes() == want.data.tobytes(), f"loss at step {t}"
    assert traced.traces == 3  # no state, with state, the small batch
    for (name, p), q in zip(traced_net.named_parameters(), eager_net.parameters()):
        assert p.data.tobytes() == q.data.tobytes(), name
        st, se = traced_opt.state[p], eager_opt.state[q]
        assert st["step"] == se["step"] == RETRACE_AT + 3 and type(st["step"]) is int
        for key in ("exp_avg", "exp_avg_sq"):
            assert st[key].tobytes() == se[key].tobytes(), (name, key)


def test_python_numbers_in_a_trace_follow_python_arithmetic():
    # the bits of a Python-number operation traced: 2**53 + 1 is exact as an int and
    # not as a float64, so Python's int / int and NumPy's differ on every platform
    rec = Recorder()
    t = rec.sym(np.asarray(2**53 + 1), "step")
    t.var.weak = t.var.is_int = True  # as an optimizer's int step count is traced
    third = t / 3
    assert third.value.item() == (2**53 + 1) / 3 != float(np.true_divide(2**53 + 1, 3))
    power = 0.999**t
    assert power.value.item() == 0.999 ** (2**53 + 1)


def _digits_like_csv(path, rows: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 3))
    label = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    lines = ["a,b,c,y"] + [f"{a:.6f},{b:.6f},{c:.6f},{k}" for (a, b, c), k in zip(x, label)]
    path.write_text("\n".join(lines) + "\n")


def test_cli_train_with_adam_and_a_smaller_last_batch_matches_no_trace(tmp_path):
    # batches of 2 with one row left over: the last batch of the first epoch is Adam's
    # step RETRACE_AT, and the retrace for its shape happens there
    data = tmp_path / "rows.csv"
    _digits_like_csv(data, 2 * RETRACE_AT - 1)
    saved = {}
    for flag in ("--trace", "--no-trace"):
        out = tmp_path / f"model{flag}.npz"
        res = run_cli(
            "train", data, "--target", "y", "--batch-size", "2", "--epochs", "2",
            "--val-split", "0", "--optimizer", "adam", flag, "--save", out, cwd=tmp_path,
        )  # fmt: skip
        assert res.rc == 0, res.err
        assert "untraced" not in res.err, res.err
        with np.load(out) as f:
            saved[flag] = {k: f[k] for k in f.files}
    assert saved["--trace"].keys() == saved["--no-trace"].keys()
    params = [k for k, v in saved["--trace"].items() if v.dtype.kind == "f"]
    assert params, saved["--trace"].keys()
    for key in params:
        assert saved["--trace"][key].tobytes() == saved["--no-trace"][key].tobytes(), key


def test_lr_changed_each_epoch_and_resumed_from_a_checkpoint_matches_eager():
    # each epoch sets param_groups[0]["lr"] (a retrace, mid-training); after two epochs
    # the run is saved and resumed into a fresh model and optimizer (Adam's step counts
    # come back from the state dict), then trained on: traced and eager bit for bit
    rng = np.random.default_rng(2)
    batches = [(rng.normal(size=(8, 4)), rng.integers(0, 3, 8)) for _ in range(5)]
    schedule = [0.02, 0.01, 0.005, 0.0025]

    def run(traced: bool):
        net, opt = _mlp()
        step = gs.trace(_step_for(net, opt)) if traced else _step_for(net, opt)
        losses = []
        for epoch, lr in enumerate(schedule):
            if epoch == 2:  # resume from a checkpoint
                saved = (net.state_dict(), opt.state_dict())
                net, opt = _mlp()
                net.load_state_dict(saved[0])
                opt.load_state_dict(saved[1])
                step = gs.trace(_step_for(net, opt)) if traced else _step_for(net, opt)
            opt.param_groups[0]["lr"] = lr
            for x, y in batches:
                losses.append(step(x, y).data.tobytes())
        return net, opt, losses

    (eager_net, eager_opt, eager_losses), (net, opt, losses) = run(False), run(True)
    assert losses == eager_losses
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
        assert opt.state[p]["step"] == eager_opt.state[q]["step"] == 4 * len(batches)
        for key in ("exp_avg", "exp_avg_sq"):
            assert opt.state[p][key].tobytes() == eager_opt.state[q][key].tobytes()
