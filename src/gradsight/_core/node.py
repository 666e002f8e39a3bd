"""Graph nodes and the one place where op results are made.

A Node records one application of a primitive: the primitive (forward and
vector-Jacobian rules), the parent nodes the gradient flows to (None where no
gradient is needed), the arrays the rules read, and the forward result.
Nodes point to parent *nodes*, never to Tensors, so dropping a Tensor frees
its array once backward has released the saved ones.
"""

from __future__ import annotations

import traceback
import weakref

import numpy as np

from .arrays import as_result, is_duck_array
from .grad_mode import mode, plain
from .tensor import Tensor
from .versions import clock as _clock
from .versions import owner_of

ndarray = np.ndarray
# a forward's result that is not an ndarray (a NumPy scalar from a reduction) as one;
# another dispatching array type (gs.trace's) stays itself
_asarray = as_result


class Primitive:
    """A differentiable operation: a NumPy forward and one VJP rule per input.

    forward(*arrays, *params) -> ndarray. Each rule in ``vjps`` has the form
    rule(F, g, out, *arrays, *params) -> gradient for that input, written with
    operators and the functions of the namespace F, so the same rule runs on
    arrays (ordinary backward) and on Tensors (create_graph=True).
    ``vjps`` may be any indexable: variadic ops supply one that builds rule i.
    A rule of None marks a non-differentiable input (an index, a condition).
    ``jvp`` (optional) is the forward-mode rule, jvp(F, dots, out, *arrays, *params)
    -> the tangent of out, with one tangent per input in ``dots`` (None for zero);
    without one, forward mode transposes the VJPs (gradsight.forward).
    ``view``: the forward may return a view of its one input (getitem, reshape,
    transpose); a result that is one remembers its base, so that an in-place
    write into it reaches the base's history (ops/inplace.py).
    """

    __slots__ = ("name", "forward", "vjps", "arity", "jvp", "view")

    def __init__(
        self, name: str, forward, vjps, arity: int | None = None, jvp=None, view: bool = False
    ):
        self.name = name
        self.forward = forward
        self.vjps = vjps
        self.arity = len(vjps) if arity is None else arity
        self.jvp = jvp
        self.view = view

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


# How a Node keeps its parents, inline: p0 and p1 are the parents of a
# two-input op; a one-input op has p1 = ONE_INPUT; any other op keeps the
# tuple of all its parents in p0 with p1 = MANY_INPUTS. No tuple per node for
# the one- and two-input ops that are nearly every node: one object less to
# allocate, and one less for the cycle collector, which walks every live node
# of a big graph (the 100,000-op chain's forward spent 0.7 us per op in it).
ONE_INPUT = _Marker("one input")
MANY_INPUTS = _Marker("many inputs")


class Node:
    """One recorded op; ``name`` reads like PyTorch's grad_fn names (MulBackward)."""

    __slots__ = ("prim", "p0", "p1", "args", "out", "meta", "__dict__", "__weakref__")
    hooks = None  # rare attributes live in __dict__ and default to None
    trace = None  # creation stack summary, recorded under detect_anomaly
    rebase = False  # made by an in-place write (see _core/versions.py)
    # ``stamp`` (in __dict__, off the fast path only): the write clock when made
    # (see _core/versions.py)

    def __init__(self, prim, p0, p1, args, out):
        self.prim = prim
        self.p0 = p0
        self.p1 = p1
        self.args = args
        self.out = out

    @property
    def parents(self) -> tuple:
        """The node each input's gradient flows to (None for an input needing none)."""
        p1 = self.p1
        if p1 is ONE_INPUT:
            return (self.p0,)
        if p1 is MANY_INPUTS:
            return self.p0
        return (self.p0, p1)

    @property
    def name(self) -> str:
        return self.prim.name.title().replace("_", "") + "Backward"

    @property
    def next_functions(self) -> tuple:
        """The parent nodes, PyTorch-style (None for inputs needing no grad)."""
        return self.parents

    @property
    def freed(self) -> bool:
        return self.args is None

    def output_meta(self) -> tuple:
        """(shape, dtype) of the forward result, available after freeing too."""
        if self.out is not None:
            return self.out.shape, self.out.dtype
        return self.meta

    def release(self) -> None:
        """Drop saved arrays (after a backward without retain_graph)."""
        out = self.out
        if out is not None:
            self.meta = (out.shape, out.dtype)
        self.args = None
        self.out = None

    def __repr__(self) -> str:
        return f"<{self.name}>"


def make_node(prim, parents: tuple, args: tuple, out) -> Node:
    """A Node from the tuple of its parents."""
    n = len(parents)
    if n == 1:
        return Node(prim, parents[0], ONE_INPUT, args, out)
    if n == 2:
        return Node(prim, parents[0], parents[1], args, out)
    return Node(prim, parents, MANY_INPUTS, args, out)


class AccumulateGrad:
    """The graph's end for a leaf Tensor: gradients arriving here go to .grad."""

    __slots__ = ("variable", "__weakref__")
    prim = None
    parents = ()
    p0 = ()  # no parents, in Node's inline form
    p1 = MANY_INPUTS
    name = "AccumulateGrad"
    trace = None

    def __init__(self, variable: Tensor):
        self.variable = variable

    @property
    def hooks(self):
        return self.variable._hooks

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def parent_of(t: Tensor):
    """The node a gradient for ``t`` flows into: its grad_fn, or its leaf accumulator."""
    fn = t.grad_fn
    if fn is not None:
        return fn
    ref = t._acc
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._acc = weakref.ref(acc)
    return acc


def _bad_input(prim, arrays, err):
    """The same kind of error (as a builtin type), naming the op and each operand's shape."""
    shapes = " and ".join(str(getattr(a, "shape", type(a).__name__)) for a in arrays)
    kind = next(k for k in (ValueError, IndexError, TypeError) if isinstance(err, k))
    return kind(f"{prim.name}: cannot apply to operands of shapes {shapes}: {err}")


_new = object.__new__


def _finish(prim, out, parents, args):
    """Wrap a forward result; record a node when ``parents`` is not None.

    Callers pass parents only when grad mode is on and some input needs a
    gradient (``plain.on or mode.enabled`` is the grad-mode test: see grad_mode).
    """
    if out.__class__ is not ndarray:
        out = _asarray(out)
    out.setflags(False)  # positional: 40 ns, against 100 ns for write=False (keyword parsing)
    t = _new(Tensor)
    t.data = out
    if parents is None:
        t.grad_fn = None
        t.requires_grad = False
        return t
    node = make_node(prim, parents, args, out)
    if not plain.on:  # in-place writes logged (versions.py), or a thread off the default
        node.stamp = _clock[0]
        if mode.anomaly:
            node.trace = traceback.extract_stack()[:-1]
    t.grad_fn = node
    t.requires_grad = True
    return t


_scalar_types = (int, float)


def lift(x):
    """Operand data: Tensors give their array; scalars stay Python scalars."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (ndarray, int, float, bool, np.generic)):
        return x
    return _as_operand_array(x)


def holds_tensor(seq) -> bool:
    """True when a (nested) list or tuple contains a Tensor."""
    todo = [seq]
    while todo:
        for item in todo.pop():
            if isinstance(item, Tensor):
                return True
            if isinstance(item, (list, tuple)):
                todo.append(item)
    return False


def _as_operand_array(x):
    if is_duck_array(x):  # an array of another type (gs.trace's): NumPy dispatches it
        return x
    if isinstance(x, (list, tuple)) and holds_tensor(x):
        raise TypeError(
            f"a {type(x).__name__} holding Tensors cannot be an operand: NumPy would turn it "
            "into a plain array and cut the gradient; combine it with gs.stack(...) first"
        )
    try:
        arr = np.asarray(x)
    except ValueError as err:
        raise TypeError(f"cannot use ragged or irregular data as an operand ({err})") from err
    if arr.dtype == object:
        raise TypeError(f"cannot use {type(x).__name__} as a tensor operand: {x!r:.80}")
    return arr


def apply1(prim, x: Tensor, *params):
    """Apply a one-input primitive to Tensor ``x`` with static ``params``."""
    xd = x.data
    args = (xd,) + params if params else (xd,)
    try:
        out = prim.forward(*args)
    except (ValueError, TypeError, IndexError) as err:
        raise _bad_input(prim, (xd,), err) from err
    if x.requires_grad and (plain.on or mode.enabled):
        t = _finish(prim, out, (x.grad_fn or parent_of(x),), args)
    else:
        t = _finish(prim, out, None, None)
    if prim.view:
        base = out.base
        if base is not None and (base is xd or base is xd.base or owner_of(out) is owner_of(xd)):
            t._view = (x, prim, params)  # a view of x: writes into t reach x (inplace.py)
    return t


def apply2(prim, a, b):
    """Apply a two-input primitive; either side may be a Tensor, array or scalar."""
    if b.__class__ in _scalar_types:  # the common `t * 2.0` case first
        bd = b
        pb = False
    elif isinstance(b, Tensor):
        bd = b.data
        pb = b.requires_grad
    else:
        bd = lift(b)
        pb = False
    if isinstance(a, Tensor):
        ad = a.data
        pa = a.requires_grad
    else:
        ad = lift(a)
        pa = False
    try:
        out = prim.forward(ad, bd)
    except (ValueError, TypeError) as err:
        raise _bad_input(prim, (ad, bd), err) from err
    if (pa or pb) and (plain.on or mode.enabled):
        parents = (
            (a.grad_fn or parent_of(a)) if pa else None,
            (b.grad_fn or parent_of(b)) if pb else None,
        )
        return _finish(prim, out, parents, (ad, bd))
    return _finish(prim, out, None, None)


def apply(prim, operands, *params):
    """General form: any number of operands followed by static params."""
    datas = []
    tracked = False
    for x in operands:
        if isinstance(x, Tensor):
            datas.append(x.data)
            tracked = tracked or x.requires_grad
        else:
            datas.append(lift(x))
    args = (*datas, *params)
    try:
        out = prim.forward(*args)
    except (ValueError, TypeError, IndexError) as err:
        raise _bad_input(prim, datas, err) from err
    if tracked and (plain.on or mode.enabled):
        parents = tuple(
            [
                (x.grad_fn or parent_of(x)) if isinstance(x, Tensor) and x.requires_grad else None
                for x in operands
            ]
        )
        return _finish(prim, out, parents, args)
    return _finish(prim, out, None, None)


# Tensor methods for the most frequent ops. They are apply1/apply2 with
# ``self`` known to be a Tensor and _finish written out: a method call is the
# whole Python cost of ``a * b`` or ``h.tanh()``, which runs once per op of
# every forward pass. Behaviour is exactly apply1's and apply2's.


def unary_method(prim):
    """``Tensor.<name>(self)`` for a one-input primitive without parameters."""
    forward = prim.forward

    def method(self):
        xd = self.data
        try:
            out = forward(xd)
        except (ValueError, TypeError, IndexError) as err:
            raise _bad_input(prim, (xd,), err) from err
        if out.__class__ is not ndarray:
            out = _asarray(out)
        out.setflags(False)
        t = _new(Tensor)
        t.data = out
        if self.requires_grad and plain.on:
            node = _new(Node)  # Node(...) without the __init__ call: 30 ns of ~800
            node.prim = prim
            node.p0 = self.grad_fn or parent_of(self)
            node.p1 = ONE_INPUT
            node.args = (xd,)
            node.out = out
            t.grad_fn = node
            t.requires_grad = True
            return t
        if self.requires_grad and mode.enabled:  # recording, but some thread is not plain
            return _finish(prim, out, (self.grad_fn or parent_of(self),), (xd,))
        t.grad_fn = None
        t.requires_grad = False
        return t

    method.__name__ = prim.name
    return method


def binary_method(prim, reflected: bool = False):
    """``Tensor.__op__(self, other)`` (or ``__rop__`` when ``reflected``) for a
    two-input primitive."""
    forward = prim.forward
    if reflected:
        return _reflected_method(prim, forward)

    def method(self, other):
        if other.__class__ in _scalar_types:
            od = other
            other_rg = False
        elif isinstance(other, Tensor):
            od = other.data
            other_rg = other.requires_grad
        else:
            od = lift(other)
            other_rg = False
        sd = self.data
        try:
            out = forward(sd, od)
        except (ValueError, TypeError) as err:
            raise _bad_input(prim, (sd, od), err) from err
        if out.__class__ is not ndarray:
            out = _asarray(out)
        out.setflags(False)
        t = _new(Tensor)
        t.data = out
        self_rg = self.requires_grad
        if self_rg or other_rg:
            if plain.on:
                node = _new(Node)  # as in unary_method
                node.prim = prim
                node.p0 = (self.grad_fn or parent_of(self)) if self_rg else None
                node.p1 = (other.grad_fn or parent_of(other)) if other_rg else None
                node.args = (sd, od)
                node.out = out
                t.grad_fn = node
                t.requires_grad = True
                return t
            if mode.enabled:  # recording, but some thread is not plain
                parents = (
                    (self.grad_fn or parent_of(self)) if self_rg else None,
                    (other.grad_fn or parent_of(other)) if other_rg else None,
                )
                return _finish(prim, out, parents, (sd, od))
        t.grad_fn = None
        t.requires_grad = False
        return t

    return method


def _reflected_method(prim, forward):
    """``Tensor.__rop__(self, other)``: ``other op self`` where ``other`` is not a
    Tensor (Python calls __rop__ only then), written out like binary_method's
    forward case: ``0.5 * g`` is as cheap as ``g * 0.5``. Same node as apply2 builds."""

    def method(self, other):
        if other.__class__ in _scalar_types:
            od = other
        elif isinstance(other, Tensor):  # a direct call: the general path tracks both sides
            return apply2(prim, other, self)
        else:
            od = lift(other)
        sd = self.data
        try:
            out = forward(od, sd)
        except (ValueError, TypeError) as err:
            raise _bad_input(prim, (od, sd), err) from err
        if out.__class__ is not ndarray:
            out = _asarray(out)
        out.setflags(False)
        t = _new(Tensor)
        t.data = out
        if self.requires_grad:
            if plain.on:
                node = _new(Node)  # as in unary_method
                node.prim = prim
                node.p0 = None
                node.p1 = self.grad_fn or parent_of(self)
                node.args = (od, sd)
                node.out = out
                t.grad_fn = node
                t.requires_grad = True
                return t
            if mode.enabled:  # recording, but some thread is not plain
                return _finish(prim, out, (None, self.grad_fn or parent_of(self)), (od, sd))
        t.grad_fn = None
        t.requires_grad = False
        return t

    method.__name__ = f"r{prim.name}"
    return method
