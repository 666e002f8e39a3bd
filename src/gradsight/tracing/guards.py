"""What a trace depends on: the state it finds, and the guards a replay checks.

Discovery looks where a training step keeps its state: the step's arguments,
its closure, the globals it names, its ``self`` and default values (one
level into lists, tuples and dicts). Modules give their named parameters,
optimizers their parameters and per-parameter state, Tensors themselves.

State lives in *slots*: a tensor's array, a tensor's gradient, an entry of
an optimizer's state. A trace reads every slot at the start (the program's
inputs) and writes the ones the step changed at the end (its outputs).

A guard is everything else the recorded program assumed: argument kinds,
shapes and dtypes, grad mode, which parameters the modules and optimizers
hold, each slot's shape and dtype, the optimizer hyper-parameters, and that
no hooks are registered. ``Guard.checks(program)`` writes them as code, one
``Check`` each (a condition, and what to say when it fails): the replay
inlines those conditions (replay.py), and ``Guard.why_not`` runs the same code
to name the first that fails, so the two cannot disagree.
"""

from __future__ import annotations

import functools
import inspect
import os
import reprlib
import sys
import sysconfig
import types
from dataclasses import dataclass

import numpy as np

from gradsight._core.grad_mode import mode, plain
from gradsight._core.tensor import LEAF_HOOK_LISTS, Tensor, new_tensor
from gradsight.nn.module import Module
from gradsight.optim.optimizer import Optimizer

from .codegen import identifier
from .recorder import Sym

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


# ------------------------------------------------------------------ slots
class DataSlot:
    """``t.data`` of a tensor (parameter, buffer, constant tensor)."""

    kind = "data"

    def __init__(self, t: Tensor, name: str):
        self.t, self.name = t, name

    def get(self):
        return self.t.data

    def set(self, value) -> None:
        self.t.data = value

    def put(self, value) -> None:
        value.setflags(False)
        self.t.data = value


class GradSlot:
    """``t.grad`` (a Tensor or None); the slot's value is its array."""

    kind = "grad"

    def __init__(self, t: Tensor, name: str):
        self.t, self.name = t, name + ".grad"

    def get(self):
        g = self.t.grad
        return None if g is None else g.data

    def set(self, value) -> None:
        if value is None:
            self.t.grad = None
        elif self.t.grad is not None:
            self.t.grad.data = value
        else:
            self.t.grad = new_tensor(value, None, False)

    def put(self, value) -> None:
        if value is None:
            self.t.grad = None
            return
        value.setflags(False)
        if self.t.grad is not None:  # the same .grad object, as eager accumulation keeps
            self.t.grad.data = value
        else:
            self.t.grad = new_tensor(value, None, False)


class StateSlot:
    """``optimizer.state[p][key]``: an array (momentum, moments) or an int (Adam's step)."""

    kind = "state"

    def __init__(self, opt: Optimizer, p: Tensor, key: str, name: str):
        self.opt, self.p, self.key = opt, p, key
        self.name = f"{name}.{key}"

    def get(self):
        st = self.opt.state.get(self.p)
        return None if st is None else st.get(self.key)

    def set(self, value) -> None:
        self.opt.state.setdefault(self.p, {})[self.key] = value

    def put(self, value) -> None:
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "i":
            value = int(value)
        elif isinstance(value, np.integer):
            value = int(value)
        self.opt.state.setdefault(self.p, {})[self.key] = value


# ------------------------------------------------------------------ discovery
@dataclass
class Found:
    """The state a step touches: tensors with names, modules, optimizers."""

    tensors: list  # (Tensor, name)
    modules: list  # (Module, name)
    optimizers: list


def _places(step, args) -> list:
    """(name, object) pairs where the step may keep state."""
    places = []
    try:
        names = list(inspect.signature(step).parameters)
    except (TypeError, ValueError):
        names = []
    for i, a in enumerate(args):
        places.append((names[i] if i < len(names) else f"arg{i}", a))
    step, bound = unwrap_partial(step)
    places += bound
    fn = step
    self_obj = getattr(step, "__self__", None)
    if self_obj is not None:
        places.append(("self", self_obj))
    if isinstance(step, Module):
        places.append(("model", step))
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        call = type(step).__dict__.get("__call__") or getattr(type(step), "forward", None)
        code = getattr(call, "__code__", None)
        places.append(("self", step))
        fn = call
    if code is None:
        return places
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            places.append((name, cell.cell_contents))
        except ValueError:  # an empty cell
            pass
    glb = getattr(fn, "__globals__", {})
    for name in _global_names(code):
        if name in glb:
            places.append((name, glb[name]))
    for d in getattr(fn, "__defaults__", None) or ():
        places.append(("default", d))
    return places


def unwrap_partial(step) -> tuple:
    """``functools.partial(train_step, model, opt)`` -> (train_step, [(name, model), ...]):
    the function whose code runs, and the values bound to it (state kept there)."""
    bound = []
    while isinstance(step, functools.partial):
        try:
            names = list(inspect.signature(step.func).parameters)
        except (TypeError, ValueError):
            names = []
        bound += [(names[i] if i < len(names) else f"bound{i}", a) for i, a in enumerate(step.args)]
        bound += list(step.keywords.items())
        step = step.func
    return step, bound


def _global_names(code) -> list:
    names = list(code.co_names)
    for c in code.co_consts:
        if inspect.iscode(c):
            names.extend(_global_names(c))
    return names


def discover(step, args) -> Found:
    """Modules, optimizers and tensors reachable from the step (see module docstring)."""
    tensors, modules, optimizers = {}, {}, {}

    seen_fns = set()

    def visit(name, obj, depth):
        if isinstance(obj, (types.FunctionType, types.MethodType)):
            fn = getattr(obj, "__func__", obj)
            code = fn.__code__
            if id(fn) in seen_fns or len(seen_fns) > 50 or code.co_filename.startswith(_PACKAGE):
                return
            seen_fns.add(id(fn))
            for sub_name, sub in _places(obj, ()):  # a helper the step calls: its state too
                visit(sub_name, sub, 0)
            return
        if isinstance(obj, Tensor):
            heal(obj)
            tensors.setdefault(id(obj), (obj, name))
        elif isinstance(obj, Module):
            modules.setdefault(id(obj), (obj, name))
            if depth < 1:  # state kept on a module beside its parameters (self.opt)
                for k, v in _attributes(obj):
                    if isinstance(v, (Tensor, Optimizer)):
                        visit(f"{name}_{k}", v, depth + 1)
        elif depth < 1 and _plain_object(obj):  # a trainer object: self.model, self.opt
            for k, v in _attributes(obj):
                visit(f"{name}_{k}", v, depth + 1)
        elif isinstance(obj, Optimizer):
            optimizers.setdefault(id(obj), obj)
        elif depth < 1 and isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                visit(f"{name}_{i}", v, depth + 1)
        elif depth < 1 and isinstance(obj, dict):
            for i, (k, v) in enumerate(obj.items()):
                visit(f"{name}_{k}" if isinstance(k, str) else f"{name}_{i}", v, depth + 1)

    for name, obj in _places(step, args):
        visit(name, obj, 0)
    seen_fns.add(id(getattr(step, "__func__", step)))
    named = {}
    mods = list(modules.values())
    for m, mname in mods:
        for pname, p in m.named_parameters():
            plain = len(mods) == 1 and pname[:1].isalpha()  # hidden.weight, not 0.weight
            named.setdefault(id(p), (p, pname if plain else f"{mname}.{pname}"))
    for id_, (t, name) in tensors.items():
        named.setdefault(id_, (t, name))
    for t, name in module_buffers(mods):  # a running statistic kept beside the parameters
        heal(t)
        named.setdefault(id(t), (t, name))
    for opt in optimizers.values():
        k = 0
        for group in opt.param_groups:
            for p in group["params"]:
                if id(p) not in named:
                    named[id(p)] = (p, f"param{k}")
                k += 1
    return Found(list(named.values()), mods, list(optimizers.values()))


def module_buffers(modules) -> list:
    """(Tensor, dotted name) of the tensors the modules and their submodules keep as
    plain attributes (BatchNorm's ``running_mean``): state the step may update."""
    found = []
    for m, mname in modules:
        for sub_name, sub in m.named_modules():
            for k, v in _attributes(sub):
                if isinstance(v, Tensor) and not k.startswith("_"):
                    parts = (mname if len(modules) > 1 else "", sub_name, k)
                    found.append((v, ".".join(x for x in parts if x)))
    return found


def heal(t: Tensor) -> None:
    """A tensor made during an earlier tracing call and kept by the step (``log.append(
    loss.detach())``, ``self.last = pred``) holds a traced array: given its real array."""
    data = t.data
    if isinstance(data, Sym) and not data.rec.active:
        t.data = _read_only(data.value)
    g = t.grad
    if g is not None and isinstance(g.data, Sym) and not g.data.rec.active:
        g.data = _read_only(g.data.value)


def _read_only(v):
    if not isinstance(v, np.ndarray):
        v = np.asarray(v)
    v.setflags(write=False)
    return v


def slots_for(found: Found, arg_ids: set) -> list:
    """The state slots of the tensors and optimizers found (arguments excluded)."""
    slots = []
    names = {}
    for t, name in found.tensors:
        if id(t) in arg_ids:
            continue
        names[id(t)] = name
        slots.append(DataSlot(t, name))
        if t.requires_grad:
            slots.append(GradSlot(t, name))
    for opt in found.optimizers:
        for p, st in opt.state.items():
            for key in st:
                slots.append(StateSlot(opt, p, key, names.get(id(p), "param")))
    return slots


# code that is not the user's: gradsight, the standard library and installed packages
NOT_USER_CODE = tuple(
    {_PACKAGE}
    | {
        os.path.join(path, "")
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(key))
    }
)


def _user_code(fn) -> bool:
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code is not None and not code.co_filename.startswith(NOT_USER_CODE)


def _user_namespace(v) -> bool:
    """A class or a module of the user's (a Config class, a hparams module), whose
    attributes the step may read."""
    if isinstance(v, types.ModuleType):
        path = getattr(v, "__file__", None)
        return path is not None and not os.path.abspath(path).startswith(NOT_USER_CODE)
    if isinstance(v, type) and v.__module__ not in ("builtins", "__builtin__"):
        module = sys.modules.get(v.__module__)
        return module is not None and _user_namespace(module) or v.__module__ == "__main__"
    return False


def _user_methods(cls) -> list:
    """The functions the user's classes in ``cls``'s MRO define (methods a step's
    ``self.helper()`` may call)."""
    found = []
    for klass in getattr(cls, "__mro__", ()):
        if klass.__module__.startswith(("gradsight", "builtins")):
            continue
        for v in vars(klass).values():
            if isinstance(v, (staticmethod, classmethod)):
                v = v.__func__
            elif isinstance(v, property):
                v = v.fget
            if isinstance(v, types.FunctionType) and _user_code(v):
                found.append(v)
    return found


def _plain_object(v) -> bool:
    """An instance of a user class that may keep state in its attributes."""
    # tp_dictoffset, not hasattr: no __getattr__ of the user's runs
    return type(v).__dictoffset__ != 0 and not isinstance(
        v,
        (type, types.ModuleType, types.FunctionType, types.MethodType, Tensor, Optimizer, Module),
    )


def _attributes(obj) -> list:
    """(name, value) of an object's own attributes, for discovery."""
    return [(k, v) for k, v in vars(obj).items() if isinstance(k, str)]


def reads(step, modules=()) -> list:
    """The NumPy arrays the step's code may read, found before the call: (container,
    key, array) from its closure cells, the globals it names, the entries its code
    names of ``self``, of the dicts, plain objects, user classes and modules it reads
    (and the same places of the functions it calls and of the user-written methods
    of the found ``modules``). Each becomes an input of the program, read from there
    on every replay (traced._Session.hold_arrays). ``container`` is a cell (key None)
    or a dict (globals, an object's ``__dict__``).

    The Python values the step reads are not looked for here: the tracing call
    follows the user's code and guards what it reads (frames.Follower), and refuses
    an array it loads that is not among these."""
    arrays: list = []
    seen: set = set()
    words: set = set()  # attribute names and string constants in the code walked
    read: list = []  # dicts and objects the code reads: their entries named in words

    def walk(fn, depth):
        fn = getattr(fn, "__func__", fn)
        code = getattr(fn, "__code__", None)
        if code is None or id(fn) in seen or depth > 3 or code.co_filename.startswith(_PACKAGE):
            return
        seen.add(id(fn))
        words.update(_words(code))
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            note(cell, None, v, depth)
        glb = getattr(fn, "__globals__", {})
        for name in _global_names(code):
            if name in glb:
                note(glb, name, glb[name], depth)

    def note(container, key, v, depth):
        if isinstance(v, (types.FunctionType, types.MethodType)):
            walk(v, depth + 1)
        elif v.__class__ is np.ndarray:
            arrays.append((container, key, v))
        else:
            _note_read(read, v, 1)
            if _plain_object(v) or isinstance(v, Module):  # a callable loss object, say
                for fn in _user_methods(type(v)):
                    walk(fn, depth + 1)

    step, bound = unwrap_partial(step)
    for _, v in bound:  # partial(train_step, model, opt): what it holds, one level
        _note_read(read, v, 1)
        if isinstance(v, (types.FunctionType, types.MethodType)):
            walk(v, 1)
    if inspect.isroutine(step):
        owner = getattr(step, "__self__", None)
        if owner is not None:
            _note_read(read, owner, 0)
            for fn in _user_methods(type(owner)):  # helper methods the step calls
                walk(fn, 1)
        walk(step, 0)
    else:  # a callable object: its __call__ (and a module's forward)
        _note_read(read, step, 0)
        for attr in ("__call__", "forward"):
            walk(getattr(type(step), attr, None), 0)
    for m, _ in modules:  # a user module's forward reading self.mask
        for mod in m.modules():
            forward = getattr(type(mod), "forward", None)
            if getattr(getattr(forward, "__code__", None), "co_filename", _PACKAGE).startswith(
                _PACKAGE
            ):
                continue
            walk(forward, 0)
            for fn in _user_methods(type(mod)):  # helpers forward calls (self.features(x))
                walk(fn, 1)
            _note_read(read, mod, 1)
    return arrays + _named_arrays(read, words)


def _note_read(read: list, v, depth: int) -> None:
    """Keep ``v`` if it is a dict or an object whose entries the code may read; one level
    further into ``self``'s attributes (``self.cfg``)."""
    if isinstance(v, dict) or _plain_object(v) or isinstance(v, Module) or _user_namespace(v):
        read.append(v)
        if depth == 0 and not isinstance(v, dict):
            for _, x in _attributes(v):
                if isinstance(x, dict) or _plain_object(x):
                    read.append(x)


def _named_arrays(read: list, words: set) -> list:
    """(dict, key, array) of the array entries of ``read`` that the code names, following
    the dicts and objects named in them (``CFG["data"]["w"]``, ``self.cfg.mask``)."""
    found, done = [], set()
    k_obj = 0
    while k_obj < len(read) and k_obj < 200:
        obj = read[k_obj]
        k_obj += 1
        d = obj if isinstance(obj, dict) else vars(obj)
        if id(d) in done:
            continue
        done.add(id(d))
        for k in words:
            v = d.get(k, _MISSING)
            if v.__class__ is np.ndarray:
                if not isinstance(d, types.MappingProxyType):
                    found.append((d, k, v))
            elif (isinstance(v, dict) or _plain_object(v) or _user_namespace(v)) and not (
                isinstance(obj, Module) and k.startswith("_")
            ):
                read.append(v)
    return found


def _words(code) -> set:
    """Attribute and global names and string constants of ``code`` and its inner code."""
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, str):
            out.add(c)
        elif inspect.iscode(c):
            out |= _words(c)
    return out


def read_holder(container, key):
    """``container[key]`` for a cell (key None), a dict or a list; _MISSING if absent."""
    if key is None:
        try:
            return container.cell_contents
        except ValueError:
            return _MISSING
    if isinstance(container, list):
        return container[key] if key < len(container) else _MISSING
    return container.get(key, _MISSING)


# ------------------------------------------------------------------ guards
def _value_sig(x):
    if isinstance(x, Tensor):
        g = x.grad
        gsig = None if g is None else (g.data.shape, g.data.dtype)
        # strides: the layout of the program's results follows its inputs', and the
        # program's in-place rewrites were checked against the traced layout
        d = x.data
        return ("tensor", d.shape, d.dtype, x.requires_grad, x.grad_fn is None, gsig, d.strides)
    if isinstance(x, np.ndarray):
        return ("array", x.shape, x.dtype, x.strides)
    if x is None or isinstance(x, (bool, int, float, complex, str, np.generic)):
        return ("value", type(x), x)
    if isinstance(x, (list, tuple, dict)):  # labels as a list, a (x, y) batch
        return ("struct", frozen(x))
    return ("object", x)  # held: its id cannot be taken by another object


class _Same:
    """An object inside an argument's container, compared by identity (a Tensor in a
    list argument is state of the program: another one needs another trace)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other) -> bool:
        return other.__class__ is _Same and other.obj is self.obj

    __hash__ = None


def frozen(x):
    """A list, tuple or dict argument as nested tuples of (type, value), objects by
    identity: equal exactly when a replay of the same program is valid (a list of
    labels changed in place is not equal)."""
    if x is None or isinstance(x, (bool, int, float, complex, str, np.generic)):
        return (x.__class__, x)
    if x.__class__ in (list, tuple):
        return (x.__class__, tuple(frozen(v) for v in x))
    if x.__class__ is dict:
        return (dict, tuple((frozen(k), frozen(v)) for k, v in x.items()))
    if isinstance(x, np.ndarray):  # an input of the program (see traced._traced_items)
        return (x.__class__, x.shape, x.dtype, x.strides)
    return _Same(x)


def _aliases(args, sigs) -> list:
    """(i, j, same): whether array arguments i > j of equal shape and dtype were one
    object. The program reads one object once; two objects get their own gradients."""
    return [
        (i, j, args[i] is args[j])
        for i in range(len(args))
        for j in range(i)
        if sigs[i][0] in ("tensor", "array") and sigs[i] == sigs[j]
    ]


def _slot_sig(v):
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        return (v.shape, v.dtype)
    return type(v)


def _structure(found: Found) -> list:
    """(dict, key, object) triples: which parameters and submodules each module holds."""
    triples = []
    for m, _ in found.modules:
        for mod in m.modules():
            d = mod.__dict__
            for k, v in d.get("_parameters", {}).items():
                triples.append((d["_parameters"], k, v))
            for k, v in d.get("_modules", {}).items():
                triples.append((d["_modules"], k, v))
    return triples


def _hyper(opt: Optimizer) -> list:
    return [
        (list(g["params"]), {k: v for k, v in g.items() if k != "params"}) for g in opt.param_groups
    ]


def _state_keys(opt: Optimizer) -> list:
    return [(p, tuple(st)) for p, st in opt.state.items()]


class Guard:
    """Everything a recorded program assumes, taken before the trace runs."""

    def __init__(self, args, found: Found, slots: list, step=None):
        self.args = [_value_sig(a) for a in args]
        self.aliases = _aliases(args, self.args)
        self.grad_enabled = mode.enabled
        self.hooks_seen = None  # (see _slot_checks)
        self.found = found
        self.slots = [(s, _slot_sig(s.get())) for s in slots]
        self.tensors = [t for t, _ in found.tensors]
        self.structure = _structure(found)
        self.hyper = [(opt, _hyper(opt), _state_keys(opt)) for opt in found.optimizers]
        self.requires = [(t, t.requires_grad) for t in self.tensors]
        # train() / eval(): a forward may branch on it
        self.training = [
            (mod, mod.__dict__.get("training")) for m, _ in found.modules for mod in m.modules()
        ]
        # NumPy arrays the step's code reads from closure cells, globals and named
        # entries: (container, key, array), inputs of the program read on every replay
        self.arrays: list = reads(step, found.modules) if step is not None else []
        # the Python values the user's code reads: (container, key, value), filled by
        # the tracing call that follows its frames (frames.Follower)
        self.scalars: list = []
        self.holders: list = []

    def checks(self, program, code: GuardCode) -> list:
        """The guards as code: one ``Check`` each, in the order a replay tests them.
        ``program`` decides which assumptions its code makes (the strides it relies
        on, the gradients it reads); ``code`` names the constants the conditions
        compare with. Made when a replay is compiled, from the lists above as they
        are then (guards added after the tracing call are included)."""
        k = code.const
        out = [Check("argument count", f"len(args) == {len(self.args)}", _count_changed(self))]
        # plain.on: every thread records and none detects anomalies (one read, no thread-local)
        cond = (
            "plain.on or (mode.enabled and not mode.anomaly)"
            if self.grad_enabled
            else "not plain.on and not mode.enabled and not mode.anomaly"
        )
        out.append(Check("grad mode", cond, _grad_mode_changed))
        for i, sig in enumerate(self.args):
            out += _argument_checks(self, i, sig, k)
        for i, j, same in self.aliases:  # the same tensor twice, or two tensors, as traced
            out.append(
                Check("aliasing", f"a{i} is {'' if same else 'not '}a{j}", _alias_why(i, j, same))
            )
        for i in sorted(getattr(program, "layout_args", ())):  # see program._layout_args
            arr = f"(a{i}.data if a{i}.__class__ is not np.ndarray else a{i})"
            cond = f"{arr}.strides == {k(self.args[i][-1])}"
            out.append(Check("argument layout", cond, _argument_why(self, i)))
        read = {id(ref) for _, ref in program.inputs}
        out += self._slot_checks(read, k)
        for mod, flag in self.training:
            why = _train_eval_why(mod)
            cond = f"{_entry(mod.__dict__, TRAINING_KEY, flag, k)} is {flag}"
            out.append(Check("train/eval", cond, why))
        for t, rg in self.requires:
            why = _requires_why(self, t)
            out.append(Check("requires_grad", f"{k(t)}.requires_grad is {rg}", why))
        for container, key, v in self.scalars:
            cond = _scalar_cond(container, key, v, k)
            out.append(Check("setting", cond, _setting_why(container, key, v)))
        for container, key, v in self.holders:  # the same model / optimizer where read
            cond = _holder_cond(container, key, v, k)
            out.append(Check("holder", cond, _holder_why(container, key, v)))
        for d, key, v in self.structure:
            cond = f"{_entry(d, repr(key), v, k)} is {k(v)}"
            out.append(
                Check("module entry", cond, _const_why(f"the module's entry {key!r} was replaced"))
            )
        for opt, hyper, keys in self.hyper:
            out += _optimizer_checks(opt, hyper, keys, k)
        for slot, sig in self.slots:  # (after the state keys: the entry exists)
            if isinstance(slot, StateSlot) and sig is not None:
                st = f"{k(slot.opt)}.state[{k(slot.p)}][{slot.key!r}]"
                if isinstance(sig, tuple):
                    cond = (
                        f"(_a := {st}).__class__ is np.ndarray and _a.shape == {k(sig[0])} "
                        f"and {_dtype_is('_a', sig[1], k)}"
                    )
                else:
                    cond = f"{st}.__class__ is {k(sig)}"
                out.append(Check("optimizer state", cond, _slot_why(slot, sig)))
        for n, (kind, ref) in enumerate(program.inputs):
            if kind == "held":  # an array read from a closure cell, a global, an entry
                out.append(_held_check(n, ref, k))
        return out

    def _slot_checks(self, read: set, k) -> list:
        out = []
        # a parameter without hooks when traced gets one only through register_hook,
        # which counts the leaves it gives a hook list: one comparison for them all
        # (taken once, when the first replay is compiled after the tracing call, so that
        # why_not, compiled later from the same lists, tests the same thing)
        if self.hooks_seen is None:
            unhooked = [s for s, _ in self.slots if isinstance(s, DataSlot) and s.t._hooks is None]
            self.hooks_seen = (LEAF_HOOK_LISTS[0], unhooked)
        count, unhooked = self.hooks_seen
        if unhooked:
            counted = f"LEAF_HOOK_LISTS[0] == {count}"
            out.append(Check("parameter hook", counted, _hooked_why(unhooked)))
        for slot, sig in self.slots:
            t = k(slot.t) if not isinstance(slot, StateSlot) else None
            if isinstance(slot, DataSlot):  # the array read once, for shape and dtype
                cond = f"(_d := {t}.data).shape == {k(sig[0])} and {_dtype_is('_d', sig[1], k)}"
                out.append(Check("parameter", cond, _slot_why(slot, sig)))
                why = _const_why(
                    f"a hook was registered on {slot.name} (or it stopped being a leaf)"
                )
                leaf = f"{t}.grad_fn is None"
                cond = leaf if slot in unhooked else f"{t}._hooks is None and {leaf}"
                out.append(Check("parameter hook", cond, why))
            elif isinstance(slot, GradSlot):
                if sig is None:
                    cond = f"{t}.grad is None"
                elif id(slot) not in read:  # replaced unread (zero_grad): only presence counts
                    cond = f"{t}.grad is not None"
                else:
                    cond = (
                        f"{t}.grad is not None and (_d := {t}.grad.data).shape == {k(sig[0])} "
                        f"and {_dtype_is('_d', sig[1], k)}"
                    )
                out.append(Check("gradient", cond, _slot_why(slot, sig)))
        return out

    def why_not(self, args, program) -> str | None:
        """None when the guards hold for ``args``; else what changed: the description
        of the first failing check, found by the replay's own guard code."""
        check = self.first_failing(args, program)
        return None if check is None else check.why(args)

    def first_failing(self, args, program):
        """The first of ``checks(program)`` that fails for ``args`` (a Check), or None.
        Its code is compiled on the first call (only a replay that missed asks)."""
        cached = getattr(self, "_why_not", None)
        if cached is None or cached[0] is not program:
            code = GuardCode()
            checks = self.checks(program, code)
            lines = ["def first_failing(args):"] + guard_lines(checks, str, "raise")
            lines.append("    return None")
            cached = (program, checks, code.compiled("\n".join(lines) + "\n", "first_failing"))
            self._why_not = cached
        _, checks, first_failing = cached
        try:
            n = first_failing(args)
        except LookupError as error:  # an entry read by subscript is gone: that check fails
            n = _raised_at(first_failing.source, first_failing, error)
        return None if n is None else checks[n]


# ------------------------------------------------------------------ guards as code
class Check:
    """One guard as code: ``cond``, a Python expression true while the guard holds (it
    reads the arguments as ``args`` and a0, a1 ..., the constants by the names
    GuardCode gave them); ``setup``, a statement run before it (or None); ``why(args)``,
    what changed, for a call where ``cond`` is false. ``kind`` names the sort of guard."""

    __slots__ = ("kind", "cond", "why", "setup")

    def __init__(self, kind: str, cond: str, why, setup: str | None = None):
        assert kind in KINDS, kind
        self.kind, self.cond, self.why, self.setup = kind, cond, why, setup

    def __repr__(self) -> str:
        return f"Check({self.kind!r}, {self.cond!r})"


# every kind of check Guard.checks makes (tests/tracing/test_trace_guards.py covers each)
KINDS = (
    "argument count",
    "grad mode",
    "tensor argument",
    "argument gradient",
    "argument hook",
    "array argument",
    "value argument",
    "struct argument",
    "object argument",
    "aliasing",
    "argument layout",
    "parameter",
    "parameter hook",
    "gradient",
    "train/eval",
    "requires_grad",
    "setting",
    "holder",
    "module entry",
    "param groups",
    "group parameters",
    "hyper-parameters",
    "state keys",
    "optimizer state",
    "held array",
)


class GuardCode:
    """The namespace generated guard code runs in: its helpers, and the values the
    conditions compare with as constants ``K0``, ``K1`` ... (read as globals)."""

    def __init__(self):
        self.ns = {
            "np": np,
            "Tensor": Tensor,
            "mode": mode,
            "plain": plain,
            "frozen": frozen,
            "read_holder": read_holder,
            "same_scalar": same_scalar,
            "EMPTY_CELL": types.CellType(),
            "LEAF_HOOK_LISTS": LEAF_HOOK_LISTS,
            "MISSING_ENTRY": _MISSING,
        }
        self.count = 0

    def const(self, value) -> str:
        name = f"K{self.count}"
        self.count += 1
        self.ns[name] = value
        return name

    def compiled(self, source: str, fn_name: str, filename: str = "<gs.trace guards>"):
        exec(compile(source, filename, "exec"), self.ns)  # noqa: S102 - generated here
        fn = self.ns[fn_name]
        fn.source = source
        return fn


def guard_lines(checks: list, fail, on_lookup: str) -> list:
    """The function-body lines that test ``checks`` in order; the n-th failing one
    returns ``fail(n)`` (the replay: MISS; why_not: n). A condition may read an entry
    by subscript (``d[key] is K``): the entry gone raises LookupError, which fails it
    too, caught around all the checks and answered by the statement ``on_lookup``."""
    if not checks:
        return []
    lines = ["    try:"]
    for n, c in enumerate(checks):
        if c.setup:
            lines.append(f"        {c.setup}")
        lines.append(f"        if not ({c.cond}): return {fail(n)}")
    return lines + ["    except LookupError:", f"        {on_lookup}"]


def _raised_at(source: str, fn, error: BaseException) -> int:
    """The index of the check (see guard_lines) that raised ``error`` in ``fn``, made from
    ``source``: the number of checks before the line of fn's frame where it raised."""
    tb = error.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code is fn.__code__:
            line = tb.tb_lineno
        tb = tb.tb_next
    before = source.splitlines()[: line - 1]
    return sum(1 for text in before if text.startswith("        if not ("))


def _dtype_is(array: str, dtype, k) -> str:
    """``array``'s dtype is ``dtype``: by identity first (NumPy's dtypes of the builtin
    types are singletons), by equality where another equal dtype object came."""
    d = k(dtype)
    return f"((_e := {array}.dtype) is {d} or _e == {d})"


def _scalar_cond(container, key, v, k) -> str:
    """``container[key]`` (see read_holder) is ``v`` as same_scalar compares: inlined for
    a closure cell or a dict entry holding a number, a string or None (one read, no call)."""
    if (
        v is not _MISSING
        and v.__class__ in (int, float, bool, str, complex, type(None))
        and (key is None or key.__class__ in (str, int))
        and not isinstance(container, list)
    ):
        c = k(container)
        if key is None:  # an empty cell (its variable deleted) differs: no read, no raise
            head = f"{c} != EMPTY_CELL and (_s := {c}.cell_contents)"
        else:
            head = f"(_s := {c}.get({key!r}, MISSING_ENTRY))"
        same = f"_s == {k(v)}"
        if v != v:  # NaN was read: NaN again is the same setting
            same = f"(_s == {k(v)} or _s != _s)"
        return f"{head}.__class__ is {k(v.__class__)} and {same}"
    return f"same_scalar(read_holder({k(container)}, {_key_source(key, k)}), {k(v)})"


TRAINING_KEY = repr("training")


def _entry(d, key: str, v, k) -> str:
    """Code reading entry ``key`` (source) of dict ``d`` for a check ``... is v``: by
    subscript (an absent entry raises LookupError, a failed check: see guard_lines)
    where ``d`` is a plain dict and ``v`` not None (None is also what .get gives for
    an absent entry); else ``.get``."""
    name = k(d)
    if d.__class__ is dict and v is not None and v is not _MISSING:
        return f"{name}[{key}]"
    return f"{name}.get({key})"


def _key_source(key, k) -> str:
    return repr(key) if key is None or key.__class__ in (str, int) else k(key)


def _argument_checks(guard, i: int, sig, k) -> list:
    a = f"a{i}"
    why = _argument_why(guard, i)
    kind = sig[0]
    setup = f"{a} = args[{i}]"
    if kind == "tensor":
        _, shape, dtype, rg, leaf, gsig, _ = sig
        cond = (
            f"isinstance({a}, Tensor) and (_d := {a}.data).shape == {k(shape)} and "
            f"{_dtype_is('_d', dtype, k)} and {a}.requires_grad is {rg} and "
            f"({a}.grad_fn is None) is {leaf}"
        )
        out = [Check("tensor argument", cond, why, setup)]
        if gsig is None:
            cond = f"{a}.grad is None"
        else:
            cond = (
                f"{a}.grad is not None and (_d := {a}.grad.data).shape == {k(gsig[0])} and "
                f"{_dtype_is('_d', gsig[1], k)}"
            )
        out.append(Check("argument gradient", cond, why))
        if rg:
            hook = _const_why(f"a hook was registered on argument {i}")
            out.append(Check("argument hook", f"{a}._hooks is None", hook))
    elif kind == "array":
        _, shape, dtype, _ = sig
        cond = (
            f"{a}.__class__ is np.ndarray and {a}.shape == {k(shape)} and {_dtype_is(a, dtype, k)}"
        )
        out = [Check("array argument", cond, why, setup)]
    elif kind == "value":
        _, typ, value = sig
        cond = f"{a}.__class__ is {k(typ)} and {a} == {k(value)}"
        out = [Check("value argument", cond, why, setup)]
    elif kind == "struct":  # a list, tuple or dict: by contents (see frozen)
        out = [Check("struct argument", f"frozen({a}) == {k(sig[1])}", why, setup)]
    else:
        out = [Check("object argument", f"{a} is {k(sig[1])}", why, setup)]
    return out


def _count_changed(guard):
    return lambda args: f"the step got {len(args)} arguments instead of {len(guard.args)}"


def _grad_mode_changed(args) -> str:
    if mode.anomaly:
        return "anomaly detection is on"
    return f"grad mode changed to {'on' if mode.enabled else 'off'}"


def _argument_why(guard, i: int):
    def why(args) -> str:
        was, now = guard.args[i], _value_sig(args[i])
        if was[0] == "struct" and now[0] == "struct" and was[1][0] is now[1][0]:
            return (
                f"argument {i} changed: a {was[1][0].__name__} with other contents than "
                f"when traced, now {reprlib.repr(args[i])}"
            )
        return f"argument {i} changed: {_describe(was)} -> {_describe(now)}"

    return why


def _alias_why(i: int, j: int, same: bool):
    return _const_why(f"arguments {j} and {i} {'stopped being' if same else 'became'} one object")


def _hooked_why(slots: list):
    def why(args) -> str:
        named = [s.name for s in slots if s.t._hooks is not None]
        if named:
            return f"a hook was registered on {', '.join(named)}"
        return "a hook was registered on a leaf tensor (gs.trace counts them: traced again)"

    return why


def _const_why(text: str):
    return lambda args: text


def _slot_why(slot, sig):
    return lambda args: (
        f"{slot.name} changed: {_slot_text(sig)} -> {_slot_text(_slot_sig(slot.get()))}"
    )


def _slot_text(sig) -> str:
    if sig is None:
        return "None"
    if isinstance(sig, tuple):
        return f"{sig[1]} array of shape {sig[0]}"
    return sig.__name__


def _train_eval_why(mod):
    name = type(mod).__name__

    def why(args) -> str:
        now = mod.__dict__.get("training")
        if now is None:
            return f"a {name} lost its training flag (train/eval mode)"
        return f"a {name} was switched to {'train' if now else 'eval'} mode"

    return why


def _requires_why(guard, t):
    def why(args) -> str:
        name = next((n for x, n in guard.found.tensors if x is t), "a parameter")
        return f"requires_grad of {name} changed to {t.requires_grad}"

    return why


def _setting_why(container, key, v):
    if isinstance(key, str):
        what = key
    elif isinstance(container, list):
        what = f"element {key} of a list"
    else:
        what = "a closure variable"

    def why(args) -> str:
        now = read_holder(container, key)
        now = "absent" if now is _MISSING else repr(now)
        was = "absent" if v is _MISSING else repr(v)
        return f"{what} the step reads changed: {was} -> {now}"

    return why


def _holder_cond(container, key, v, k) -> str:
    if key is None:
        return f"read_holder({k(container)}, None) is {k(v)}"
    if isinstance(container, list):
        c = k(container)
        if v is _MISSING:  # its length: nothing appended
            return f"len({c}) == {key}"
        return f"len({c}) > {key} and {c}[{key}] is {k(v)}"
    # a dict: globals, an object's __dict__, or the user's (any hashable key)
    return f"{_entry(container, _key_source(key, k), v, k)} is {k(v)}"


def _holder_why(container, key, v):
    if isinstance(container, list) and v is _MISSING:
        return lambda args: f"a list the step reads changed length: {key} -> {len(container)}"
    what = key if isinstance(key, str) else "an object"
    return _const_why(f"{what} the step reads was replaced")


def _optimizer_checks(opt, hyper: list, keys: list, k) -> list:
    o = k(opt)
    name = type(opt).__name__
    out = [
        Check(
            "param groups",
            f"len({o}.param_groups) == {len(hyper)}",
            lambda args: f"{name} has {len(opt.param_groups)} parameter groups, not {len(hyper)}",
        )
    ]
    for gi, (params, settings) in enumerate(hyper):
        grp = f"{o}.param_groups[{gi}]"
        same = [f"len(_p := {grp}['params']) == {len(params)}"]  # (the list read once)
        same += [f"_p[{j}] is {k(p)}" for j, p in enumerate(params)]
        why = _const_why(f"the parameters of {name}'s group {gi} changed")
        out.append(Check("group parameters", " and ".join(same), why))
        # by type too (np.float64(0.1) == 0.1, but a float32 update with it differs),
        # all in one condition: the group read once, each setting once
        same = [_same_value(f"(v := h[{key!r}])", v, k) for key, v in settings.items()]
        if same:
            why = _hyper_why(opt, gi, settings)
            out.append(Check("hyper-parameters", " and ".join(same), why, f"h = {grp}"))
    state_why = _state_why(opt, keys)
    out.append(Check("state keys", f"len({o}.state) == {len(keys)}", state_why))
    for p, names in keys:
        out.append(Check("state keys", f"tuple({o}.state.get({k(p)}, ())) == {names!r}", state_why))
    return out


def _same_value(read: str, value, k) -> str:
    """``read`` (which assigns ``v``) has ``value``'s type and value (elementwise for a
    tuple such as betas)."""
    if value.__class__ is tuple:
        parts = [f"{read}.__class__ is tuple and len(v) == {len(value)}"]
        parts += [
            f"v[{j}] == {k(x)} and v[{j}].__class__ is {k(x.__class__)}"
            for j, x in enumerate(value)
        ]
        return " and ".join(parts)
    return f"{read} == {k(value)} and v.__class__ is {k(value.__class__)}"


def _hyper_why(opt, gi: int, settings: dict):
    def why(args) -> str:
        group = opt.param_groups[gi]
        for key, was in settings.items():
            now = group.get(key, _MISSING)
            if not _typed_equal(now, was):
                now = "absent" if now is _MISSING else f"{now!r} ({type(now).__name__})"
                return (
                    f"{type(opt).__name__}'s hyper-parameters changed: {key!r} (group {gi}) "
                    f"{was!r} ({type(was).__name__}) -> {now}"
                )
        return f"a hyper-parameter of {type(opt).__name__}'s group {gi} changed"

    return why


def _typed_equal(now, was) -> bool:
    if was.__class__ is tuple:
        return (
            now.__class__ is tuple
            and len(now) == len(was)
            and all(_typed_equal(x, y) for x, y in zip(now, was))
        )
    return now.__class__ is was.__class__ and now == was


def _state_why(opt, keys: list):
    def why(args) -> str:
        now = sorted({key for st in opt.state.values() for key in st})
        was = sorted({key for _, names in keys for key in names})
        return (
            f"{type(opt).__name__}'s state changed shape (a first step, or a reset): "
            f"{len(opt.state)} entries with keys {now}, traced with {len(keys)} with keys {was}"
        )

    return why


def _held_check(n: int, ref, k) -> Check:
    """The n-th input of the program, an array read from a closure cell, a global or an
    entry, read into ``held{n}`` (the replay passes it in) and checked."""
    container, key, shape, dtype, strides = ref
    name = f"held{n}"
    setup = f"{name} = read_holder({k(container)}, {_key_source(key, k)})"
    cond = (
        f"{name}.__class__ is np.ndarray and {name}.shape == {k(shape)} and "
        f"{_dtype_is(name, dtype, k)} and {name}.strides == {k(strides)}"
    )
    what = repr(key) if isinstance(key, str) else "a closure variable"

    def why(args) -> str:
        now = read_holder(container, key)
        now = (
            f"{now.dtype} array of shape {now.shape} strides {now.strides}"
            if isinstance(now, np.ndarray)
            else type(now).__name__
        )
        was = f"{dtype} array of shape {shape} strides {strides}"
        return f"the array {what} the step reads changed: {was} -> {now}"

    return Check("held array", cond, why, setup)


def same_scalar(now, then) -> bool:
    """Equal values of the same type (NaN equals NaN: it was read as NaN)."""
    return now.__class__ is then.__class__ and (now == then or (now != now and then != then))


_MISSING = object()


def _describe(sig) -> str:
    if sig[0] == "tensor":
        grad = " requiring grad" if sig[3] else ""
        leaf = "" if sig[4] else " (not a leaf)"
        has = "" if sig[5] is None else f" with a .grad of shape {sig[5][0]} {sig[5][1]}"
        return f"Tensor{sig[1]} {sig[2]} strides {sig[6]}{grad}{leaf}{has}"
    if sig[0] == "array":
        return f"ndarray{sig[1]} {sig[2]} strides {sig[3]}"
    if sig[0] == "value":
        return repr(sig[2])
    if sig[0] == "struct":
        return f"a {sig[1][0].__name__}"
    obj = sig[1]
    return f"{type(obj).__name__} {getattr(obj, '__qualname__', '')} at {id(obj):#x}".replace(
        "  ", " "
    )


def slot_name(slot) -> str:
    return identifier(slot.name)
