"""``gs.trace``: record a training step once, replay it as generated NumPy code.

The first call (and any call whose guards fail) runs the step eagerly on
traced arrays (see recorder.py), which writes down every NumPy call the
forward, the VJP rules and the optimizer make. The calls become one Python
function of straight-line NumPy code (codegen.py); later calls check the
guards (guards.py) and run that function on the current arrays.
"""

from __future__ import annotations

import inspect
import sys
import threading
import warnings
import weakref

import numpy as np

from gradsight._core.grad_mode import mode
from gradsight._core.node import Primitive, make_node, parent_of
from gradsight._core.tensor import Tensor

from .codegen import _targets
from .frames import Follower, refuse_iterator_arguments, require_supported, roots_of
from .guards import Guard, StateSlot, _places, discover, read_holder, slot_name, slots_for
from .outside import Watch
from .program import Program, _arg_names, _build
from .recorder import _OWNED, Recorder, Sym, TraceError, Var
from .replay import BRANCH, HOLDS, MISS, compile_replay
from .seams import TraceHandler
from .verify import differences, due, every, mismatch_error, run_scratch

MAX_TRACES = 8  # programs kept per traced step; past it the step runs eagerly (with a warning)
_lock = threading.RLock()  # one trace at a time
_tracer = [None]  # the thread tracing now (under _lock): a traced step it calls runs eagerly


class _EagerFlag(threading.local):
    """.on: this thread runs a step eagerly beside a replay (verify). A default on the
    class: reading an unset attribute of a plain threading.local raises inside getattr,
    a cost every replay would pay."""

    on = False


_eager = _EagerFlag()
# steps running eagerly beside a replay, in all threads: while 0, no read of _eager
_eager_calls = [0]
_eager_lock = threading.Lock()


class Traced:
    """A traced step: call it like the step; ``source`` is the recorded program."""

    def __init__(
        self,
        step,
        allow_value_reads: bool = False,
        max_traces: int = MAX_TRACES,
        names=None,
        verify=None,
    ):
        self.step = step
        self.verify = verify
        every(verify)  # a bad value fails here, not at the first replay
        self.names = dict(names or {})
        self.allow_value_reads = allow_value_reads
        self.max_traces = max_traces
        self.entries: list = []  # (Guard, Program), most recent first
        self.traces = 0
        self.replays = 0
        self.eager_calls = 0  # calls run untraced because a check went the other way
        self.verified = 0  # replays checked against the eager step (verify=...)
        self.gave_up = False
        self.last_retrace_reason = None
        self._sig = None  # the step's signature, for calls with keywords
        self._attr = None  # the attribute name, when this traces a method (see __get__)

    def __repr__(self) -> str:
        name = getattr(self.step, "__qualname__", type(self.step).__name__)
        return f"<gs.trace of {name}: {self.traces} trace(s), {self.replays} replay(s)>"

    def _repr_html_(self) -> str:
        """Jupyter: the repr, then the recorded program (escaped) once there is one."""
        import html

        head = f"<code>{html.escape(repr(self))}</code>"
        if not self.entries:
            return f"<p>{head}: nothing traced yet; call the traced step once</p>"
        return f"<p>{head}</p><pre>{html.escape(self.source)}</pre>"

    def __set_name__(self, owner, name: str) -> None:
        self._attr = name

    def __get__(self, obj, objtype=None):
        """``@gs.trace`` on a method: each instance gets its own traced step (its own
        model and optimizer), kept in the instance's ``__dict__`` like a cached
        property, so ``trainer.step(x, y)`` traces once per trainer and then replays."""
        if obj is None or not hasattr(self.step, "__get__"):
            return self
        try:
            d = vars(obj)
        except TypeError:
            raise TypeError(
                f"@gs.trace on a method needs instances with a __dict__; "
                f"{type(obj).__name__} has none: trace the bound method instead, "
                "gs.trace(obj.method)"
            ) from None
        key = self._attr or _attribute_name(type(obj), self)
        bound = d.get(key)
        if not isinstance(bound, Traced) or bound.step.__self__ is not obj:
            step = self.step.__get__(obj, objtype)
            bound = Traced(step, self.allow_value_reads, self.max_traces, self.names, self.verify)
            bound._attr = self._attr  # None when no name was found: copies are then plain
            d[key] = bound  # later lookups find it before this descriptor
        return bound

    def __reduce__(self):
        # copy, deepcopy and pickle give an untraced twin: the programs hold the
        # original's arrays and compiled code. A traced method is looked up again on
        # the copied object (its function is reachable only through the class)
        owner = getattr(self.step, "__self__", None)
        if owner is not None and self._attr is not None and vars(owner).get(self._attr) is self:
            return (_traced_method, (type(owner), self._attr, owner))
        return (
            Traced,
            (self.step, self.allow_value_reads, self.max_traces, self.names, self.verify),
        )

    @property
    def source(self) -> str:
        """The most recent program as a standalone NumPy-only module."""
        if not self.entries:
            raise TraceError("nothing traced yet: call the traced step once first")
        return self.entries[0][1].source

    def __call__(self, *args, **kwargs):
        if kwargs:
            args = self._positional(args, kwargs)
        if (_tracer[0] is not None and _tracer[0] == threading.get_ident()) or (
            _eager_calls[0] and _eager.on
        ):
            # called by a step being traced (its calls join that trace) or run eagerly
            # beside a replay (verify): eager too
            return self.step(*args)
        for entry in self.entries:  # each replay checks its guards (anomaly mode among them)
            stats = entry[3]
            if stats[2] and due(stats[2], stats[0]):
                result = self._verified(entry, args)
                if result is not MISS:
                    return result
                continue
            result = entry[2](args)
            if result is BRANCH:
                # a check gradsight made on the values (an input check, a fast path) went
                # the other way before anything was written: this call runs eagerly, which
                # raises the real error or takes the other branch
                self.eager_calls += 1
                return self.step(*args)
            if result is not MISS:
                self.replays += 1
                stats[0] += 1
                if stats[3]:
                    _no_backward(result, self._name())
                return result
        if mode.anomaly:
            raise TraceError(
                "gs.trace does not run under detect_anomaly: a replay makes no per-op checks. "
                "Call the untraced step (traced.step) to debug it"
            )
        reason = self.entries[0][0].why_not(args, self.entries[0][1]) if self.entries else None
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
        # (replays so far, the guards-only function verify uses, the verify period,
        # whether the program is a forward pass only: read on every replay)
        stats = [0, None, every(self.verify), program.forward_only]
        self.entries.insert(0, (guard, program, compile_replay(program, guard), stats))
        return result

    def _verified(self, entry, args):
        """A replay checked against the eager step (see verify.py): MISS when a guard
        fails, else the eager step's result; TraceError on any difference."""
        guard, program, _, stats = entry
        if stats[1] is None:
            stats[1] = compile_replay(program, guard, "holds", guards_only=True)
        if stats[1](args) is not HOLDS:
            return MISS
        outs, scratch = run_scratch(program, args)
        if outs is program.retrace:  # a recorded check went the other way: eager, as a replay would
            self.eager_calls += 1
            return self.step(*args)
        was, _eager.on = _eager.on, True
        with _eager_lock:
            _eager_calls[0] += 1
        try:
            result = self.step(*args)
        finally:
            _eager.on = was
            with _eager_lock:
                _eager_calls[0] -= 1
        stats[0] += 1
        self.replays += 1
        self.verified += 1
        found = differences(program, args, outs, scratch, result)
        if found:
            # the program is wrong for this step: never replayed again
            self.entries.clear()
            self.gave_up = True
            err = mismatch_error(self._name(), found)
            err.eager_result = result  # the step ran (eagerly) and its effects are kept
            raise err
        return result

    def _name(self) -> str:
        return getattr(self.step, "__qualname__", "the step")

    def _positional(self, args: tuple, kwargs: dict) -> tuple:
        """``step(x=x, y=y)`` as ``step(x, y)``: keywords bound to the step's signature,
        so the guards and the program see one argument list. Defaults are filled in
        only up to the last parameter given (``step(x, y, lr=0.1)`` with a default
        before ``lr``)."""
        bound = self._signature().bind(*args, **kwargs)  # TypeError as the step would raise
        if bound.kwargs:
            bound.apply_defaults()
        if bound.kwargs:
            raise TypeError(
                f"gs.trace passes arguments by position: {self._name()} takes "
                f"{', '.join(map(repr, bound.kwargs))} only by keyword; give those parameters "
                "a place before any * in its signature"
            )
        return bound.args

    def _signature(self) -> inspect.Signature:
        if self._sig is None:
            self._sig = inspect.signature(self.step)
        return self._sig


def _attribute_name(cls, descriptor) -> str:
    """The name ``descriptor`` has in ``cls`` (set after the class was made, as in
    ``Trainer.step = gs.trace(Trainer.step)``, it was never told)."""
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if value is descriptor:
                descriptor._attr = name
                return name
    return f"_gs_trace_{id(descriptor)}"


def _traced_method(cls, attr: str, obj) -> Traced:
    """``obj.<attr>`` for a method traced with @gs.trace: a fresh traced step (unpickling)."""
    return getattr(cls, attr).__get__(obj, cls)


def trace(
    step=None,
    *,
    allow_value_reads: bool = False,
    max_traces: int = MAX_TRACES,
    names=None,
    verify=None,
):
    """Trace a training step: ``traced = gs.trace(step)``; also a decorator.

    ``step(*args)`` does forward, loss, ``backward()`` and an optimizer update
    (or returns gradients). The first call runs it and records its NumPy
    calls; later calls replay them while the guards hold, and retrace when
    they don't (at most ``max_traces`` programs, then it runs eagerly with a
    warning). ``traced.source`` is the program. ``allow_value_reads=True``
    lets the step read traced values (``float(norm)``) before it writes into its
    state: each read is a guard, and a replay whose value differs runs eagerly.
    ``names`` ({name: Tensor}) names tensors in the source (default: their module
    path, ``hidden.weight`` -> ``hidden_weight``).

    ``verify`` runs the eager step beside chosen replays and raises TraceError on any
    difference (the eager step's results are kept): ``"first"`` (each program's first
    replay), an int N (every N-th replay of a program, from its first), ``"all"``, or
    False. None (the default) reads the environment variable GRADSIGHT_TRACE_VERIFY
    (the same values; unset: False).
    """
    if step is None:
        return lambda f: trace(
            f,
            allow_value_reads=allow_value_reads,
            max_traces=max_traces,
            names=names,
            verify=verify,
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
    return Traced(step, allow_value_reads, max_traces, names, verify)


# ------------------------------------------------------------------ trace
def _trace(step, args, allow_value_reads, names):
    require_supported()
    refuse_iterator_arguments(args)  # (before anything runs: nothing to put back)
    with _lock:
        found = discover(step, args)
        given = {id(t): n for n, t in names.items()}
        found.tensors = [(t, given.get(id(t), n)) for t, n in found.tensors]
        arg_ids = {id(a) for a in args}
        slots = slots_for(found, arg_ids)
        guard = Guard(args, found, slots, step)
        rec = Recorder(allow_value_reads=allow_value_reads)
        rec.reachable = {id(a): (a, container, key) for container, key, a in guard.arrays}
        session = _Session(rec, found, slots, args, step)
        before = _Rollback(session)
        session.hold_arrays(guard.arrays)  # (after _Rollback: their first writes are undone)
        watch = Watch(_places(step, args))  # random draws and clocks: refused
        handler = TraceHandler(session)  # the engine's seams (gs.rand: a program input)
        follower = _follower(step, args, found, guard, session)
        outer, _tracer[0] = _tracer[0], threading.get_ident()
        try:
            try:
                with handler, watch, follower:
                    result = step(*session.call_args)
                watch.check()
                before.check_rebinding()
                follower.check()  # what the user's code read and wrote of earlier state
                guard.scalars, guard.holders = follower.scalars, follower.holders
                if inspect.isgenerator(result):
                    raise TypeError(
                        "gs.trace cannot trace a step that returns a generator: the work would "
                        "run after the trace ended"
                    )
                program = session.finish(result)
            finally:
                _tracer[0] = outer
                session.restore()
                rec.active = False
                _heal_kept(step, args)
        except TraceError as err:
            # a trace runs the step for real: a refusal puts back what it changed
            before.restore()
            watch.put_back()  # (the generators too: the step, run again, draws the same)
            handler.put_back()
            err.args = (
                f"{err} (gs.trace put the parameters and optimizer state back as they were "
                "before this call; gradients stay as the step left them)",
            )
            raise
        return session.result, guard, program


def _follower(step, args, found, guard, session) -> Follower:
    """The follower of the user's frames for this tracing call (see frames.py)."""
    roots, covered, module_dicts = roots_of(step, (*args, *session.call_args), found)
    held = {id(a) for _, _, a in guard.arrays}
    held |= {id(v) for v in session.start_values.values()}
    held |= {id(real) for _, real in session.swapped_args}
    return Follower(roots, covered, held, module_dicts)


def _heal_kept(step, args) -> None:
    """Tensors the step kept where it keeps state (a log list, a module attribute) hold
    traced arrays after the tracing call: give them their real arrays."""
    try:
        discover(step, args)  # (heals each tensor it finds)
    except Exception:  # noqa: BLE001 - best effort: discovery heals them on the next call
        pass


_ABSENT = object()  # an attribute a module did not have before the tracing call


class _Rollback:
    """What a refused tracing call puts back: the parameters' and tensor arguments'
    arrays, the optimizers' state and groups. An array the trace writes into in place
    is copied just before its first write (recorder.Recorder.undo): a trace that writes
    nothing copies nothing. Made after the session judged which arrays their tensors
    alone hold, so the references kept here change no decision. Gradients stay as the
    step left them (keeping the ones zero_grad drops would hold their memory)."""

    def __init__(self, session):
        self.slots = [
            (slot, session.start_values[slot]) for slot in session.slots if slot.kind != "grad"
        ]
        self.args = [(t, real) for t, real in session.swapped_args]
        session.rec.undo = self.undo = {
            id(var): [None, None]
            for (kind, ref), var, _ in session.inputs
            if kind in ("slot", "arg") and getattr(ref, "kind", "data") != "grad"
        }
        # the tensors each module keeps as attributes: a step that rebinds one
        # (self.running_mean = ...) is refused, and the attribute put back
        self.attributes = [
            (sub, dict(vars(sub))) for m, _ in session.found.modules for sub in m.modules()
        ]
        self.optimizers = [
            (
                opt,
                [(p, st, dict(st)) for p, st in opt.state.items()],
                [(g, dict(g)) for g in opt.param_groups],
                list(opt.param_groups),
            )
            for opt in session.found.optimizers
        ]

    def _rebound(self):
        """(module, attribute, value before) for each module attribute the step set to
        or from a tensor."""
        for sub, saved in self.attributes:
            for k, new in list(vars(sub).items()):
                old = saved.get(k, _ABSENT)
                if k[:1] != "_" and new is not old:
                    if isinstance(new, Tensor) or isinstance(old, Tensor):
                        yield sub, k, old

    def check_rebinding(self) -> None:
        for sub, k, _ in self._rebound():
            raise TraceError(
                f"the step sets {type(sub).__name__}.{k} to a tensor: a replay updates the "
                "tensors it found, it cannot set attributes. Return the tensor from the "
                f"step, or keep one tensor and update it in place under gs.no_grad() "
                f"(self.{k} *= m; self.{k} += (1 - m) * value)"
            )

    def restore(self) -> None:
        for sub, k, old in list(self._rebound()):
            if old is _ABSENT:
                del vars(sub)[k]
            else:
                vars(sub)[k] = old
        for array, copy in self.undo.values():
            if copy is not None:
                writeable = array.flags.writeable
                array.setflags(write=True)  # (restore() froze it: ours, as it was before)
                np.copyto(array, copy)
                array.setflags(write=writeable)
        for opt, state, groups, group_list in self.optimizers:
            opt.state.clear()
            for p, st, saved in state:
                st.clear()
                st.update(saved)
                opt.state[p] = st
            for g, saved in groups:
                g.clear()
                g.update(saved)
            opt.param_groups[:] = group_list
        for slot, value in self.slots:
            if slot.kind == "data":
                slot.t.data = value
        for t, real in self.args:
            t.data = real


class _Session:
    """One trace in progress: the Syms standing in for state, and the way back."""

    def __init__(self, rec: Recorder, found, slots, args, step):
        self.rec, self.found, self.slots, self.step = rec, found, slots, step
        self.args = args
        # Inputs and start values are held weakly (Syms through weak references): an
        # array the step drops (zero_grad's old gradients, a parameter updated out of
        # place) is freed during the trace as in the eager step.
        self.inputs = []  # (("arg", i) | ("slot", slot), Var, weakref to its Sym)
        self.start = {}  # slot -> value at the start (_ARRAY where it was an array)
        self.swapped_args = []  # (Tensor, real array)
        self.swapped_items = []  # (list or dict argument, key, real value, its stand-in)
        self.held_swaps = []  # (closure cell / dict, key, real array, its Sym)
        self.known = {id(t) for t, _ in found.tensors}
        self.result = None
        names = _arg_names(step, len(args))
        call_args = []
        self.repeated = set()  # positions of a Tensor given again (its first place is traced)
        # (("draw", (kind, shape, dtype)), Var, weakref to Sym): gs.rand/randn (seams.py)
        self.draws = []
        given = set()
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and id(a) in given:
                self.repeated.add(i)
                call_args.append(a)
            elif isinstance(a, Tensor):
                s = rec.sym(a.data, names[i])
                self.swapped_args.append((a, a.data))
                given.add(id(a))
                a.data = s
                self._input(("arg", i), s)
                self.known.add(id(a))
                call_args.append(a)
                if a.grad is not None:
                    gs_ = rec.sym(a.grad.data, names[i] + "_grad")
                    a.grad.data = gs_
                    self._input(("arggrad", i), gs_)
            elif isinstance(a, np.ndarray):
                s = rec.sym(a, names[i])
                self._input(("arg", i), s, strong=True)  # only the call holds it
                call_args.append(s)
            elif a.__class__ in (list, tuple, dict):  # a batch (x, y) of NumPy arrays
                call_args.append(self._traced_items(a, (i,), names[i]))
            else:
                call_args.append(a)
        self.call_args = call_args
        self.start_values = {}  # slot -> its value at the start (for _Rollback)
        for slot in slots:
            v = slot.get()
            is_array = isinstance(v, np.ndarray)
            self.start[slot] = _ARRAY if is_array else v
            if is_array or (slot.kind == "state" and isinstance(v, int)):
                s = rec.sym(np.asarray(v) if isinstance(v, int) else v, slot_name(slot))
                s.var.is_int = s.var.weak = isinstance(v, int)  # a Python int: weak
                slot.set(s)
                self._input(("slot", slot), s)
                # the references now: v, s.value and getrefcount's argument; more means
                # someone else holds the array, and the eager update would copy it
                if slot.kind == "data" and v.flags.owndata and sys.getrefcount(v) <= 3:
                    s.flags = _OWNED
            if slot.kind != "grad":  # (after the ownership test: a reference changes none)
                self.start_values[slot] = v
            del v

    def hold_arrays(self, arrays: list) -> None:
        """Traced arrays in place of the NumPy arrays the step reads from closure cells,
        globals and named entries (``weights``, ``self.mask``, ``CFG["w"]``): inputs of
        the program, read from there on every replay (a constant would keep the traced
        values of an array changed in place or rebound later). Put back by restore()."""
        # (an array that is also a found tensor's, gs.from_numpy(W), stays that tensor's)
        tensors = {id(v) for v in self.start_values.values()}
        tensors |= {id(real) for _, real in self.swapped_args}
        for container, key, a in arrays:
            if id(a) in self.rec.held or id(a) in tensors or read_holder(container, key) is not a:
                continue
            var = self.rec.hold(a, container, key)
            s = Sym(self.rec, a, var)
            _put_holder(container, key, s)
            self.held_swaps.append((container, key, a, s))

    def _traced_items(self, a, path: tuple, name: str):
        """The list, tuple or dict argument ``a`` with its NumPy arrays traced: inputs
        read at ``path`` on each replay (baked in, an array refilled in place would
        replay its traced values). Lists and dicts are changed in place, as the step
        may change them, and put back by restore(); a tuple is copied. Tensors in it
        stay the objects they are (found state, guarded by identity)."""
        if isinstance(a, np.ndarray):
            s = self.rec.sym(a, name)
            self._input(("argitem", path), s, strong=True)
            return s
        if a.__class__ is tuple:
            return tuple(self._traced_items(v, path + (k,), f"{name}_{k}") for k, v in enumerate(a))
        if a.__class__ in (list, dict):
            for k, v in list(enumerate(a) if a.__class__ is list else a.items()):
                new = self._traced_items(v, path + (k,), f"{name}_{k}")
                if new is not v:
                    self.swapped_items.append((a, k, v, new))
                    a[k] = new
        return a

    def _input(self, key, s: Sym, strong: bool = False) -> None:
        self.inputs.append((key, s.var, s if strong else weakref.ref(s)))

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
        written = _written_inputs(rec.ops, {id(var) for _, var, _ in self.inputs})
        for slot in self.slots:
            v = slot.get()
            unchanged = v is self.start[slot] or (isinstance(v, Sym) and v is self._input_sym(slot))
            if unchanged and not (slot.kind == "data" and id(getattr(v, "var", None)) in written):
                continue  # (a parameter updated in place is an output: the replay may copy)
            changed = True
            outputs.append((("slot", slot), self._ref(v)))
        for i, a in enumerate(self.args):
            if i in self.repeated:
                continue
            if isinstance(a, Tensor):  # an argument whose array the step replaced or wrote
                before = next(
                    (_deref(s) for (k, j), _, s in self.inputs if k == "arg" and j == i), None
                )
                v = a.data
                if v is not before or (isinstance(v, Sym) and id(v.var) in written):
                    changed = True
                    outputs.append((("argdata", i), self._ref(v)))
            if isinstance(a, Tensor) and a.requires_grad:
                g = a.grad
                v = None if g is None else g.data
                before = next(
                    (_deref(s) for (k, j), _, s in self.inputs if k == "arggrad" and j == i), None
                )
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
        forward_only = not changed and mode.enabled and _requires_grad(result)
        self.result = _real(result)
        for x, container, key, var in rec.held.values():  # arrays read from closure, globals
            ref = (container, key, x.shape, x.dtype, x.strides)
            self.inputs.append((("held", ref), var, x))
        # fresh draws last: a replay draws them after every guard that could send it back
        self.inputs.extend(self.draws)
        inputs = [(k, var) for k, var, _ in self.inputs]
        program = _build(rec, inputs, outputs, template, self.step)
        program.forward_only = forward_only
        return program

    def _ref(self, v):
        """An output value as the program names it: a Var, a Const, or None."""
        if isinstance(v, Sym):
            return v.var
        if isinstance(v, np.ndarray):
            # an untraced array the trace wrote into (the engine adding a traced
            # gradient into a constant one) is its Var, not a snapshot of its values
            return self.rec._ref(v)
        return v

    def _input_sym(self, slot):
        for (kind, ref), _, s in self.inputs:
            if kind == "slot" and ref is slot:
                return _deref(s)
        return None

    def restore(self) -> None:
        """Put real arrays back wherever a Sym stands (the step's effects are kept)."""
        for container, key, real, stand_in in reversed(self.held_swaps):
            if read_holder(container, key) is stand_in:
                _put_holder(container, key, real)
        for container, key, real, stand_in in reversed(self.swapped_items):
            if read_holder(container, key) is stand_in:
                container[key] = real
        for t, _ in self.swapped_args:
            if isinstance(t.data, Sym):
                t.data = t.data.value
            if t.grad is not None and isinstance(t.grad.data, Sym):
                t.grad.data = _frozen(t.grad.data.value)
        for slot in self.slots:
            v = slot.get()
            if isinstance(v, Sym):
                slot.put(_frozen(v.value) if slot.kind != "state" else v.value)
        for t in _stray:
            if isinstance(t.data, Sym):
                t.data = t.data.value
        _stray.clear()
        for opt in self.found.optimizers:  # entries the step made before it raised
            for st in opt.state.values():
                for key, v in st.items():
                    if isinstance(v, Sym):
                        st[key] = v.value


def _put_holder(container, key, value) -> None:
    """``container[key] = value`` for a closure cell (key None) or a dict."""
    if key is None:
        container.cell_contents = value
    else:
        container[key] = value


_stray: list = []  # tensors given traced gradients outside the found state (restored after)
_ARRAY = object()  # start value of a slot that held an array (its Sym stands for it)


def _deref(s):
    return s() if isinstance(s, weakref.ref) else s


def _written_inputs(ops: list, inputs: set) -> set:
    """ids of the input Vars that some op wrote into in place."""
    return {
        id(t)
        for op in ops
        if op.inplace and op.kind != "check"
        for t in _targets(op)
        if id(t) in inputs
    }


def _frozen(v):
    if isinstance(v, np.generic):  # a 0-d result: the eager step keeps an array
        v = np.asarray(v)
    if isinstance(v, np.ndarray):
        v.setflags(False)
    return v


def _template(result, rets, rec):
    """The shape of the step's return value, with traced tensors numbered into ``rets``."""
    if isinstance(result, Tensor):
        data = result.data
        ref = rec._ref(data) if isinstance(data, np.ndarray) else None
        if isinstance(data, Sym) or isinstance(ref, Var):  # (Var: an array the trace wrote)
            rets.append(data.var if isinstance(data, Sym) else ref)
            return ("tensor", len(rets) - 1)
        # a tensor made from Python values: a fresh one per call, from a copy of its
        # values now (the caller may change the one this call returns in place)
        return ("const_tensor", _frozen(np.array(result.data)), result.requires_grad)
    if isinstance(result, np.ndarray):
        return ("const_array", _frozen(result.copy()))
    if isinstance(result, (tuple, list)):
        return ("seq", type(result), [_template(r, rets, rec) for r in result])
    if isinstance(result, dict):
        return ("dict", [(k, _template(v, rets, rec)) for k, v in result.items()])
    if isinstance(result, Sym):
        raise TraceError("the step returned a traced array: return Tensors (or nothing)")
    return ("const", result)


def _requires_grad(result) -> bool:
    """Whether the step's return value holds a tensor that requires grad."""
    if isinstance(result, Tensor):
        return result.requires_grad
    if isinstance(result, (tuple, list)):
        return any(_requires_grad(r) for r in result)
    if isinstance(result, dict):
        return any(_requires_grad(r) for r in result.values())
    return False


def _refuse_backward(F, g, out):
    raise TraceError(
        "backward() reached a tensor returned by a replay of a traced forward pass "
        "(gs.trace(net), say): a replay computes values without the autograd graph, so the "
        "gradient cannot reach the parameters. Trace the whole training step (forward, loss, "
        "backward, optimizer.step()) with gs.trace, or call the untraced function "
        "(traced.step) where you need gradients"
    )


_REPLAYED = Primitive("traced_forward_replay", None, (_refuse_backward,))


def _no_backward(result, name: str) -> None:
    """The tensors a forward-only program's replay returns, with a grad_fn that refuses
    backward() with a message (the eager forward would have given them a graph)."""
    if isinstance(result, Tensor):
        if result.dtype.kind == "f":
            leaf = Tensor(np.zeros(1), requires_grad=True)  # a graph end the refusal hangs on
            result.grad_fn = make_node(_REPLAYED, (parent_of(leaf),), (), result.data)
            result.requires_grad = True
    elif isinstance(result, (tuple, list)):
        for r in result:
            _no_backward(r, name)
    elif isinstance(result, dict):
        for r in result.values():
            _no_backward(r, name)


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


def training_step(model, loss_fn, optimizer, trace_it: bool = True, on_fallback=None):
    """``step(x, y) -> loss``: zero_grad, loss_fn(model(x), y), backward, optimizer.step(),
    traced with gs.trace unless ``trace_it`` is False (the CLI's ``train --no-trace``).
    The first replay of each program is verified against the eager step; on a
    TraceError the step runs eagerly from then on, after one line: given to
    ``on_fallback(line)``, or a RuntimeWarning."""

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    if not trace_it:
        return step
    traced = trace(step, verify="first")  # each program's first replay beside the eager step
    fallback = []

    def run(x, y):
        if fallback:
            return step(x, y)
        try:
            return traced(x, y)
        except TraceError as err:  # refused (a hook, a value read ...): eager from now on
            line = f"gs.trace: running the step untraced: {str(err).splitlines()[0]}"
            if on_fallback is not None:
                on_fallback(line)
            else:
                warnings.warn(line, RuntimeWarning, 2)
            fallback.append(err)
            if hasattr(err, "eager_result"):  # a verified replay: the eager step already ran
                return err.eager_result
            return step(x, y)  # a refused trace put the state back: the step runs once

    run.traced = traced
    return run
