"""Trace-time stand-ins for a few module globals of gradsight (see _patched).

The engine and the ops are not changed for tracing: while one step is traced,
the helpers that cannot take a traced array (they write into a fresh
``np.empty``, call ``np.array`` or ``math.sqrt`` on it) are swapped for ones
that can, and the ones that must not run (hooks, random draws) for refusals.
"""

from __future__ import annotations

import math

import numpy as np

from gradsight._core import engine as _engine
from gradsight._core import node as _node
from gradsight._core.tensor import Tensor, new_tensor

from .recorder import Sym, TraceError, _writable

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
            # astype copies too; np.array makes an array of a NumPy scalar (as_ndarray)
            return as_ndarray(x.copy() if dtype is None else x.astype(dtype))
        return np.array(x, *args, **kwargs)

    @staticmethod
    def asarray(x, *args, **kwargs):
        if isinstance(x, Sym) and not args and not kwargs:
            return as_ndarray(x)  # a comparison's result made an array: no value read
        return np.asarray(x, *args, **kwargs)


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

    def __init__(self, session):  # a traced._Session
        self.session = session
        self.saved = []

    def __enter__(self):
        from gradsight import autograd, creation, functional
        from gradsight._core import tensor as _tensor
        from gradsight.nn import module as _module
        from gradsight.optim import adam, sgd

        session = self.session
        original_acc = _engine._accumulate_leaf
        asarray = _node._asarray

        def traced_asarray(x):  # (a NumPy scalar stays one: the same values)
            return x if isinstance(x, Sym) else asarray(x)

        def accumulate(var, g, is_owned, create_graph):
            if g.__class__ is np.ndarray:  # an untraced gradient the trace added into
                promoted = session.rec.promoted_sym(g)
                g = g if promoted is None else promoted
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

        import gradsight.ops.table as _ops_table
        from gradsight.ops import _util, api
        from gradsight.ops.namespaces import ARRAY

        self._set(ARRAY, "broadcast_to", _traced_expand(_util.expand))
        self._set(ARRAY, "index_add", _traced_index_add(_util.index_add))
        self._set(_node, "_asarray", traced_asarray)
        lift, as_tensor = _node.lift, api.as_tensor
        self._set(_node, "lift", lambda x: x if isinstance(x, Sym) else lift(x))
        # the comparison methods (ops/table.py's _compare) bound lift and np when
        # imported: ``pred.argmax(1) == y`` with a traced batch y is recorded, not read
        for name, value in (("lift", _node.lift), ("np", _NumPyProxy())):
            self._set(_ops_table, name, value)
        self._set(
            api,
            "as_tensor",
            lambda x: new_tensor(x, None, False) if isinstance(x, Sym) else as_tensor(x),
        )
        traced_as_array = _traced_as_array(_tensor.as_array)
        for mod in (_tensor, creation, functional, _module):  # gs.tensor(x), zeros_like, gs.grad
            self._set(mod, "as_array", traced_as_array)
        self._set(_engine, "_accumulate_leaf", accumulate)
        self._set(_engine, "_run_hooks", no_hooks)
        self._set(creation, "_generator", _NoRandom())
        known_optimizers = {id(o) for o in session.found.optimizers}
        for cls in _optimizer_classes():
            if "step" in vars(cls):
                self._set(cls, "step", _found_optimizer_only(vars(cls)["step"], known_optimizers))
        self._set(sgd, "np", _NumPyProxy())
        self._set(autograd, "np", _NumPyProxy())
        self._set(adam, "np", _NumPyProxy())
        self._set(adam, "math", _MathProxy())
        self._set(Tensor, "numpy", numpy_refused)
        return self

    def _set(self, obj, name, value):
        self.saved.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    def __exit__(self, *exc):
        for obj, name, value in reversed(self.saved):
            setattr(obj, name, value)


def as_ndarray(x: Sym) -> Sym:
    """``np.asarray(x)``, recorded, where x holds a NumPy scalar: a ufunc on 0-d arrays
    returns one, and the eager engine turns each op's result into a 0-d array. Done
    where the value is stored (a scalar parameter's gradient, its momentum buffer:
    written in place later, out= needs an array), not for every 0-d result (a loss:
    the same values, and one call less per op in the replay)."""
    if x.value.__class__ is np.ndarray:
        return x
    return x.rec.record("func", np.asarray, "asarray", (x,), {}, np.asarray(x.value))


def _optimizer_classes() -> list:
    from gradsight.optim.optimizer import Optimizer

    classes, todo = [], [Optimizer]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    return classes


def _found_optimizer_only(step, known: set):
    """Optimizer.step that refuses an optimizer discovery did not find: its state
    (momentum, moments) would be made inside the program, not read and written
    back, so every replay would start it afresh. Other threads' optimizers, whose
    parameters are not being traced, pass through."""

    def checked(opt, *args, **kwargs):
        if id(opt) not in known and _traced_params(opt):
            raise TraceError(
                f"the step calls {type(opt).__name__}.step() on an optimizer gs.trace did not "
                "find (it looks in the step's arguments, closure, globals and self, one level "
                "into lists, dicts and objects): its state would be left out of the program. "
                "Pass the optimizer to the step as an argument"
            )
        return step(opt, *args, **kwargs)

    return checked


def _traced_params(opt) -> bool:
    for group in opt.param_groups:
        for p in group["params"]:
            if isinstance(p.data, Sym) or isinstance(getattr(p.grad, "data", None), Sym):
                return True
    return False


def _traced_as_array(as_array):
    """tensor.as_array for traced arrays: a copy (or cast) is recorded, not a value read."""

    def traced(data, dtype=None, copy: bool = True):
        arr = data.data if isinstance(data, Tensor) else data
        if not isinstance(arr, Sym):
            return as_array(data, dtype, copy)
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)  # astype copies
        return arr.copy() if copy else arr

    return traced


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


def _accumulate_traced(session, var, g, create_graph) -> None:
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
    g = as_ndarray(g)
    if g.dtype != dtype:
        g = g.astype(dtype)
    elif g.var.claimed or not g.var.fresh:
        g = g.copy()  # a private copy: no .grad aliases other memory (as the engine does)
    g.var.claimed = True
    if var.grad is not None:  # into the same .grad object, as the engine does
        g = np.add(var.grad.data, g, dtype=dtype)
        g.var.claimed = True
        var.grad.data = g
        return
    var.grad = new_tensor(g, None, False)
