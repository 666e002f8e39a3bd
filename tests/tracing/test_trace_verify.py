"""gs.trace(step, verify=...): chosen replays run beside the eager step, compared bit for bit.

Also: a refused tracing call puts the state back (nothing half-updated), and
gradsight train's step falls back to eager after a refusal without running twice.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradsight as gs
from gradsight.tracing import TraceError, training_step
from gradsight.tracing.verify import ENV


def _model(seed=0):
    gs.manual_seed(seed)
    net = gs.nn.Sequential(gs.nn.Linear(3, 5), gs.nn.ReLU(), gs.nn.Linear(5, 2))
    opt = gs.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    return net, opt


def _train_step(net, opt, say=False):
    def step(x, y):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if say:  # a side effect of the Python code: happens once per call
            print("called")  # (appending to a list of the caller's would be a write: retraced)
        return loss

    return step


def _batches(n, rows=4):
    rng = np.random.default_rng(1)
    return [(rng.normal(size=(rows, 3)), rng.normal(size=(rows, 2))) for _ in range(n)]


def _same_state(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert p.data.tobytes() == q.data.tobytes(), name


@pytest.mark.parametrize(
    "verify, expected",
    [("all", [2, 3, 4, 5]), ("first", [2]), (2, [2, 4]), (False, [])],
)
def test_verify_modes_check_the_chosen_replays(monkeypatch, capsys, verify, expected):
    monkeypatch.delenv(ENV, raising=False)
    eager_net, eager_opt = _model()
    net, opt = _model()
    eager = _train_step(eager_net, eager_opt)
    traced = gs.trace(_train_step(net, opt, say=True), verify=verify)
    checked = []
    for k, (x, y) in enumerate(_batches(6)):
        before = traced.verified
        want, got = eager(x, y), traced(x, y)
        if traced.verified > before:
            checked.append(k)
        assert got.data.tobytes() == want.data.tobytes()
    # calls 0 and 1 trace (without, then with momentum buffers); replays are calls 2-5
    assert checked == expected
    if verify == "all":  # every call ran the step's Python once: its effects happen once
        assert capsys.readouterr().out.count("called") == 6
    assert traced.replays == 4
    _same_state(net, eager_net)


def test_verify_first_checks_the_first_replay_after_each_trace(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    net, opt = _model()
    traced = gs.trace(_train_step(net, opt), verify="first")
    sizes = [4, 4, 4, 3, 3, 3, 4]  # a second shape: a second program, its own first replay
    for x, y in (_batches(1, rows)[0] for rows in sizes):
        traced(x, y)
    assert traced.traces == 3 and traced.verified == 2 and traced.replays == 4


def test_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv(ENV, "3")
    net, opt = _model()
    traced = gs.trace(_train_step(net, opt))
    for x, y in _batches(8):
        traced(x, y)
    assert traced.verified == 2  # replays 0 and 3 of 6
    monkeypatch.setenv(ENV, "sometimes")
    net, opt = _model()
    with pytest.raises(ValueError, match="GRADSIGHT_TRACE_VERIFY"):
        gs.trace(_train_step(net, opt))(*_batches(1)[0])


@pytest.mark.parametrize("bad", ["often", 0, -2, 1.5, True + 1j])
def test_bad_verify_values_are_refused(bad):
    with pytest.raises(ValueError, match="verify must be"):
        gs.trace(lambda: None, verify=bad)


def test_a_wrong_replay_is_caught_and_the_eager_result_kept(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    eager_net, eager_opt = _model()
    net, opt = _model()
    eager = _train_step(eager_net, eager_opt)
    traced = gs.trace(_train_step(net, opt), verify="all")
    batches = _batches(3)
    for x, y in batches[:2]:
        eager(x, y), traced(x, y)
    program = traced.entries[0][1]
    right = program.fn

    def off_by_one_ulp(*args, **kwargs):  # a program that parts from the eager step
        outs = list(right(*args, **kwargs))
        k = next(i for i, (kind, _) in enumerate(program.outputs) if kind == "slot")
        outs[k] = np.nextafter(outs[k], np.inf)
        return tuple(outs)

    monkeypatch.setattr(program, "fn", off_by_one_ulp)
    x, y = batches[2]
    want = eager(x, y)
    with pytest.raises(TraceError, match="differs from the eager step") as info:
        traced(x, y)
    assert "largest difference" in str(info.value)
    assert info.value.eager_result.data.tobytes() == want.data.tobytes()
    _same_state(net, eager_net)  # the eager step's results were kept, applied once
    assert traced.entries == [] and traced.gave_up  # never replayed again


def _snapshot(net, opt):
    params = [p.data.copy() for p in net.parameters()]
    grads = [None if p.grad is None else p.grad.data.copy() for p in net.parameters()]
    state = {id(p): {k: np.copy(v) for k, v in st.items()} for p, st in opt.state.items()}
    return params, grads, state


def _assert_same_snapshot(a, b):  # parameters and optimizer state (gradients may differ)
    for u, v in zip(a[0], b[0]):
        assert u.tobytes() == v.tobytes()
    assert a[2].keys() == b[2].keys()
    for k in a[2]:
        for name in a[2][k]:
            assert np.array_equal(a[2][k][name], b[2][k][name]), name


def test_a_refusal_after_the_update_puts_the_state_back():
    net, opt = _model()
    x, y = _batches(1)[0]
    _train_step(net, opt)(x, y)  # momentum buffers exist: the refusal would change them

    def step_reading_the_loss(x, y):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.item()  # a value read: refused, after the update already ran

    before = _snapshot(net, opt)
    with pytest.raises(TraceError, match="put the parameters and optimizer state back"):
        gs.trace(step_reading_the_loss)(x, y)
    _assert_same_snapshot(_snapshot(net, opt), before)


def test_training_step_falls_back_once_and_matches_eager():
    eager_net, eager_opt = _model()
    net, opt = _model()
    batches = _batches(4)

    def loss_reading(pred, y):
        loss = ((pred - y) ** 2).mean()
        if loss.item() > 1e9:  # a value read inside the loss: the trace is refused
            raise RuntimeError("diverged")
        return loss

    eager = training_step(eager_net, loss_reading, eager_opt, trace_it=False)
    step = training_step(net, loss_reading, opt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, y in batches:
            want, got = eager(x, y), step(x, y)
            assert got.data.tobytes() == want.data.tobytes()
    assert len([w for w in caught if "untraced" in str(w.message)]) == 1
    assert "\n" not in str(caught[0].message)
    _same_state(net, eager_net)


def test_training_step_gives_the_fallback_line_to_its_callback():
    # gradsight train prints it as one "gradsight: warning: ..." line
    net, opt = _model()

    def loss_reading(pred, y):
        loss = ((pred - y) ** 2).mean()
        assert loss.item() < 1e9  # a value read: the trace is refused
        return loss

    lines = []
    step = training_step(net, loss_reading, opt, on_fallback=lines.append)
    for x, y in _batches(3):
        step(x, y)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("gs.trace: running the step untraced: item() reads the value")
