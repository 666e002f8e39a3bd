"""What the user's code reads and writes during a tracing call, found by following it.

A replay runs NumPy calls only: every Python value the step's code reads is baked
into the program. During the tracing call (only then) the frames of the user's
code — the step and every function it calls outside gradsight, NumPy, the
standard library and installed packages — are followed instruction by
instruction (``sys.settrace`` with ``f_trace_opcodes``). Each load from
something that existed before the call becomes a guard, in the form
``(container, key, value)`` that ``guards.Guard`` checks before a replay:

- a global (``LOAD_GLOBAL``/``LOAD_NAME``): ``(module globals, name, value)``;
- a closure variable (``LOAD_DEREF``): ``(cell, None, value)``;
- an attribute chain (``cfg.optim.lr``, ``self.loss_fn.eps``) and a constant-key
  subscript (``CFG["lr"]``, ``LR[0]``) from such a root or from a local holding an
  object reached that way (``self``, a config passed in): one entry per link, in
  the dict that holds it (an object's ``__dict__``, a class's for a default not
  overridden on the instance, which is then guarded as absent there).

Numbers, strings, bools, None and enum members are compared by type and value
(``scalars``), everything else by identity (``holders``). The value stack cannot
be read from Python, so each chain is recognised from the code's instructions
(cached per code object) and evaluated again from its root, without running
properties or ``__getattr__`` (a user property's getter is followed as code).

gradsight's own state is not followed: it is guarded by its declared contract
(``CONTRACT``: the found modules' parameters, submodules and train/eval flags,
the optimizers' groups and state, grad mode, hooks), which a slow test keeps
honest by following gradsight's frames too.

Refused, with a TraceError naming the read or write:

- a chain from a local whose object existed before the call but cannot be
  reached again from the step's arguments, closure, globals or found state;
- a NumPy array or Tensor loaded from Python state that is not an input of the
  program (it would be frozen as a constant);
- an iterator that existed before the call (a replay would repeat this call's
  items): stopped where the step reads it, before it advances;
- a write of the user's code to state that existed before the call (an
  attribute, a global, a dict entry, a list element) that a replay would not
  make. A list that only grew (``log.append(...)``) gets a length guard: the next
  call traces again, as the eager step appends.

The mechanism reads the interpreter's instructions and its collector's
generations (an object made during the call is told from an earlier one by
freezing what exists when the call starts): it runs on the Python versions it
is tested on (``SUPPORTED``) and gs.trace refuses elsewhere. (On 3.12 the
tracing tests found objects made during the call taken for earlier ones, and
``sys.settrace`` instrumenting every code object, some megabytes per tracing
call.)
"""

from __future__ import annotations

import dis
import enum
import functools
import gc
import sys
import threading
import types

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.nn.module import Module
from gradsight.optim.optimizer import Optimizer

from .guards import _MISSING, NOT_USER_CODE
from .recorder import Sym, TraceError

SUPPORTED = ((3, 11),)  # the versions this module is tested on (see the module docstring)

# What gradsight's own code reads of the state a step reaches, which its frames are
# trusted for instead of being followed: each kind of container, and the entries of
# it gradsight may read (None: any entry, each guarded by guards.Guard or an input
# or output of the program). A slow test follows gradsight's frames during traces of
# ordinary steps and checks every read against this (tests/tracing/test_trace_audit.py).
CONTRACT = {
    # a module's parameters, submodules and tensors kept as attributes (by name:
    # values that are a Parameter, a Module or a Tensor), its registries and mode
    "module": {"_parameters", "_modules", "training"},
    "optimizer": {"param_groups", "state", "defaults"},
    "param group": None,  # params and hyper-parameters: Guard.hyper, by type and value
    "state entry": None,  # momentum buffers, moments, step: inputs and outputs (slots)
    "tensor": {"grad", "_acc", "_hooks", "_view"},  # .grad: a slot; the rest: hooks guard
    # gradsight's module-level state: grad mode, its count of threads off the default
    # and its fast-path flag, the write log and clock of the version check, a lock, the
    # array-namespace registry, the optimizers' numeric namespaces, the declared
    # seam's handler list (policy.HANDLERS, also held as ``_handlers``), the op
    # declarations' label table, and markers (constants that are objects)
    "flags": {
        "mode",
        "_off_default",
        "plain",
        "_writes_logged",
        "clock",
        "_clock",
        "_leaf_lock",
        "_namespaces",
        "np",
        "math",
        "MANY_INPUTS",
        "ONE_INPUT",
        "HANDLERS",
        "_handlers",
        "_BY_PRIM",
    },
}

_SCALARS = (bool, int, float, complex, str, type(None), np.generic, enum.Enum)

_LOCALS = {"LOAD_FAST", "LOAD_FAST_CHECK"}  # (3.12: the second where it may be unbound)
_ROOTS = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF"} | _LOCALS
_ATTRS = {"LOAD_ATTR", "LOAD_METHOD"}
# methods of a dict or list that read what it holds: its entries are guarded
_READS_ALL = {"get", "items", "values", "keys", "copy", "index", "count", "__iter__"}
_WHOLE_LIMIT = 256  # entries guarded one by one where a list or dict is read whole
_STORES = {"STORE_ATTR", "STORE_SUBSCR", "DELETE_ATTR", "DELETE_SUBSCR"}


def supported() -> bool:
    return sys.version_info[:2] in SUPPORTED


def require_supported() -> None:
    if not supported():
        raise TraceError(
            "gs.trace follows the step's code through the interpreter's instructions, "
            f"which is tested on Python {', '.join(f'{a}.{b}' for a, b in SUPPORTED)}; this is "
            f"Python {sys.version_info.major}.{sys.version_info.minor}. Run the step "
            "untraced here (call it directly), or trace it on a tested interpreter"
        )


def user_frame(frame) -> bool:
    """A frame of the user's code: not gradsight's, the standard library's (frozen
    modules included) or an installed package's. Code made at run time (``<string>``:
    a dataclass's ``__init__``) belongs to the module whose globals it runs in."""
    name = frame.f_code.co_filename
    if name.startswith("<"):
        if name.startswith("<frozen "):
            return False
        name = frame.f_globals.get("__file__") or ""
    return not name.startswith(NOT_USER_CODE)


# ------------------------------------------------------------------ the plan of a code object
class _Chain:
    """A load from a root followed by attribute and constant-subscript links.

    ``root``: (opname, name); ``links``: ("attr", name) / ("item", constant)."""

    __slots__ = ("root", "links")

    def __init__(self, root, links):
        self.root, self.links = root, links

    def text(self) -> str:
        out = self.root[1]
        for kind, key in self.links:
            out += f".{key}" if kind == "attr" else f"[{key!r}]"
        return out


_plans: dict = {}


def plan(code) -> dict:
    """{offset: _Chain | ("store_global", name)} for ``code`` (cached)."""
    found = _plans.get(code)
    if found is not None:
        return found
    ins = list(dis.get_instructions(code))
    out: dict = {}
    for i, a in enumerate(ins):
        if a.opname == "STORE_GLOBAL":
            out[a.offset] = ("store_global", a.argval)
            continue
        if a.opname not in _ROOTS:
            continue
        links, j = [], i + 1
        while j < len(ins):
            b = ins[j]
            if b.opname in _ATTRS:
                links.append(("attr", b.argval))
                j += 1
                if (
                    b.argval == "get"
                    and j < len(ins)
                    and ins[j].opname == "LOAD_CONST"
                    and isinstance(ins[j].argval, (int, str, bool, float, type(None)))
                ):
                    links[-1] = ("get", ins[j].argval)  # ``CFG.get("lr", 0.1)``
                    break
            elif (
                b.opname == "LOAD_CONST"
                and j + 1 < len(ins)
                and ins[j + 1].opname == "BINARY_SUBSCR"
                and isinstance(b.argval, (int, str, tuple, bool, float, type(None)))
            ):
                links.append(("item", b.argval))
                j += 2
            elif b.opname == "COPY" and b.argval == 1 and j + 1 < len(ins):
                j += 1  # ``self.n += 1``: the object kept for the store after the read
            else:
                break
        if a.opname in _LOCALS and not links and (j >= len(ins) or ins[j].opname not in _STORES):
            continue  # a local used as a value: nothing read from state
        out[a.offset] = _Chain((a.opname, a.argval), links)
    _plans[code] = out
    return out


# ------------------------------------------------------------------ the follower
def _plain_object(v) -> bool:
    return type(v).__dictoffset__ != 0 and not isinstance(
        v, (type, types.ModuleType, types.FunctionType, types.MethodType, Tensor, Optimizer)
    )


def _namespace(v) -> bool:
    """An object whose entries the user's code reads as state or settings."""
    if isinstance(v, types.ModuleType):
        return _user_module(v)
    if isinstance(v, type):
        return _user_class(v)
    return isinstance(v, (dict, list)) or _plain_object(v)


def _user_module(m) -> bool:
    path = vars(m).get("__file__")
    return path is not None and not path.startswith(NOT_USER_CODE)


def _user_class(cls) -> bool:
    module = sys.modules.get(cls.__module__)
    if module is None:
        return cls.__module__ == "__main__"
    return cls.__module__ == "__main__" or _user_module(module)


def _iterator(value) -> bool:
    """An iterator (``next()`` advances it): what it yields is state no guard sees."""
    return hasattr(type(value), "__next__") and not isinstance(value, (Tensor, np.ndarray))


def refuse_iterator_arguments(args) -> None:
    """An iterator given to the step (or in a list, tuple or dict it is given): refused
    before the call, since what the step takes from it no guard sees."""
    for i, a in enumerate(args):
        inner = a.values() if isinstance(a, dict) else a if isinstance(a, (list, tuple)) else ()
        if _iterator(a) or any(_iterator(v) for v in inner):
            raise TraceError(
                f"argument {i} of the step is or holds an iterator: what the step takes from "
                "it (next(), a for loop) would be the tracing call's items on every replay. "
                "Take the batch outside the step and pass it in (for x, y in batches: "
                "traced(x, y))"
            )


class _RefusedNow(TraceError):
    """A refusal raised in the step's frame at once (the step stops there), where
    running on would change what no roll-back restores (an iterator advanced)."""


def _iterator_refused(text: str) -> TraceError:
    return _RefusedNow(
        f"the step reads the iterator {text}, which existed before the call: what it yields "
        "(next(), a for loop) would be this call's items on every replay. Take the batch "
        "outside the step and pass it in (for x, y in batches: traced(x, y))"
    )


class Follower:
    """Follows the user's frames during one tracing call (``with Follower(...)``);
    then ``scalars``/``holders`` are the guards and ``check()`` raises what it refused."""

    def __init__(self, roots, covered, held_ids, module_dicts=()):
        """``roots``: objects the step reaches by construction (arguments, found modules,
        optimizers, tensors, the step's ``self``); ``covered``: ids of containers whose
        entries gradsight's contract guards already; ``held_ids``: ids of the NumPy
        arrays that are inputs of the program."""
        self.paths: dict = {}  # id(obj) -> (obj, container, key, parent id)
        self._functions: dict = {}  # code -> the functions seen with it (their cells)
        self._classes: set = set()  # the user's classes whose methods' defaults are noted
        self._whole: set = set()  # ids of the lists and dicts read whole
        for obj in roots:
            self._register(obj, None, None, None)
        self.covered = covered
        self.held_ids = held_ids
        self.module_dicts = {id(d): d for d in module_dicts}
        self.scalars: list = []
        self.holders: list = []
        self.writes: list = []  # (globals, name, value before, text): STORE_GLOBAL
        self.touched: dict = {}  # id -> (object, its entries before, text)
        self.refusals: list = []
        self._seen: set = set()
        self._texts: dict = {}  # (id(container), key) -> the code's words for the read
        self._young: set = set()  # ids of the objects the cyclic GC tracks, made since
        self.thread = threading.get_ident()
        self.previous = None

    # ------------------------------------------------------------ install
    def __enter__(self):
        # what exists now is frozen (moved out of the collector's generations): an
        # object made during the call is then told from an earlier one by its generation
        self.froze = gc.get_freeze_count() == 0
        if self.froze:
            gc.freeze()
        else:  # the process froze objects itself: their ids, taken now
            self.before = {id(o) for o in gc.get_objects()}
        self.previous = sys.gettrace()
        sys.settrace(self._call)
        return self

    def __exit__(self, *exc):
        sys.settrace(self.previous)
        if self.froze:
            gc.unfreeze()
        self.before = None

    def _existed(self, obj) -> bool:
        """Whether ``obj`` (a container the collector tracks) existed before the call."""
        if not self.froze:
            return id(obj) in self.before
        if not gc.is_tracked(obj):
            return False
        if id(obj) in self._young:
            return False
        self._young = {id(o) for g in range(3) for o in gc.get_objects(g)}
        return id(obj) not in self._young

    def _call(self, frame, event, arg):
        """The global trace function: a new frame. gradsight's, NumPy's and the standard
        library's frames are not followed (their f_trace stays None)."""
        previous = self.previous
        local_previous = previous(frame, event, arg) if previous is not None else None
        if not user_frame(frame):
            return local_previous
        frame.f_trace_opcodes = True
        if local_previous is None:
            return self._opcode
        return self._chained(local_previous)

    def _chained(self, local_previous):
        """A local trace function that also serves the tracer installed before ours (a
        coverage tool, a debugger), with the events it asked for."""
        state = [local_previous]

        def local(frame, event, arg):
            if event == "opcode":
                self._opcode(frame, event, arg)
            elif state[0] is not None:
                state[0] = state[0](frame, event, arg)
            return local

        return local

    def _opcode(self, frame, event, arg):
        if event == "opcode":
            action = plan(frame.f_code).get(frame.f_lasti)
            if action is not None and not self.refusals:
                try:
                    self._act(frame, action)
                except _RefusedNow:
                    raise  # (into the step's frame, before next() runs)
                except TraceError as err:
                    self.refusals.append(str(err))
                except Exception as err:  # noqa: BLE001 - the step's own error comes next
                    self.refusals.append(
                        f"gs.trace could not follow a read in {frame.f_code.co_name} "
                        f"({type(err).__name__}: {err})"
                    )
        return self._opcode

    # ------------------------------------------------------------ one instruction
    def _act(self, frame, action) -> None:
        if isinstance(action, tuple):  # STORE_GLOBAL
            g = frame.f_globals
            name = action[1]
            self.writes.append((g, name, g.get(name, _MISSING), f"the global {name}"))
            return
        kind, name = action.root
        if kind in _LOCALS:
            try:
                obj = frame.f_locals[name]
            except KeyError:
                return
            entry = self.paths.get(id(obj))
            if entry is None or entry[0] is not obj:
                if _iterator(obj) and self._existed(obj):  # (an argument, say)
                    raise _iterator_refused(name)
                if _namespace(obj) and self._existed(obj):
                    raise TraceError(
                        f"{frame.f_code.co_name} reads {action.text()} from an object that "
                        "existed before the call but that gs.trace cannot reach again from the "
                        "step's arguments, closure, globals or model: a replay could not tell "
                        "whether it changed. Pass it to the step as an argument, or keep it "
                        "where the step finds it (a global, an attribute of self)"
                    )
                return  # made during this call: its reads are the step's own values
            if _iterator(obj):  # an argument (or what one holds) the step advances
                raise _iterator_refused(name)
            self._guard_path(id(obj))
            self._touch(obj, name)
            container, key = None, None
        elif kind == "LOAD_DEREF" or kind == "LOAD_CLASSDEREF":
            cell = self._cell(frame, name)
            if cell is None:
                return  # a cell made by this call (an inner function's variable)
            try:
                obj = cell.cell_contents
            except ValueError:
                return
            container, key = cell, None
        else:  # LOAD_GLOBAL / LOAD_NAME
            if (
                kind == "LOAD_NAME"
                and name in frame.f_locals
                and frame.f_locals is not (frame.f_globals)
            ):
                return
            g = frame.f_globals
            if name in g:
                container, key, obj = g, name, g[name]
            else:
                return  # a builtin: trusted as the language's
        self._follow(frame, action, container, key, obj)

    def _cell(self, frame, name):
        """The cell the frame's function reads ``name`` from (None: one made by the call)."""
        code = frame.f_code
        if name in code.co_cellvars:
            return None
        fns = self._functions.get(code, ())
        try:
            value = frame.f_locals[name]
        except KeyError:
            return None
        index = code.co_freevars.index(name)
        for f in fns:
            cells = f.__closure__ or ()
            if index < len(cells):
                try:
                    if cells[index].cell_contents is value:
                        return cells[index]
                except ValueError:
                    continue
        return None

    def _follow(self, frame, action, container, key, obj) -> None:
        """Guard the root read and each link of the chain, evaluated from the root."""
        text = action.root[1]
        links = action.links
        if container is not None and not self._note(container, key, obj, text):
            return
        for kind, name in links:
            found = self._link(obj, kind, name)
            if found is None:  # gradsight's, NumPy's, a tensor's or a method: not a setting
                if kind == "attr" and name in _READS_ALL:
                    self._contents(obj, text)  # ``CFG.get("lr")``, ``for k, v in d.items()``
                return
            container, key, value, extra = found
            text += (
                f".{name}"
                if kind == "attr"
                else f".get({name!r})"
                if kind == "get"
                else f"[{name!r}]"
            )
            for c, kk, v in extra:  # a class default: absent from the instance
                self._note(c, kk, v, text)
            parent = obj
            obj = value
            if container is not None and not self._note(container, key, obj, text, parent):
                return
        if links or container is not None:
            # a list or dict used whole (iterated, indexed by a variable, passed on):
            # what it holds is read
            self._contents(obj, text)

    def _contents(self, obj, text) -> None:
        """Guard each entry of a list or dict of earlier state the code reads whole
        (numbers by value, objects by identity; a list's length too)."""
        if obj.__class__ not in (list, dict) or id(obj) in self.covered:
            return
        if id(obj) in self._whole:
            return
        self._whole.add(id(obj))
        if len(obj) > _WHOLE_LIMIT:
            raise TraceError(
                f"the step reads {text}, a {type(obj).__name__} of {len(obj)} entries, as a "
                f"whole: gs.trace guards up to {_WHOLE_LIMIT} entries of such a read. Pass "
                "it to the step as an argument (a NumPy array for numbers)"
            )
        items = list(obj.items() if isinstance(obj, dict) else enumerate(obj))
        for k, v in items:
            if v.__class__ is np.ndarray and id(v) not in self.held_ids:
                # passed on whole (``f(**kw)``): a constant of the program, as an index
                # array must be; guarded by identity (replaced, it retraces)
                self.holders.append((obj, k, v))
                continue
            self._note(obj, k, v, f"{text}[{k!r}]", obj)
        if isinstance(obj, list):
            self.holders.append((obj, len(obj), _MISSING))  # nothing appended

    def _link(self, obj, kind, name):
        """(container, key, value, extra guards) of ``obj.name`` / ``obj[name]``, or None
        where the chain leaves the user's settings."""
        if kind == "get":  # d.get(key[, default]): the entry, or its absence
            if obj.__class__ is not dict or id(obj) in self.covered:
                return None
            return obj, name, obj.get(name, _MISSING), ()
        if kind == "item":
            if isinstance(obj, dict):
                if name not in obj:
                    return None
                return obj, name, obj[name], ()
            if isinstance(obj, list) and isinstance(name, int):
                try:
                    value = obj[name]
                except IndexError:
                    return None
                return obj, name % len(obj), value, ()
            if isinstance(obj, tuple) and isinstance(name, int):
                try:
                    return None, None, obj[name], ()  # immutable: the tuple's guard covers it
                except IndexError:
                    return None
            return None
        if isinstance(obj, types.ModuleType):
            if not _user_module(obj):
                return None  # np.exp, gs.nn: the library's namespace
            d = vars(obj)
            return (d, name, d[name], ()) if name in d else None
        if isinstance(obj, type):
            return self._class_attr(obj, name)
        if isinstance(obj, (Tensor, Sym, np.ndarray, Optimizer)):
            return None  # values (the recorder's) and gradsight's contract
        cls = type(obj)
        if name == "__class__":
            return None, None, cls, ()  # ``self.__class__.lr``: the class's setting
        for klass in cls.__mro__:
            attr = vars(klass).get(name, _MISSING)
            if attr is not _MISSING:
                if hasattr(type(attr), "__set__") or hasattr(type(attr), "__delete__"):
                    return self._descriptor(obj, klass, name, attr)
                break
        if cls.__dictoffset__ == 0:
            return None  # a library's object without a __dict__
        d = object.__getattribute__(obj, "__dict__")  # (no __getattr__ of the user's runs)
        if name in d:
            return d, name, d[name], ()
        found = self._class_attr(cls, name)
        if found is None:
            return None
        container, key, value, extra = found
        if isinstance(value, (types.FunctionType, classmethod, staticmethod)):
            return None  # a method: its code is followed when called
        return container, key, value, ((d, name, _MISSING), *extra)

    def _descriptor(self, obj, klass, name, attr):
        """``obj.name`` served by a data descriptor: a property's getter is followed as
        code (None here); a slot of an immutable object (a frozen dataclass, a named
        tuple) is covered by the object's own guard; a slot that can change is refused,
        since no entry of a dict holds it."""
        if isinstance(attr, property) or not _user_class(klass):
            return None
        params = getattr(type(obj), "__dataclass_params__", None)
        if isinstance(obj, tuple) or (params is not None and params.frozen):
            try:
                return None, None, attr.__get__(obj, type(obj)), ()
            except AttributeError:
                return None
        raise TraceError(
            f"the step reads {type(obj).__name__}.{name}, an attribute kept in __slots__ "
            "(not in a __dict__), which gs.trace cannot guard: a replay could not tell "
            "whether it changed. Pass the value as an argument, keep it in an object "
            "with a __dict__, or make the class frozen (a frozen dataclass)"
        )

    def _class_attr(self, cls, name):
        """A setting held by one of the user's classes: (its dict, name, value, the user
        classes before it in the MRO, which must not gain it)."""
        before = []
        for klass in cls.__mro__:
            d = vars(klass)
            if name in d:
                if not _user_class(klass):
                    return None
                value = d[name]
                if isinstance(value, (staticmethod, classmethod)):
                    return None
                return d, name, value, tuple((b, name, _MISSING) for b in before)
            if _user_class(klass):
                before.append(d)
        return None

    def _note(self, container, key, value, text, parent=None) -> bool:
        """Guard ``container[key] == value`` (a setting) or ``is value`` (an object);
        False where the chain stops (a value, not a namespace)."""
        pid = id(parent) if parent is not None else None
        if id(container) in self.covered or self._contract(container, key):
            self._register(value, container, key, pid)  # gradsight's contract guards it
            return True
        if isinstance(value, types.ModuleType) and not _user_module(value):
            return False  # np, gs: the libraries' namespaces are not settings
        if value.__class__ is Sym:
            return False  # an array the program reads from here as an input, every replay
        scalar = (
            value is _MISSING
            or isinstance(value, _SCALARS)
            or (value.__class__ is tuple and all(isinstance(x, _SCALARS) for x in value))
        )
        mark = (id(container), key)
        if mark not in self._seen:
            self._seen.add(mark)
            self._texts[mark] = text
            (self.scalars if scalar else self.holders).append((container, key, value))
        if scalar:
            return False
        if value.__class__ is np.ndarray and id(value) not in self.held_ids:
            raise TraceError(
                f"the step reads the NumPy array {text} (shape {value.shape}) where gs.trace "
                "did not find it before the call, so a replay would use its values from "
                "this call as a constant. Keep it in a closure variable, a global or an "
                "attribute the step names, or pass it as an argument"
            )
        if isinstance(value, Tensor) and not isinstance(value.data, Sym):
            raise TraceError(
                f"the step reads the tensor {text} (shape {value.shape}) that gs.trace did "
                "not find before the call (it is not a parameter, a buffer or an argument), "
                "so a replay would use its values from this call as a constant. Pass it as "
                "an argument or keep it on the model"
            )
        if _iterator(value):
            raise _iterator_refused(text)
        self._register(value, container, key, pid)
        self._touch(value, text)
        return True

    def _touch(self, obj, text) -> None:
        """Keep the entries of a container or object of earlier state the code reaches:
        after the call, any change is a write a replay would not make."""
        if id(obj) in self.touched or id(obj) in self.covered:
            return
        if isinstance(obj, (list, dict, set)) or (
            _namespace(obj) and not isinstance(obj, (Tensor, Optimizer))
        ):
            entries = _entries(obj)
            if entries is not None:
                self.touched[id(obj)] = (obj, entries, text)

    def _contract(self, container, key) -> bool:
        """A found module's parameter, submodule or train/eval flag (guards.Guard's)."""
        mod = self.module_dicts.get(id(container))
        if mod is None:
            return False
        d = container
        return key == "training" or key in d.get("_parameters", ()) or key in d.get("_modules", ())

    def _register(self, obj, container, key, parent) -> None:
        """Remember how ``obj`` is reached, and its entries (one level): a local that
        holds one of them later (``for layer in self.layers``) is reached the same way."""
        if id(obj) in self.paths:
            return
        self.paths[id(obj)] = (obj, container, key, parent)
        self._function(obj)
        if isinstance(obj, (list, dict)) or (
            _plain_object(obj) and not isinstance(obj, (Sym, np.ndarray))
        ):
            d = obj if isinstance(obj, (list, dict)) else _dict_of(obj)
            if d is None:
                return
            items = enumerate(d) if isinstance(d, list) else d.items()
            for k, v in list(items):
                if id(v) not in self.paths and not isinstance(v, _SCALARS):
                    self.paths[id(v)] = (v, d, k, id(obj))
                    self._function(v)
        elif isinstance(obj, tuple):
            for v in obj:
                if id(v) not in self.paths:
                    self.paths[id(v)] = (v, None, None, id(obj))

    def _function(self, v) -> None:
        """Note a function reached from a root: the cells its code reads are its own."""
        if isinstance(v, types.MethodType):
            v = v.__func__
        if isinstance(v, functools.partial):
            v = v.func
        if not isinstance(v, types.FunctionType):
            if _plain_object(v) or isinstance(v, Module):
                self._methods(type(v))
            return
        if v.__closure__:
            self._functions.setdefault(v.__code__, []).append(v)
        # default values: what a parameter left out holds (``def step(x, cfg=CFG)``)
        for d in (*(v.__defaults__ or ()), *(v.__kwdefaults__ or {}).values()):
            if id(d) not in self.paths and not isinstance(d, _SCALARS):
                self._register(d, None, None, None)

    def _methods(self, cls) -> None:
        """The default values of the methods of the user's class ``cls`` (once)."""
        if cls in self._classes:
            return
        self._classes.add(cls)
        for klass in cls.__mro__:
            if _user_class(klass):
                for f in list(vars(klass).values()):
                    f = f.__func__ if isinstance(f, (staticmethod, classmethod)) else f
                    if isinstance(f, types.FunctionType) and (f.__defaults__ or f.__kwdefaults__):
                        self._function(f)

    def _guard_path(self, oid) -> None:
        """Identity guards along the way a local's object was reached."""
        for _ in range(16):
            entry = self.paths.get(oid)
            if entry is None:
                return
            obj, container, key, parent = entry
            if (
                container is not None
                and id(container) not in self.covered
                and not self._contract(container, key)
            ):
                mark = (id(container), key)
                if mark not in self._seen:
                    self._seen.add(mark)
                    self.holders.append((container, key, obj))
            if parent is None:
                return
            oid = parent

    # ------------------------------------------------------------ after the call
    def check(self) -> None:
        """Raise what was refused during the call, then any write to state that existed
        before it that a replay would not make."""
        if self.refusals:
            raise TraceError(self.refusals[0])
        for container, key, before, text in self.writes:
            now = container.get(key, _MISSING)
            if now is not before:
                self._refuse_write(text, before, now)
        for container, key, value in self.scalars + self.holders:
            if value is _MISSING and isinstance(container, list):
                continue  # a list's length: an append is judged below
            now = _read(container, key)
            if value is _MISSING or key is None and isinstance(container, types.CellType):
                same = now is value
            else:
                same = now is value or (
                    isinstance(value, _SCALARS)
                    and now.__class__ is value.__class__
                    and now == value
                )
            if not same and not isinstance(value, Tensor) and not isinstance(now, Tensor):
                text = self._texts.get((id(container), key)) or _describe(container, key)
                self._refuse_write(text, value, now)
        for obj, before, text in self.touched.values():
            now = _entries(obj)
            if now == before:
                continue
            if isinstance(obj, list) and now[: len(before)] == before:
                # only appended to (a log): the next call traces again, as eager appends
                self.holders.append((obj, len(before), _MISSING))
                continue
            key = _first_change(before, now)
            if isinstance(obj, Module) and key is not None and key[:1] == "_":
                continue  # the module's own bookkeeping (its contract: structure guards)
            self._refuse_write(
                f"{text}[{key!r}]" if isinstance(obj, (dict, list)) else f"{text}.{key}", "", ""
            )

    def _refuse_write(self, text, before, now) -> None:
        change = ""
        if before != "" or now != "":
            before = "nothing" if before is _MISSING else repr(before)[:60]
            now = "nothing" if now is _MISSING else repr(now)[:60]
            change = f" ({before} -> {now})"
        raise TraceError(
            f"the step changes {text}{change}, state that existed before the call: "
            "a replay runs no Python code, so it would not change it again. Return the value "
            "from the step and keep it outside, or run this step untraced"
        )


def _read(container, key):
    if isinstance(container, types.CellType):
        try:
            return container.cell_contents
        except ValueError:
            return _MISSING
    if isinstance(container, list):
        return container[key] if key < len(container) else _MISSING
    return container.get(key, _MISSING)


def _describe(container, key) -> str:
    if isinstance(container, types.CellType):
        return "a closure variable"
    if isinstance(container, list):
        return f"element {key} of a list"
    return repr(key) if not isinstance(key, str) else key


def _entries(obj) -> list:
    """What an object holds, to tell a change: (key, value or its id) pairs."""
    if isinstance(obj, list):
        items = enumerate(obj)
    elif isinstance(obj, set):
        items = ((None, v) for v in obj)
    else:
        d = obj if isinstance(obj, dict) else _dict_of(obj)
        if d is None:
            return None
        items = d.items()
    return [(k, v if isinstance(v, _SCALARS) else id(v)) for k, v in items]


def _dict_of(obj):
    """An object's ``__dict__`` (a class's mapping proxy), read without running any
    of the user's attribute hooks; None if it has none."""
    try:
        return object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return None


def _first_change(before: list, now: list):
    old, new = dict(before), dict(now)
    for k in list(old) + list(new):
        if old.get(k, _MISSING) != new.get(k, _MISSING):
            return k
    return None


def roots_of(step, args, found) -> tuple[list, set, list]:
    """(objects reached by construction, ids of the containers gradsight's contract
    guards, the found modules' dicts) for a tracing call of ``step(*args)``."""
    from .guards import unwrap_partial

    roots = list(args)
    fn, bound = unwrap_partial(step)
    roots += [v for _, v in bound]
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        roots.append(owner)
    roots.append(fn)  # the step itself (its closure cells), or a callable object
    if not isinstance(fn, (types.FunctionType, types.MethodType)):
        roots += [getattr(type(fn), name, None) for name in ("forward", "__call__")]
    covered, module_dicts = set(), []

    def argument(a, depth):  # its contents are guarded with it (guards._value_sig)
        if a.__class__ in (list, tuple, dict) and depth < 8:
            covered.add(id(a))
            for v in a.values() if a.__class__ is dict else a:
                argument(v, depth + 1)

    for a in args:
        argument(a, 0)
    for m, _ in found.modules:
        for mod in m.modules():
            roots.append(mod)
            d = mod.__dict__
            module_dicts.append(d)
            covered.add(id(d.get("_parameters")))
            covered.add(id(d.get("_modules")))
    for opt in found.optimizers:
        roots += [opt, opt.param_groups, opt.state, *opt.state.values()]
        covered.add(id(opt.param_groups))
        covered.add(id(opt.state))
        covered.update(id(st) for st in opt.state.values())
        for g in opt.param_groups:
            covered.add(id(g))
            roots.append(g)
    roots += [t for t, _ in found.tensors]
    return roots, covered, module_dicts
