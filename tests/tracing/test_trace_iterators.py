"""Items taken from an iterator inside a traced step: an iterator that existed before
the call is refused at once (before it advances), so a replay never repeats the
tracing call's batch; an iterator the step makes for itself is its own value."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import gradsight as gs


def _data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(8, 3)), rng.normal(size=(8, 1))) for _ in range(n)]


def _model(seed=0):
    gs.manual_seed(seed)
    net = gs.nn.Linear(3, 1)
    return net, gs.optim.SGD(net.parameters(), lr=0.1)


def _train(net, opt, x, y):
    opt.zero_grad()
    loss = ((net(gs.tensor(x)) - gs.tensor(y)) ** 2).mean()
    loss.backward()
    opt.step()
    return loss


def test_next_of_a_global_style_iterator_is_refused_before_it_advances():
    data = _data()
    net, opt = _model()
    batches = iter(data)

    def step():
        x, y = next(batches)
        return _train(net, opt, x, y)

    before = net.weight.numpy().copy()
    with pytest.raises(gs.TraceError, match="iterator batches"):
        gs.trace(step)()
    assert next(batches)[0] is data[0][0]  # the refused call took nothing from it
    assert np.array_equal(net.weight.numpy(), before)


def test_a_trainer_that_keeps_its_loader_iterator_on_self_is_refused():
    class Trainer:
        def __init__(self, loader):
            self.net, self.opt = _model()
            self.batches = itertools.cycle(loader)

        def step(self):
            x, y = next(self.batches)
            return _train(self.net, self.opt, x, y)

    trainer = Trainer(_data())
    with pytest.raises(gs.TraceError, match="iterator"):
        gs.trace(trainer.step)()


def test_an_iterator_passed_as_the_argument_is_refused():
    net, opt = _model()

    def step(batches):
        x, y = next(batches)
        return _train(net, opt, x, y)

    data = _data()
    batches = iter(data)
    with pytest.raises(gs.TraceError, match="argument 0 of the step is or holds an iterator"):
        gs.trace(step)(batches)
    assert next(batches)[0] is data[0][0]


def test_a_for_loop_over_an_earlier_generator_is_refused():
    net, opt = _model()
    stream = (batch for batch in _data())

    def accumulate_two():
        opt.zero_grad()
        total = None
        for x, y in itertools.islice(stream, 2):
            loss = ((net(gs.tensor(x)) - gs.tensor(y)) ** 2).mean()
            loss.backward()
            total = loss if total is None else total + loss
        opt.step()
        return total

    with pytest.raises(gs.TraceError, match="iterator stream"):
        gs.trace(accumulate_two)()


def test_an_iterator_the_step_makes_itself_replays_as_eagerly():
    # next(iter(model.parameters())): a fresh iterator each call, the same first item
    def run(traced):
        net, opt = _model(3)

        def step(x, y):
            first = next(iter(net.parameters()))
            loss = _train(net, opt, x, y) + 0.0 * first.sum()
            return loss

        fn = gs.trace(step) if traced else step
        losses = [fn(x, y).item() for x, y in _data(5, seed=4)]
        if traced:
            assert fn.replays >= 3
        return losses, net.weight.numpy().copy()

    (le, we), (lt, wt) = run(False), run(True)
    assert le == lt and we.tobytes() == wt.tobytes()
