"""Training loops as users write them, traced and eager side by side: the replay
equals the eager step bit for bit, or the call is refused with a clear TraceError."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

import gradsight as gs


def _net(dtype=np.float64, seed=0):
    gs.manual_seed(seed)
    net = gs.nn.MLP([4, 8, 3], activation="tanh")
    if dtype != np.float64:
        for p in net.parameters():
            p.data = p.data.astype(dtype)
    return net


def _batches(n, dtype=np.float64, rows=6):
    rng = np.random.default_rng(7)
    return [(rng.normal(size=(rows, 4)).astype(dtype), rng.integers(0, 3, rows)) for _ in range(n)]


def test_float32_model_with_a_numpy_schedule_and_a_snapshot_of_the_weight():
    # lr from np.linspace is a np.float64: the float32 update computes in float64 and
    # out= casts back. The snapshot keeps the weight's array held, so the update is
    # made on a copy: that copy must be float32 too, as the eager update leaves it
    schedule = np.linspace(0.1, 0.01, 3)

    def make():
        net = _net(np.float32)
        opt = gs.optim.SGD(net.parameters(), lr=float(schedule[0]), momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss

        return net, opt, step

    (eager_net, eager_opt, eager), (net, opt, traced) = make(), make()
    traced = gs.trace(traced)
    snapshots = []
    for k, (x, y) in enumerate(_batches(9, np.float32)):
        epoch = k // 3  # three batches an epoch, a new rate (a retrace) each epoch
        for o in (eager_opt, opt):
            o.param_groups[0]["lr"] = schedule[epoch]
        snapshots.append(net.layers[0].weight.data)  # held: the update copies it
        want, got = eager(gs.tensor(x), y), traced(gs.tensor(x), y)
        assert got.data.tobytes() == want.data.tobytes(), k
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert p.dtype == np.float32
        assert p.data.tobytes() == q.data.tobytes()
    assert traced.replays >= 3


def _classifier_twins(make_step):
    """(eager step, traced step, eager net, traced net) from ``make_step(net, opt)``."""
    pairs = []
    for _ in range(2):
        net = _net()
        opt = gs.optim.Adam(net.parameters(), lr=0.01)
        pairs.append((net, make_step(net, opt)))
    return pairs[0][1], gs.trace(pairs[1][1]), pairs[0][0], pairs[1][0]


def _assert_same_params(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert p.data.tobytes() == q.data.tobytes(), name


def test_losses_kept_in_a_log_list_are_arrays_and_match_eager():
    logs = {"eager": [], "traced": []}

    def make_step(net, opt, log):
        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            log.append(loss.detach())  # kept from the tracing call too
            return loss

        return step

    eager_net, traced_net = _net(), _net()
    eager_opt = gs.optim.Adam(eager_net.parameters(), lr=0.01)
    traced_opt = gs.optim.Adam(traced_net.parameters(), lr=0.01)
    eager = make_step(eager_net, eager_opt, logs["eager"])
    traced = gs.trace(make_step(traced_net, traced_opt, logs["traced"]))
    for x, y in _batches(5):
        eager(gs.tensor(x), y)
        traced(gs.tensor(x), y)  # crashed: the kept tensor held a traced array
        assert type(logs["traced"][-1].data) is np.ndarray
    assert len(logs["traced"]) == len(logs["eager"]) == 5
    for a, b in zip(logs["traced"], logs["eager"]):
        assert a.data.tobytes() == b.data.tobytes()
    _assert_same_params(traced_net, eager_net)


def test_a_prediction_kept_on_the_model_is_refused_and_put_back():
    # ``self.last_pred = pred.detach()`` in forward: a replay cannot set attributes, so
    # the next calls would have left the first call's prediction there (it crashed)
    class Classifier(gs.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = _net()
            self.last_pred = None

        def forward(self, x):
            out = self.body(x)
            self.last_pred = out.detach()  # for a progress printout after the step
            return out

    model = Classifier()
    opt = gs.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = gs.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    x, y = _batches(1)[0]
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(gs.TraceError, match="sets Classifier.last_pred to a tensor.*Return"):
        gs.trace(step)(gs.tensor(x), y)
    assert model.last_pred is None  # put back, with the parameters
    for p, b in zip(model.parameters(), before):
        assert p.data.tobytes() == b.tobytes()


class _RunningMean(gs.nn.Module):
    """Centers its input and keeps a running mean of it, as BatchNorm does."""

    def __init__(self, n, rebind=False):
        super().__init__()
        self.gamma = gs.nn.Parameter(np.ones(n))
        self.running_mean = gs.zeros(n)
        self.rebind = rebind

    def forward(self, x):
        mu = x.mean(axis=0)
        with gs.no_grad():
            if self.rebind:
                self.running_mean = self.running_mean * 0.9 + mu * 0.1
            else:
                self.running_mean *= 0.9
                self.running_mean += 0.1 * mu
        return (x - mu) * self.gamma


def _normed(rebind=False):
    gs.manual_seed(0)
    net = gs.nn.Sequential(gs.nn.Linear(4, 5), _RunningMean(5, rebind), gs.nn.Linear(5, 3))
    opt = gs.optim.SGD(net.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = gs.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return net, step


def test_running_statistic_updated_in_place_is_state_the_replay_updates():
    (eager_net, eager), (net, step) = _normed(), _normed()
    traced = gs.trace(step)
    for k, (x, y) in enumerate(_batches(5)):
        want, got = eager(gs.tensor(x), y), traced(gs.tensor(x), y)
        assert got.data.tobytes() == want.data.tobytes(), k
        assert net[1].running_mean.data.tobytes() == eager_net[1].running_mean.data.tobytes()
    assert traced.replays >= 3


def test_running_statistic_rebound_is_refused_and_put_back():
    net, step = _normed(rebind=True)
    old = net[1].running_mean
    x, y = _batches(1)[0]
    with pytest.raises(gs.TraceError, match="sets _RunningMean.running_mean to a tensor"):
        gs.trace(step)(gs.tensor(x), y)
    assert net[1].running_mean is old and not old.data.any()


def test_accuracy_and_masks_from_comparisons_are_recorded_and_replayed():
    # comparisons read no value: they were refused as value reads ("converting to a
    # NumPy array") when one side was a traced batch
    def make_step(net, opt):
        def step(x, y):
            opt.zero_grad()
            logits = net(x)
            per_row = gs.nn.functional.cross_entropy(logits, y, reduction="none")
            labelled = gs.tensor(y) > 0  # class 0 rows count half
            loss = gs.where(labelled, per_row, per_row * 0.5).mean()
            loss.backward()
            opt.step()
            correct = logits.argmax(1) == y
            return loss, correct

        return step

    eager, traced, eager_net, traced_net = _classifier_twins(make_step)
    for x, y in _batches(5):
        (want_loss, want_ok), (got_loss, got_ok) = eager(x, y), traced(x, y)
        assert got_loss.data.tobytes() == want_loss.data.tobytes()
        assert got_ok.dtype == np.bool_ and np.array_equal(got_ok.data, want_ok.data)
    assert traced.replays == 3  # traced twice: without, then with Adam's state
    _assert_same_params(traced_net, eager_net)


def _dropout_step(net, opt, draw):
    def step(x, y):
        opt.zero_grad()
        h = net.layers[0](x).tanh()
        keep = draw(h.shape) > 0.2  # inverted dropout, drawn with a NumPy or Python generator
        h = h * gs.tensor(keep) / 0.8
        loss = gs.nn.functional.cross_entropy(net.layers[2](h), y)
        loss.backward()
        opt.step()
        return loss

    return step


_RNG = np.random.default_rng(5)


@pytest.mark.parametrize(
    "draw, named",
    [
        (lambda shape: np.random.rand(*shape), "np.random"),
        (lambda shape: _RNG.random(shape), "_RNG"),
        (
            lambda shape: np.array([random.random() for _ in range(shape[0] * shape[1])]).reshape(
                shape
            ),
            "random",
        ),
    ],
    ids=["np.random.rand", "Generator.random", "random.random"],
)
def test_dropout_drawn_with_numpy_or_random_is_refused_and_nothing_changes(draw, named):
    np.random.seed(0)
    random.seed(0)
    net = _net()
    opt = gs.optim.SGD(net.parameters(), lr=0.1)
    traced = gs.trace(_dropout_step(net, opt, draw))
    x, y = _batches(1)[0]
    before = [p.data.copy() for p in net.parameters()]
    states = (np.random.get_state()[1].copy(), random.getstate(), _RNG.bit_generator.state)
    with pytest.raises(gs.TraceError, match=rf"draws random numbers from {named}.*pass the result"):
        traced(gs.tensor(x), y)
    for p, b in zip(net.parameters(), before):
        assert p.data.tobytes() == b.tobytes()
    # the generators were put back: the step run again draws what it would have drawn
    assert np.array_equal(np.random.get_state()[1], states[0])
    assert random.getstate() == states[1] and _RNG.bit_generator.state == states[2]


def test_timing_inside_the_step_is_refused():
    net = _net()
    opt = gs.optim.SGD(net.parameters(), lr=0.1)
    times = []

    def step(x, y):
        start = time.perf_counter()
        opt.zero_grad()
        loss = gs.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
        return loss

    x, y = _batches(1)[0]
    with pytest.raises(
        gs.TraceError,
        match=r"reads the clock \(time.perf_counter\(\) at .*test_trace_user_loops.py:\d+",
    ):
        gs.trace(step)(gs.tensor(x), y)


def test_zero_grad_keeping_the_tensors_accumulates_into_the_same_grad_objects():
    # opt.zero_grad(set_to_none=False), then backward: PyTorch keeps each .grad tensor
    # and accumulates into it, so a .grad held before the step sees this step's gradient
    def make():
        net = _net()
        opt = gs.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad(set_to_none=False)
            loss = gs.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss

        return net, step

    (eager_net, eager), (net, step) = make(), make()
    traced = gs.trace(step)
    held = eager_held = None
    for k, (x, y) in enumerate(_batches(6)):
        want, got = eager(gs.tensor(x), y), traced(gs.tensor(x), y)
        assert got.data.tobytes() == want.data.tobytes()
        if k == 0:
            held, eager_held = net.layers[0].weight.grad, eager_net.layers[0].weight.grad
        assert eager_net.layers[0].weight.grad is eager_held
        assert net.layers[0].weight.grad is held
        assert held.data.tobytes() == eager_held.data.tobytes()
    assert traced.replays >= 3
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()


def test_allowed_value_read_before_the_update_is_guarded_not_frozen():
    # gradient clipping by a norm read as a Python float: allow_value_reads=True makes
    # the read a guard, so a replay whose norm differs runs the step eagerly
    def make():
        net = _net()
        opt = gs.optim.SGD(net.parameters(), lr=0.5)

        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            norm = float(sum((p.grad**2).sum() for p in net.parameters()) ** 0.5)
            if norm > 0.5:
                with gs.no_grad():
                    for p in net.parameters():
                        p.grad *= 0.5 / norm
            opt.step()
            return loss, norm  # (appended to a list of the caller's, it would be a write)

        return net, step

    (eager_net, eager), (net, step) = make(), make()
    traced = gs.trace(step, allow_value_reads=True)
    norms, eager_norms = [], []
    for k, (x, y) in enumerate(_batches(6)):  # the norm changes with every update
        (want, want_norm), (got, norm) = eager(gs.tensor(x), y), traced(gs.tensor(x), y)
        assert got.data.tobytes() == want.data.tobytes(), k
        norms.append(norm)
        eager_norms.append(want_norm)
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
    assert norms == eager_norms  # read on every call: no replay reused a frozen norm
    assert traced.eager_calls >= 3  # the norm changed: those calls ran eagerly


def test_snapshots_taken_before_the_update_keep_the_old_values():
    # ``before = w.detach()`` (or ``w[0]``, ``b.reshape(-1)``) shares the parameter's
    # array; the eager update then makes a new array, so the snapshot keeps the values
    # from before it. The replay used to update in place and return post-update values
    def make():
        net = _net()
        opt = gs.optim.SGD(net.parameters(), lr=0.1)
        first = net.layers[0]

        def step(x, y):
            before = first.weight.detach()
            row = first.weight[0]
            flat = first.bias.reshape(-1)
            opt.zero_grad()
            loss = gs.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss, before, row, flat

        return net, step

    (eager_net, eager), (net, step) = make(), make()
    traced = gs.trace(step)
    for k, (x, y) in enumerate(_batches(5)):
        want, got = eager(gs.tensor(x), y), traced(gs.tensor(x), y)
        for w, g in zip(want, got):
            assert g.data.tobytes() == w.data.tobytes(), k
        # the snapshot is the old weight: one update away from the new one
        assert not np.array_equal(got[1].data, net.layers[0].weight.data)
    assert traced.replays >= 3
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()


def test_forward_traced_and_trained_through_eagerly_refuses_backward_with_a_message():
    net = _net()
    opt = gs.optim.SGD(net.parameters(), lr=0.1)
    # a forward pass traced, then trained through eagerly (verify=False: the replay
    # itself, not the eager run a verified replay is)
    forward = gs.trace(net, verify=False)
    done = 0
    with pytest.raises(gs.TraceError, match=r"replay of a traced forward pass.*whole training"):
        for x, y in _batches(3):
            opt.zero_grad()
            out = forward(gs.tensor(x))
            with gs.no_grad():  # the replay's values are the forward's
                assert out.data.tobytes() == net(gs.tensor(x)).data.tobytes()
            loss = gs.nn.functional.cross_entropy(out, y)
            loss.backward()  # the tracing call ran the forward for real: it has a graph
            opt.step()
            done += 1
    assert done == 1 and forward.replays == 1


def test_forward_traced_for_inference_under_no_grad_replays():
    net = _net()
    predict = gs.trace(net)
    for x, _ in _batches(3):
        with gs.no_grad():
            got = predict(gs.tensor(x))
            want = net(gs.tensor(x))
        assert got.data.tobytes() == want.data.tobytes() and not got.requires_grad
    assert predict.replays == 2
