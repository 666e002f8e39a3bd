"""In-place writes on Tensors, recorded as PyTorch records them.

``t[idx] = v``, ``t[idx] -= v``, ``t += x`` (and ``add_`` ...), ``fill_``,
``zero_``, ``copy_`` and NumPy's ``out=t`` write into t's memory, as NumPy does:
through a view into its base, into ``gs.from_numpy`` memory the caller's array.

When grad mode is on and the tensor (or its base, or the value written)
requires grad, the write is also recorded:

- ``t op= x`` on a tensor that is not a view: the new value is computed out of
  place, ``r = t_old op x`` (one node, as ``t = t op x`` would record), and
  written into t's memory; t's ``grad_fn`` becomes r's.
- a write into a region (``t[idx] = v``) or through a view ``v`` of a base
  ``b``: ``b``'s history is rebased on a ``CopySlicesBackward`` node with two
  inputs, b before the write (gradient: g outside the region) and the value
  written (gradient: g on the region, 0 for the entries a repeated index
  overwrote), and each view between b and the written tensor gets its
  ``grad_fn`` made again from b's (``v_new = b_new[...]``).

A leaf that requires grad (or a view of one) is refused in grad mode, as in
PyTorch; optimizers and manual updates write into it under ``gs.no_grad()``.

What backward saved is kept right: if the written tensor's own node reads its
output (exp, tanh, div ...), that output is copied just before the write; any
other saved array the write changes is caught by the version check
(_core/versions.py) and refused at backward, never used.
"""

from __future__ import annotations

import dis
import gc
import sys

import numpy as np

from gradsight._core import versions
from gradsight._core.grad_mode import mode
from gradsight._core.node import Primitive, apply1, apply2, lift, make_node, parent_of
from gradsight._core.tensor import Tensor, new_tensor

from . import api, shape
from . import elementwise as ew
from . import numpy_ops as more

ndarray = np.ndarray
_getrefcount = sys.getrefcount

# The primitives whose result may be a view of their input (see Primitive.view).
for _prim in (shape.getitem, shape.reshape, shape.transpose):
    _prim.view = True

_PRIMS = {np.add: ew.add, np.subtract: ew.sub, np.multiply: ew.mul, np.true_divide: ew.div}
_READS_NOTHING = (np.add, np.subtract)  # their rules never read the operands' values


# ---------------------------------------------------------------- refusals
def _leaf_error(what: str, through_view: bool) -> RuntimeError:
    whose = "a view of a leaf tensor" if through_view else "a leaf tensor"
    return RuntimeError(
        f"{what}: {whose} that requires grad cannot be written in place while grad mode is "
        "on (its gradient would be of values it no longer holds). Do it inside "
        "gs.no_grad(), as optimizers do, or write into a copy (t = t.copy()), or use the "
        "out-of-place operator (t = t + x)"
    )


def _check_layout(arr, what: str) -> None:
    """A broadcast view has elements sharing one memory location: refuse, as NumPy and
    PyTorch do, before anything is written."""
    if arr.__class__ is ndarray and arr.base is not None:
        for n, s in zip(arr.shape, arr.strides):
            if s == 0 and n > 1:
                raise ValueError(
                    f"{what}: cannot write into a tensor of shape {arr.shape} whose elements "
                    "share memory (a broadcast view, e.g. from broadcast_to); copy it first"
                )


# ---------------------------------------------------------------- the memory write
def _writable_chain(arr) -> list:
    """Make ``arr`` (and the arrays its memory comes from) writable; returns what to restore."""
    chain = []
    a = arr
    while a.__class__ is ndarray or isinstance(a, ndarray):
        chain.append(a)
        base = a.base
        if base is None or not isinstance(base, ndarray):
            break
        a = base
    flipped = []
    for a in reversed(chain):  # the owner first: a view can be writable only if its base is
        if not a.flags.writeable:
            try:
                a.setflags(write=True)
            except ValueError as err:
                for b in flipped:
                    b.setflags(write=False)
                raise ValueError(
                    f"cannot write into a tensor whose memory is read-only ({err}); "
                    "gs.from_numpy of a read-only array cannot be written in place"
                ) from None
            flipped.append(a)
    return flipped


def _write(t: Tensor, index, value, owned: bool, ufunc=None) -> None:
    """``t[index] = value`` (index None: all of t), or ``ufunc(t, value, out=t)``,
    in t's memory; logged for the version check unless ``owned`` (nothing else
    held the array: no node can have saved it)."""
    arr = t.data
    if arr.__class__ is not ndarray:
        _write_traced(t, arr, index, value, owned, ufunc)
        return
    flipped = _writable_chain(arr) if not arr.flags.writeable else ()
    try:
        _store(arr, index, value, ufunc)
    finally:
        for a in reversed(flipped):
            a.setflags(write=False)
    if not owned:
        region = _region(arr, index)
        if region is arr and index is not None:  # an integer or boolean array index
            versions.log_write(arr, _written_addresses(arr, index))
        else:
            versions.log_write(region)


def _written_addresses(arr: ndarray, index):
    """Sorted byte addresses of the elements ``arr[index] = ...`` wrote (None: unknown)."""
    try:
        flat = np.arange(arr.size, dtype=np.intp).reshape(arr.shape)[index]
    except Exception:
        return None
    return np.unique(versions.element_addresses(arr)[np.ravel(flat)])


def _store(arr, index, value, ufunc) -> None:
    if ufunc is not None:
        ufunc(arr, value, arr)  # out positional: no keyword parsing
    elif index is None:
        np.copyto(arr, value, casting="unsafe")
    else:
        arr[index] = value


def _write_traced(t: Tensor, arr, index, value, owned: bool, ufunc) -> None:
    """A traced array (gs.trace records the step): the write keeps the rule the
    trace's replay reproduces (tracing/recorder.py ``_Flags``): into the array when
    the tensor alone holds it, else into a copy the tensor then holds."""
    real = arr.value  # the traced array's real values (a view of its base's, eagerly)
    # an intermediate's values held by more than Sym.value, `real` and the argument are
    # held by a view of it (a leaf's, a parameter's, are also held by the trace's state);
    # a traced array another tensor also holds (``d = h.detach()``), or, for a tensor
    # without history, that a node saved for backward, is written eagerly for them too
    if (
        real.base is not None
        or (t.grad_fn is not None and _getrefcount(real) > 3)
        or (not owned and (t.grad_fn is None or _held_by_another_tensor(t, arr)))
    ):
        arr.refuse_shared_write()  # eagerly every holder sees the write: a copy would not
    if owned and arr.flags.owndata:
        arr.setflags(True)
    else:
        arr = arr.copy()
    try:
        _store(arr, index, value, ufunc)
    finally:
        arr.setflags(False)
    t.data = arr


def _held_by_another_tensor(t: Tensor, arr) -> bool:
    """Whether a tensor other than ``t`` holds the traced array ``arr`` (asked only of
    a write into an array something else holds, during a tracing call). The operand
    ``t op= x`` records (``_recorded_update``: t's array and history) is not another."""
    node = t.grad_fn
    return any(
        r is not t and isinstance(r, Tensor) and r.grad_fn is not node
        for r in gc.get_referrers(arr)
    )


def _region(arr: ndarray, index) -> ndarray:
    """An array over the memory a write into ``arr[index]`` changed (all of arr
    when the index is not a basic one)."""
    if index is None or arr.__class__ is not ndarray:
        return arr
    try:
        sub = arr[index]
    except Exception:
        return arr
    return sub if isinstance(sub, ndarray) and sub.base is not None else arr


def _owned(t: Tensor) -> bool:
    """Only ``t`` holds its array (the refcount: t.data and the argument)."""
    return t.data.base is None and _getrefcount(t.data) <= 2


# ---------------------------------------------------------------- views and history
def _chain(t: Tensor) -> tuple[list, Tensor]:
    """The views from t's base down to t, as (view, primitive, params), and the base."""
    chain = []
    while t._view is not None:
        base, prim, params = t._view
        chain.append((t, prim, params))
        t = base
    chain.reverse()
    return chain, t


_SHAPE_ONLY = frozenset(("shape", "ndim", "dtype", "size"))
_READS: dict = {}


def _reads(prim) -> tuple:
    """(reads ``out``, indices of the args whose values some rule reads) for ``prim``,
    from the rules' bytecode: ``x.shape`` alone is not a read. Conservative (True,
    None = all) for rules it cannot see."""
    known = _READS.get(prim)
    if known is None:
        known = _reads_of_rules(prim.vjps)
        _READS[prim] = known
    return known


def _reads_of_rules(rules) -> tuple:
    if not isinstance(rules, (tuple, list)):
        return True, None
    out, args = False, set()
    for rule in rules:
        code = getattr(rule, "__code__", None)
        if rule is None:
            continue
        if code is None or code.co_flags & 0x04:  # not a function, or *args
            return True, None
        names = code.co_varnames[: code.co_argcount]
        out = out or _reads_value(code, "out")
        args.update(i for i, name in enumerate(names[3:]) if _reads_value(code, name))
    return out, frozenset(args)


def _reads_value(code, name: str) -> bool:
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if ins.argval != name or not ins.opname.startswith("LOAD_"):
            continue
        nxt = instructions[k + 1] if k + 1 < len(instructions) else None
        if nxt is None or nxt.opname != "LOAD_ATTR" or nxt.argval not in _SHAPE_ONLY:
            return True
    return False


def _kept(arr: ndarray) -> ndarray:
    kept = arr.copy()
    kept.setflags(write=False)
    return kept


def _keep_saved_output(base: Tensor) -> None:
    """Copy the output base's node saved, if its rules read it, before it is
    overwritten (the saved side pays, and only when a write happens)."""
    node = base.grad_fn
    if node is None or node.prim is None:
        return
    out = node.out
    if (
        out.__class__ is ndarray
        and versions.owner_of(out) is versions.owner_of(base.data)
        and _reads(node.prim)[0]
        and not versions.write_epochs(out, versions.stamp_of(node))  # else already stale
    ):
        node.out = _kept(out)


_NEAR = 64  # nodes of the value's history searched for arrays the write would change


def _keep_saved_inputs(value, region, from_parents: bool = False) -> None:
    """``x -= np.max(x, ...)``, ``P /= np.sum(P, ...)``: nodes near the value's
    history saved the memory about to be written. Their saved arrays that a rule
    reads are copied first, so backward stays right; farther ones are left to the
    version check (refused at backward, never used)."""
    node = value.grad_fn if isinstance(value, Tensor) else None
    if node is None or region.__class__ is not ndarray:
        return
    owner = versions.owner_of(region)
    queue, seen = (list(node.parents) if from_parents else [node]), set()
    while queue and len(seen) < _NEAR:
        node = queue.pop(0)
        if node is None or node.prim is None or id(node) in seen:
            continue
        seen.add(id(node))
        args = node.args
        if args is not None:
            reads = _reads(node.prim)[1]
            stamp = versions.stamp_of(node)
            kept = [
                _kept(a)
                if a.__class__ is ndarray
                and (reads is None or i in reads)
                and versions.owner_of(a) is owner
                and np.may_share_memory(a, region)
                and not versions.write_epochs(a, stamp)
                else a
                for i, a in enumerate(args)
            ]
            if any(k is not a for k, a in zip(kept, args)):
                node.args = tuple(kept)
        queue.extend(node.parents)


def _positions(base_shape, steps) -> np.ndarray:
    """For each element of the written region, its flat position in the base."""
    pos = np.arange(int(np.prod(base_shape)), dtype=np.intp).reshape(base_shape)
    for prim, params in steps:
        pos = prim.forward(pos, *params)
    return np.asarray(pos)


def _winners(pos: np.ndarray, dtype):
    """1 where the region's element is the one left in memory, 0 where a later
    repeat of the same position overwrote it; None without repeats."""
    flat = pos.ravel()
    if np.unique(flat).size == flat.size:
        return None
    last = np.empty(int(flat.max()) + 1, np.intp)
    order = np.arange(flat.size)
    last[flat] = order  # as the write did: the last repeat stays
    return (last[flat] == order).reshape(pos.shape).astype(dtype)


def _basic(index) -> bool:
    """An index made of ints, slices, None and Ellipsis (no repeats possible)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


def _may_repeat(steps) -> bool:
    return any(prim is shape.getitem and not _basic(params[0]) for prim, params in steps)


def _zero_region(g: ndarray, steps) -> ndarray | None:
    """g (a fresh C-contiguous copy) with the region zeroed through views of it, or
    None when a step would not give a view of g."""
    sub = g
    for k, (prim, params) in enumerate(steps):
        last = k == len(steps) - 1
        if last and prim is shape.getitem:
            sub[params[0]] = 0
            return g
        sub = prim.forward(sub, *params)
        if sub.base is not g:
            return None
    sub[...] = 0
    return g


def _base_rule(F, g, out, b, v, steps):
    """d/d(base before the write): g, zero on the written region."""
    if not isinstance(g, Tensor):
        kept = _zero_region(np.array(g, copy=True, order="C"), steps)
        if kept is not None:
            return kept
    pos = _positions(b.shape, steps).ravel()
    if isinstance(g, Tensor):
        keep = np.ones(int(np.prod(b.shape)), g.dtype)
        keep[pos] = 0
        return g * keep.reshape(b.shape)
    kept = np.array(g, copy=True, order="C")
    kept.reshape(-1)[pos] = 0
    return kept


def _value_rule(F, g, out, b, v, steps):
    """d/d(value written): g on the region (shaped like it; the engine sums a
    broadcast value back), 0 where a repeated index overwrote the entry."""
    r = g
    for prim, params in steps:
        r = apply1(prim, r, *params) if isinstance(r, Tensor) else prim.forward(r, *params)
    if _may_repeat(steps):
        win = _winners(_positions(b.shape, steps), g.dtype)
        if win is not None:
            r = r * win
    return r


copy_slices = Primitive("copy_slices", None, (_base_rule, _value_rule), arity=2)


def _rebase(t: Tensor, chain: list, base: Tensor, index, value) -> None:
    """Record the write into ``t[index]`` (t itself when index is None) as a new
    history for ``base`` and for each view between it and t."""
    steps = tuple((prim, params) for _, prim, params in chain)
    if index is not None:
        steps += ((shape.getitem, (index,)),)
    vrg = isinstance(value, Tensor) and value.requires_grad
    vparent = (value.grad_fn or parent_of(value)) if vrg else None
    bparent = base.grad_fn if base.requires_grad else None
    vdata = value.data if isinstance(value, Tensor) else value
    node = make_node(copy_slices, (bparent, vparent), (base.data, vdata, steps), base.data)
    node.stamp = versions.clock[0]  # made after the write
    node.rebase = True
    base.grad_fn = node
    base.requires_grad = True
    cur = base
    for view, prim, params in chain:
        view.grad_fn = apply1(prim, cur, *params).grad_fn
        view.requires_grad = True
        cur = view


# ---------------------------------------------------------------- the entry points
def assign(t: Tensor, index, value, what: str, owned: bool, made_here: bool = False) -> Tensor:
    """``t[index] = value`` (index None: all of t), recorded when needed. ``made_here``:
    value's own node was made by the update for this write (it saved what it needs)."""
    chain, base = _chain(t)
    vrg = isinstance(value, Tensor) and value.requires_grad
    record = False
    if (base.requires_grad or vrg) and mode.enabled:
        if base.requires_grad and base.grad_fn is None:
            raise _leaf_error(what, base is not t)
        record = True
    arr = t.data
    _check_layout(arr, what)
    vd = value.data if isinstance(value, Tensor) else value
    if record:
        _keep_saved_output(base)
        _keep_saved_inputs(value, _region(arr, index), made_here)
    _write(t, index, vd, owned)
    if record:
        if (
            not chain
            and index is None
            and vrg
            and value.grad_fn is not None
            and value.shape == arr.shape
        ):
            t.grad_fn = value.grad_fn  # a whole new value: its own history
            t.requires_grad = True
        else:
            _rebase(t, chain, base, index, value)
    return t


def update(t: Tensor, ufunc, other, what: str, owned: bool) -> Tensor:
    """``t op= other`` / ``t.add_(other)``: ``ufunc(t, other, out=t)``, recorded when needed."""
    orq = isinstance(other, Tensor) and other.requires_grad
    if (t.requires_grad or orq or t._view is not None) and mode.enabled:
        chain, base = _chain(t)
        if base.requires_grad or orq:
            if base.requires_grad and base.grad_fn is None:
                raise _leaf_error(what, base is not t)
            return _recorded_update(t, ufunc, other, what, owned)
    arr = t.data
    _check_layout(arr, what)
    _write(t, None, other.data if isinstance(other, Tensor) else lift(other), owned, ufunc)
    return t


def _recorded_update(t: Tensor, ufunc, other, what: str, owned: bool) -> Tensor:
    arr = t.data
    reads = ufunc not in _READS_NOTHING
    # mul's and div's rules read the old t only for other's gradient
    keep_old = reads and isinstance(other, Tensor) and other.requires_grad
    src = new_tensor(arr.copy() if keep_old else arr, t.grad_fn, t.requires_grad)
    other = _unaliased(other, arr) if reads else other
    r = apply2(_PRIMS[ufunc], src, other)
    _check_result(r, arr, what, ufunc)
    return assign(t, None, r, what, owned, made_here=True)


def _check_result(r: Tensor, arr, what: str, ufunc) -> None:
    """NumPy's rules for ``ufunc(a, x, out=a)``: same shape, a same_kind cast."""
    if r.shape != arr.shape:
        raise ValueError(
            f"{what}: the result has shape {r.shape}, which cannot be written into the "
            f"tensor's shape {arr.shape} (non-broadcastable output operand)"
        )
    if not np.can_cast(r.dtype, arr.dtype, "same_kind"):
        raise TypeError(
            f"{what}: cannot cast the result of {ufunc.__name__} from {r.dtype} to the "
            f"tensor's dtype {arr.dtype} with casting rule 'same_kind'"
        )


def _unaliased(x, arr):
    """x, or a recorded copy of it when it shares memory with ``arr`` (about to be written)."""
    if isinstance(x, Tensor) and x.data.__class__ is ndarray and arr.__class__ is ndarray:
        if np.may_share_memory(x.data, arr):
            return more.copy(x)
    return x


def write_result(target, r, what: str, ufunc=None, rebinds: bool = False):
    """NumPy's ``out=target`` for a result ``r`` computed out of place.

    A Tensor target gets ``r`` written into it (recorded) and is returned. An
    ndarray target cannot hold a recorded result: in ``acc += t`` (``rebinds``:
    the target is the call's first input) the Tensor is returned, so the name is
    rebound to it (other aliases of the array do not see it); any other call
    raises. An untracked result is written into the array, as NumPy would.
    """
    r = api.as_tensor(r)
    if isinstance(target, Tensor):
        _check_result(r, target.data, what, ufunc or np.copyto)
        return assign(target, None, r, what, _owned(target))
    if isinstance(target, ndarray):
        if r.requires_grad:
            if rebinds:
                return r
            raise TypeError(
                f"{what}(..., out=...) into an ndarray: an array cannot hold a result that "
                "requires grad and keep it in the graph; use the returned Tensor "
                "(y = np.f(x)), or pass a Tensor as out="
            )
        np.copyto(target, r.data, casting="same_kind")
        return target
    raise TypeError(f"{what}: out= must be a Tensor or an ndarray, got {type(target).__name__}")


def unaliased_inputs(inputs, target) -> tuple:
    """The inputs of a call writing into ``target``: each Tensor sharing memory with it
    is replaced by a recorded copy, so the call's node saves values the write keeps."""
    if not isinstance(target, Tensor):
        return tuple(inputs)
    arr = target.data
    return tuple(_unaliased(x, arr) for x in inputs)


# ---------------------------------------------------------------- Tensor methods
def inplace_method(ufunc, name: str):
    """``t.add_(x)``, ``t += x`` and co. The manual update under no_grad (an array
    only its tensor holds, nothing recorded) is written out: one per parameter per
    step, as ``SGD.step``'s own update."""

    def method(self, other):
        arr = self.data
        owned = arr.base is None and _getrefcount(arr) <= 3  # t.data, arr, the argument
        if owned and arr.__class__ is ndarray:
            tensor_other = isinstance(other, Tensor)
            if not (self.requires_grad or (tensor_other and other.requires_grad)) or not (
                mode.enabled
            ):
                arr.setflags(True)
                try:
                    ufunc(arr, other.data if tensor_other else lift(other), arr)
                finally:
                    arr.setflags(False)
                return self
        del arr
        return update(self, ufunc, other, name, owned)

    method.__name__ = name
    return method


def setitem(self, index, value):
    assign(self, api._index(index), value, "__setitem__", _owned(self))


def zero_(self):
    return assign(self, None, 0, "zero_", _owned(self))


def fill_(self, value):
    if isinstance(value, Tensor):
        if value.size != 1:
            raise ValueError(f"fill_: the value must have one element, got shape {value.shape}")
        return assign(self, None, api.reshape(value, ()), "fill_", _owned(self))
    return assign(self, None, value, "fill_", _owned(self))


def copy_(self, src):
    value = src if isinstance(src, Tensor) else lift(src)
    if np.shape(value.data if isinstance(value, Tensor) else value) != self.data.shape:
        raise ValueError(
            f"copy_: source shape {np.shape(lift(src))} != destination shape {self.shape}"
        )
    return assign(self, None, value, "copy_", _owned(self))
