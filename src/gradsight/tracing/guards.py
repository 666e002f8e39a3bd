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
no hooks are registered. ``Guard.holds(args)`` is checked before a replay.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import sysconfig
import types
from dataclasses import dataclass

import numpy as np

from gradsight._core.grad_mode import mode
from gradsight._core.tensor import Tensor, new_tensor
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
        ([id(p) for p in g["params"]], {k: v for k, v in g.items() if k != "params"})
        for g in opt.param_groups
    ]


def _typed(hyper: list) -> list:
    """Hyper-parameters with their types: 0.1 and np.float64(0.1) are different settings
    (a float32 update with the latter is made in float64)."""
    return [
        (ids, [(k, v.__class__, tuple(map(type, v)) if isinstance(v, tuple) else (), v)])
        for ids, settings in hyper
        for k, v in settings.items()
    ]


def _state_keys(opt: Optimizer) -> list:
    return [(id(p), tuple(st)) for p, st in opt.state.items()]


class Guard:
    """Everything a recorded program assumes, taken before the trace runs."""

    def __init__(self, args, found: Found, slots: list, step=None):
        self.args = [_value_sig(a) for a in args]
        self.aliases = _aliases(args, self.args)
        self.grad_enabled = mode.enabled
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

    def why_not(self, args) -> str | None:
        """None when a replay is valid for ``args``; else what changed."""
        if len(args) != len(self.args):
            return f"the step got {len(args)} arguments instead of {len(self.args)}"
        for i, (a, sig) in enumerate(zip(args, self.args)):
            if _value_sig(a) != sig:
                return f"argument {i} changed: {_describe(sig)} -> {_describe(_value_sig(a))}"
        for i, j, same in self.aliases:
            if (args[i] is args[j]) is not same:
                return f"arguments {j} and {i} {'stopped being' if same else 'became'} one object"
        if mode.enabled != self.grad_enabled:
            return f"grad mode changed to {'on' if mode.enabled else 'off'}"
        for s, sig in self.slots:
            if _slot_sig(s.get()) != sig:
                return f"{s.name} changed: {sig} -> {_slot_sig(s.get())}"
        for t in self.tensors:
            if t._hooks is not None or t.grad_fn is not None:
                return "a hook was registered on a parameter (or it stopped being a leaf)"
        for t, rg in self.requires:
            if t.requires_grad is not rg:
                return f"requires_grad of a parameter changed to {t.requires_grad}"
        for mod, flag in self.training:
            if mod.__dict__.get("training") is not flag:
                return f"a module was switched to {'train' if mod.training else 'eval'} mode"
        for container, key, v in self.scalars:
            if not same_scalar(read_holder(container, key), v):
                now = read_holder(container, key)
                what = (
                    key
                    if isinstance(key, str)
                    else f"element {key} of a list"
                    if isinstance(container, list)
                    else "a closure variable"
                )
                return f"{what} the step reads changed: {v!r} -> {now!r}"
        for container, key, v in self.holders:
            if read_holder(container, key) is not v:
                return f"{key if isinstance(key, str) else 'an object'} the step reads was replaced"
        for d, k, v in self.structure:
            if d.get(k) is not v:
                return f"the module's entry {k!r} was replaced"
        for opt, hyper, keys in self.hyper:
            if _typed(_hyper(opt)) != _typed(hyper):
                return "the optimizer's hyper-parameters or parameter groups changed"
            if _state_keys(opt) != keys:
                return "the optimizer's state changed shape (a first step, or a reset)"
        return None


def same_scalar(now, then) -> bool:
    """Equal values of the same type (NaN equals NaN: it was read as NaN)."""
    return now.__class__ is then.__class__ and (now == then or (now != now and then != then))


_MISSING = object()


def _describe(sig) -> str:
    if sig[0] == "tensor":
        grad = " requiring grad" if sig[3] else ""
        return f"Tensor{sig[1]} {sig[2]} strides {sig[6]}{grad}"
    if sig[0] == "array":
        return f"ndarray{sig[1]} {sig[2]} strides {sig[3]}"
    if sig[0] == "value":
        return repr(sig[2])
    if sig[0] == "struct":
        return f"a {sig[1][0].__name__} with other contents"
    return "another object"


def slot_name(slot) -> str:
    return identifier(slot.name)
