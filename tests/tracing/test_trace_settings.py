"""Settings a training step reads from Python, the ways users keep them: a replay
sees each change (it retraces) and equals the eager step bit for bit."""

from __future__ import annotations

import enum
import importlib

import numpy as np
import pytest

import gradsight as gs

from .side_by_side import manual_sgd as _manual_sgd
from .side_by_side import mse
from .side_by_side import run as _run


class Config:  # a class used as a namespace of settings
    lr = 0.1
    l2 = 0.0


LR = [0.1]  # a schedule kept in a list, read as LR[0]
CFG = {"optim": {"lr": 0.1}}


class Reduction(enum.Enum):
    MEAN = "mean"
    SUM = "sum"


REDUCTION = Reduction.MEAN


def mae(pred, y):
    return (pred - y).abs().mean()


LOSS = mse


def test_config_class_attribute(monkeypatch):
    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            loss = mse(net(gs.tensor(x)), y)
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= Config.lr * p.grad
            return loss

        return step

    traced = _run(make, lambda: monkeypatch.setattr(Config, "lr", 0.05))
    assert "lr" in traced.last_retrace_reason


def test_config_module_attribute(tmp_path, monkeypatch):
    (tmp_path / "hparams_t26.py").write_text("LR = 0.1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    hparams = importlib.import_module("hparams_t26")

    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            loss = mse(net(gs.tensor(x)), y)
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= hparams.LR * p.grad
            return loss

        return step

    _run(make, lambda: monkeypatch.setattr(hparams, "LR", 0.05))


@pytest.fixture
def schedule():
    LR[:] = [0.1]
    yield LR
    LR[:] = [0.1]


def test_number_in_a_list(schedule):

    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            loss = mse(net(gs.tensor(x)), y)
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= LR[0] * p.grad
            return loss

        return step

    _run(make, lambda: LR.__setitem__(0, 0.02))


def test_nested_dict_entry(monkeypatch):
    monkeypatch.setitem(CFG, "optim", {"lr": 0.1})

    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            loss = mse(net(gs.tensor(x)), y)
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= CFG["optim"]["lr"] * p.grad
            return loss

        return step

    _run(make, lambda: CFG["optim"].__setitem__("lr", 0.03))


def test_class_default_overridden_on_the_instance():
    class Trainer:
        lr = 0.1  # a default for every trainer

        def __init__(self, net):
            self.net = net

        def step(self, x, y):
            for p in self.net.parameters():
                p.grad = None
            loss = mse(self.net(gs.tensor(x)), y)
            loss.backward()
            self.update()
            return loss

        def update(self):  # a helper the step calls: its reads count too
            with gs.no_grad():
                for p in self.net.parameters():
                    p -= self.lr * p.grad

    trainers = []

    def make(net):
        trainers.append(Trainer(net))
        return trainers[-1].step

    def change():
        for t in trainers:
            t.lr = 0.02  # now on the instance

    _run(make, change)


def test_attribute_read_in_a_helper_method_of_the_model():
    class Net(gs.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.body = net
            self.temperature = 1.0

        def forward(self, x):
            return self.scaled(self.body(x))

        def scaled(self, out):
            return out / self.temperature

    models = []

    def make(net):
        model = Net(net)
        models.append(model)
        return _manual_sgd(model, lambda: 0.1)

    def change():
        for m in models:
            m.temperature = 2.0

    _run(make, change)


def test_global_loss_function_swapped(monkeypatch):
    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            loss = LOSS(net(gs.tensor(x)), y)
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= 0.1 * p.grad
            return loss

        return step

    _run(make, lambda: monkeypatch.setattr(f"{__name__}.LOSS", mae))


def test_enum_setting(monkeypatch):
    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            err = (net(gs.tensor(x)) - y) ** 2
            loss = err.mean() if REDUCTION is Reduction.MEAN else err.sum()
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= 0.01 * p.grad
            return loss

        return step

    _run(make, lambda: monkeypatch.setattr(f"{__name__}.REDUCTION", Reduction.SUM))


def test_callable_loss_object_attribute():
    class Huberish:
        def __init__(self, eps):
            self.eps = eps

        def __call__(self, pred, y):
            return (((pred - y) ** 2 + self.eps) ** 0.5).mean()

    loss_fn = Huberish(1e-3)
    _run(lambda net: _manual_sgd(net, lambda: 0.1, loss_fn), lambda: setattr(loss_fn, "eps", 1.0))


MASK = np.array([1.0, 0.0])  # a global NumPy array the step reads (rebound below)


def _weighted_step(net, weights_of):
    def step(x, y):
        for p in net.parameters():
            p.grad = None
        loss = (((net(gs.tensor(x)) - y) ** 2) * weights_of()).mean()
        loss.backward()
        with gs.no_grad():
            for p in net.parameters():
                p -= 0.1 * p.grad
        return loss

    return step


def test_closure_array_changed_in_place():
    class_weights = np.array([1.0, 2.0])  # a closure variable, reweighted in place

    def change():
        class_weights[1] = 5.0

    _run(lambda net: _weighted_step(net, lambda: class_weights), change)


def test_global_array_rebound(monkeypatch):
    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            loss = (((net(gs.tensor(x)) - y) ** 2) * MASK[1] + MASK[0]).mean()
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= 0.1 * p.grad
            return loss

        return step

    _run(make, lambda: monkeypatch.setattr(f"{__name__}.MASK", np.array([0.5, 2.0])))


def test_array_on_the_trainer_changed_in_place():
    class Trainer:
        def __init__(self, net):
            self.net = net
            self.weights = np.ones(2)

        def step(self, x, y):
            for p in self.net.parameters():
                p.grad = None
            loss = (((self.net(gs.tensor(x)) - y) ** 2) * self.weights).mean()
            loss.backward()
            with gs.no_grad():
                for p in self.net.parameters():
                    p -= 0.1 * p.grad
            return loss

    trainers = []

    def make(net):
        trainers.append(Trainer(net))
        return trainers[-1].step

    def change():
        for t in trainers:
            t.weights *= 3.0

    _run(make, change)


def test_numbers_in_a_long_list_are_guarded_where_the_step_reads_them():
    # docs/trace.md: the element a step reads with a constant index is guarded, in a
    # list of any length (the follower sees the read; no walk of the list's contents)
    rates = [0.1] * 200

    def make(net):
        def step(x, y):
            for p in net.parameters():
                p.grad = None
            loss = mse(net(gs.tensor(x)), y)
            loss.backward()
            with gs.no_grad():
                for p in net.parameters():
                    p -= rates[-1] * p.grad
            return loss

        return step

    traced = _run(make, lambda: rates.__setitem__(-1, 0.05))
    assert traced.last_retrace_reason.startswith("element 199 of a list the step reads changed")
