"""Python values a step reads where no list of cases would look, and writes it makes
to state that existed before the call: found by following the user's code during
the tracing call. Each loop runs traced and eager side by side: the replay equals
the eager step bit for bit (a changed value retraces), or the call is refused."""

from __future__ import annotations

import dataclasses
import importlib
import sys
import threading
import types
import weakref

import numpy as np
import pytest

import gradsight as gs
from gradsight.tracing import frames

from .side_by_side import batches as _batches
from .side_by_side import manual_sgd
from .side_by_side import mse as _mse
from .side_by_side import net as _net
from .side_by_side import run as _side_by_side


@pytest.fixture
def losses_module(tmp_path, monkeypatch):
    """A module of the user's with loss functions reading its own settings."""
    (tmp_path / "losses_frames.py").write_text(
        "import types\n"
        "settings = types.SimpleNamespace(scale=1.0, power=2)\n"
        "def scaled(pred, y):\n"
        "    return (abs(pred - y) ** settings.power).mean() * settings.scale\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module("losses_frames")


def test_setting_read_in_a_helper_of_another_module_called_through_a_dict(losses_module):
    # the step picks its loss from a dict of callables; the loss function lives in
    # another module and reads that module's settings object: no name in the step's
    # code leads there, the frames do
    losses = {"scaled": losses_module.scaled, "mse": _mse}
    choice = {"loss": "scaled"}

    def make(net):
        return manual_sgd(net, lambda: 0.1, lambda p, y: losses[choice["loss"]](p, y))

    traced = _side_by_side(make, lambda: setattr(losses_module.settings, "scale", 0.5))
    assert "scale" in traced.last_retrace_reason
    # and the dict's choice: another function, another program
    _side_by_side(make, lambda: choice.update(loss="mse"))


def test_an_attribute_chain_of_nested_config_objects():
    cfg = types.SimpleNamespace(optim=types.SimpleNamespace(lr=0.1, momentum=0.0))

    def make(net):
        return manual_sgd(net, lambda: cfg.optim.lr, _mse)

    traced = _side_by_side(make, lambda: setattr(cfg.optim, "lr", 0.05))
    assert "lr" in traced.last_retrace_reason
    # the inner object replaced by an equal one: retraced (identity), same results
    traced = _side_by_side(make, lambda: setattr(cfg, "optim", types.SimpleNamespace(lr=0.05)))
    assert "optim" in traced.last_retrace_reason


def test_a_setting_read_with_get_and_a_default_is_guarded_absent_too():
    cfg = {"lr": 0.1}

    def make(net):
        def lr():
            clip = cfg.get("clip")  # absent: the default, until it is set
            return cfg.get("lr", 0.5) if clip is None else min(clip, cfg["lr"])

        return manual_sgd(net, lr, _mse)

    traced = _side_by_side(make, lambda: cfg.update(lr=0.05))
    assert "lr" in traced.last_retrace_reason
    traced = _side_by_side(make, lambda: cfg.update(clip=0.02))
    assert "clip" in traced.last_retrace_reason


def test_a_list_of_settings_read_whole_is_guarded_entry_by_entry():
    rates = [0.1, 0.05]  # summed by iteration: every entry is read

    def make(net):
        return manual_sgd(net, lambda: sum(r for r in rates) / len(rates), _mse)

    traced = _side_by_side(make, lambda: rates.__setitem__(1, 0.01))
    assert "element 1 of a list" in traced.last_retrace_reason


def test_a_setting_read_only_on_the_branch_taken():
    cfg = {"clip": False, "clip_to": 1.0}

    def make(net):
        def lr():
            if cfg["clip"]:  # the branch decides what is read: clip_to only when set
                return min(0.1, cfg["clip_to"])
            return 0.1

        return manual_sgd(net, lr, _mse)

    # a value on the branch not taken changes nothing the replay computes
    traced = _side_by_side(make, lambda: cfg.update(clip_to=0.01))
    assert traced.traces <= 2  # (the first call, then one with gradients present)
    _side_by_side(make, lambda: cfg.update(clip=True))  # taken now: retraced, 0.01 used


@dataclasses.dataclass(frozen=True, slots=True)
class _Frozen:
    lr: float = 0.1


class _Slotted:
    __slots__ = ("lr",)

    def __init__(self):
        self.lr = 0.1


def test_a_frozen_slotted_config_is_guarded_by_identity_and_a_mutable_one_refused():
    holder = {"cfg": _Frozen()}  # replaced (dataclasses.replace), never changed

    def make(net):
        return manual_sgd(net, lambda: holder["cfg"].lr, _mse)

    traced = _side_by_side(make, lambda: holder.update(cfg=_Frozen(lr=0.05)))
    assert "cfg" in traced.last_retrace_reason
    slotted = _Slotted()  # its slot can change in place, where no dict entry shows it
    trainer = _Trainer(_net())

    def step(x, y):
        loss = trainer.loss(x, y)
        with gs.no_grad():
            for p in trainer.net.parameters():
                p -= slotted.lr * p
        return loss

    _refused_and_put_back(trainer, step, r"reads _Slotted\.lr, an attribute kept in __slots__")


class _Schedule:
    """A learning rate exposed as a property computed from the object's state."""

    def __init__(self):
        self.base = 0.2
        self.factor = 0.5

    @property
    def lr(self):
        return self.base * self.factor


def test_settings_passed_as_default_arguments_are_read_and_guarded():
    # ``def step(x, y, cfg=CFG)`` and a helper method with a default: the objects the
    # defaults hold existed before the call and are reached through the functions
    cfg = types.SimpleNamespace(lr=0.1)
    defaults = types.SimpleNamespace(factor=1.0)

    class Scaler:
        def __init__(self):
            self.rate = 1.0

        def scale(self, value, opts=defaults):
            return value * opts.factor * self.rate

    scaler = Scaler()

    def make(net):
        def lr_of(cfg=cfg):
            return scaler.scale(cfg.lr)

        return manual_sgd(net, lr_of, _mse)

    traced = _side_by_side(make, lambda: setattr(cfg, "lr", 0.05))
    assert "lr" in traced.last_retrace_reason
    traced = _side_by_side(make, lambda: setattr(defaults, "factor", 0.5))
    assert "factor" in traced.last_retrace_reason


def test_a_value_read_through_a_property_of_a_user_object():
    schedule = _Schedule()

    def make(net):
        return manual_sgd(net, lambda: schedule.lr, _mse)

    traced = _side_by_side(make, lambda: setattr(schedule, "factor", 0.25))
    assert "factor" in traced.last_retrace_reason


class _Trainer:
    """State kept on a trainer object, as users write it."""

    def __init__(self, net):
        self.net = net
        self.opt = gs.optim.SGD(net.parameters(), lr=0.1)
        self.history = []
        self.steps = 0
        self.last_loss = None

    def loss(self, x, y):
        self.opt.zero_grad()
        loss = _mse(self.net(gs.tensor(x)), y)
        loss.backward()
        self.opt.step()
        return loss


def _refused_and_put_back(trainer, step, match):
    before = [p.data.copy() for p in trainer.net.parameters()]
    x, y = _batches(1)[0]
    with pytest.raises(gs.TraceError, match=match):
        gs.trace(step)(x, y)
    for p, b in zip(trainer.net.parameters(), before):  # the refused call rolled back
        assert p.data.tobytes() == b.tobytes()


def test_a_float_from_item_appended_to_a_history_list_is_refused():
    trainer = _Trainer(_net())

    def step(x, y):
        loss = trainer.loss(x, y)
        trainer.history.append(loss.item())
        return loss

    _refused_and_put_back(trainer, step, "reads the value of a traced array")
    assert trainer.history == []


def test_a_tensor_set_on_the_trainer_is_refused():
    trainer = _Trainer(_net())

    def step(x, y):
        trainer.last_loss = trainer.loss(x, y)  # kept for a progress printout
        return trainer.last_loss

    _refused_and_put_back(trainer, step, r"changes trainer\.last_loss.*Return the value")


def test_a_step_counter_on_the_trainer_is_refused():
    trainer = _Trainer(_net())

    def step(x, y):
        trainer.steps += 1  # a replay would not count
        return trainer.loss(x, y)

    _refused_and_put_back(trainer, step, r"changes trainer\.steps \(0 -> 1\)")


def test_a_global_rebound_by_the_step_is_refused():
    def step(x, y):
        global _LAST_SEEN  # noqa: PLW0603
        _LAST_SEEN = len(x)
        return trainer.loss(x, y)

    trainer = _Trainer(_net())
    _refused_and_put_back(trainer, step, "changes the global _LAST_SEEN")


_LAST_SEEN = None


def test_a_setting_the_trace_cannot_reach_again_is_refused_not_frozen():
    # reached through a weak reference (a C call gs.trace does not follow): a replay
    # could not look at it again, so reading it is refused
    cfg = _Schedule()
    ref = weakref.ref(cfg)
    trainer = _Trainer(_net())

    def step(x, y):
        loss = trainer.loss(x, y)
        settings = ref()
        with gs.no_grad():
            for p in trainer.net.parameters():
                p -= settings.base * p
        return loss

    _refused_and_put_back(trainer, step, r"reads settings\.base from an object.*cannot reach")


def test_an_array_the_trace_did_not_find_is_refused_not_frozen(losses_module):
    # a weight array kept in another module, read by a helper reached through a dict:
    # not an input of the program, so it would be frozen; it is refused instead
    losses_module.weights = np.array([1.0, 3.0])
    exec(  # noqa: S102 - a helper defined in that module, reading its global array
        "def weighted(pred, y):\n    return (((pred - y) ** 2) * weights).mean()\n",
        vars(losses_module),
    )
    helpers = {"loss": losses_module.weighted}
    trainer = _Trainer(_net())

    def step(x, y):
        trainer.opt.zero_grad()
        loss = helpers["loss"](trainer.net(gs.tensor(x)), y)
        loss.backward()
        trainer.opt.step()
        return loss

    _refused_and_put_back(trainer, step, r"reads the NumPy array weights")


def test_a_log_of_tensors_retraces_each_call_and_matches_eager():
    # appending to a list of the caller's is a write a replay cannot make: each call
    # runs the step again (traced anew), so the log is the eager one
    logs = {"eager": [], "traced": []}

    def make(net, log):
        step = manual_sgd(net, lambda: 0.1, _mse)

        def logged(x, y):
            loss = step(x, y)
            log.append(loss.detach())
            return loss

        return logged

    eager, traced = make(_net(), logs["eager"]), gs.trace(make(_net(), logs["traced"]))
    for x, y in _batches(4):
        assert traced(x, y).data.tobytes() == eager(x, y).data.tobytes()
    assert [t.data.tobytes() for t in logs["traced"]] == [t.data.tobytes() for t in logs["eager"]]
    assert traced.replays == 0


def test_guards_for_ordinary_steps_are_a_few_reads():
    # the article's XOR step with a Config class: the guards are the user's reads
    class Config:
        lr = 0.5

    gs.manual_seed(0)
    net = gs.nn.MLP([2, 4, 1], activation="tanh")
    opt = gs.optim.SGD(net.parameters(), lr=Config.lr)

    def step(x, t):
        opt.zero_grad()
        y = net(x)
        loss = ((y - t) ** 2).sum() / (2 * len(x))
        loss.backward()
        opt.step()
        return loss

    traced = gs.trace(step)
    x = gs.tensor(np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]))
    t = gs.tensor(np.array([[0.0], [1], [1], [0]]))
    for _ in range(3):
        traced(x, t)
    guard = traced.entries[0][0]
    read = {key for _, key, _ in guard.scalars + guard.holders}
    assert read == {None}  # the closure cells of net and opt, nothing of gradsight's
    assert len(guard.holders) == 2 and not guard.scalars


def test_a_tracer_installed_before_keeps_its_events_and_is_put_back():
    # a coverage tool or a debugger: its line events in the step's code still come
    # during the tracing call, and it is the thread's tracer again after it
    lines = []

    def tracer(frame, event, arg):
        if frame.f_code is step.__code__:
            lines.append(event)
        return tracer

    net = _net()
    step = manual_sgd(net, lambda: 0.1, _mse)
    traced = gs.trace(step, verify=False)
    x, y = _batches(1)[0]
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        traced(x, y)
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
    assert lines.count("call") == 1 and lines.count("line") >= 5 and lines[-1] == "return"


def test_other_threads_are_not_followed():
    # a data-loading thread running beside the tracing call keeps no tracer, and what
    # it reads of the step's settings is not taken for the step's reads
    cfg = {"lr": 0.1, "workers": 2}
    seen = []

    def loader():
        seen.append((sys.gettrace(), cfg["workers"]))

    net = _net()
    inner = manual_sgd(net, lambda: cfg["lr"], _mse)

    def step(x, y):
        worker = threading.Thread(target=loader)
        worker.start()
        worker.join()
        return inner(x, y)

    traced = gs.trace(step, verify=False)
    traced(*_batches(1)[0])
    assert seen == [(None, 2)]
    keys = [key for _, key, _ in traced.entries[0][0].scalars]
    assert "lr" in keys and "workers" not in keys


@pytest.mark.skipif(frames.supported(), reason="this interpreter is a tested one")
def test_an_untested_interpreter_is_refused_clearly():
    with pytest.raises(gs.TraceError, match="tested on Python"):
        gs.trace(lambda x: x * 2)(gs.tensor([1.0]))


def test_on_an_untested_interpreter_the_train_step_falls_back_to_eager(monkeypatch):
    # any interpreter outside frames.SUPPORTED: gs.trace refuses at the first call, and
    # the command line's step says so in one line and trains untraced, as --no-trace
    from gradsight.tracing.traced import training_step

    monkeypatch.setattr(frames, "SUPPORTED", ())
    with pytest.raises(gs.TraceError, match="tested on Python"):
        gs.trace(lambda x: x * 2)(gs.tensor([1.0]))

    def run(trace_it):
        gs.manual_seed(3)
        net = gs.nn.MLP([3, 8, 2], activation="tanh")
        opt = gs.optim.Adam(net.parameters(), lr=0.01)
        lines = []
        step = training_step(net, gs.nn.functional.mse_loss, opt, trace_it, lines.append)
        losses = [step(gs.tensor(x), gs.tensor(y)).item() for x, y in _batches(4)]
        return losses, [p.numpy().copy() for p in net.parameters()], lines

    (le, pe, _), (lt, pt, lines) = run(False), run(True)
    assert le == lt and all(a.tobytes() == b.tobytes() for a, b in zip(pe, pt))
    assert len(lines) == 1 and "tested on Python" in lines[0]
