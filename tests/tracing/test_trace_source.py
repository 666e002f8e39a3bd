"""``traced.source`` as a program of its own, for many kinds of step.

The module gs.trace writes must run without gradsight: its docstring lists what
``step()`` takes and returns; constants too big to write out are module globals
set to None, to be filled with the values the trace recorded (``Program.consts``).
Hypothesis draws the step (network, activation, loss, optimizer, dtype, batch
sizes, zero_grad or accumulation, what it returns, a training step or a pure
function returning gradients); at every call that traces, the freshly written
module is run from the state the call started from, with the arguments in the
documented order, and everything it returns or updates in place (the docstring
names those inputs too) must equal what the eager step made of the same state,
bit for bit (the module makes the same NumPy calls on the same values in the same
order), and the module fed its own outputs trains like the eager loop. A few
modules run in a bare interpreter that cannot import gradsight; the tests at the
end pin the bugs this found.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.tracing.test_random_steps import ACTIVATIONS, _optimizer
from tests.tracing.test_random_steps import _data as _batch  # (x, y) of a cfg's shapes

import gradsight as gs
from gradsight.tracing.verify import differences, read_inputs

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

F = gs.nn.functional
LOSSES = {
    "mse": F.mse_loss,
    "cross_entropy": F.cross_entropy,
    "bce_logits": F.binary_cross_entropy_with_logits,
    "bce": F.binary_cross_entropy,
}


# ------------------------------------------------------------------ the steps
@st.composite
def configs(draw, kinds=("train", "grad")):
    widths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    loss = draw(st.sampled_from(sorted(LOSSES)))
    classes = draw(st.integers(2, 4)) if loss == "cross_entropy" else 1
    return {
        "kind": draw(st.sampled_from(kinds)),
        "sizes": [draw(st.integers(1, 5))] + widths + [classes],
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "dtype": draw(st.sampled_from(["float64", "float32"])),
        "loss": loss,
        "optimizer": draw(st.sampled_from(["sgd", "momentum", "nesterov", "adam"])),
        "weight_decay": draw(st.sampled_from([0.0, 0.01])),
        # 70 rows: the labels' index arrays are too big to write out (placeholders)
        "batches": draw(st.lists(st.sampled_from([1, 3, 4, 70]), min_size=2, max_size=5)),
        "zero_grad": draw(st.booleans()),
        "manual": draw(st.booleans()),  # p -= lr * p.grad under no_grad, not the optimizer
        "returns": draw(st.sampled_from(["loss", "tuple", "several"])),
        # a term whose gradient is a constant, added to the traced one (see the test below)
        "linear_term": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


class World:
    """A model, optimizer and step built from ``cfg`` (two Worlds of one cfg are equal)."""

    def __init__(self, cfg):
        self.cfg = cfg
        gs.manual_seed(cfg["seed"])
        output = "sigmoid" if cfg["loss"] == "bce" else None
        self.net = gs.nn.MLP(
            cfg["sizes"], activation=cfg["activation"], output_activation=output, dtype=cfg["dtype"]
        )
        self.params = list(self.net.parameters())
        self.opt = _optimizer(cfg, self.params)
        self.step = self._grad_step if cfg["kind"] == "grad" else self._train_step

    def _returns(self, loss, out, extra=()):
        if self.cfg["returns"] == "loss":
            return loss
        if self.cfg["returns"] == "tuple":
            return loss, out
        return {"loss": loss, "values": [out.sum(), *extra], "scale": 2.0}

    def _loss(self, out, y):
        loss = LOSSES[self.cfg["loss"]](out, y)
        if self.cfg.get("linear_term"):
            loss = loss + (self.params[-1] * 0.5).sum()
        return loss

    def _train_step(self, x, y):
        net, opt = self.net, self.opt
        if self.cfg["zero_grad"]:
            opt.zero_grad()
        out = net(x)
        loss = self._loss(out, y)
        loss.backward()
        if self.cfg["manual"]:
            with gs.no_grad():
                for p in self.params:
                    p -= 0.05 * p.grad
        else:
            opt.step()
        return self._returns(loss, out)

    def _grad_step(self, x, y):
        """A pure function: the loss and its gradients, nothing stored."""
        out = self.net(x)
        loss = self._loss(out, y)
        grads = gs.autograd.grad(loss, self.params)
        if self.cfg["returns"] == "loss":
            return (loss, *grads)
        return self._returns(loss, out, grads)

    def roles(self, args, result=None) -> dict:
        """{role as the docstring says it: value} for everything a program may read or
        write: the arguments, parameters, their gradients, optimizer state, results."""
        found = {}
        for i, a in enumerate(args):
            found[f"argument {i}"] = a.data
        for name, p in self.net.named_parameters():
            found[name] = p.data
            if p.grad is not None:
                found[f"gradient {name}.grad"] = p.grad.data
            for key, v in self.opt.state.get(p, {}).items():
                found[f"optimizer state {name}.{key}"] = v
        for k, t in enumerate(_tensors(result)):
            found[f"returned value {k}"] = t.data
        return {k: _copy(v) for k, v in found.items()}


def _copy(v):
    return v.copy() if isinstance(v, np.ndarray) else v


def _tensors(result) -> list:
    """The Tensors of a step's return value in the order gs.trace numbers them."""
    if isinstance(result, gs.Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in _tensors(r)]
    if isinstance(result, dict):
        return [t for r in result.values() for t in _tensors(r)]
    return []


# ------------------------------------------------------------------ the module
def _doc(source: str) -> tuple[list, list]:
    """The docstring's inputs [(name, role, shape, dtype)] and outputs [(name, role)]."""
    doc = ast.get_docstring(ast.parse(source), clean=False)
    takes = doc.split("step() takes:\n")[1]
    ins, outs = takes.split("and returns, in order:\n")
    inputs = []
    for line in ins.splitlines():
        m = re.fullmatch(r"    (\w+): (.+) (\(.*\)) (\w+)", line)
        assert m, f"an input line the docstring should not have: {line!r}"
        inputs.append(m.groups())
    outputs = []
    for line in outs.strip("\n").splitlines():
        m = re.fullmatch(r"    (\w+): (.+)", line)
        if m is None:
            break  # the rest of the docstring (notes) follows the outputs
        outputs.append(m.groups())
    return inputs, outputs


def _updated(source: str) -> list:
    """The inputs the docstring says step() writes into."""
    doc = ast.get_docstring(ast.parse(source), clean=False)
    head = "and updates in place (writes the new values into the arrays it is given):\n"
    if head not in doc:
        return []
    listed = doc.split(head)[1].strip("\n").split("\n\n")[0]  # (notes follow a blank line)
    return [line.strip() for line in listed.splitlines()]


def _check_module(source: str, program) -> None:
    """Valid Python, NumPy its only import, every name it reads defined in it, the
    docstring's inputs the parameters of step() in order (then the replay's options,
    own= and held=, whose defaults make a call alone give new arrays), and the text
    the replay runs: its step() compiled from this source."""
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in imports] == ["import numpy as np"]
    assert "gradsight" not in source.split('"""', 2)[2]
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [f.name for f in fns] == ["step"]
    fn = fns[0]
    assert not (fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs)
    options = [a.arg for a in fn.args.args[len(fn.args.args) - len(fn.args.defaults) :]]
    assert options in ([], ["own"], ["held"], ["own", "held"])
    for name, default in zip(options, fn.args.defaults):
        if name == "own":  # one False per parameter update: new arrays
            assert isinstance(default, ast.Tuple)
            assert all(isinstance(e, ast.Constant) and e.value is False for e in default.elts)
        else:
            assert ast.unparse(default) == "NOTHING_HELD"
    params = [a.arg for a in fn.args.args if a.arg not in options]
    inputs, _ = _doc(source)
    assert [name for name, *_ in inputs] == params
    assert program.fn.__code__.co_filename.startswith("<gs.trace of ")
    module_names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets}
    module_names |= {n.name for n in tree.body if isinstance(n, ast.ClassDef)} | {"np", "step"}
    local = set(params) | set(options)
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            local.add(node.id)
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            assert node.id in local or node.id in module_names or hasattr(builtins, node.id), (
                f"step() reads {node.id!r}, which the module never defines"
            )
    # the module's globals: np, step, the recorded values (constants, NumPy scalars,
    # filled arrays: each written out, or a None placeholder named in program.consts),
    # the np.errstate settings its calls run under, RETRACE and held's default
    for node in tree.body:
        if isinstance(node, ast.Assign):
            (target,) = node.targets
            value = ast.unparse(node.value)
            assert (
                target.id in program.consts
                or value.startswith("Errstate(")
                or (target.id, value) in {("RETRACE", "object()"), ("NOTHING_HELD", "[]")}
            ), (target.id, value)
    assert fn.returns is None


def _load(source: str, program) -> tuple:
    """step() of the module run in a fresh namespace, placeholders set from the trace."""
    ns: dict = {"__name__": "standalone"}
    exec(compile(source, "<traced.source>", "exec"), ns)  # noqa: S102 - the module under test
    placeholders = [
        node.targets[0].id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and node.value.value is None
    ]
    for name in placeholders:
        ns[name] = program.consts[name]
    return ns["step"], placeholders


def _run_module(source: str, program, before: dict) -> tuple[dict, dict]:
    """Call the module's step() on copies of ``before`` (by docstring role). Returns
    ({role: returned value}, {role: the array passed in, after the call})."""
    _check_module(source, program)
    fn, _ = _load(source, program)
    inputs, outputs = _doc(source)
    given = []
    for name, role, shape, dtype in inputs:
        assert role in before, f"the docstring's input {name}: {role} is nothing the step has"
        v = _copy(before[role])
        assert str(np.shape(v)) == shape and np.asarray(v).dtype.name == dtype
        given.append(v)
    got = fn(*given)
    assert isinstance(got, tuple) and len(got) == len(outputs)
    returned = {}
    for (_, role), v in zip(outputs, got):
        returned[role.removeprefix("new ")] = v
    passed = {role: v for (_, role, _, _), v in zip(inputs, given)}
    updated = set(_updated(source))
    assert updated <= {name for name, *_ in inputs}
    for (name, role, _, _), v in zip(inputs, given):
        if name not in updated:  # what the docstring does not say it writes stays as given
            _assert_same(v, before[role], f"{name}, which step() should not write into")
    return returned, passed


def _assert_same(got, want, what: str) -> None:
    assert type(got) is type(want) or (
        isinstance(want, np.ndarray) and isinstance(got, (np.ndarray, np.generic))
    ), f"{what}: {type(got).__name__} instead of {type(want).__name__}"
    np.testing.assert_array_equal(got, want, strict=True, err_msg=what)


def _check_against_eager(source, program, before, after) -> None:
    returned, passed = _run_module(source, program, before)
    for role, want in after.items():
        if role in returned:
            _assert_same(returned[role], want, f"returned {role}")
        elif role in passed:  # read and not returned: the module updates it in place
            _assert_same(passed[role], want, f"{role} after the call")
        else:  # neither read nor written: the step must have left it alone
            assert role in before, f"the module loses {role}, which the step made"
            _assert_same(before[role], want, f"{role}, which the module does not touch")
    assert set(returned) <= set(after), set(returned) - set(after)


@settings(max_examples=300 if os.environ.get("GS_SWEEP") == "deep" else 25, deadline=None)
@given(configs())
def test_every_traced_program_runs_alone_and_equals_the_eager_step(cfg):
    eager, traced_world = World(cfg), World(cfg)
    traced = gs.trace(traced_world.step)
    rng = np.random.default_rng(cfg["seed"])
    for rows in cfg["batches"]:
        args = _batch(cfg, rows, rng)
        before = eager.roles(args)
        after = eager.roles(args, eager.step(*args))
        traces = traced.traces
        traced_after = traced_world.roles(args, traced(*args))
        assert traced_after.keys() == after.keys()
        for role in after:
            _assert_same(traced_after[role], after[role], role)
        if traced.traces > traces:  # this call wrote a program: run it from this call's state
            program = traced.entries[0][1]
            _check_against_eager(traced.source, program, before, after)


@settings(max_examples=60 if os.environ.get("GS_SWEEP") == "deep" else 10, deadline=None)
@given(configs(kinds=("train",)))
def test_the_module_alone_trains_like_the_eager_loop(cfg):
    # once the state exists (second call) the program is the steady-state step: the
    # module, fed its own outputs (new parameters, gradients, Adam's step count) and
    # the state it updated in place, follows the eager loop bit for bit
    rows = cfg["batches"][0]
    eager, world = World(cfg), World(cfg)
    traced = gs.trace(world.step)
    rng = np.random.default_rng(cfg["seed"])
    for _ in range(2):
        args = _batch(cfg, rows, rng)
        eager.step(*args)
        traced(*args)
    source, program = traced.source, traced.entries[0][1]
    _check_module(source, program)
    fn, _ = _load(source, program)
    inputs, outputs = _doc(source)
    state = {k: v for k, v in eager.roles(()).items()}
    for _ in range(4):
        args = _batch(cfg, rows, rng)
        state.update({f"argument {i}": a.data for i, a in enumerate(args)})
        given_ = [_copy(state[role]) for _, role, _, _ in inputs]
        got = fn(*given_)
        state.update({role: v for (_, role, _, _), v in zip(inputs, given_)})
        state.update({role.removeprefix("new "): v for (_, role), v in zip(outputs, got)})
        after = eager.roles(args, eager.step(*args))
        for role, want in after.items():
            _assert_same(state[role], want, role)


_CHILD = """
import sys
sys.modules["gradsight"] = None  # the module must not import gradsight: any import fails
import runpy
import numpy as np
ns = runpy.run_path("step.py")
step = ns["step"]
consts = np.load("consts.npz")
for name in consts.files:
    step.__globals__[name] = consts[name]
given = np.load("inputs.npz")
args = [given[f"a{i}"] for i in range(len(given.files))]
outs = step(*args)
np.savez("outs.npz", **{f"o{i}": np.asarray(o) for i, o in enumerate(outs)})
np.savez("passed.npz", **{f"a{i}": a for i, a in enumerate(args)})
"""


@pytest.mark.parametrize(
    "changes",
    [
        {"optimizer": "momentum", "loss": "mse", "activation": "sigmoid"},
        {"optimizer": "adam", "loss": "cross_entropy", "dtype": "float32", "zero_grad": False},
        {"optimizer": "nesterov", "loss": "bce_logits", "weight_decay": 0.01, "manual": True},
        {"kind": "grad", "loss": "bce", "returns": "several", "linear_term": True},
    ],
)
def test_the_module_runs_in_a_bare_interpreter_without_gradsight(tmp_path, changes):
    cfg = {
        "kind": "train",
        "sizes": [3, 4, 2],
        "activation": "relu",
        "dtype": "float64",
        "loss": "mse",
        "optimizer": "sgd",
        "weight_decay": 0.0,
        "batches": [70, 70],  # 70 rows: index constants become placeholders
        "zero_grad": True,
        "manual": False,
        "returns": "tuple",
        "linear_term": False,
        "seed": 7,
    }
    cfg.update(changes)
    cfg["sizes"][-1] = 3 if cfg["loss"] == "cross_entropy" else 1
    eager, world = World(cfg), World(cfg)
    traced = gs.trace(world.step)
    rng = np.random.default_rng(cfg["seed"])
    for rows in cfg["batches"]:
        args = _batch(cfg, rows, rng)
        before = eager.roles(args)
        after = eager.roles(args, eager.step(*args))
        traced(*args)
    # the program run here is the one the last call ran (wrote, or the only one replayed)
    assert traced.traces == len(cfg["batches"]) or len(traced.entries) == 1
    source, program = traced.source, traced.entries[0][1]
    _check_module(source, program)
    _, placeholders = _load(source, program)
    if cfg["loss"] == "cross_entropy":
        assert placeholders  # the row indices: set from the trace, as the module asks
    inputs, outputs = _doc(source)
    (tmp_path / "step.py").write_text(source)
    np.savez(tmp_path / "consts.npz", **{k: program.consts[k] for k in placeholders})
    arrays = {f"a{i}": np.asarray(before[role]) for i, (_, role, _, _) in enumerate(inputs)}
    np.savez(tmp_path / "inputs.npz", **arrays)
    done = subprocess.run(
        [sys.executable, "-I", "-c", _CHILD], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    outs, passed = np.load(tmp_path / "outs.npz"), np.load(tmp_path / "passed.npz")
    returned = {role.removeprefix("new "): outs[f"o{i}"] for i, (_, role) in enumerate(outputs)}
    given = {role: passed[f"a{i}"] for i, (_, role, _, _) in enumerate(inputs)}
    for role, want in after.items():
        got = returned.get(role, given.get(role))
        assert got is not None, role
        np.testing.assert_array_equal(got, np.asarray(want), strict=True, err_msg=role)


# ------------------------------------------------------------------ bugs found
TERMS = {
    "2w": lambda w, x: (w * 2.0).sum(),  # gradient 2: a constant, no traced value in it
    "x/w": lambda w, x: (x / w).sum(),
    "3w": lambda w, x: (w * 3.0).sum(),
    "wx": lambda w, x: (w * x).sum(),
}


@pytest.mark.parametrize("how", ["backward", "autograd.grad"])
@pytest.mark.parametrize("order", [("2w", "x/w"), ("2w", "x/w", "3w"), ("3w", "wx", "2w")])
def test_a_constant_gradient_added_to_a_traced_one_stays_traced(order, how):
    # The engine adds a parameter's gradients into the first one it owns. When that
    # one is a constant (d(2w)/dw = 2, computed from untraced arrays) the traced
    # gradient is added into an untraced array: the trace forgot it as soon as the
    # Sym of that write died, so the gradient became a constant of the program
    # (replays returned the first call's gradient; the module returned ``c1``), a
    # third (constant) term was added unrecorded, and a pure gradient function was
    # refused for returning "no tensor computed from its inputs".
    w = gs.tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    opt = gs.optim.SGD([w], lr=0.01)

    def step(x):
        loss = sum((TERMS[k](w, x) for k in order), gs.tensor(0.0))
        if how == "autograd.grad":
            return gs.autograd.grad(loss, [w])[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    traced = gs.trace(step)
    for k in (1.0, 2.0, 3.0):
        x = gs.tensor(np.full((2, 3), k))
        before = w.data.copy()
        eager_w = gs.tensor(before.copy(), requires_grad=True)
        want = gs.autograd.grad(
            sum((TERMS[t](eager_w, x) for t in order), gs.tensor(0.0)), [eager_w]
        )[0].numpy()
        got = traced(x)
        if how == "autograd.grad":
            np.testing.assert_array_equal(got.numpy(), want)
        else:
            np.testing.assert_array_equal(w.grad.numpy(), want)
            np.testing.assert_array_equal(w.data, before - 0.01 * want)
        fn, _ = _load(traced.source, traced.entries[0][1])
        _check_module(traced.source, traced.entries[0][1])
        inputs, outputs = _doc(traced.source)
        given = {"x": x.data, "w": before.copy()}
        assert {n for n, *_ in inputs} <= set(given)
        alone = dict(zip((n for n, _ in outputs), fn(*(given[n] for n, *_ in inputs))))
        key = "result" if how == "autograd.grad" else "w_grad"
        np.testing.assert_array_equal(alone[key], want)
    assert traced.replays >= 1  # (backward: a second trace once w.grad exists)


def test_constants_are_written_out_bit_for_bit_in_their_layout_or_left_to_set():
    # Constants used to be written out by value in C order: [0.0, -0.0] as
    # np.full(..., 0.0) (the -0.0 lost: w * c gave +0.0 where the step gives -0.0), a
    # Fortran-order array as a C-order literal (a sum over it then adds in another
    # order: other bits), a NaN as float('nan') (its sign and payload lost).
    rng = np.random.default_rng(3)
    signed = np.array([[0.0, -0.0, 0.0], [-0.0, 0.0, -0.0]])
    fortran = np.asfortranarray(rng.standard_normal((3, 8)))
    nan = np.array([np.float64(-np.nan), 1.0, -np.inf])  # 0/0's NaN on x86: sign bit set
    nan[0] = np.frombuffer(np.array([0xFFF8000000000001], dtype=np.uint64).tobytes())[0]
    w = gs.tensor(np.ones((2, 3)), requires_grad=True)

    # (default values: constants of the program; arrays read from the closure would be
    # inputs, read on every call)
    def step(x, z, signed=signed, fortran=fortran, nan=nan):
        a = gs.tensor(signed) * x
        b = (z.T * gs.tensor(fortran)).sum()
        c = gs.tensor(nan) + x.sum()
        loss = (w * x).sum()
        loss.backward()
        return a, b, c

    traced = gs.trace(step)
    x = gs.tensor(np.full((2, 3), 1.5))
    z = gs.tensor(rng.standard_normal((8, 3)))
    want = [t.numpy() for t in traced(x, z)]
    source, program = traced.source, traced.entries[0][1]
    _check_module(source, program)
    assert "order='F'" in source  # the Fortran-order constant, written in its layout
    fn, placeholders = _load(source, program)
    assert len(placeholders) == 1  # the NaN: no literal gives its bits back
    inputs, outputs = _doc(source)
    given = {"x": x.numpy(), "z": z.numpy(), "w": w.numpy()}
    got = dict(zip((name for name, _ in outputs), fn(*(given[n] for n, *_ in inputs))))
    for k, name in enumerate(["result", "result1", "result2"]):
        assert np.asarray(got[name]).tobytes() == want[k].tobytes(), name


def test_arguments_in_a_dict_gradients_of_arguments_and_arrays_written_are_named_roles():
    # the roles a training step's own arguments take: arrays in a dict argument, the
    # gradient of a tensor argument (accumulated), a tensor argument written in place;
    # argument names that the generated code uses itself (own, np) get a suffix
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((3, 2))

    def make():
        w, acc = gs.tensor(w0.copy(), requires_grad=True), gs.tensor(np.zeros(2))

        def step(batch, w, acc, own, np):
            loss = ((gs.tensor(batch["x"]) @ w - gs.tensor(batch["y"])) ** 2).mean() * own + np
            loss.backward()
            with gs.no_grad():
                acc.add_(w.sum(axis=0))
            return loss

        return w, acc, step

    w, acc, step = make()
    w_e, acc_e, step_e = make()
    traced = gs.trace(step)
    for _ in range(3):
        batch = {"x": rng.standard_normal((4, 3)), "y": rng.standard_normal((4, 2))}
        before = {
            "argument 0['x']": batch["x"],
            "argument 0['y']": batch["y"],
            "argument 1": w_e.data.copy(),
            "gradient of argument 1": None if w_e.grad is None else w_e.grad.data.copy(),
            "argument 2": acc_e.data.copy(),
        }
        loss = step_e(batch, w_e, acc_e, 2.0, 0.5)
        after = {
            "gradient of argument 1": w_e.grad.data,
            "new array of argument 2": acc_e.data,
            "returned value 0": loss.data,
        }
        traces = traced.traces
        traced(batch, w, acc, 2.0, 0.5)
        if traced.traces == traces:
            continue
        source, program = traced.source, traced.entries[0][1]
        _check_module(source, program)
        fn, _ = _load(source, program)
        inputs, outputs = _doc(source)
        assert [n for n, *_ in inputs][:2] == ["batch_x", "batch_y"]
        got = fn(*(_copy(before[role]) for _, role, _, _ in inputs))
        assert {role for _, role in outputs} == set(after)
        for (_, role), v in zip(outputs, got):
            _assert_same(v, after[role], role)
    assert traced.traces == 2 and traced.replays == 1


@pytest.mark.parametrize("key", ['a"""b', 'q""""', "\\N{x}", "end\\", "tab\\t"])
def test_names_with_quotes_or_backslashes_keep_the_docstring_valid(key):
    # a dict key (or a name given to gs.trace) goes into the docstring as written:
    # 'a"""b' ended the docstring there (SyntaxError), '\N{x}' started an escape
    w = gs.tensor(np.ones((2, 3)), requires_grad=True)

    def step(batch):
        return gs.autograd.grad((w * gs.tensor(batch[key])).sum(), [w])[0]

    traced = gs.trace(step, names={key: w})
    x = np.arange(6.0).reshape(2, 3)
    traced({key: x})
    source, program = traced.source, traced.entries[0][1]
    _check_module(source, program)
    doc = ast.get_docstring(ast.parse(source), clean=False)
    assert f"argument 0[{key!r}]" in doc
    inputs, outputs = _doc(source)
    fn, _ = _load(source, program)
    got = fn(*(x for _ in inputs))
    np.testing.assert_array_equal(got[0], x)


def test_checks_that_cannot_fail_and_powers_of_one_are_folded_away():
    # the article's step: squared error written with ** 2. pow's backward checks "no
    # zero base with a negative exponent" (False & (d == 0), np.any, a raise) and takes
    # d ** 1: with the exponent a constant 2, the check cannot fail and d ** 1 is d
    def make():
        gs.manual_seed(0)
        net = gs.nn.MLP([2, 16, 1], activation="tanh")
        opt = gs.optim.SGD(net.parameters(), lr=0.1)

        def step(x, t):
            opt.zero_grad()
            y = net(x)
            loss = ((y - t) ** 2).sum() / (2 * len(x))
            loss.backward()
            opt.step()
            return loss

        return net, step

    (eager_net, eager), (net, step) = make(), make()
    traced = gs.trace(step)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x, t = gs.tensor(rng.normal(size=(8, 2))), gs.tensor(rng.normal(size=(8, 1)))
        assert traced(x, t).data.tobytes() == eager(x, t).data.tobytes()
    source = traced.source
    assert "False &" not in source and "np.any" not in source and "** 1\n" not in source
    assert "raise" not in source
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()


# ------------------------------------------------------------------ one pipeline
def _relu_step():
    """A classifier step as users write it: every kind of module-level value the
    program has (NumPy scalars, relu's zeros, np.errstate settings, own=, held=,
    RETRACE for cross_entropy's label check)."""
    gs.manual_seed(0)
    net = gs.nn.MLP([3, 8, 2], activation="relu")
    opt = gs.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = gs.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def test_the_replay_runs_the_text_users_read():
    traced = gs.trace(_relu_step())
    rng = np.random.default_rng(0)
    x = gs.tensor(rng.standard_normal((5, 3)))
    y = gs.tensor(np.array([0, 1, 1, 0, 1]))
    for _ in range(3):  # (the steady-state program: gradients and buffers exist)
        traced(x, y)
    source, program = traced.source, traced.entries[0][1]
    _check_module(source, program)
    for name in ("s0 = np.float64(", "zeros0 = np.zeros(", "= Errstate(", "held=NOTHING_HELD"):
        assert name in source, name
    fn, _ = _load(source, program)
    # the replayed function is this text compiled: the same code, the same defaults
    ran, read = program.fn.__code__, fn.__code__
    assert ran.co_code == read.co_code and ran.co_names == read.co_names
    assert ran.co_consts == read.co_consts and ran.co_varnames == read.co_varnames
    assert program.fn.__defaults__ == fn.__defaults__
    # and the module's step() on the inputs of a replay gives what the replay wrote
    inputs = [v.copy() if isinstance(v, np.ndarray) else v for v in read_inputs(program, (x, y))]
    replays = traced.replays
    loss = traced(x, y)
    assert traced.replays == replays + 1
    outs = fn(*inputs)
    assert differences(program, (x, y), outs, inputs, loss) == []
