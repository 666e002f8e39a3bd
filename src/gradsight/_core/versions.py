"""Version checks for in-place writes: backward refuses values a write changed.

An in-place write (``t[i] = v``, ``t += x``, ``np.f(..., out=t)``) lands in the
tensor's memory, as in NumPy, so an array some node saved for backward may
change after the node saved it. As PyTorch's version counters do, backward then
refuses to use it; it never computes with the new values.

How a saved array is known to be stale, without any cost to ops that write
nothing:

- ``clock`` counts writes. Each write into memory that something else may hold
  adds an entry ``(epoch, region)`` under the array that owns the memory (the
  end of its ``.base`` chain: every view of that memory shares it).
- While any entry is alive, the fast recording path is off (``plain.on`` is
  False, as under ``no_grad`` in another thread), so every node made then goes
  through ``node._finish`` and gets ``stamp = clock``. A node made on the fast
  path has no stamp: it predates every live entry, which is right, since the
  fast path was on when it was made.
- A node's saved array is stale when an entry of its memory's owner was made
  after the node (``epoch > stamp``) and the entry's region overlaps it.
  ``check_graph`` (run by backward only while entries live) puts a
  ``StaleArray`` in place of each stale array: it has the shape and dtype the
  engine reads, and raises a RuntimeError naming the op when a rule reads its
  values (a rule that needs only the shape, like add's or getitem's, is fine).
- A node whose *output* memory was overwritten, used as a parent by a node made
  after the write, would send that gradient to the history the values no
  longer have (a view whose base was written through another view): backward
  refuses that too. Nodes made by the write itself (``rebase``) are exempt.

Entries die with the memory's owner (a weak reference), and the fast path
comes back when the last one does.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from . import grad_mode

ndarray = np.ndarray

try:  # NumPy 2
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # pragma: no cover - NumPy 1
    byte_bounds = np.byte_bounds

clock = [0]  # epoch of the latest logged write
_entries: dict = {}  # id(owner) -> [weakref or owner, [(epoch, lo, hi, region), ...]]
_lock = threading.RLock()  # a weakref callback may run inside log_write (GC)


def live() -> bool:
    """True while some logged write may still concern a saved array."""
    return bool(_entries)


def owner_of(arr):
    """The object that owns ``arr``'s memory: the end of its ``.base`` chain."""
    base = arr.base
    while base is not None:
        if not isinstance(base, ndarray):
            return base
        arr = base
        base = arr.base
    return arr


def _forget(key) -> None:
    with _lock:
        if _entries.pop(key, None) is not None and not _entries:
            grad_mode._count_default(True)  # the last entry: the fast path may come back


def log_write(region: ndarray, offsets: ndarray | None = None) -> None:
    """Record that ``region`` (an array over the written memory) was just written;
    ``offsets``: the sorted byte addresses of the elements written, when only some
    of ``region``'s were (an integer-array index)."""
    owner = owner_of(region)
    key = id(owner)
    lo, hi = byte_bounds(region)
    with _lock:
        clock[0] += 1
        entry = _entries.get(key)
        if entry is None:
            try:
                ref = weakref.ref(owner, lambda _, key=key: _forget(key))
            except TypeError:  # an owner without weak references (bytes): kept
                ref = owner
            if not _entries:
                grad_mode._count_default(False)  # stamps on: see the module docstring
            entry = _entries[key] = [ref, []]
        spec = (region.shape, region.strides, region.dtype, offsets)
        entry[1].append((clock[0], lo, hi, spec))


def _owner_alive(entry):
    ref = entry[0]
    return ref() if isinstance(ref, weakref.ref) else ref


def _overlaps(arr: ndarray, lo: int, hi: int, spec, owner) -> bool:
    a_lo, a_hi = byte_bounds(arr)
    if a_lo >= hi or lo >= a_hi:
        return False
    offsets = spec[3]
    if offsets is not None:  # some scattered elements were written
        k = int(np.searchsorted(offsets, a_lo))
        if k == len(offsets) or offsets[k] >= a_hi:
            return False
        if arr.flags.contiguous:
            return True
        return bool(np.isin(element_addresses(arr), offsets).any())
    if arr.flags.contiguous and spec[1] == _contiguous_strides(spec[0], spec[2].itemsize):
        return True
    # strided: rebuild the written region over the owner and ask NumPy exactly
    try:
        base_lo = byte_bounds(owner)[0] if isinstance(owner, ndarray) else None
        if base_lo is None:
            return True
        shape, strides, dtype, _ = spec
        region = np.ndarray(shape, dtype, buffer=owner, offset=lo - base_lo, strides=strides)
        return bool(np.shares_memory(arr, region, max_work=10_000))
    except Exception:  # too hard or not rebuildable: assume it overlaps
        return True


def element_addresses(arr: ndarray) -> ndarray:
    """The byte address of each element of ``arr`` (C order)."""
    addr = arr.__array_interface__["data"][0]
    if arr.ndim == 0:
        return np.array([addr], np.intp)
    steps = [np.arange(n, dtype=np.intp) * st for n, st in zip(arr.shape, arr.strides)]
    total = np.zeros(arr.shape, np.intp) + addr
    for axis, step in enumerate(steps):
        shape = [1] * arr.ndim
        shape[axis] = -1
        total = total + step.reshape(shape)
    return total.ravel()


def _contiguous_strides(shape, itemsize):
    strides = []
    step = itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def write_epochs(arr, stamp: int) -> list:
    """Epochs of the logged writes after ``stamp`` whose region overlaps ``arr``."""
    if arr.__class__ is StaleArray:
        return [e for e in arr.epochs if e > stamp]
    if arr.__class__ is not ndarray or arr.size == 0:
        return []
    owner = owner_of(arr)
    entry = _entries.get(id(owner))
    if entry is None or _owner_alive(entry) is not owner:
        return []
    return [
        epoch
        for epoch, lo, hi, spec in entry[1]
        if epoch > stamp and _overlaps(arr, lo, hi, spec, owner)
    ]


def stamp_of(node) -> int:
    """The clock when ``node`` was made (-1: on the fast path, before every live entry)."""
    return getattr(node, "stamp", -1)


class StaleArray:
    """Stands for a saved array that an in-place write changed after it was saved.

    The engine reads its shape; a rule that reads its values raises."""

    __slots__ = ("shape", "dtype", "op", "epochs")

    def __init__(self, arr: ndarray, op: str, epochs: list):
        self.shape = arr.shape
        self.dtype = arr.dtype
        self.op = op
        self.epochs = epochs  # of the writes that changed it

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def _refuse(self, *args, **kwargs):
        raise RuntimeError(
            f"{self.op}: one of the arrays it saved for backward (shape {self.shape}, "
            f"{self.dtype}) was modified by an in-place write after it was saved, so its "
            "gradient cannot be computed. Write into a copy instead (t = t.copy(), or "
            "y = x + v instead of x += v), or do the write after backward"
        )

    __array__ = _refuse
    __array_ufunc__ = _refuse  # np.multiply(g, stale), g * stale
    __array_function__ = _refuse
    __getitem__ = _refuse
    __float__ = _refuse
    __bool__ = _refuse
    __len__ = _refuse
    __neg__ = _refuse
    __pos__ = _refuse
    __abs__ = _refuse
    __invert__ = _refuse
    astype = _refuse
    copy = _refuse
    reshape = _refuse
    sum = _refuse
    T = property(_refuse)
    for _name in ("add", "sub", "mul", "truediv", "floordiv", "pow", "matmul", "mod"):
        locals()[f"__{_name}__"] = _refuse
        locals()[f"__r{_name}__"] = _refuse
    for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
        locals()[f"__{_name}__"] = _refuse
    del _name
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<array modified in place after {self.op} saved it, shape {self.shape}>"


def check_graph(nodes) -> None:
    """Before a backward while writes are logged: refuse gradients routed through
    overwritten history, then replace each stale saved array by a StaleArray.
    Nodes made after the latest write (most of them, in a loop that writes once)
    cost one comparison."""
    latest = clock[0]
    old = [n for n in nodes if n.prim is not None and n.args is not None and stamp_of(n) < latest]
    if not old:
        return
    olds = set(old)
    for node in nodes:  # first, with the arrays as they are
        if node.prim is None or getattr(node, "rebase", False):
            continue  # (a write's own node reads the history before the write on purpose)
        stamp = stamp_of(node)
        for p in node.parents:
            if p is None or p not in olds or p.out is None or stamp <= stamp_of(p):
                continue
            if any(e <= stamp for e in write_epochs(p.out, stamp_of(p))):
                raise RuntimeError(
                    f"{node.name} uses a tensor (the result of {p.name}, shape "
                    f"{p.output_meta()[0]}) whose memory was overwritten in place, through "
                    "another view of it or its base, before it was used: its recorded history "
                    "no longer gives its values. Take the view again after the write "
                    "(v = y[...] after writing into y), or copy it before the write"
                )
    for node in old:
        stamp = stamp_of(node)
        name = node.name
        args = node.args
        stale = [write_epochs(a, stamp) for a in args]
        if any(stale):
            node.args = tuple(
                StaleArray(a, name, e) if e and a.__class__ is not StaleArray else a
                for a, e in zip(args, stale)
            )
        out = node.out
        if out.__class__ is not StaleArray:
            epochs = write_epochs(out, stamp)
            if epochs:
                node.out = StaleArray(out, name, epochs)
