"""Recording: traced arrays (``Sym``) and the list of NumPy calls made on them.

While a step is traced, the arrays of its inputs, parameters, gradients and
optimizer state are replaced by ``Sym`` objects. A Sym holds the real array
(``value``) and takes part in NumPy's dispatch protocols (``__array_ufunc__``,
``__array_function__``) and operators, so every NumPy call that the forward
functions, the VJP rules (namespace ARRAY) and the optimizers make on it runs
for real *and* is appended to the recorder as one ``Op``. Nothing in the
engine changes: the same code runs, on values that write down what happens
to them.

Reading a traced value as a Python number or plain array (``bool``,
``float``, ``item``, ``np.asarray``) cannot be recorded: control flow that
depends on it would be frozen into the trace. It raises ``TraceError``
unless the step was traced with ``allow_value_reads=True``.
"""

from __future__ import annotations

import math
import operator
import os
import sys
import weakref
from dataclasses import dataclass, field

import numpy as np


class TraceError(RuntimeError):
    """A step cannot be traced (or a replay's assumption is broken)."""


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_TENSOR = os.path.join(_PACKAGE, "_core", "tensor.py")
_TRACE = os.path.join(_PACKAGE, "tracing") + os.sep
# gradsight's own machinery; anything else (user code, the CLI, examples) is "user code"
# whose lines name the forward blocks of a trace
_LIBRARY = tuple(
    [os.path.join(_PACKAGE, d) + os.sep for d in ("_core", "ops", "nn", "optim", "tracing")]
    + [os.path.join(_PACKAGE, f) for f in ("autograd.py", "functional.py", "creation.py")]
)


@dataclass
class Op:
    """One NumPy call: ``outs = fn(*args, **kwargs)``.

    kind: "ufunc" (fn is a ufunc, ``method`` its method name), "func" (a NumPy
    function), "method" (an ndarray method named ``method``, args[0] is self).
    ``inplace``: the call writes into args given in ``out=`` (or args[0] for
    ``ufunc.at`` and in-place methods) and makes no new array.
    """

    kind: str
    fn: object
    method: str
    args: tuple
    kwargs: dict
    outs: tuple
    context: str = ""
    errstate: tuple = ()
    inplace: bool = False


class Var:
    """What the program knows of a traced array: a name and static metadata, never
    the array itself, so an intermediate the step drops is freed during the trace
    as in an eager step (the tracing call's peak memory is the eager one)."""

    __slots__ = (
        "index",
        "name",
        "shape",
        "dtype",
        "is_array",
        "fresh",
        "claimed",
        "is_int",
        "weak",
        "strides",
    )

    def __init__(self, index: int, value, name: str = ""):
        self.index = index
        self.name = name
        self.shape = np.shape(value)
        self.dtype = getattr(value, "dtype", None)
        self.is_array = isinstance(value, np.ndarray)
        self.strides = value.strides if self.is_array else None  # its layout when traced
        self.fresh = False
        self.claimed = False
        self.is_int = False
        self.weak = False  # stands for a Python number (see _as_python_numbers)

    def __repr__(self) -> str:
        return f"<var {self.name or self.index} {self.shape} {self.dtype}>"


@dataclass
class Const:
    """An array that entered the trace without being traced (baked into the program)."""

    value: object
    index: int
    name: str = ""


_DEFAULT_ERR = tuple(sorted(np.geterr().items()))


@dataclass
class Recorder:
    """The ops of one trace and the Syms/constants they refer to."""

    allow_value_reads: bool = False
    ops: list = field(default_factory=list)
    count: int = 0
    consts: list = field(default_factory=list)
    const_ids: dict = field(default_factory=dict)
    active: bool = True
    # the trace handler of the engine's seams (seams.TraceHandler) while the step runs:
    # it knows whether backward or an optimizer step is running (see _context)
    seam: object = None
    contexts: dict = field(default_factory=dict)  # id(Sym) made in forward -> its context
    value_reads: list = field(default_factory=list)
    # id(array) -> (weakref to the array, its Var): an untraced array the trace wrote
    # into. Held by the array's life, not a Sym's: the engine keeps adding into such an
    # array (a constant gradient plus a traced one) after the Sym of the write is gone
    promoted: dict = field(default_factory=dict)
    # id(Var) of an input -> [its array, a copy made before the trace first wrote into
    # it]: what a refused tracing call puts back (traced._Rollback); None: not kept
    undo: dict | None = None
    # id(array) -> (array, container, key): NumPy arrays the step reads from a closure
    # cell, a global or a named entry; used by an op, one becomes an input of the
    # program read from there on every replay (``held``), not a constant
    reachable: dict = field(default_factory=dict)
    held: dict = field(default_factory=dict)  # id(array) -> (array, container, key, Var)

    # ------------------------------------------------------------ values
    def sym(self, value, name: str = "") -> Sym:
        var = Var(self.count, value, name)
        self.count += 1
        return Sym(self, value, var)

    def const(self, value) -> Const:
        """The Const for an untraced array (snapshot copy: later writes don't change it)."""
        c = self.const_ids.get(id(value))
        if c is not None and c.value is not None:
            return c
        snap = np.array(value)
        c = Const(snap, len(self.consts))
        self.consts.append(c)
        self.const_ids[id(value)] = c
        c.keep = value  # keep the original alive so its id is not reused
        return c

    def _ref(self, x):
        """An argument as the op stores it: Sym, Const, or a literal (nested)."""
        if isinstance(x, Sym):
            return x.var
        if isinstance(x, np.ndarray):
            promoted = self.promoted_sym(x)
            if promoted is not None:
                return promoted.var  # an untraced array the trace has written into
            held = self.held_var(x)
            if held is not None:
                return held
            return self.const(x)
        if isinstance(x, (tuple, list)):
            refs = [self._ref(v) for v in x]
            return tuple(refs) if isinstance(x, tuple) else refs
        return x

    def held_var(self, x):
        """The input Var of an array the step reads from a closure cell, a global or a
        named entry (see ``reachable``), or None for any other array."""
        entry = self.held.get(id(x))
        if entry is not None:
            return entry[3]
        found = self.reachable.get(id(x))
        if found is None or found[0] is not x:
            return None
        return self.hold(x, found[1], found[2])

    def hold(self, x, container, key) -> Var:
        """A new input Var for the array ``x`` read from ``container[key]``."""
        var = Var(self.count, x, key if isinstance(key, str) else "held")
        self.count += 1
        self.held[id(x)] = (x, container, key, var)
        if self.undo is not None:  # written in place later: put back on a refusal
            self.undo[id(var)] = [None, None]
        return var

    def promoted_sym(self, x):
        """A Sym for ``x`` if the trace has written into this untraced array, else None."""
        entry = self.promoted.get(id(x))
        if entry is not None and entry[0]() is x:
            return Sym(self, x, entry[1])
        return None

    # ------------------------------------------------------------ recording
    def record(self, kind, fn, method, args, kwargs, result, inplace=False):
        """Append one op whose real ``result`` was already computed; returns its Syms."""
        if isinstance(result, tuple):
            outs = tuple(self._wrap(r) for r in result)
            ret = outs
        elif result is None:
            outs, ret = (), None
        else:
            outs = (self._wrap(result),)
            ret = outs[0]
        context = self._context()
        for o in outs:
            o.var.fresh = kind == "ufunc" or method in ("copy", "astype")
            self.contexts.setdefault(id(o.var), context)
        errs = tuple(sorted(np.geterr().items()))
        op = Op(
            kind,
            fn,
            method,
            self._ref(args),
            {k: self._ref(v) for k, v in kwargs.items()},
            tuple(o.var for o in outs),
            context,
            () if errs == _DEFAULT_ERR else errs,
            inplace,
        )
        self.ops.append(op)
        return ret

    def _wrap(self, value):
        if isinstance(value, Sym):
            return value
        if isinstance(value, (np.ndarray, np.generic)):
            return self.sym(value)
        raise TraceError(f"a traced NumPy call returned {type(value).__name__}, not an array")

    def _context(self) -> str:
        """Where the current call comes from: a VJP rule, the engine, an optimizer (the
        engine reports those through its seam: see seams.TraceHandler.label), or the
        user's code, named by its innermost line outside gradsight."""
        seam = self.seam
        if seam is not None:
            label = seam.label()
            if label is not None:
                return label
        frame = sys._getframe(1)
        while frame is not None:
            fname = frame.f_code.co_filename
            if not fname.startswith(_LIBRARY):
                return f"forward:{fname}:{frame.f_lineno}"
            frame = frame.f_back
        return "forward:"

    def check(self, s: Sym) -> bool:
        """bool() of a traced value inside gradsight (an input check): the replay
        re-checks it and raises if it goes the other way."""
        value = bool(s.value)
        self.ops.append(
            Op("check", None, "bool", (s.var,), {"expected": value}, (), self._context(), (), True)
        )
        return value

    def read(self, s: Sym, how: str):
        """A traced value read as a plain value: refused, or with ``allow_value_reads``
        a guard: the replay compares the value with the one read here and runs the call
        eagerly when it differs (never a frozen value)."""
        if not self.active:
            return s.value
        if not self.allow_value_reads:
            raise TraceError(
                f"{how} reads the value of a traced array (shape {s.value.shape}) during "
                "tracing: a trace records NumPy calls, not Python decisions, so a value read "
                "here would be frozen into every replay. Return the tensor and read it after "
                "the call (a loss to log, say), or move the read out of the step"
            )
        if self.undo and any(array is not None for array, _ in self.undo.values()):
            raise TraceError(
                f"{how} reads the value of a traced array after the step wrote into its state "
                "(an optimizer update, say): a replay can check such a value only before "
                "anything is written. Return the tensor and read it after the call"
            )
        value = np.asarray(s.value)
        if value.dtype.kind not in "biu" and not np.isfinite(value).all():
            raise TraceError(f"{how} reads a value that is not finite: it cannot be guarded")
        self.value_reads.append(how)
        same = np.equal(s, value.copy())  # recorded: the replay compares again
        self.check(same.all() if same.shape else same)
        return s.value


def _unwrap(x):
    if isinstance(x, Sym):
        return x.value
    if isinstance(x, (tuple, list)):
        vals = [_unwrap(v) for v in x]
        return tuple(vals) if isinstance(x, tuple) else vals
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _from_library() -> bool:
    """Whether the bool() being taken comes from gradsight's own code (not the user's)."""
    frame = sys._getframe(2)
    if frame.f_code.co_name == "__bool__" and frame.f_code.co_filename == _TENSOR:
        frame = frame.f_back  # bool(tensor): whoever took it (``if loss < 1:`` in user code)
    name = frame.f_code.co_filename
    return name.startswith(_LIBRARY) and not name.startswith(_TRACE)


def _has_array(x) -> bool:
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    return isinstance(x, (tuple, list)) and any(_has_array(v) for v in x)


def _recorder_of(items):
    for x in items:
        if isinstance(x, Sym):
            return x.rec
        if isinstance(x, (tuple, list)):
            r = _recorder_of(x)
            if r is not None:
                return r
    return None


class _Flags:
    """What copy-on-write (tensor._private_array) asks of a traced array: ``owndata``
    is True only for a parameter's array that its tensor alone held when the trace
    began, so the trace updates it in place exactly when the eager step would."""

    __slots__ = ("owndata",)

    def __init__(self, owndata: bool):
        self.owndata = owndata

    writeable = property(lambda self: True, lambda self, value: None)  # set: the replay's job


_NOT_OWNED = _Flags(False)
_OWNED = _Flags(True)


def _foreign(items) -> bool:
    """Whether an operand is an array-like of another library (a gradsight Tensor):
    it takes the call over, as it would from a plain ndarray."""
    if not isinstance(items, tuple):
        items = (items,)
    return any(
        hasattr(x, "__array_ufunc__") and not isinstance(x, (Sym, np.ndarray, np.generic))
        for x in items
        if x is not None
    )


def _binary(ufunc):
    def op(self, other):
        return self.__array_ufunc__(ufunc, "__call__", self, other)

    def rop(self, other):
        return self.__array_ufunc__(ufunc, "__call__", other, self)

    def iop(self, other):
        if _foreign(other):  # ``arr *= tensor`` into a traced array: as NumPy refuses it
            return NotImplemented
        if not isinstance(self.value, np.ndarray):  # a NumPy scalar (a 0-d result):
            return op(self, other)  # ``s /= t`` rebinds s, as it does eagerly
        return self.__array_ufunc__(ufunc, "__call__", self, other, out=(self,))

    return op, rop, iop


class Sym:
    """A traced array: the real ``value`` plus the recorder its NumPy calls go to."""

    __slots__ = ("rec", "value", "var", "flags", "__weakref__")
    __array_priority__ = 1000.0
    base = None

    def __init__(self, rec: Recorder, value, var: Var):
        self.rec = rec
        self.value = value
        self.var = var
        self.flags = _NOT_OWNED

    # ------------------------------------------------------------ metadata (static)
    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)
    size = property(lambda self: self.value.size)
    itemsize = property(lambda self: self.value.itemsize)

    def __len__(self) -> int:
        return len(self.value)

    def __reduce__(self):
        # a tensor the step kept outside itself (a log list) holds its traced array
        # after the tracing call: pickled or copied, it is the array it stands for
        return (np.array, (self.value,))

    def refuse_shared_write(self) -> None:
        """An in-place write into memory that something else also holds (a view and its
        base, a detached alias): eagerly every holder sees it, a replay could not follow."""
        if self.rec.active:
            raise TraceError(
                "an in-place write into a traced array that another tensor or view also "
                "holds (a write through a view, which reaches its base, or into a "
                "detach()ed alias, which reaches the tensor it came from and what backward "
                "saved of it) cannot be traced: write into a tensor the step made for "
                "itself (y = y.copy(), d = h.detach().copy()), or run this step untraced"
            )
        raise TypeError("write into a traced array outside its tracing call")

    def setflags(self, *args, **kwargs) -> None:
        """Flags are the replay's business, except on an array the trace updates in place."""
        if self.flags is _OWNED:
            self.value.setflags(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<traced array {self.value.shape} {self.value.dtype}>"

    # ------------------------------------------------------------ dispatch
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if _foreign(inputs) or _foreign(kwargs.get("out") or ()):
            return NotImplemented  # a Tensor among the operands: its own protocol records it
        rec = self.rec
        out = kwargs.get("out")
        if not rec.active:
            return getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if out is not None:
            out = out if isinstance(out, tuple) else (out,)
            out = tuple(_writable(rec, o) for o in out)
            kwargs["out"] = out
        if method == "at":
            target = _writable(rec, inputs[0])
            inputs = (target,) + inputs[1:]
        inputs, weak = _as_python_numbers(inputs)
        python = _PYTHON_ARITHMETIC.get(ufunc) if weak and out is None else None
        if python is not None and method == "__call__" and not kwargs:
            # only Python numbers (Adam's step count, its bias corrections): the eager
            # step does Python arithmetic (``beta1 ** t`` is C's pow, not np.power, and
            # the two differ in the last bit on some platforms). The replay gets Python
            # numbers too, so the operator written in the program is Python's
            result = _python_result(python(*(_python_value(x) for x in inputs)))
        else:
            result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if method == "at":
            rec.record("ufunc", ufunc, method, inputs, kwargs, None, inplace=True)
            return None
        if out is not None:
            rec.record("ufunc", ufunc, method, inputs, kwargs, None, inplace=True)
            return out[0] if len(out) == 1 else out
        ret = rec.record("ufunc", ufunc, method, inputs, kwargs, result)
        if weak and isinstance(ret, Sym):
            ret.var.weak = True
        return ret

    def __array_function__(self, func, types, args, kwargs):
        if any(_foreign(x) for x in args):
            return NotImplemented
        rec = self.rec
        if not rec.active:
            return func(*_unwrap(args), **_unwrap(kwargs))
        name = getattr(func, "__name__", "")
        if getattr(np, name, None) is not func:
            if getattr(np.linalg, name, None) is not func:
                raise TraceError(
                    f"cannot trace {func!r}: only functions of the numpy and numpy.linalg "
                    "namespaces"
                )
            name = "linalg." + name  # written np.linalg.norm(...) in the program
        if "out" in kwargs:
            raise TraceError(f"cannot trace np.{name} with out=")
        if name == "copyto":
            dst = _writable(rec, args[0])
            func(dst.value, *_unwrap(args[1:]), **_unwrap(kwargs))
            rec.record("func", func, name, (dst,) + tuple(args[1:]), kwargs, None, inplace=True)
            return None
        result = func(*_unwrap(args), **_unwrap(kwargs))
        if not _has_array(result):  # metadata (np.shape, np.ndim ...): static, not recorded
            return result
        return rec.record("func", func, name, args, kwargs, result)

    def _method(self, name, *args, **kwargs):
        if not self.rec.active:
            return getattr(self.value, name)(*_unwrap(args), **_unwrap(kwargs))
        result = getattr(self.value, name)(*_unwrap(args), **_unwrap(kwargs))
        return self.rec.record("method", None, name, (self,) + args, kwargs, result)

    def _inplace_method(self, name, *args):
        if not self.rec.active:
            return getattr(self.value, name)(*_unwrap(args))
        target = _writable(self.rec, self)
        getattr(target.value, name)(*_unwrap(args))
        self.rec.record("method", None, name, (target,) + args, {}, None, inplace=True)
        return None

    # ------------------------------------------------------------ ndarray methods
    def reshape(self, *shape, **kwargs):
        return self._method("reshape", *shape, **kwargs)

    def transpose(self, *axes):
        return self._method("transpose", *axes)

    @property
    def T(self):
        return self._method("transpose")

    def astype(self, dtype, **kwargs):
        return self._method("astype", dtype, **kwargs)

    def copy(self):
        return self._method("copy")

    def sum(self, *args, **kwargs):
        return self._method("sum", *args, **kwargs)

    def mean(self, *args, **kwargs):
        return self._method("mean", *args, **kwargs)

    def max(self, *args, **kwargs):
        return self._method("max", *args, **kwargs)

    def min(self, *args, **kwargs):
        return self._method("min", *args, **kwargs)

    def __getitem__(self, index):
        return self._method("__getitem__", index)

    def __setitem__(self, index, value):
        self._inplace_method("__setitem__", index, value)

    def fill(self, value):
        self._inplace_method("fill", value)

    # ------------------------------------------------------------ value reads
    def __array__(self, dtype=None, copy=None):
        value = self.rec.read(self, "converting to a NumPy array")
        return value if dtype is None else value.astype(dtype)

    def __bool__(self):
        rec = self.rec
        if rec.active and _from_library():
            return rec.check(self)
        return bool(rec.read(self, "bool()"))

    def any(self, *args, **kwargs):
        return self._method("any", *args, **kwargs)

    def all(self, *args, **kwargs):
        return self._method("all", *args, **kwargs)

    def __float__(self):
        return float(self.rec.read(self, "float()"))

    def __int__(self):
        return int(self.rec.read(self, "int()"))

    def __index__(self):
        return int(self.rec.read(self, "using it as an index"))

    def item(self, *args):
        return self.rec.read(self, "item()").item(*args)

    def tolist(self):
        return self.rec.read(self, "tolist()").tolist()

    def __iter__(self):
        return iter(self.rec.read(self, "iterating over it"))

    def __neg__(self):
        return self.__array_ufunc__(np.negative, "__call__", self)

    def __abs__(self):
        return self.__array_ufunc__(np.absolute, "__call__", self)

    def __invert__(self):
        return self.__array_ufunc__(np.invert, "__call__", self)

    def __pos__(self):
        return self

    __hash__ = object.__hash__


_OPERATORS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "truediv": np.true_divide,
    "floordiv": np.floor_divide,
    "mod": np.remainder,
    "pow": np.power,
    "matmul": np.matmul,
    "and": np.logical_and,
    "or": np.logical_or,
}
_OPERATORS["and"] = np.bitwise_and
_OPERATORS["or"] = np.bitwise_or
for _n, _u in _OPERATORS.items():
    _op, _rop, _iop = _binary(_u)
    setattr(Sym, f"__{_n}__", _op)
    setattr(Sym, f"__r{_n}__", _rop)
    setattr(Sym, f"__i{_n}__", _iop)
for _n, _u in {
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "ne": np.not_equal,
}.items():
    setattr(Sym, f"__{_n}__", _binary(_u)[0])
Sym.__hash__ = object.__hash__


def _as_python_numbers(inputs: tuple) -> tuple[tuple, bool]:
    """Operands of a ufunc call where some traced arrays stand for Python numbers.

    Eagerly, such a value is a Python int or float (Adam's step count, its
    ``lr / (1 - beta1**t)``), and NumPy treats Python numbers as weak: with a
    float32 array the result is float32, the number cast to float32 first. A
    traced 0-d float64 array would be strong instead (a float64 result, other
    bits). So weak operands are cast to the dtype NumPy would give them beside
    the other operands, as the eager call does. Returns (inputs, whether the
    result stands for a Python number too: no array operand but weak ones).
    """
    if not any(isinstance(x, Sym) and x.var.weak for x in inputs):
        return inputs, False
    strong = [
        x
        for x in inputs
        if isinstance(x, (Sym, np.ndarray, np.generic)) and not (isinstance(x, Sym) and x.var.weak)
    ]
    if not strong:
        return inputs, True
    python = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}
    like = [x.dtype for x in strong]
    for x in inputs:
        if isinstance(x, Sym) and x.var.weak:
            like.append(python[x.var.dtype.kind])
        elif isinstance(x, (bool, int, float, complex)):
            like.append(x)
    target = np.result_type(*like)
    cast = tuple(
        _to_scalar(x, target) if isinstance(x, Sym) and x.var.weak and x.dtype != target else x
        for x in inputs
    )
    return cast, False


_PYTHON_ARITHMETIC = {
    np.add: operator.add,
    np.subtract: operator.sub,
    np.multiply: operator.mul,
    np.true_divide: operator.truediv,
    np.floor_divide: operator.floordiv,
    np.remainder: operator.mod,
    np.power: operator.pow,
    np.negative: operator.neg,
    np.sqrt: math.sqrt,  # (math.sqrt, as the optimizers call it: correctly rounded)
}


def _python_value(x):
    """A weak operand as the Python number it stands for."""
    return x.value.item() if isinstance(x, Sym) else x


def _python_result(v):
    """A Python number as the NumPy scalar a Sym holds (exactly: float64 and int64)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TraceError(f"a traced Python-number operation gave {v!r}, not an int or a float")
    return np.float64(v) if isinstance(v, float) else np.int64(v)


def _to_scalar(x: Sym, dtype: np.dtype) -> Sym:
    """``np.float32(x)`` and co, recorded: the conversion NumPy applies to a Python
    number beside a float32 array (at replay x may be a Python number, not an array)."""
    kind = dtype.type
    return x.rec.record("func", kind, kind.__name__, (x,), {}, kind(x.value))


def _writable(rec: Recorder, x):
    """The Sym an in-place op writes into: a traced array, or an untraced one
    taken into the trace (its current contents become a constant it starts from)."""
    if isinstance(x, Sym):
        undo = rec.undo
        if undo is not None:
            entry = undo.get(id(x.var))
            if entry is not None and entry[0] is None and isinstance(x.value, np.ndarray):
                entry[0], entry[1] = x.value, x.value.copy(order="K")  # before its first write
        return x
    if isinstance(x, np.ndarray):
        promoted = rec.promoted_sym(x)
        if promoted is not None:
            return promoted
        held = rec.held_var(x)
        if held is not None:  # an input: the replay writes into the array it reads
            s = Sym(rec, x, held)
            rec.promoted[id(x)] = (weakref.ref(x), held)
            _writable(rec, s)  # (its first write: a copy kept to put back on a refusal)
            return s
        s = rec.sym(x)  # the trace writes into x itself, as the eager step does
        rec.promoted[id(x)] = (weakref.ref(x), s.var)  # weak: x is freed when the step drops it
        fill = _uniform(x)
        if fill is not None:  # relu's zeros: made afresh by the program, no constant kept
            op = Op("func", np.full, "full", (x.shape, fill), {"dtype": x.dtype}, (s.var,))
        else:
            c = rec.const(x)  # its contents now: the program starts from a copy of them
            op = Op("method", None, "copy", (c,), {}, (s.var,))
            c.value_promoted = s
        op.context = rec._context()
        rec.ops.append(op)
        s.var.fresh = True
        return s
    raise TraceError(f"cannot write into {type(x).__name__} during tracing")


def _uniform(x: np.ndarray):
    """The one value every element of x holds (a NumPy scalar), or None."""
    if x.size == 0 or x.dtype.kind not in "biuf":
        return None
    bits = x
    if x.dtype.kind == "f":  # compare bit patterns: -0.0 == 0.0, and NaN != NaN
        bits = np.ascontiguousarray(x).view(f"u{x.itemsize}")
    if not (bits == bits.flat[0]).all():
        return None
    return x.flat[0]
