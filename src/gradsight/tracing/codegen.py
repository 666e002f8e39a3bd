"""Code generation: a recorded op list as straight-line NumPy source.

One statement per NumPy call, in the order the eager step made them, so the
replay runs the same calls on the same kinds of operands and gives the same
bits. Operators are written as operators (``a @ b``, ``a -= b``: the same
ufunc calls as ``np.matmul(a, b)`` and ``np.subtract(a, b, out=a)``), comments
say which forward line or which op's backward rule each block comes from,
and calls that ran under a non-default ``np.errstate`` keep it.
"""

from __future__ import annotations

import bisect
import builtins
import keyword
import linecache
import math
import os
import re
import unicodedata

import numpy as np

from .recorder import _DEFAULT_ERR, Const, Op, Var

_BINARY = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "divide": "/",
    "true_divide": "/",
    "matmul": "@",
    "power": "**",
    "less": "<",
    "less_equal": "<=",
    "greater": ">",
    "greater_equal": ">=",
    "equal": "==",
    "not_equal": "!=",
    "bitwise_and": "&",
    "bitwise_or": "|",
}
_INPLACE_OK = {
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "power",
    "bitwise_and",
    "bitwise_or",
}
_REDUCE_ORDER = {"axis", "dtype", "out", "keepdims"}
# NumPy 2.4 deprecates a positional output for these (it reads as a third operand)
_OUT_BY_KEYWORD = {"maximum", "minimum", "fmax", "fmin"}
_REDUCE_DEFAULTS = (0, None, None, False)
INLINE_CONST_SIZE = 64  # larger constants become parameters of the standalone module


def identifier(name: str) -> str:
    """A Python identifier for a dotted name: ``layers.0.weight`` -> ``layers_0_weight``."""
    # NFKC first: Python reads identifiers normalised ("ﬁ" is "fi"), so two names that
    # normalise alike would clash; then every character not allowed in a name goes
    name = unicodedata.normalize("NFKC", name)
    name = "".join(c if ("_" + c).isidentifier() else " " for c in name)
    ident = re.sub(r"\W+", "_", name).strip("_") or "v"
    if not ident.isidentifier() or keyword.iskeyword(ident):
        ident = "v_" + ident
    return ident


def literal(x) -> str:
    """``repr(x)``, except that NaN and infinities (an empty batch's mean) are written as
    Python that evaluates: ``float('nan')``, not the undefined name ``nan``."""
    if isinstance(x, float) and not math.isfinite(x):
        return f"float('{x}')"
    if isinstance(x, complex) and not (math.isfinite(x.real) and math.isfinite(x.imag)):
        return f"complex({literal(x.real)}, {literal(x.imag)})"
    return repr(x)


def live_ops(ops: list, outputs: list) -> list:
    """The ops an output depends on (dead ones dropped), in their order."""
    live = {id(s) for _, s in outputs if isinstance(s, Var)}
    kept = []
    for op in reversed(ops):
        targets = _targets(op) if op.inplace and op.kind != "check" else op.outs
        if op.kind != "check" and not any(id(t) in live for t in targets):
            continue
        kept.append(op)
        for x in _syms_in((op.args, op.kwargs)):
            live.add(id(x))
    kept.reverse()
    return kept


def share_common(ops: list, outputs: list) -> list:
    """Common subexpressions computed once: a second call of the same function with the
    same operands, keyword arguments and error state (``t4 = t1 - t2`` after
    ``t3 = t1 - t2``: mse_loss's backward recomputing its forward's difference) is
    dropped and its uses read the first result: the same call on the same arrays gives
    the same bits.

    Not shared: results written in place (or through a view), a call whose operands
    were written in place between the two, calls that make uninitialised memory
    (``empty_like``), and a second result that is an output of the program (two
    outputs would then be one array).
    """
    group = _alias_groups(ops)
    written_at: dict = {}  # alias group -> indices of the ops that write into it
    for i, op in enumerate(ops):
        if op.inplace and op.kind != "check":
            for t in _targets(op):
                if isinstance(t, Var):
                    written_at.setdefault(group(t), []).append(i)
    returned = {id(v) for _, v in outputs if isinstance(v, Var)}
    seen: dict = {}  # key -> (index, op)
    renamed: dict = {}
    out = []
    for i, op in enumerate(ops):
        if renamed:
            op = renamed_op(op, renamed)
        key = _call_key(op) if _shareable(op, group, written_at) else None
        if key is None:
            out.append(op)
            continue
        first = seen.get(key)
        if (
            first is not None
            and not any(id(o) in returned for o in op.outs)
            and not _written_between(op, first[0], i, group, written_at)
        ):
            for dup, kept in zip(op.outs, first[1].outs):
                renamed[id(dup)] = kept
            continue
        seen[key] = (i, op)  # the latest: a third call may share the second's result
        out.append(op)
    return out


_UNSHAREABLE_FUNCS = {"empty", "empty_like"}  # contents undefined: two calls are not one


def _shareable(op: Op, group, written_at: dict) -> bool:
    if op.inplace or op.kind not in ("ufunc", "func", "method") or not op.outs:
        return False
    if op.kind == "ufunc" and (op.method == "at" or "out" in op.kwargs):
        return False
    if op.kind == "func" and op.method in _UNSHAREABLE_FUNCS:
        return False
    return not any(group(o) in written_at for o in op.outs)


def _written_between(op: Op, start: int, stop: int, group, written_at: dict) -> bool:
    """Whether an operand of ``op`` (or an array it views) is written by an op between
    positions ``start`` and ``stop``."""
    for x in _syms_in((op.args, op.kwargs)):
        writes = written_at.get(group(x), ())  # op indices, in increasing order
        k = bisect.bisect_right(writes, start)
        if k < len(writes) and writes[k] < stop:
            return True
    return False


def _alias_groups(ops: list):
    """``group(var)``: a representative of the arrays ``var`` may share memory with
    (joined through every call that may return a view: methods and NumPy functions;
    ufunc results are new arrays)."""
    parent: dict = {}

    def find(x):
        root = id(x)
        while parent.get(root, root) != root:
            root = parent[root]
        node = id(x)
        while node != root:  # path compression: later finds take one step
            parent[node], node = root, parent[node]
        return root

    for op in ops:
        if op.kind in ("func", "method") and not op.inplace and not _makes_new_array(op):
            syms = [find(x) for x in _syms_in(op.args)] + [find(o) for o in op.outs]
            for r in syms[1:]:
                if r != syms[0]:
                    parent[r] = syms[0]
    return find


_NEW_ARRAY_FUNCS = {"full", "zeros_like", "ones_like", "full_like", "empty_like"}


def _makes_new_array(op: Op) -> bool:
    """Whether a function or method call returns memory of its own (never a view)."""
    if op.kind == "func":
        return op.method in _NEW_ARRAY_FUNCS
    return op.method in _COPYING and not (op.method == "astype" and "copy" in op.kwargs)


def _call_key(op: Op):
    """A hashable key equal for two calls that compute the same thing, or None."""
    try:
        key = (
            op.kind,
            op.fn,
            op.method,
            _operand_key(op.args),
            _operand_key(tuple(sorted(op.kwargs.items()))),
            op.errstate,
            len(op.outs),
        )
        hash(key)
    except (_Unkeyable, TypeError):
        return None
    return key


class _Unkeyable(Exception):
    pass


def _operand_key(x):
    """Traced arrays and constants by identity; numbers by type and bits (0.0 is not
    -0.0, NaNs by payload); containers element by element."""
    if isinstance(x, (Var, Const)):
        return ("var", id(x))
    if x is None or x is Ellipsis or isinstance(x, (str, bool, type, np.dtype)):
        return (type(x), x)
    if isinstance(x, (int, float, complex, np.generic)):
        return (type(x), np.asarray(x).tobytes())
    if isinstance(x, (tuple, list)):
        return (type(x),) + tuple(_operand_key(v) for v in x)
    if isinstance(x, slice):
        return (slice, _operand_key(x.start), _operand_key(x.stop), _operand_key(x.step))
    raise _Unkeyable


def renamed_op(op: Op, renamed: dict) -> Op:
    """``op`` reading (and writing) ``renamed[id(v)]`` wherever it read (wrote) v; what
    the passes noted on it (``update_of`` ...) comes along."""

    def sub(x):
        if isinstance(x, Var):
            return renamed.get(id(x), x)
        if isinstance(x, tuple):
            return tuple(sub(v) for v in x)
        if isinstance(x, list):
            return [sub(v) for v in x]
        if isinstance(x, dict):
            return {k: sub(v) for k, v in x.items()}
        return x

    new = Op(
        op.kind,
        op.fn,
        op.method,
        sub(op.args),
        sub(op.kwargs),
        sub(op.outs),
        op.context,
        op.errstate,
        op.inplace,
    )
    new.__dict__.update({k: v for k, v in op.__dict__.items() if k not in new.__dict__})
    return new


def fuse_copies(ops: list) -> list:
    """A copy that an in-place ufunc call then overwrites, as one out-of-place call:
    ``A = B.copy(); A op= C`` (copy-on-write, then an update) becomes ``A = B op C``, and
    ``A = B.copy(); f(X, Y, out=A)`` with A not among X, Y (relu's zeros) becomes
    ``A = f(X, Y)``. The same ufunc on the same operands: the same bits, one pass less.
    A copy of a program input kept for an update is marked ``update_of`` (see replay)."""
    fused = []
    i = 0
    while i < len(ops):
        op = ops[i]
        nxt = ops[i + 1] if i + 1 < len(ops) else None
        if (
            nxt is not None
            and op.kind == "method"
            and op.method == "copy"
            and len(op.args) == 1
            and nxt.kind == "ufunc"
            and nxt.method == "__call__"
            and nxt.inplace
            and set(nxt.kwargs) == {"out"}
            and len(nxt.kwargs["out"]) == 1
            and nxt.kwargs["out"][0] is op.outs[0]
        ):
            a = op.outs[0]
            if not keeps_dtype(nxt, a):
                args = None  # out= casts the result into A's dtype: the fused call would not
            elif len(nxt.args) == 2 and nxt.args[0] is a and nxt.args[1] is not a:
                args = (op.args[0], nxt.args[1])
            elif all(x is not a for x in nxt.args):
                args = nxt.args
            else:
                args = None
            if args is not None:
                new = Op("ufunc", nxt.fn, "__call__", args, {}, op.outs, nxt.context, nxt.errstate)
                if args[0] is op.args[0]:
                    new.update_of = op.args[0]  # A = B op C where A replaces B (an update)
                fused.append(new)
                i += 2
                continue
        fused.append(op)
        i += 1
    return fused


def keeps_dtype(op: Op, target: Var) -> bool:
    """Whether ``op`` (a ufunc call written into ``target`` with out=) gives target's
    dtype without out=: only then is ``t = f(x, y)`` the same as ``f(x, y, out=t)``
    (a float32 parameter minus a float64 step is cast back by out=, not without it)."""
    probe = []
    for a in op.args:
        if isinstance(a, Var):
            if a.dtype is None:
                return False
            probe.append(np.empty((0,), a.dtype) if not a.weak else a.dtype.type(0).item())
        elif isinstance(a, Const):
            probe.append(np.empty((0,), np.asarray(a.value).dtype))
        else:
            probe.append(a)
    try:
        with np.errstate(all="ignore"):
            result = op.fn(*probe)
    except Exception:  # noqa: BLE001 - not probeable: keep the call as recorded
        return False
    return getattr(result, "dtype", None) == target.dtype


def constant_fills(ops: list, keep: set) -> tuple[list, list]:
    """``t = np.full(S, v); f(x, t, out=t)`` (relu's zeros, then max(x, zeros)) as
    ``t = f(x, Z)`` with Z one read-only array of v made once for the program: the
    same ufunc on the same values, one pass over memory fewer per call.

    Returns the ops and the new Consts (their ``value`` is the filled array).
    """
    made: dict = {}
    out_ops = []
    i = 0
    while i < len(ops):
        op = ops[i]
        nxt = ops[i + 1] if i + 1 < len(ops) else None
        t = op.outs[0] if op.kind == "func" and op.method == "full" else None
        if (
            t is not None
            and id(t) not in keep
            and nxt is not None
            and nxt.kind == "ufunc"
            and nxt.method == "__call__"
            and set(nxt.kwargs) == {"out"}
            and len(nxt.kwargs["out"]) == 1
            and nxt.kwargs["out"][0] is t
            and sum(a is t for a in nxt.args) == 1
        ):
            shape, value = op.args
            dtype = np.dtype(op.kwargs["dtype"])
            key = (tuple(shape), dtype.str, np.asarray(value, dtype).tobytes())
            z = made.get(key)
            if z is None:
                # zeros from calloc: pages the program only reads stay the kernel's shared
                # zero page, so relu's 2 MiB of zeros on the 1024-wide step cost no memory
                zero = key[2] == bytes(dtype.itemsize)  # all bits 0: +0.0, not -0.0
                arr = np.zeros(shape, dtype) if zero else np.full(shape, value, dtype=dtype)
                arr.setflags(write=False)
                z = made[key] = Const(arr, -1, "")
            args = tuple(z if a is t else a for a in nxt.args)
            new = Op("ufunc", nxt.fn, "__call__", args, {}, (t,), nxt.context, nxt.errstate)
            out_ops.append(new)
            i += 2
            continue
        out_ops.append(op)
        i += 1
    return out_ops, list(made.values())


_COPYING = {"copy", "astype", "sum", "any", "all", "max", "min", "mean", "fill", "__setitem__"}


def reuse_dead_operands(ops: list, keep: set) -> tuple[list, dict]:
    """Write an elementwise result into an operand that dies there: ``t2 = t1 * c`` becomes
    ``t1 *= c`` with t2 an alias of t1 (the same ufunc call, one allocation fewer).

    Only operands this program allocated (results of ufunc calls) that nothing views
    (no reshape, transpose, index or NumPy function took them), of the result's
    shape, dtype and layout (strides: writing into a transposed operand would give the
    result its layout, not the C order NumPy gives it, and a later sum would add in
    another order), not in ``keep`` (ids of inputs and outputs). Returns the new
    ops and {id(alias): operand} for naming.
    """
    last = {}
    viewed = set()
    for i, op in enumerate(ops):
        for x in _syms_in((op.args, op.kwargs)):
            last[id(x)] = i
        if op.kind == "func" or (op.kind == "method" and op.method not in _COPYING):
            viewed.update(id(x) for x in _syms_in(op.args))
    owned = set()
    alias: dict = {}
    out_ops = []
    for i, op in enumerate(ops):
        if op.kind == "ufunc" and op.method == "__call__" and not op.inplace and not op.kwargs:
            res = op.outs[0] if len(op.outs) == 1 else None
            target = None
            if res is not None and op.fn.signature is None:
                for a in op.args:
                    if (
                        isinstance(a, Var)
                        and a.is_array
                        and res.is_array
                        and id(a) in owned
                        and id(a) not in viewed
                        and id(a) not in keep
                        and last.get(id(a)) == i
                        and a.shape == res.shape
                        and a.dtype == res.dtype
                        and a.strides == res.strides  # (a transposed operand: not C order)
                    ):
                        target = a
                        break
            # res may be viewed later: its views then share the operand's (dead) memory
            if target is not None and id(res) not in keep:
                base = alias.get(id(target), target)
                alias[id(res)] = base
                new = Op(
                    "ufunc",
                    op.fn,
                    "__call__",
                    op.args,
                    {"out": (target,)},
                    (),
                    op.context,
                    op.errstate,
                    True,
                )
                new.reused = True  # its layout decided when traced (program._layout_args)
                out_ops.append(new)
                owned.add(id(res))
                continue
            if res is not None:
                owned.add(id(res))
        out_ops.append(op)
    return out_ops, alias


def _targets(op: Op) -> tuple:
    out = op.kwargs.get("out")
    if out is not None:
        return tuple(out)
    return (op.args[0],)


def _syms_in(x):
    if isinstance(x, Var):
        yield x
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _syms_in(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _syms_in(v)


# Names the generated code itself uses: NumPy, the replay's own arguments and markers,
# and the builtin types a value can be written as (``bool(t)``, ``astype(float)``,
# ``slice(...)``, ``raise ValueError``). A step's argument or a model attribute of one
# of these names gets a suffix (``own`` -> ``own_2``) instead of clashing with them.
RESERVED_NAMES = frozenset(
    ["np", "own", "held", "RETRACE", "NOTHING_HELD"]
    + [n for n in dir(builtins) if isinstance(getattr(builtins, n), type)]
)


class Namer:
    """Names for Syms (given names first, then t1, t2 ...) and constants (c0 ...)."""

    def __init__(self):
        self.used: set = set(RESERVED_NAMES)
        self.count = 0

    def reserve(self, name: str) -> str:
        base = identifier(name)
        cand, k = base, 1
        while cand in self.used:
            k += 1
            cand = f"{base}_{k}"
        self.used.add(cand)
        return cand

    def temp(self) -> str:
        while True:
            self.count += 1
            cand = f"t{self.count}"
            if cand not in self.used:
                self.used.add(cand)
                return cand


class Writer:
    """Renders ops; ``names`` maps id(Sym) and id(Const) to identifiers."""

    def __init__(self, namer: Namer, names: dict, alias: dict | None = None, hoist=None):
        self.namer = namer
        self.names = names
        self.alias = alias
        # the replay's writer: NumPy scalars become constants made once (``hoist(value)``
        # names one), and ufunc calls pass out= and reduction options by position: the
        # same calls with less argument parsing (0.1-0.6 us each on small arrays)
        self.hoist = hoist

    def name(self, x) -> str:
        base = self.alias.get(id(x)) if self.alias else None
        if base is not None:
            return self.name(base)
        n = self.names.get(id(x))
        if n is None:
            n = self.names[id(x)] = self.namer.temp()
        return n

    def value(self, x) -> str:
        if isinstance(x, (Var, Const)):
            return self.name(x)
        if isinstance(x, tuple):
            inner = ", ".join(self.value(v) for v in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        if isinstance(x, list):
            return "[" + ", ".join(self.value(v) for v in x) + "]"
        if isinstance(x, np.dtype):
            return f"np.{x.name}" if hasattr(np, x.name) else f"np.dtype({x.str!r})"
        if isinstance(x, type) and issubclass(x, np.generic):
            return f"np.{x.__name__}"
        if isinstance(x, type):
            return x.__name__
        if x is Ellipsis:
            return "..."
        if isinstance(x, np.generic):
            if self.hoist is not None:
                return self.hoist(x)
            return f"np.{type(x).__name__}({literal(x.item())})"
        return literal(x)

    def index(self, idx) -> str:
        items = idx if isinstance(idx, tuple) else (idx,)
        parts = []
        for it in items:
            if isinstance(it, slice):
                a = "" if it.start is None else self.value(it.start)
                b = "" if it.stop is None else self.value(it.stop)
                c = "" if it.step is None else ":" + self.value(it.step)
                parts.append(f"{a}:{b}{c}")
            elif it is None:
                parts.append("None")
            else:
                parts.append(self.value(it))
        if not isinstance(idx, tuple):
            return parts[0]
        return ", ".join(parts) + ("," if len(parts) == 1 else "")

    def call_args(self, args, kwargs) -> str:
        parts = [self.value(a) for a in args]
        for k, v in kwargs.items():
            if k == "out" and isinstance(v, tuple) and len(v) == 1:
                v = v[0]
            parts.append(f"{k}={self.value(v)}")
        return ", ".join(parts)

    def expression(self, op: Op) -> str:
        """The right-hand side (or whole statement for in-place ops)."""
        a, kw = op.args, op.kwargs
        if op.kind == "ufunc":
            name = op.fn.__name__
            if op.method == "__call__":
                sym = _BINARY.get(name)
                if (
                    op.inplace
                    and sym
                    and name in _INPLACE_OK
                    and len(a) == 2
                    and (set(kw) == {"out"} and len(kw["out"]) == 1 and kw["out"][0] is a[0])
                ):
                    return f"{self.value(a[0])} {sym}= {self.value(a[1])}"
                if not kw and sym and len(a) == 2:
                    return f"{self.value(a[0])} {sym} {self.value(a[1])}"
                if not kw and name == "negative":
                    return f"-{self.value(a[0])}"
                out = kw.get("out")
                if (
                    self.hoist is not None
                    and set(kw) == {"out"}
                    and len(a) == op.fn.nin
                    and name not in _OUT_BY_KEYWORD
                ):
                    return f"np.{name}({self.call_args(tuple(a) + tuple(out), {})})"
                return f"np.{name}({self.call_args(a, kw)})"
            if (
                self.hoist is not None
                and op.method == "reduce"
                and len(a) == 1
                and set(kw) <= _REDUCE_ORDER
            ):
                return f"np.{name}.reduce({self._reduce_args(a, kw)})"
            return f"np.{name}.{op.method}({self.call_args(a, kw)})"
        if op.kind == "func":
            return f"np.{op.method}({self.call_args(a, kw)})"
        target = self.value(a[0])
        if op.method == "__getitem__":
            return f"{target}[{self.index(a[1])}]"
        if op.method == "__setitem__":
            return f"{target}[{self.index(a[1])}] = {self.value(a[2])}"
        if op.method == "transpose" and len(a) == 1 and not kw:
            return f"{target}.T"
        return f"{target}.{op.method}({self.call_args(a[1:], kw)})"

    def _reduce_args(self, a, kw) -> str:
        """ufunc.reduce's arguments by position: array, axis, dtype, out, keepdims."""
        out = kw.get("out")
        given = [
            kw.get("axis", 0),
            kw.get("dtype"),
            out[0] if isinstance(out, tuple) and len(out) == 1 else out,
            kw.get("keepdims", False),
        ]
        while len(given) > 1 and given[-1] is _REDUCE_DEFAULTS[len(given) - 1]:
            given.pop()
        return ", ".join([self.value(a[0])] + [self.value(v) for v in given])

    def statement(self, op: Op) -> str:
        if op.kind == "update":  # see traced._updates_in_place
            p, u = self.value(op.args[0]), self.value(op.args[1])
            name = op.fn.__name__
            # out= by position: the same call with less argument parsing (see __init__)
            out = f"out={p}" if name in _OUT_BY_KEYWORD else p
            return (
                f"if own[{op.kwargs['own']}]:  # the tensor's array is ours: update in place\n"
                f"    {p}.setflags(write=True)\n"
                f"    {self.name(op.outs[0])} = np.{name}({p}, {u}, {out})\n"
                f"else:\n"
                f"    {self.name(op.outs[0])} = np.{name}({p}, {u})"
            )
        if op.kind == "check":
            v = self.value(op.args[0])
            if self.hoist is not None and op.kwargs.get("retrace"):
                check = (  # nothing written yet: the replay steps aside, the call runs eagerly
                    f"if bool({v}) is not {op.kwargs['expected']}:  # a branch went the other way\n"
                    f"    return RETRACE"
                )
                if op.kwargs.get("release"):  # see program._checks_that_retrace
                    check += "\nheld.clear()  # no check left: the replaced gradients can go"
                return check
            return (
                f"if bool({v}) is not {op.kwargs['expected']}:  # a check the step made\n"
                f"    raise ValueError('gs.trace: an input check that passed when the step "
                f"was traced fails now; run the step untraced to see which')"
            )
        rhs = self.expression(op)
        if op.inplace or not op.outs:
            return rhs
        lhs = ", ".join(self.name(o) for o in op.outs)
        return f"{lhs} = {rhs}"


def comment(context: str) -> str:
    """A readable comment line for an op context (see Recorder._context)."""
    kind, _, rest = context.partition(":")
    if kind == "forward":
        return "# forward" + _where(rest)
    if kind == "backward":
        prim, _, where = rest.partition("|")
        if where:
            path, _, line = where.rpartition(":")
            where = f"{os.path.basename(path)}:{line}"
        if prim == "gradient bookkeeping":
            return "# backward: sum broadcast gradients, add them up, store .grad"
        return f"# backward of {prim}" + (f" (forward at {where})" if where else "")
    if kind == "update":
        return f"# update: {rest}"
    return "# " + context


def _where(rest: str) -> str:
    if not rest:
        return ""
    path, _, line = rest.rpartition(":")
    text = linecache.getline(path, int(line)).strip() if line.isdigit() else ""
    shown = f"{os.path.basename(path)}:{line}"
    return f" ({shown}): {text}" if text else f" ({shown})"


def errstate_args(errs: tuple) -> str:
    default = dict(_DEFAULT_ERR)
    return ", ".join(f"{k}={v!r}" for k, v in errs if default.get(k) != v)


def last_uses(ops: list, writer: Writer, keep: set) -> dict:
    """{op index: names last used there}: the replay deletes them at once, so an
    intermediate array is freed when dead (as the eager engine frees saved arrays),
    not when the function returns. Names in ``keep`` (inputs, outputs) stay."""
    last = {}
    for i, op in enumerate(ops):
        for x in list(_syms_in((op.args, op.kwargs))) + list(op.outs):
            last[writer.name(x)] = i
    dels: dict = {}
    for name, i in last.items():
        if name not in keep:
            dels.setdefault(i, []).append(name)
    return dels


def body(ops: list, writer: Writer, indent: str = "    ", errstate=None, dels=None) -> list:
    """Statement lines (with comment lines and errstate blocks) for ``ops``; ``dels``
    (see last_uses) adds ``del`` statements after the ops that last use a name."""
    lines = []
    context = None
    errs = ()
    reusing = None  # the array the last op wrote into in place of a new one
    for i, op in enumerate(ops):
        if op.context != context:
            if errs:
                errs = ()
            context = op.context
            lines.append("")
            lines.append(indent + comment(context))
        if op.errstate != errs:
            errs = op.errstate
            if errs and errstate_args(errs):
                expr = errstate(errs) if errstate else f"np.errstate({errstate_args(errs)})"
                lines.append(f"{indent}with {expr}:")
            else:
                errs = ()
        inner = indent + ("    " if errs else "")
        text = writer.statement(op).split("\n")
        into = writer.name(op.kwargs["out"][0]) if getattr(op, "reused", False) else None
        if into is not None and into != reusing and not text[0].startswith(into + " "):
            text[0] += f"  # into {into}'s array: its values are not needed again"
        reusing = into
        lines.extend(inner + line for line in text)
        if dels and i in dels:
            lines.append(inner + "del " + ", ".join(sorted(dels[i])))
    return lines
