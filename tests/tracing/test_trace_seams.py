"""gs.trace changes nothing in gradsight while it traces: the engine asks its declared
seams (gradsight._core.policy), the helpers take traced arrays as written, and
gs.rand/gs.randn in a step are program inputs drawn afresh on every replay."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import gradsight as gs
from gradsight import sin  # a name imported directly: no escape from the trace
from gradsight._core import policy

DATA = np.random.default_rng(7)


def _batches(n, shape=(8, 3), seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape), rng.standard_normal((shape[0], 2))) for _ in range(n)]


# ------------------------------------------------------------------ (a) no swapped attribute
def _snapshot() -> dict:
    """Every attribute of every loaded gradsight module and of every class defined in
    one, by identity (the objects themselves: an id could be reused)."""
    snap = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name == "gradsight" or name.startswith("gradsight.")):
            continue
        for key, value in list(vars(mod).items()):
            snap[(name, key)] = value
            if isinstance(value, type) and value.__module__ == name:
                for attr, member in list(vars(value).items()):
                    snap[(name, value.__qualname__, attr)] = member
    return snap


def _changed(before: dict, now: dict) -> list:
    changed = [k for k, v in before.items() if k not in now or now[k] is not v]
    return changed + [k for k in now if k not in before]


class _Spy:
    """Calls ``check()`` from inside the step: the snapshot while it runs (traced or not)."""

    def __init__(self):
        self.before = None
        self.seen = []
        self.while_traced = []  # checks made inside a tracing call (its handler installed)

    def check(self) -> None:
        # in a thread of its own: gs.trace follows the step's code (and would guard the
        # snapshots' reads of every module), not another thread's
        looker = threading.Thread(target=self._look)
        looker.start()
        looker.join()

    def _look(self) -> None:
        if self.before is not None:
            self.seen.append(_changed(self.before, _snapshot()))
            if policy.HANDLERS:
                self.while_traced.append(True)


class _RunningMean(gs.nn.Module):
    """A BatchNorm-style layer: a running statistic kept as a buffer, updated in place."""

    def __init__(self, n, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.running_mean = gs.zeros(n)

    def forward(self, x):
        mean = x.mean(axis=0)
        with gs.no_grad():
            self.running_mean.mul_(1 - self.momentum)
            self.running_mean.add_(self.momentum * mean)
        return x - mean


def _sgd_momentum(spy):
    net = gs.nn.Sequential(gs.nn.Linear(3, 5), gs.nn.Tanh(), gs.nn.Linear(5, 2))
    opt = gs.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = ((net(gs.tensor(x)) - y) ** 2).mean()
        loss.backward()
        spy.check()
        opt.step()
        spy.check()
        return loss

    return step, net


def _adam(spy):
    net = gs.nn.Sequential(gs.nn.Linear(3, 4), gs.nn.ReLU(), gs.nn.Linear(4, 2))
    opt = gs.optim.Adam(net.parameters(), lr=0.01)

    def step(x, y):
        opt.zero_grad()
        loss = ((net(gs.tensor(x)) - y) ** 2).sum() / len(x)
        loss.backward()
        opt.step()
        spy.check()
        return loss

    return step, net


def _buffers(spy):
    norm = _RunningMean(3)
    lin = gs.nn.Linear(3, 2)
    net = gs.nn.Sequential(norm, lin)
    opt = gs.optim.SGD(net.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = ((net(gs.tensor(x)) - y) ** 2).mean()
        loss.backward()
        spy.check()
        opt.step()
        return loss

    return step, net


def _grad_returning(spy):
    w = gs.tensor(DATA.standard_normal((3, 2)), requires_grad=True)
    b = gs.zeros(2, requires_grad=True)

    def step(x, y):
        loss = ((gs.tensor(x) @ w + b - y) ** 2).mean()
        gw, gb = gs.autograd.grad(loss, [w, b])
        spy.check()
        with gs.no_grad():
            w.sub_(0.1 * gw)
            b.sub_(0.1 * gb)
        return loss, gw

    return step, None


def _dropout(spy):
    lin1, lin2 = gs.nn.Linear(3, 6), gs.nn.Linear(6, 2)
    opt = gs.optim.SGD([*lin1.parameters(), *lin2.parameters()], lr=0.1)

    def step(x, y):
        opt.zero_grad()
        h = lin1(gs.tensor(x)).relu()
        mask = (gs.rand(*h.shape) > 0.5) / (1 - 0.5)
        spy.check()
        loss = ((lin2(h * mask) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step, None


@pytest.mark.parametrize("make", [_sgd_momentum, _adam, _buffers, _grad_returning, _dropout])
def test_nothing_in_gradsight_is_replaced_while_a_step_is_traced(make):
    gs.manual_seed(0)
    spy = _Spy()
    step, _ = make(spy)
    batches = _batches(4)
    step(*batches[0])  # eagerly once: lazy imports and caches settle
    traced = gs.trace(step)
    spy.before = _snapshot()
    for x, y in batches[1:]:
        traced(x, y)
    assert traced.traces == 1 and traced.replays >= 1
    assert spy.while_traced, "the step body never ran while traced"
    assert spy.seen == [[]] * len(spy.seen), spy.seen
    assert not _changed(spy.before, _snapshot())


def test_the_spy_sees_a_swap_when_there_is_one(monkeypatch):
    # the test above can fail: an attribute rebound during the call is reported
    spy = _Spy()
    step, _ = _sgd_momentum(spy)
    step(*_batches(1)[0])
    spy.before = _snapshot()
    monkeypatch.setattr(gs.creation, "_generator", np.random.default_rng(1))
    step(*_batches(1)[0])
    assert spy.seen[0] == [("gradsight.creation", "_generator")]


# ------------------------------------------------------------------ (b) names imported directly
def _sin_exp_step(w, opt):
    def step(batch):
        opt.zero_grad()
        loss = (sin(batch) @ w).sum() + (gs.exp(batch) @ w).mean() + gs.sin(batch).mean()
        loss.backward()
        opt.step()
        return loss

    return step


def test_a_function_imported_directly_traces_and_replays_with_new_data():
    start = DATA.standard_normal((3, 2))
    results = []
    for traced in (False, True):
        w = gs.tensor(start, requires_grad=True)
        opt = gs.optim.SGD([w], lr=0.01)
        step = _sin_exp_step(w, opt)
        step = gs.trace(step) if traced else step
        rng = np.random.default_rng(3)
        losses = [step(rng.standard_normal((5, 3))).item() for _ in range(5)]
        results.append((losses, w.numpy().copy()))
        if traced:
            assert step.replays >= 3  # (a second trace once w.grad exists)
            assert "np.sin(batch)" in step.source and "np.exp(batch)" in step.source
    (eager_losses, eager_w), (traced_losses, traced_w) = results
    assert traced_losses == eager_losses  # bit for bit, and a new batch on every call
    assert len(set(traced_losses)) == 5
    assert traced_w.tobytes() == eager_w.tobytes()


# ------------------------------------------------------------------ (c) the refusals that stay
def test_a_users_own_optimizer_the_trace_did_not_find_is_refused():
    class SignSGD(gs.optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, {"lr": lr})

        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    with gs.no_grad():
                        p.sub_(group["lr"] * p.grad.sign())

    net = gs.nn.Linear(3, 2)
    hidden = {"deep": {"opt": SignSGD(net.parameters(), lr=0.1)}}

    def step(x, y):
        opt = hidden["deep"]["opt"]
        opt.zero_grad()
        loss = ((net(gs.tensor(x)) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    with pytest.raises(gs.TraceError, match=r"SignSGD.step\(\) on an optimizer gs.trace did not"):
        gs.trace(step)(*_batches(1)[0])


def test_numpy_of_a_traced_tensor_is_refused_as_a_value_read():
    net = gs.nn.Linear(3, 2)
    opt = gs.optim.SGD(net.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = ((net(gs.tensor(x)) - y) ** 2).mean()
        loss.backward()
        logged = loss.numpy()  # noqa: F841 - a value read inside the step
        opt.step()
        return loss

    before = [p.numpy().copy() for p in net.parameters()]
    with pytest.raises(gs.TraceError, match=r"\.numpy\(\) reads the value"):
        gs.trace(step)(*_batches(1)[0])
    assert all((p.numpy() == b).all() for p, b in zip(net.parameters(), before))


# ------------------------------------------------------------------ (4) gs.rand: a program input
class Config:
    hidden = 32
    p_drop = 0.25
    lr = 0.05
    steps = 20
    batch = 16


def _dropout_mlp_run(traced, verify=None, dtype=np.float64):
    """A dropout MLP trained as people write it: inverted dropout with gs.rand."""
    gs.manual_seed(1234)
    fc1 = gs.nn.Linear(4, Config.hidden, dtype=dtype)
    fc2 = gs.nn.Linear(Config.hidden, 3, dtype=dtype)
    params = [*fc1.parameters(), *fc2.parameters()]
    opt = gs.optim.SGD(params, lr=Config.lr, momentum=0.9)

    def train_step(x, y):
        opt.zero_grad()
        h = fc1(x).relu()
        mask = (gs.rand(*h.shape) > Config.p_drop) / (1 - Config.p_drop)
        h = h * mask
        logits = fc2(h)
        loss = gs.nn.functional.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        return loss

    step = gs.trace(train_step, verify=verify) if traced else train_step
    rng = np.random.default_rng(99)
    losses = []
    for _ in range(Config.steps):
        x = gs.tensor(rng.standard_normal((Config.batch, 4)).astype(dtype))
        y = rng.integers(0, 3, Config.batch)
        losses.append(step(x, y).item())
    state = [p.numpy().copy() for p in params]
    return losses, state, step, gs.creation.generator().bit_generator.state


@pytest.mark.parametrize("verify", [None, "all"])
def test_dropout_with_gs_rand_replays_a_fresh_draw_bit_for_bit(verify):
    eager_losses, eager_state, _, eager_gen = _dropout_mlp_run(False)
    losses, state, traced, gen = _dropout_mlp_run(True, verify=verify)
    # (a second trace once the gradients and momentum buffers exist)
    assert traced.traces <= 2 and traced.replays == Config.steps - traced.traces
    assert traced.eager_calls == 0
    if verify == "all":
        assert traced.verified == traced.replays
    assert losses == eager_losses  # bit for bit, every step
    assert all(a.tobytes() == b.tobytes() for a, b in zip(state, eager_state))
    assert gen == eager_gen  # the generator drew exactly what the eager loop drew
    assert len(set(losses)) == Config.steps


def test_a_float32_draw_is_cast_as_the_eager_draw():
    eager_losses, eager_state, _, _ = _dropout_mlp_run(False, dtype=np.float32)
    losses, state, _, _ = _dropout_mlp_run(True, dtype=np.float32)
    assert losses == eager_losses
    assert all(a.tobytes() == b.tobytes() for a, b in zip(state, eager_state))


def test_the_draw_is_a_documented_parameter_of_the_standalone_program():
    _, _, traced, _ = _dropout_mlp_run(True)
    source = traced.source
    head = source[: source.index("def step(")]
    assert f"rand0: a fresh draw of gs.rand({Config.batch}, {Config.hidden}) on each call" in head
    signature = source[source.index("def step(") :].split("\n")[0]
    assert "rand0" in signature
    # the program runs on its own with a mask drawn by the caller: the same as a replay
    ns: dict = {}
    exec(compile(source, "<traced>", "exec"), ns)
    assert callable(ns["step"])


def test_randn_noise_and_two_draws_keep_their_order():
    def run(traced):
        gs.manual_seed(5)
        w = gs.randn(3, 2, requires_grad=True)
        opt = gs.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            noisy = gs.tensor(x) + 0.1 * gs.randn(*x.shape)
            keep = gs.rand(x.shape[0], 2) > 0.3
            loss = ((noisy @ w) * keep).sum()
            loss.backward()
            opt.step()
            return loss

        step = gs.trace(step) if traced else step
        rng = np.random.default_rng(0)
        losses = [step(rng.standard_normal((4, 3))).item() for _ in range(6)]
        return losses, w.numpy().copy()

    (le, we), (lt, wt) = run(False), run(True)
    assert le == lt and we.tobytes() == wt.tobytes()


def test_draws_stay_in_step_with_eager_across_retraces():
    # an index argument is guarded by value: each new one traces again (a tracing call
    # draws as the eager step does), each seen one replays (drawing afresh)
    def run(traced):
        gs.manual_seed(11)
        w = gs.ones(3, requires_grad=True)
        opt = gs.optim.SGD([w], lr=0.1)

        def step(x, i):
            opt.zero_grad()
            loss = (gs.tensor(x)[i] * w * gs.rand(3)).sum()
            loss.backward()
            opt.step()
            return loss

        step = gs.trace(step) if traced else step
        rng = np.random.default_rng(0)
        out = [step(rng.standard_normal((4, 3)), i % 3).item() for i in range(9)]
        if traced:
            assert step.traces == 4 and step.replays == 5  # (i = 0 again once .grad exists)
        return out, w.numpy().copy(), gs.creation.generator().bit_generator.state

    (le, we, ge), (lt, wt, gt) = run(False), run(True)
    assert le == lt and we.tobytes() == wt.tobytes() and ge == gt


def test_a_replay_sent_back_to_the_eager_step_draws_what_the_eager_step_draws():
    # a bad class index on one call: the replay's recorded check goes the other way, the
    # call runs eagerly (and raises); the replay's draws for it were put back first
    def run(traced):
        gs.manual_seed(21)
        fc = gs.nn.Linear(4, 3)
        opt = gs.optim.SGD(fc.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            x = gs.tensor(x)
            x = x * (gs.rand(*x.shape) > 0.2) / 0.8
            loss = gs.nn.functional.cross_entropy(fc(x), y)
            loss.backward()
            opt.step()
            return loss

        step = gs.trace(step) if traced else step
        rng = np.random.default_rng(4)
        losses = []
        for k in range(10):
            x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
            if k == 6:
                y[2] = 7
                with pytest.raises(ValueError, match="not a class index"):
                    step(x, y)
                continue
            losses.append(step(x, y).item())
        if traced:
            assert step.eager_calls == 1 and step.replays >= 5
        state = [p.numpy().copy() for p in fc.parameters()]
        return losses, state, gs.creation.generator().bit_generator.state

    (le, se, ge), (lt, st, gt) = run(False), run(True)
    assert le == lt and ge == gt
    assert all(a.tobytes() == b.tobytes() for a, b in zip(se, st))


def test_another_thread_keeps_the_eager_rules_while_a_step_is_traced():
    import threading

    def side_job(out):
        try:
            out.append((*_side_job(), bool(policy.HANDLERS)))
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            out.append(err)

    def _side_job():
        # eager work in another thread, run while the handler is installed: its hook runs,
        # its gradients are stored and its optimizer steps as without a trace
        w = gs.tensor(np.linspace(-1.0, 1.0, 6).reshape(3, 2), requires_grad=True)
        seen = []
        w.register_hook(lambda g: seen.append(g.numpy().copy()))
        opt = gs.optim.SGD([w], lr=0.5, momentum=0.9)
        for _ in range(2):
            opt.zero_grad()
            (gs.tensor(np.ones((4, 3))) @ w).tanh().sum().backward()
            opt.step()
        return w.numpy().copy(), len(seen), w.grad.numpy().copy()

    alone = []
    side_job(alone)
    net = gs.nn.Linear(3, 2)
    opt = gs.optim.SGD(net.parameters(), lr=0.1)
    during = []

    def side_job_during():  # (the step hands the thread a function: no list of its own)
        side_job(during)

    def step(x, y):
        opt.zero_grad()
        loss = ((net(gs.tensor(x)) - y) ** 2).mean()
        loss.backward()
        worker = threading.Thread(target=side_job_during)
        worker.start()
        worker.join()
        opt.step()
        return loss

    traced = gs.trace(step)
    for x, y in _batches(3):
        traced(x, y)
    assert traced.replays >= 1
    assert not [d for d in during if isinstance(d, Exception)], during
    assert any(installed for *_, installed in during)  # one ran while the step was traced
    w1, n1, g1, _ = alone[0]
    for w2, n2, g2, _ in during:
        assert n1 == n2 == 2 and w1.tobytes() == w2.tobytes() and g1.tobytes() == g2.tobytes()


def test_a_draw_written_in_place_replays_and_verifies():
    # the drawn tensor is the step's own: scaled in place, it is not state to compare
    def run(traced):
        gs.manual_seed(2)
        w = gs.ones(4, requires_grad=True)
        opt = gs.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            noise = gs.randn(4)
            with gs.no_grad():
                noise.mul_(0.5)
            loss = ((gs.tensor(x) + noise) * w).sum()
            loss.backward()
            opt.step()
            return loss

        step = gs.trace(step, verify="all") if traced else step
        rng = np.random.default_rng(1)
        losses = [step(rng.standard_normal(4)).item() for _ in range(5)]
        if traced:
            assert step.verified >= 3
        return losses, w.numpy().copy(), gs.creation.generator().bit_generator.state

    (le, we, ge), (lt, wt, gt) = run(False), run(True)
    assert le == lt and we.tobytes() == wt.tobytes() and ge == gt


class _Subclass(np.ndarray):
    """A user's ndarray subclass."""


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.ma.masked_array([1.0, 2.0], mask=[False, True]),
        lambda: np.array([1.0, 2.0]).view(_Subclass),
    ],
)
def test_ndarray_subclasses_still_become_plain_arrays(make):
    # the helpers keep other dispatching array types (a traced array) as they are, but an
    # ndarray subclass is converted as before: tensors hold plain ndarrays
    assert type(gs.tensor(make()).data) is np.ndarray
    assert type(gs.exp(make()).data) is np.ndarray
    assert type((gs.ones(2) + make()).data) is np.ndarray
