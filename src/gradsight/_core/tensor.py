"""The Tensor: an ndarray, its gradient and the node that produced it.

This module knows nothing about math. The operators and math methods are
bound to Tensor in gradsight.ops (one explicit table), backward lives in
engine.py.

Every Tensor's array is read-only: nothing writes into it by accident. The
in-place methods (``t[i] = v``, ``+=``, ``add_`` ...) write into its memory
on purpose, as NumPy does, in ops/inplace.py; the optimizers' updates use
``ufunc_inplace`` below, which copies first when anything else still holds
the array (copy-on-write), so a live graph keeps the values it saw.
"""

from __future__ import annotations

import sys

import numpy as np

from . import policy as _policy
from .arrays import is_duck_array

ndarray = np.ndarray


def as_array(data, dtype=None, copy: bool = True) -> np.ndarray:
    """Convert user data to an ndarray, refusing object and ragged data."""
    if isinstance(data, Tensor):
        data = data.data
    if data.__class__ is not ndarray and is_duck_array(data):
        return _duck_as_array(data, dtype, copy)
    try:
        arr = np.array(data, dtype=dtype, copy=copy or None)
    except ValueError as err:
        raise TypeError(f"cannot make a tensor from ragged or irregular data ({err})") from err
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"cannot make a tensor from {type(data).__name__} data of dtype {arr.dtype}: "
            "only bool, integer, floating and complex numbers are supported"
        )
    return arr


def _duck_as_array(data, dtype, copy: bool):
    """as_array for an array of another type that takes part in NumPy's dispatch
    (gs.trace's): copied or cast by the calls it dispatches, never read."""
    if data.dtype.kind not in "biufc":
        raise TypeError(f"cannot make a tensor from data of dtype {data.dtype}")
    if dtype is not None and np.dtype(dtype) != data.dtype:
        return data.astype(dtype)  # (astype copies)
    return data.copy() if copy else data


def check_grad_dtype(dtype) -> None:
    if np.dtype(dtype).kind != "f":
        raise TypeError(
            f"only floating-point tensors can require gradients, got dtype {dtype}; "
            "convert first, e.g. gs.tensor(data, dtype='float64')"
        )


# How many leaf tensors have been given a hook list: a replay of gs.trace checks this
# one number, not each parameter's ``_hooks`` (a class default read through the instance)
LEAF_HOOK_LISTS = [0]


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    ``Tensor(data, dtype=None, requires_grad=False)`` copies ``data`` (like
    ``torch.tensor``); dtype follows NumPy inference unless given.
    """

    __slots__ = ("data", "grad_fn", "requires_grad", "__dict__", "__weakref__")
    __array_ufunc__ = None  # until gradsight.ops binds NEP 13/18 (ops/numpy_protocol.py)
    grad = None  # rare attributes default here and live in __dict__ once set
    _acc = None  # weakref to the leaf's AccumulateGrad node
    _hooks = None  # hooks of a leaf tensor
    # (base Tensor, view primitive, params) when an op made this tensor as a view of
    # base's memory (node.apply1): a write into it reaches base's history too
    # (ops/inplace.py). In __dict__, so that tensors that are no view pay nothing.
    _view = None

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        arr = as_array(data, dtype)
        if requires_grad:
            check_grad_dtype(arr.dtype)
        arr.flags.writeable = False
        self.data = arr
        self.grad_fn = None
        self.requires_grad = bool(requires_grad)

    # ------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def __getstate__(self):
        # copy/pickle state without the weak reference to the leaf's graph node
        # (a cache, rebuilt on the next backward; weak references cannot be pickled)
        # (and without the link to a view's base: a copy owns its memory)
        d = {k: v for k, v in self.__dict__.items() if k not in ("_acc", "_view")}
        slots = {"data": self.data, "grad_fn": self.grad_fn, "requires_grad": self.requires_grad}
        return (d or None, slots)

    # ------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The underlying (read-only) array, without copying."""
        data = self.data
        if data.__class__ is ndarray:
            return data
        return _policy.read(data, ".numpy()")  # an array of a tool's (gs.trace): its rules

    def __array__(self, dtype=None, copy=None):  # replaced by ops/numpy_protocol.as_array
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with exactly one element, got shape {self.data.shape}"
            )
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.data.shape} is ambiguous; "
                "use .any() / .all() on .numpy(), or compare one element"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got {self.data.dtype}")
        return int(self.item())

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    __hash__ = object.__hash__  # == builds a tensor, so identity hashing is kept explicitly

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=100)
        extra = ""
        if self.data.dtype not in (np.float64, np.int64, np.bool_):
            extra += f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------ autograd
    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's array, cut from the graph."""
        return new_tensor(self.data, None, False)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad_() can only change leaf tensors; use .detach() for a non-leaf"
            )
        if flag:
            check_grad_dtype(self.data.dtype)
        self.requires_grad = bool(flag)
        return self

    def register_hook(self, fn) -> _HookHandle:
        """Call ``fn(grad)`` when this tensor's gradient is computed.

        ``fn`` receives the gradient as a Tensor and may return a replacement
        (same shape) or None. Returns a handle whose ``remove()`` undoes it.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
                LEAF_HOOK_LISTS[0] += 1
            hooks = self._hooks
        else:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            hooks = self.grad_fn.hooks
        hooks.append(fn)
        return _HookHandle(hooks, fn)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (like PyTorch)."""
        if self.grad_fn is None:
            return
        import weakref

        ref = weakref.ref(self)

        def store(grad):
            t = ref()
            if t is not None:
                t.grad = grad if t.grad is None else t.grad + grad

        self.register_hook(store)

    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` (same shape as self) is required unless self has one
        element. The graph's saved arrays are freed unless ``retain_graph``
        or ``create_graph`` (as in PyTorch, where retain_graph defaults to it).
        """
        _engine.backward(
            (self,), None if gradient is None else (gradient,), retain_graph, create_graph
        )


class _HookHandle:
    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks, fn):
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


_new = object.__new__


def new_tensor(data: np.ndarray, grad_fn, requires_grad: bool | None = None) -> Tensor:
    """The one construction path for internal results (no validation, no copy)."""
    t = _new(Tensor)
    t.data = data
    t.grad_fn = grad_fn
    t.requires_grad = grad_fn is not None if requires_grad is None else requires_grad
    return t


_getrefcount = sys.getrefcount


def _private_array(t: Tensor) -> np.ndarray:
    """t's array made writable when t is its sole owner, else a writable copy."""
    arr = t.data
    # 3 references: t.data, the local name, getrefcount's argument
    if arr.flags.owndata and _getrefcount(arr) <= 3:
        arr.setflags(True)
        return arr
    return arr.copy()


def write_inplace(t: Tensor, write) -> Tensor:
    """Run ``write(array)`` on ``t``'s array in place, copying first if shared
    (the optimizers' rule; Tensor's in-place methods live in ops/inplace.py).

    The array is written in place only when ``t`` is its sole owner; if a
    graph, a view or any other object still holds it, ``t`` gets a private copy
    (copy-on-write), so saved values never change under a live graph.
    """
    arr = _private_array(t)
    try:
        write(arr)
    finally:
        arr.setflags(False)
    t.data = arr
    return t


def ufunc_inplace(t: Tensor, ufunc, value) -> Tensor:
    """``ufunc(a, value, out=a)`` on t's array ``a``, with write_inplace's
    copy-on-write rule, written out: the in-place arithmetic methods and the
    optimizers' updates run it once per parameter per step.

    The result keeps t's shape and dtype: ``out=`` casts with NumPy's
    same_kind rule, and a refused cast raises before anything is written.
    """
    arr = t.data
    # 3 references: t.data, the local name, getrefcount's argument
    if arr.flags.owndata and _getrefcount(arr) <= 3:
        arr.setflags(True)
    else:
        arr = arr.copy()
    try:
        ufunc(arr, value, arr)  # out positional: no keyword parsing
    finally:
        arr.setflags(False)
    t.data = arr
    return t


from . import engine as _engine  # noqa: E402 - engine imports this module; bound at the end
