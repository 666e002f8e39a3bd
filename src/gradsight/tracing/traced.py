"""``gs.trace``: record a training step once, replay it as generated NumPy code.

The first call (and any call whose guards fail) runs the step eagerly on
traced arrays (see recorder.py), which writes down every NumPy call the
forward, the VJP rules and the optimizer make. The calls become one Python
function of straight-line NumPy code (codegen.py); later calls check the
guards (guards.py) and run that function on the current arrays.
"""

from __future__ import annotations

import inspect
import math
import threading
import warnings

import numpy as np

from gradsight._core import engine as _engine
from gradsight._core import node as _node
from gradsight._core.grad_mode import mode
from gradsight._core.tensor import Tensor, new_tensor

from . import codegen
from .guards import Guard, StateSlot, discover, slot_name, slots_for
from .recorder import Const, Op, Recorder, Sym, TraceError, Var, _writable
from .replay import MISS, compile_replay

MAX_TRACES = 8  # programs kept per traced step; past it the step runs eagerly (with a warning)
_lock = threading.RLock()  # one trace at a time: tracing patches module globals
_tracing = threading.local()


class Program:
    """A compiled trace: ``fn(*inputs) -> outputs`` and the source it came from."""

    def __init__(self, source: str, fn, inputs: list, outputs: list, template, consts: dict):
        self.source = source
        self.fn = fn
        self.inputs = inputs  # ("arg", i) | ("slot", slot)
        self.outputs = outputs  # ("slot", slot) | ("ret", k)
        self.template = template
        self.consts = consts


class Traced:
    """A traced step: call it like the step; ``source`` is the recorded program."""

    def __init__(
        self, step, allow_value_reads: bool = False, max_traces: int = MAX_TRACES, names=None
    ):
        self.step = step
        self.names = dict(names or {})
        self.allow_value_reads = allow_value_reads
        self.max_traces = max_traces
        self.entries: list = []  # (Guard, Program), most recent first
        self.traces = 0
        self.replays = 0
        self.gave_up = False
        self.last_retrace_reason = None

    def __repr__(self) -> str:
        name = getattr(self.step, "__qualname__", type(self.step).__name__)
        return f"<gs.trace of {name}: {self.traces} trace(s), {self.replays} replay(s)>"

    @property
    def source(self) -> str:
        """The most recent program as a standalone NumPy-only module."""
        if not self.entries:
            raise TraceError("nothing traced yet: call the traced step once first")
        return self.entries[0][1].source

    def __call__(self, *args):
        if mode.anomaly:
            raise TraceError(
                "gs.trace does not run under detect_anomaly: a replay makes no per-op checks. "
                "Call the untraced step (traced.step) to debug it"
            )
        for entry in self.entries:
            result = entry[2](args)
            if result is not MISS:
                self.replays += 1
                return result
        reason = self.entries[0][0].why_not(args) if self.entries else None
        if self.gave_up:
            return self.step(*args)
        if self.traces >= self.max_traces:
            self.gave_up = True
            warnings.warn(
                f"gs.trace: {self._name()} was traced {self.traces} times (last change: "
                f"{reason}); it now runs eagerly. Steps whose shapes or settings change on every "
                "call gain nothing from tracing",
                RuntimeWarning,
                stacklevel=2,
            )
            return self.step(*args)
        self.last_retrace_reason = reason
        result, guard, program = _trace(self.step, args, self.allow_value_reads, self.names)
        self.traces += 1
        self.entries.insert(0, (guard, program, compile_replay(program, guard)))
        return result

    def _name(self) -> str:
        return getattr(self.step, "__qualname__", "the step")


def trace(step=None, *, allow_value_reads: bool = False, max_traces: int = MAX_TRACES, names=None):
    """Trace a training step: ``traced = gs.trace(step)``; also a decorator.

    ``step(*args)`` does forward, loss, ``backward()`` and an optimizer update
    (or returns gradients). The first call runs it and records its NumPy
    calls; later calls replay them while the guards hold, and retrace when
    they don't (at most ``max_traces`` programs, then it runs eagerly with a
    warning). ``traced.source`` is the program. ``allow_value_reads=True``
    lets the step read traced values (``float(loss)``): you promise that they
    never change which operations run. ``names`` ({name: Tensor}) names tensors in
    the source (default: their module path, ``hidden.weight`` -> ``hidden_weight``).
    """
    if step is None:
        return lambda f: trace(
            f, allow_value_reads=allow_value_reads, max_traces=max_traces, names=names
        )
    if not callable(step):
        raise TypeError(f"gs.trace needs a callable step, got {type(step).__name__}")
    if inspect.isgeneratorfunction(step) or inspect.isasyncgenfunction(step):
        raise TypeError(
            f"gs.trace cannot trace the generator function {step.__qualname__}: a trace is one "
            "straight run from call to return, and a generator pauses in the middle"
        )
    if inspect.iscoroutinefunction(step):
        raise TypeError(f"gs.trace cannot trace the coroutine function {step.__qualname__}")
    if isinstance(max_traces, bool) or not isinstance(max_traces, int) or max_traces < 1:
        raise ValueError(f"max_traces must be a positive int, got {max_traces!r}")
    for key, value in (names or {}).items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise TypeError(f"names must map str to Tensor, got {key!r}: {type(value).__name__}")
    return Traced(step, allow_value_reads, max_traces, names)


# ------------------------------------------------------------------ trace
def _trace(step, args, allow_value_reads, names):
    with _lock:
        found = discover(step, args)
        given = {id(t): n for n, t in names.items()}
        found.tensors = [(t, given.get(id(t), n)) for t, n in found.tensors]
        arg_ids = {id(a) for a in args}
        slots = slots_for(found, arg_ids)
        guard = Guard(args, found, slots)
        rec = Recorder(allow_value_reads=allow_value_reads, rule_codes=_rule_codes())
        session = _Session(rec, found, slots, args, step)
        try:
            with _patched(session):
                result = step(*session.call_args)
            if inspect.isgenerator(result):
                raise TypeError(
                    "gs.trace cannot trace a step that returns a generator: the work would run "
                    "after the trace ended"
                )
            program = session.finish(result)
        finally:
            session.restore()
            rec.active = False
        return session.result, guard, program


class _Session:
    """One trace in progress: the Syms standing in for state, and the way back."""

    def __init__(self, rec: Recorder, found, slots, args, step):
        self.rec, self.found, self.slots, self.step = rec, found, slots, step
        self.args = args
        self.inputs = []  # (("arg", i) | ("slot", slot), Sym)
        self.start = {}  # slot -> value at the start
        self.swapped_args = []  # (Tensor, real array)
        self.swapped_grads = []  # (Tensor, real gradient array)
        self.known = {id(t) for t, _ in found.tensors}
        self.result = None
        names = _arg_names(step, len(args))
        call_args = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                s = rec.sym(a.data, names[i])
                self.swapped_args.append((a, a.data))
                a.data = s
                self.inputs.append((("arg", i), s))
                self.known.add(id(a))
                call_args.append(a)
                if a.grad is not None:
                    gs_ = rec.sym(a.grad.data, names[i] + "_grad")
                    self.swapped_grads.append((a, a.grad.data))
                    a.grad.data = gs_
                    self.inputs.append((("arggrad", i), gs_))
            elif isinstance(a, np.ndarray):
                s = rec.sym(a, names[i])
                self.inputs.append((("arg", i), s))
                call_args.append(s)
            else:
                call_args.append(a)
        self.call_args = call_args
        for slot in slots:
            v = slot.get()
            self.start[slot] = v
            if isinstance(v, np.ndarray) or (slot.kind == "state" and isinstance(v, int)):
                s = rec.sym(np.asarray(v) if isinstance(v, int) else v, slot_name(slot))
                s.var.is_int = isinstance(v, int)
                slot.set(s)
                self.inputs.append((("slot", slot), s))

    def finish(self, result) -> Program:
        """Read the outputs, check the step did something, build the program."""
        rec = self.rec
        for opt in self.found.optimizers:  # state entries the step created
            have = {(id(s.p), s.key) for s in self.slots if isinstance(s, StateSlot)}
            for p, st in opt.state.items():
                for key in st:
                    if (id(p), key) not in have:
                        name = next((n for t, n in self.found.tensors if t is p), "param")
                        slot = StateSlot(opt, p, key, name)
                        self.slots.append(slot)
                        self.start[slot] = None
        outputs = []
        changed = False
        for slot in self.slots:
            v = slot.get()
            if v is self.start[slot] or (isinstance(v, Sym) and v is self._input_sym(slot)):
                continue
            changed = True
            outputs.append((("slot", slot), self._ref(v)))
        for i, a in enumerate(self.args):
            if isinstance(a, Tensor) and a.requires_grad:
                g = a.grad
                v = None if g is None else g.data
                before = next((s for (k, j), s in self.inputs if k == "arggrad" and j == i), None)
                if v is not before:
                    changed = True
                    outputs.append((("arggrad", i), self._ref(v)))
        rets = []
        template = _template(result, rets, rec)
        if not changed and not rets:
            raise TraceError(
                f"gs.trace: {getattr(self.step, '__qualname__', 'the step')} neither changed a "
                "gradient, parameter or optimizer state nor returned a tensor computed from its "
                "inputs: there is nothing to replay (does it call backward()?)"
            )
        for k, v in enumerate(rets):
            outputs.append((("ret", k), v))
        self.result = _real(result)
        inputs = [(k, s.var) for k, s in self.inputs]
        return _build(rec, inputs, outputs, template, self.step)

    def _ref(self, v):
        """An output value as the program names it: a Var, a Const, or None."""
        if isinstance(v, Sym):
            return v.var
        if isinstance(v, np.ndarray):
            return self.rec.const(v)
        return v

    def _input_sym(self, slot):
        for (kind, ref), s in self.inputs:
            if kind == "slot" and ref is slot:
                return s
        return None

    def restore(self) -> None:
        """Put real arrays back wherever a Sym stands (the step's effects are kept)."""
        for t, _ in self.swapped_args:
            if isinstance(t.data, Sym):
                t.data = t.data.value
            if t.grad is not None and isinstance(t.grad.data, Sym):
                t.grad.data = _frozen(t.grad.data.value)
        for slot in self.slots:
            v = slot.get()
            if isinstance(v, Sym):
                slot.put(v.value)
        for t in _stray:
            if isinstance(t.data, Sym):
                t.data = t.data.value
        _stray.clear()


_stray: list = []  # tensors given traced gradients outside the found state (restored after)


def _frozen(v):
    if isinstance(v, np.ndarray):
        v.setflags(False)
    return v


def _arg_names(step, n):
    try:
        names = [
            p.name
            for p in inspect.signature(step).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"arg{i}" for i in range(n)]


def _template(result, rets, rec):
    """The shape of the step's return value, with traced tensors numbered into ``rets``."""
    if isinstance(result, Tensor):
        if isinstance(result.data, Sym):
            rets.append(result.data.var)
            return ("tensor", len(rets) - 1)
        return ("const", result)
    if isinstance(result, (tuple, list)):
        return ("seq", type(result), [_template(r, rets, rec) for r in result])
    if isinstance(result, dict):
        return ("dict", [(k, _template(v, rets, rec)) for k, v in result.items()])
    if isinstance(result, Sym):
        raise TraceError("the step returned a traced array: return Tensors (or nothing)")
    return ("const", result)


def _real(result):
    """The step's return value with real arrays in its tensors (as the eager step gives)."""
    if isinstance(result, Tensor):
        if isinstance(result.data, Sym):
            result.data = _frozen(result.data.value)
        return result
    if isinstance(result, (tuple, list)):
        for r in result:
            _real(r)
    elif isinstance(result, dict):
        for r in result.values():
            _real(r)
    return result


# ------------------------------------------------------------------ program
def _build(rec, inputs, outputs, template, step) -> Program:
    namer = codegen.Namer()
    names = {}
    ops = codegen.fuse_copies(codegen.live_ops(rec.ops, outputs))
    used = {id(x) for op in ops for x in codegen._syms_in((op.args, op.kwargs))}
    used |= {id(v) for _, v in outputs}
    inputs = [(k, s) for k, s in inputs if id(s) in used]  # unread state is not passed in
    for _, s in inputs:
        names[id(s)] = namer.reserve(s.name or "x")
    consts = {}
    for c in rec.consts:
        c.name = namer.reserve(f"c{c.index}")
        names[id(c)] = c.name
        consts[c.name] = c.value
    out_names = []
    for (kind, ref), v in outputs:
        if isinstance(v, Var) and id(v) not in names:
            if kind == "slot":
                label = ref.name + "_new" if ref.kind == "data" else ref.name
            elif kind == "arggrad":
                label = _arg_names(step, ref + 1)[ref] + "_grad"
            else:
                label = "result" if ref == 0 else f"result{ref}"
            names[id(v)] = namer.reserve(label)
        out_names.append(v)
    writer = codegen.Writer(namer, names)
    lines = codegen.body(ops, writer)
    fast = {}
    keep = {id(s) for _, s in inputs} | {id(v) for _, v in outputs}
    fast_ops, alias = codegen.reuse_dead_operands(ops, keep)
    fast_ops, ownable = _updates_in_place(fast_ops, inputs)
    fast_writer = codegen.Writer(namer, dict(names), alias)
    kept = {names[id(s)] for _, s in inputs} | {
        fast_writer.name(v) for _, v in outputs if isinstance(v, (Var, Const))
    }
    kept |= {c.name for c in rec.consts}
    fast_lines = codegen.body(
        fast_ops,
        fast_writer,
        errstate=lambda e: fast.setdefault(e, f"_E{len(fast)}"),
        dels=codegen.last_uses(fast_ops, fast_writer, kept),
    )
    params = [names[id(s)] for _, s in inputs]
    used_consts = sorted(
        {writer.name(c) for c in _consts_in(ops)}
        | {writer.name(v) for v in out_names if isinstance(v, Const)}
    )
    rets = ", ".join(writer.value(v) if v is not None else "None" for v in out_names)
    ret_line = f"    return ({rets},)" if len(out_names) == 1 else f"    return ({rets})"
    func = [f"def step({', '.join(params)}):"] + lines + ["", ret_line]
    runnable = "\n".join(func) + "\n"
    fast_head = f"def step({', '.join(params + ['own=()'])}):"
    fast_source = "\n".join([fast_head] + fast_lines + ["", ret_line]) + "\n"
    namespace = {"np": np}
    namespace.update({name: _FastErrstate(errs) for errs, name in fast.items()})
    namespace.update({k: consts[k] for k in used_consts})
    code = compile(fast_source, f"<gs.trace of {getattr(step, '__qualname__', 'step')}>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated code
    source = _module_source(runnable, consts, used_consts, inputs, outputs, names, step)
    program = Program(
        source, namespace["step"], [k for k, _ in inputs], [k for k, _ in outputs], template, consts
    )
    program.replay_source = fast_source  # what runs: the source with buffers reused and freed
    program.ownable = ownable  # input positions the replay may update in place (own=...)
    return program


def _updates_in_place(ops: list, inputs: list) -> tuple[list, list]:
    """Parameter updates ``p_new = p - u`` (a fused copy-on-write) that may write into
    p's array when the tensor is its only holder, as the eager update does.

    Returns the ops with those updates as kind "update" (kwargs own=k: the k-th flag
    of the program's ``own`` argument) and the input positions the flags are for.
    """
    position = {
        id(v): i
        for i, ((kind, ref), v) in enumerate(inputs)
        if kind == "slot" and ref.kind == "data"
    }
    last = {}
    for i, op in enumerate(ops):
        for x in codegen._syms_in((op.args, op.kwargs)):
            last[id(x)] = i
    ownable = []
    out = []
    for i, op in enumerate(ops):
        base = getattr(op, "update_of", None)
        if base is not None and id(base) in position and last.get(id(base)) == i:
            out.append(
                Op(
                    "update",
                    op.fn,
                    "__call__",
                    op.args,
                    {"own": len(ownable)},
                    op.outs,
                    op.context,
                    op.errstate,
                )
            )
            ownable.append(position[id(base)])
            continue
        out.append(op)
    return out, ownable


try:  # the context variable np.errstate sets (NumPy >= 2.0), as ops/_util.py uses it
    from numpy._core._ufunc_config import _extobj_contextvar as _fp_errors
except (ImportError, AttributeError):  # pragma: no cover - NumPy 1.26
    _fp_errors = None


class _FastErrstate:
    """``with np.errstate(**errs)`` for the replay, at a tenth of its cost (NumPy >= 2)."""

    def __init__(self, errs: tuple):
        self.kwargs = dict(errs)
        self.token = None
        self.cm = None
        if _fp_errors is not None:
            with np.errstate(**self.kwargs):
                self.state = _fp_errors.get()

    def __enter__(self):
        if _fp_errors is None:  # pragma: no cover - NumPy 1.26
            self.cm = np.errstate(**self.kwargs)
            self.cm.__enter__()
        else:
            self.token = _fp_errors.set(self.state)

    def __exit__(self, *exc):
        if _fp_errors is None:  # pragma: no cover - NumPy 1.26
            self.cm.__exit__(*exc)
        else:
            _fp_errors.reset(self.token)


def _consts_in(ops):
    for op in ops:
        yield from _walk_consts((op.args, op.kwargs))


def _walk_consts(x):
    if isinstance(x, Const):
        yield x
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _walk_consts(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _walk_consts(v)


def _module_source(runnable, consts, used, inputs, outputs, names, step) -> str:
    """``runnable`` as a module: constants written out, a docstring naming inputs/outputs."""
    title = getattr(step, "__qualname__", "step")
    ins = [f"    {names[id(s)]}: {_role(k)} {tuple(s.shape)} {s.dtype}" for k, s in inputs]
    outs = [
        f"    {names.get(id(v), 'None')}: "
        + ("new " if k[0] == "slot" and k[1].kind == "data" else "")
        + _role(k)
        for k, v in outputs
    ]
    head = [
        f'"""The program gs.trace recorded for {title}: forward, backward and update as NumPy.',
        "",
        "Generated by gradsight; runs on its own (it imports NumPy only). step() takes:",
        *ins,
        "and returns, in order:",
        *outs,
        '"""',
        "",
        "import numpy as np",
        "",
    ]
    big = []
    for name in used:
        v = consts[name]
        flat = np.asarray(v).ravel()
        if flat.size and (flat == flat[0]).all() and np.size(v) > 1:
            head.append(
                f"{name} = np.full({v.shape!r}, {flat[0].item()!r}, dtype=np.{v.dtype.name})"
            )
        elif np.size(v) <= codegen.INLINE_CONST_SIZE:
            head.append(f"{name} = np.array({np.asarray(v).tolist()!r}, dtype=np.{v.dtype.name})")
        else:
            big.append(name)
            head.append(
                f"{name} = None  # a {v.shape} {v.dtype} array recorded at trace time: "
                f"set {name} before calling step()"
            )
    return "\n".join(head) + "\n\n\n" + runnable


def _role(kind) -> str:
    what, ref = kind
    if what == "arg":
        return f"argument {ref}"
    if what == "ret":
        return f"returned value {ref}"
    if what == "arggrad":
        return f"gradient of argument {ref}"
    return (
        {"data": "", "grad": "gradient ", "state": "optimizer state "}.get(ref.kind, "") + ref.name
        if what == "slot"
        else str(kind)
    )


# ------------------------------------------------------------------ patches
_RULE_CODES: dict = {}


def _rule_codes() -> dict:
    """Code object of every VJP rule -> its primitive's name (for comments)."""
    if not _RULE_CODES:
        from gradsight._core.node import Primitive
        from gradsight.ops import elementwise, fused, linalg, reduce, shape

        for mod in (elementwise, fused, linalg, reduce, shape):
            for obj in vars(mod).values():
                if isinstance(obj, Primitive) and isinstance(obj.vjps, (tuple, list)):
                    for rule in obj.vjps:
                        code = getattr(rule, "__code__", None)
                        if code is not None:
                            _RULE_CODES.setdefault(code, obj.name)
    return _RULE_CODES


class _NumPyProxy:
    """``np`` for the optimizer modules while tracing: np.array copies a traced array."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def array(x, *args, **kwargs):
        if isinstance(x, Sym) and not args and set(kwargs) <= {"dtype"}:
            dtype = kwargs.get("dtype")
            return x.copy() if dtype is None else x.astype(dtype)  # astype copies too
        return np.array(x, *args, **kwargs)


class _MathProxy:
    """``math`` for the optimizer modules while tracing: sqrt of a traced scalar is traced."""

    def __getattr__(self, name):
        return getattr(math, name)

    @staticmethod
    def sqrt(x):
        return np.sqrt(x) if isinstance(x, Sym) else math.sqrt(x)


class _NoRandom:
    def __getattr__(self, name):
        raise TraceError(
            f"the step draws random numbers (generator.{name}) while being traced: a replay "
            "would repeat the same draw. Draw outside the step and pass the result in"
        )


class _patched:
    """Module globals swapped for trace-aware ones, for the duration of one trace."""

    def __init__(self, session: _Session):
        self.session = session
        self.saved = []

    def __enter__(self):
        from gradsight import autograd, creation
        from gradsight.optim import adam, sgd

        session = self.session
        original_acc = _engine._accumulate_leaf
        asarray = _node._asarray

        def traced_asarray(x):
            return x if isinstance(x, Sym) else asarray(x)

        def accumulate(var, g, is_owned, create_graph):
            if not isinstance(g, Sym) and not isinstance(getattr(var.grad, "data", None), Sym):
                return original_acc(var, g, is_owned, create_graph)
            _accumulate_traced(session, var, g, create_graph)

        def no_hooks(node, g, create_graph):
            raise TraceError(
                f"a hook on {node.name} would run during a traced backward: gs.trace does not "
                "record hooks (they run arbitrary Python). Remove the hook or run untraced"
            )

        def numpy_refused(t):
            if isinstance(t.data, Sym):
                return session.rec.read(t.data, ".numpy()")
            return t.data

        from gradsight.ops import _util, api
        from gradsight.ops.namespaces import ARRAY

        self._set(ARRAY, "broadcast_to", _traced_expand(_util.expand))
        self._set(ARRAY, "index_add", _traced_index_add(_util.index_add))
        self._set(_node, "_asarray", traced_asarray)
        lift, as_tensor = _node.lift, api.as_tensor
        self._set(_node, "lift", lambda x: x if isinstance(x, Sym) else lift(x))
        self._set(
            api,
            "as_tensor",
            lambda x: new_tensor(x, None, False) if isinstance(x, Sym) else as_tensor(x),
        )
        self._set(_engine, "_accumulate_leaf", accumulate)
        self._set(_engine, "_run_hooks", no_hooks)
        self._set(creation, "_generator", _NoRandom())
        self._set(sgd, "np", _NumPyProxy())
        self._set(autograd, "np", _NumPyProxy())
        self._set(adam, "math", _MathProxy())
        self._set(Tensor, "numpy", numpy_refused)
        return self

    def _set(self, obj, name, value):
        self.saved.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    def __exit__(self, *exc):
        for obj, name, value in reversed(self.saved):
            setattr(obj, name, value)


def _traced_expand(expand):
    """_util.expand for traced arrays (it writes into a fresh np.empty: not recordable)."""

    def traced(a, shape):
        if isinstance(a, Sym):
            return np.broadcast_to(a, shape).copy()  # the same values, one recorded copy
        return expand(a, shape)

    return traced


def _traced_index_add(index_add):
    def traced(g, shape, index):
        if isinstance(g, Sym):
            z = np.zeros_like(g, shape=shape)
            if _util_basic(index):
                z[index] = g
            else:
                np.add.at(z, index, g)
            return z
        return index_add(g, shape, index)

    return traced


def _util_basic(index) -> bool:
    from gradsight.ops._util import is_basic_index

    return is_basic_index(index)


def _accumulate_traced(session: _Session, var, g, create_graph) -> None:
    """engine._accumulate_leaf for traced gradients: same arithmetic, recorded."""
    if create_graph:
        raise TraceError("gs.trace does not trace backward(create_graph=True)")
    if id(var) not in session.known:
        raise TraceError(
            f"the step computes a gradient for a tensor of shape {var.shape} that gs.trace did "
            "not find in the step's arguments, closure, globals, modules or optimizers; pass "
            "it (or its module) to the step as an argument"
        )
    dtype = var.data.dtype
    if not isinstance(g, Sym):
        g = _writable(session.rec, np.asarray(g))  # an untraced gradient: a recorded copy
    if g.dtype != dtype:
        g = g.astype(dtype)
    elif g.var.claimed or not g.var.fresh:
        g = g.copy()  # a private copy: no .grad aliases other memory (as the engine does)
    g.var.claimed = True
    if var.grad is not None:
        g = np.add(var.grad.data, g, dtype=dtype)
        g.var.claimed = True
    var.grad = new_tensor(g, None, False)


def training_step(model, loss_fn, optimizer, trace_it: bool = True):
    """``step(x, y) -> loss``: zero_grad, loss_fn(model(x), y), backward, optimizer.step(),
    traced with gs.trace unless ``trace_it`` is False (the CLI's ``train --no-trace``)."""

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    if not trace_it:
        return step
    traced = trace(step)
    fallback = []

    def run(x, y):
        if fallback:
            return step(x, y)
        try:
            return traced(x, y)
        except TraceError as err:  # refused (a hook, a value read ...): eager from now on
            warnings.warn(f"gs.trace: running the step untraced: {err}", RuntimeWarning, 2)
            fallback.append(err)
            return step(x, y)  # the step starts with zero_grad: nothing is counted twice

    run.traced = traced
    return run
