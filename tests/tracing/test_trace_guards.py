"""One guard definition: the replay's inlined guard code and ``Guard.why_not`` are the
same checks (guards.Guard.checks), so a replay that misses always has a reason that
names the change, and a reason is never given for a call that would replay.

Each kind of check gets a scenario below: a step as users write it, traced to its
steady state, then one thing changed the way users change it. The replay must miss,
the failing check must be of that kind, and why_not must name the change."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradsight as gs
from gradsight.tracing.guards import KINDS, GuardCode
from gradsight.tracing.replay import MISS


class Config:  # settings kept on a class, read as Config.scale
    scale = 1.0


LR = [1.0]  # a schedule kept in a list, read as LR[0]
SETTINGS = {"factor": 1.0}
MASK = np.ones((4, 1))  # a global array the loss reads (an input read on every replay)

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = np.array([[0.0], [1.0], [1.0], [0.0]])


class Net(gs.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = gs.nn.Linear(2, 4)
        self.out = gs.nn.Linear(4, 1)

    def forward(self, x):
        return self.out(self.hidden(x).sigmoid()).sigmoid()


class Trainer:
    """The model and optimizer on an object, a step that reads settings from Python."""

    def __init__(self):
        gs.manual_seed(0)
        self.net = Net()
        self.opt = gs.optim.SGD(self.net.parameters(), lr=0.5, momentum=0.9)

    def step(self, x, t):
        self.opt.zero_grad()
        d = (self.net(x) - t) * MASK
        loss = (d * d).sum() / (2 * len(x)) * Config.scale * LR[0] * SETTINGS["factor"]
        loss.backward()
        self.opt.step()
        return loss


def _steady(traced, *args):
    """Call until a program has replayed once (a trace for the first step, one for the
    steps with gradients and momentum buffers): the guards checked are the steady ones."""
    for _ in range(4):
        traced(*args)
    assert traced.replays >= 1, traced
    return traced


def _trainer():
    trainer = Trainer()
    args = (gs.tensor(X), gs.tensor(T))
    return trainer, _steady(gs.trace(trainer.step), *args), args


def _refused(traced, args, kind: str, *words: str) -> None:
    """The replay misses on ``args``, the first failing check is a ``kind`` one, and
    why_not says so with ``words``."""
    guard, program, replay, _ = traced.entries[0]
    assert replay(args) is MISS
    check = guard.first_failing(args, program)
    assert check is not None and check.kind == kind, (check, kind)
    why = guard.why_not(args, program)
    for word in words:
        assert word in why, (word, why)


# ------------------------------------------------------------------ the trainer's step
def _argument_count(mp):
    _, traced, (x, t) = _trainer()
    _refused(traced, (x, t, 1.0), "argument count", "3 arguments instead of 2")


def _grad_mode(mp):
    _, traced, args = _trainer()
    with gs.no_grad():
        _refused(traced, args, "grad mode", "grad mode changed to off")


def _tensor_argument(mp):
    _, traced, (x, t) = _trainer()
    _refused(traced, (gs.tensor(X[:3]), t), "tensor argument", "argument 0 changed", "(3, 2)")
    x32 = gs.tensor(X.astype(np.float32))
    _refused(traced, (x32, t), "tensor argument", "argument 0 changed", "float32")


def _parameter(mp):
    trainer, traced, args = _trainer()
    w = trainer.net.hidden.weight
    w.data = w.data.astype(np.float32)
    _refused(traced, args, "parameter", "hidden.weight changed", "float32")


def _parameter_hook(mp):
    trainer, traced, args = _trainer()
    trainer.net.out.bias.register_hook(lambda g: g * 2)
    _refused(traced, args, "parameter hook", "hook", "out.bias")


def _gradient(mp):
    trainer, traced, args = _trainer()
    trainer.net.out.weight.grad = None  # (traced with one there: the step's zero_grad drops it)
    _refused(traced, args, "gradient", "out.weight.grad changed", "-> None")


def _train_eval(mp):
    trainer, traced, args = _trainer()
    trainer.net.eval()
    _refused(traced, args, "train/eval", "eval mode")


def _requires_grad(mp):
    trainer, traced, args = _trainer()
    trainer.net.hidden.bias.requires_grad = False
    _refused(traced, args, "requires_grad", "hidden.bias", "False")


def _setting(mp):
    _, traced, args = _trainer()
    mp.setattr(Config, "scale", 2.0)
    _refused(traced, args, "setting", "scale", "1.0 -> 2.0")
    mp.setattr(Config, "scale", 1.0)
    LR[0] = 0.5
    try:
        _refused(traced, args, "setting", "element 0 of a list", "1.0 -> 0.5")
    finally:
        LR[0] = 1.0
    mp.setitem(SETTINGS, "factor", 1)  # the same value as an int: another setting
    _refused(traced, args, "setting", "factor", "1.0 -> 1")


def _holder(mp):
    trainer, traced, args = _trainer()
    trainer.opt = gs.optim.SGD(trainer.net.parameters(), lr=0.5, momentum=0.9)
    _refused(traced, args, "holder", "opt the step reads was replaced")


def _module_entry(mp):
    trainer, traced, args = _trainer()
    trainer.net.hidden = gs.nn.Linear(2, 4)
    _refused(traced, args, "module entry", "'hidden' was replaced")


def _param_groups(mp):
    trainer, traced, args = _trainer()
    trainer.opt.add_param_group({"params": [gs.tensor([1.0], requires_grad=True)]})
    _refused(traced, args, "param groups", "2 parameter groups, not 1")


def _group_parameters(mp):
    trainer, traced, args = _trainer()
    group = trainer.opt.param_groups[0]["params"]
    group[0] = gs.tensor(np.zeros((4, 2)), requires_grad=True)
    _refused(traced, args, "group parameters", "parameters of SGD's group 0")


def _hyper_parameters(mp):
    trainer, traced, args = _trainer()
    group = trainer.opt.param_groups[0]
    group["lr"] = 0.1
    _refused(traced, args, "hyper-parameters", "'lr'", "0.5 (float) -> 0.1 (float)")
    group["lr"] = 0.5
    group["momentum"] = np.float64(0.9)  # equal, but another type: another update
    _refused(traced, args, "hyper-parameters", "'momentum'", "0.9 (float) ->", "(float64)")


def _state_keys(mp):
    trainer, traced, args = _trainer()
    trainer.opt.state.clear()  # a reset: the next step makes the buffers again
    _refused(traced, args, "state keys", "state changed shape", "0 entries")


def _optimizer_state(mp):
    trainer, traced, args = _trainer()
    st = trainer.opt.state[trainer.net.out.bias]
    st["momentum_buffer"] = np.asarray(st["momentum_buffer"], np.float32)
    _refused(traced, args, "optimizer state", "out.bias.momentum_buffer changed", "float32")


def _held_array(mp):
    _, traced, args = _trainer()
    mp.setitem(globals(), "MASK", np.ones((4, 1), np.float32))
    _refused(traced, args, "held array", "'MASK'", "float32")


# ------------------------------------------------------------------ steps taking arguments
def _grad_step(w, x, scale, batch, act):
    """A step whose arguments are a tensor requiring grad, an array, a number, a tuple
    and a function: the gradient of w accumulates (no zero_grad)."""
    loss = act(w * x).sum() * scale * batch[1]
    loss.backward()
    return loss


def _double(v):
    return v * 2.0


def _arguments():
    w = gs.tensor(np.ones((4, 2)), requires_grad=True)
    args = (w, X.copy(), 1.0, (X.copy(), 1.0), _double)
    return _steady(gs.trace(_grad_step), *args), args


def _argument_gradient(mp):
    traced, (w, *rest) = _arguments()
    w.grad = None
    _refused(traced, (w, *rest), "argument gradient", "argument 0 changed", "with a .grad")


def _argument_hook(mp):
    traced, args = _arguments()
    args[0].register_hook(lambda g: g)
    _refused(traced, args, "argument hook", "hook was registered on argument 0")


def _array_argument(mp):
    traced, (w, x, *rest) = _arguments()
    _refused(traced, (w, x[:3], *rest), "array argument", "argument 1 changed", "(3, 2)")


def _value_argument(mp):
    traced, (w, x, _, *rest) = _arguments()
    _refused(traced, (w, x, 0.5, *rest), "value argument", "argument 2 changed: 1.0 -> 0.5")


def _struct_argument(mp):
    traced, (w, x, s, batch, act) = _arguments()
    args = (w, x, s, (batch[0], 2.0), act)
    _refused(traced, args, "struct argument", "argument 3 changed", "a tuple with other contents")


def _object_argument(mp):
    traced, (*rest, _) = _arguments()
    _refused(traced, (*rest, lambda v: v * 2.0), "object argument", "argument 4 changed")


def _product(u, v):
    return ((u * v) + 1.0).sum()  # (u * v) + 1.0 written into u * v's array: layouts matter


def _two_tensors():
    u = gs.tensor(np.arange(9.0).reshape(3, 3))
    v = gs.tensor(np.ones((3, 3)))
    return _steady(gs.trace(_product), u, v), (u, v)


def _aliasing(mp):
    traced, (u, _) = _two_tensors()
    _refused(traced, (u, u), "aliasing", "arguments 0 and 1 became one object")


def _argument_layout(mp):
    traced, (u, v) = _two_tensors()
    assert traced.entries[0][1].layout_args  # the program relies on the arguments' layout
    fortran = gs.tensor(np.zeros((3, 3)))
    fortran.data = np.asfortranarray(u.data)
    _refused(traced, (fortran, v), "argument layout", "argument 0 changed", "strides (8, 24)")


SCENARIOS = {
    "argument count": _argument_count,
    "grad mode": _grad_mode,
    "tensor argument": _tensor_argument,
    "argument gradient": _argument_gradient,
    "argument hook": _argument_hook,
    "array argument": _array_argument,
    "value argument": _value_argument,
    "struct argument": _struct_argument,
    "object argument": _object_argument,
    "aliasing": _aliasing,
    "argument layout": _argument_layout,
    "parameter": _parameter,
    "parameter hook": _parameter_hook,
    "gradient": _gradient,
    "train/eval": _train_eval,
    "requires_grad": _requires_grad,
    "setting": _setting,
    "holder": _holder,
    "module entry": _module_entry,
    "param groups": _param_groups,
    "group parameters": _group_parameters,
    "hyper-parameters": _hyper_parameters,
    "state keys": _state_keys,
    "optimizer state": _optimizer_state,
    "held array": _held_array,
}


def test_every_kind_of_check_has_a_scenario():
    # a new kind of guard without a scenario here fails this test
    assert sorted(SCENARIOS) == sorted(KINDS)


@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_a_change_of_each_kind_misses_and_why_not_names_it(kind, monkeypatch):
    SCENARIOS[kind](monkeypatch)


def test_unchanged_state_replays_and_has_no_reason():
    trainer, traced, args = _trainer()
    guard, program, replay, _ = traced.entries[0]
    assert guard.why_not(args, program) is None
    assert replay(args) is not MISS


def _guard_code(source: str) -> list:
    """The guard lines of a generated function, whatever each failure returns."""
    body = source.splitlines()[1:]
    return [re.sub(r"return \w+$", "return FAIL", line) for line in body if "return" in line]


def test_replay_and_why_not_run_the_same_checks():
    _, traced, _ = _trainer()
    guard, program, replay, _ = traced.entries[0]
    assert guard.why_not((), program) == "the step got 0 arguments instead of 2"
    checks = guard.checks(program, GuardCode())
    mine = _guard_code(guard._why_not[2].source)[:-1]  # (its last line: return None)
    assert len([line for line in mine if "if not (" in line]) == len(checks)
    # the replay's guards are the same text, constants named alike, in the same order
    assert _guard_code(replay.source)[: len(mine)] == mine


def test_an_entry_deleted_misses_and_why_not_names_its_check():
    # the replay reads the module's entries by subscript: an entry gone is a failed
    # check (not a KeyError from the replay), and why_not names that very check
    trainer, traced, args = _trainer()
    del trainer.net._modules["hidden"]
    _refused(traced, args, "module entry", "'hidden' was replaced")
    trainer, traced, args = _trainer()
    del trainer.net.out.__dict__["training"]
    _refused(traced, args, "train/eval", "Linear")


def test_a_closure_setting_deleted_misses():
    lr = 0.5
    w = gs.tensor(np.ones(3), requires_grad=True)

    def step():
        loss = (w * w).sum() * lr  # noqa: F821 (deleted below)
        loss.backward()
        return loss

    traced = _steady(gs.trace(step))
    guard, program, replay, _ = traced.entries[0]
    assert replay(()) is not MISS
    del lr
    assert replay(()) is MISS
    assert guard.first_failing((), program).kind == "setting"


def _hooked_run(after_first_step):
    """A linear regression traced, with ``after_first_step(net)`` run after its first
    replay; the hooks' calls and the final weights, eagerly and traced."""

    def run(traced):
        gs.manual_seed(5)
        net = gs.nn.Linear(3, 1)
        opt = gs.optim.SGD(net.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        fn = gs.trace(step) if traced else step
        rng = np.random.default_rng(2)
        calls = []
        for i in range(6):
            x, y = gs.tensor(rng.normal(size=(8, 3))), gs.tensor(rng.normal(size=(8, 1)))
            if i == 3:
                after_first_step(net, calls)
            fn(x, y)
        return calls, net.weight.numpy().copy(), fn if traced else None

    (ce, we, _), (ct, wt, traced) = run(False), run(True)
    return ce, ct, we, wt, traced


def test_a_hook_on_an_unrelated_leaf_retraces_once_and_stays_exact():
    def elsewhere(net, calls):
        w = gs.zeros(2, requires_grad=True)
        w.register_hook(lambda g: calls.append("elsewhere"))

    ce, ct, we, wt, traced = _hooked_run(elsewhere)
    assert we.tobytes() == wt.tobytes() and ce == ct == []
    assert traced.traces == 3 and traced.replays >= 2  # (once more after the new hook list)
