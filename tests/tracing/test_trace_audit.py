"""The contract gradsight's own code is trusted for (tracing/frames.py ``CONTRACT``),
kept honest: during traces of ordinary steps, gradsight's frames are followed too,
and every read they make of the state a step reaches (its modules, optimizers and
tensors) or of gradsight's module-level state must be one the contract declares.
A new read (a module setting read by a forward, a flag) fails here until it is
guarded and declared."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.tensor import Tensor
from gradsight.nn.module import Module
from gradsight.optim.optimizer import Optimizer
from gradsight.tracing import frames
from gradsight.tracing import traced as traced_module
from gradsight.tracing.guards import _PACKAGE

pytestmark = pytest.mark.slow


class _Running(gs.nn.Module):
    """A running mean updated in place under no_grad, as BatchNorm does."""

    def __init__(self, n):
        super().__init__()
        self.running_mean = gs.zeros(n)

    def forward(self, x):
        with gs.no_grad():
            self.running_mean *= 0.9
            self.running_mean += 0.1 * x.mean(axis=0)
        return x - self.running_mean


def _steps():
    """(step, model, optimizer, args) for a few ordinary training steps."""
    gs.manual_seed(0)
    x, t = gs.tensor(np.ones((4, 2))), gs.tensor(np.ones((4, 1)))
    mlp = gs.nn.MLP([2, 4, 1], activation="tanh")
    adam = gs.optim.Adam(mlp.parameters(), lr=0.01)

    def with_adam(x, t):
        adam.zero_grad()
        loss = ((mlp(x) - t) ** 2).mean()
        loss.backward()
        adam.step()
        return loss

    yield with_adam, mlp, adam, (x, t)
    seq = gs.nn.Sequential(gs.nn.Linear(2, 4), _Running(4), gs.nn.ReLU(), gs.nn.Linear(4, 1))
    sgd = gs.optim.SGD(seq.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def with_sgd(x, t):
        sgd.zero_grad()
        loss = gs.nn.functional.mse_loss(seq(x), t)
        loss.backward()
        sgd.step()
        return loss

    yield with_sgd, seq, sgd, (x, t)


# code that decides ownership by reference counts: a frame followed by a trace
# function holds its locals once more (the interpreter's locals snapshot), which
# would change those decisions, so the audit leaves these files' frames alone
_COUNTS_REFERENCES = {_PACKAGE + "ops/inplace.py", _PACKAGE + "_core/tensor.py"}


def _audit_follower(reads: list):
    """A Follower that also follows gradsight's frames (not the tracer's own) and
    looks into modules, optimizers and tensors, noting every read it evaluates."""

    class Audit(frames.Follower):
        def _call(self, frame, event, arg):
            name = frame.f_code.co_filename
            tracer = name.startswith(_PACKAGE + "tracing" + "/") or name in _COUNTS_REFERENCES
            if tracer or not (frames.user_frame(frame) or name.startswith(_PACKAGE)):
                return None
            frame.f_trace_opcodes = True
            return self._opcode

        def _act(self, frame, action):
            try:
                super()._act(frame, action)
            except gs.TraceError:
                pass  # gradsight's own objects: not reachable from the step's roots

        def _link(self, obj, kind, name):
            if kind == "attr" and isinstance(obj, (Tensor, Optimizer, Module)):
                d = vars(obj)
                return (d, name, d[name], ()) if name in d else None
            return super()._link(obj, kind, name)

        def _note(self, container, key, value, text, parent=None):
            reads.append((container, key, value))
            return super()._note(container, key, value, text, parent)

        def check(self):
            self.refusals = []  # (an audit: gradsight's internals are read, not refused)

    return Audit


def _kinds(model, opt) -> dict:
    """id(container) -> the contract's name for it."""
    kinds = {}
    for m in model.modules():
        kinds[id(vars(m))] = "module"
        kinds[id(m._parameters)] = kinds[id(m._modules)] = "module registry"
    for t in [*model.parameters(), *(v for m in model.modules() for v in vars(m).values())]:
        if isinstance(t, Tensor):
            kinds[id(vars(t))] = "tensor"
    kinds[id(vars(opt))] = "optimizer"
    kinds[id(opt.param_groups)] = "param group list"
    kinds.update((id(g), "param group") for g in opt.param_groups)
    kinds[id(opt.state)] = "state"
    kinds.update((id(st), "state entry") for st in opt.state.values())
    for name, module in list(sys.modules.items()):
        if name == "gradsight" or name.startswith("gradsight."):
            kinds[id(vars(module))] = "flags"
    return kinds


def _code_or_constant(v) -> bool:
    """A module global that is code or a constant: functions, classes, modules, numbers."""
    return callable(v) or v is None or isinstance(v, (types.ModuleType, str, int, float, tuple))


def test_gradsight_reads_only_what_its_contract_declares(monkeypatch):
    reads: list = []
    monkeypatch.setattr(traced_module, "Follower", _audit_follower(reads))
    outside = set()
    kinds_seen = set()
    for step, model, opt, args in _steps():
        traced = gs.trace(step, verify=False)
        for _ in range(3):  # without, then with optimizer state
            traced(*args)
        kinds = _kinds(model, opt)
        for container, key, value in reads:
            kind = kinds.get(id(container))
            if kind is None or kind in ("module registry", "param group list", "state"):
                continue  # not gradsight's state (the user's: the follower guards it)
            if kind == "flags" and _code_or_constant(value):
                continue
            kinds_seen.add(kind)
            allowed = frames.CONTRACT[kind]
            if kind == "module" and isinstance(value, (Tensor, Module)):
                continue  # a parameter, submodule or buffer, by name: structure and slots
            if allowed is not None and key not in allowed:
                outside.add((kind, key, type(value).__name__))
        reads.clear()
    assert not outside, f"gradsight reads state its contract does not declare: {outside}"
    # the audit saw each kind of state (it follows gradsight's frames, not nothing)
    assert kinds_seen >= {"module", "optimizer", "param group", "state entry", "tensor", "flags"}
