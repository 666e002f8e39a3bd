"""NumPy's array functions beyond the core: each written with recorded ops, and declared.

Every op here is a composite: an integer-array index of the input (sliding
windows, take, sort, rotations), a ``where`` (nan_to_num), differences of
slices (diff), a product of a masked triangle (cumprod, exact where the input
has zeros in every order) or a broadcast product (kron). Their gradients,
broadcasting and create_graph come from the pieces; an index that repeats an
element (overlapping windows, take with repeats) accumulates its gradient.

Conventions: ``sort`` sends each output's gradient to the element that
landed there (a stable sort: tied elements keep their order, as
``torch.sort(stable=True)``); ``nan_to_num`` passes the gradient where x is
finite and gives 0 where a NaN or an infinity was replaced.
"""

from __future__ import annotations

import operator

import numpy as np

from . import api
from . import numpy_ops as nops
from .api import as_tensor
from .declare import declare


def _axis(axis: int, ndim: int, what: str) -> int:
    try:
        axis = operator.index(axis)
    except TypeError as err:
        raise TypeError(f"{what}: axis must be an integer, got {axis!r}") from err
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for {ndim} dims")
    return axis % ndim


# ---------------------------------------------------------------- flips and rotations
def flipud(m):
    """m reversed along axis 0 (np.flipud)."""
    m = as_tensor(m)
    if m.ndim < 1:
        raise ValueError("flipud: the input must be at least 1-d")
    return nops.flip(m, 0)


def fliplr(m):
    """m reversed along axis 1 (np.fliplr)."""
    m = as_tensor(m)
    if m.ndim < 2:
        raise ValueError("fliplr: the input must be at least 2-d")
    return nops.flip(m, 1)


def rot90(m, k: int = 1, axes=(0, 1)):
    """m rotated by 90 degrees k times in the plane of ``axes`` (np.rot90)."""
    m = as_tensor(m)
    axes = tuple(axes)
    if len(axes) != 2 or m.ndim < 2:
        raise ValueError(f"rot90: needs 2 axes of an at least 2-d tensor, got {axes} of {m.shape}")
    a0, a1 = (_axis(a, m.ndim, "rot90") for a in axes)
    if a0 == a1:
        raise ValueError(f"rot90: the axes {axes} must differ")
    k = operator.index(k) % 4
    if k == 0:
        return nops.copy(m)
    if k == 2:
        return nops.flip(nops.flip(m, a0), a1)
    if k == 1:
        return nops.swapaxes(nops.flip(m, a1), a0, a1)
    return nops.flip(nops.swapaxes(m, a0, a1), a1)


# ---------------------------------------------------------------- joining, differences
def atleast_3d(x):
    x = as_tensor(x)
    if x.ndim == 0:
        return api.reshape(x, (1, 1, 1))
    if x.ndim == 1:
        return api.reshape(x, (1, x.shape[0], 1))
    if x.ndim == 2:
        return api.reshape(x, x.shape + (1,))
    return x


def dstack(tup):
    """Concatenate along the third axis, inputs made at least 3-d (np.dstack)."""
    return api.concatenate([atleast_3d(t) for t in tup], 2)


def _np_dstack(tup, *, dtype=None, casting="same_kind"):
    ts = [as_tensor(t) for t in tup]
    return dstack([t if dtype is None else api.astype(t, dtype) for t in ts])


def _np_atleast_3d(*arys):
    out = [atleast_3d(a) for a in arys]
    return out[0] if len(out) == 1 else tuple(out)


def diff(a, n: int = 1, axis: int = -1, prepend=np._NoValue, append=np._NoValue):
    """The n-th discrete difference along axis (np.diff), with prepend/append."""
    a = as_tensor(a)
    if a.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis(axis, a.ndim, "diff")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    pieces = []
    for extra in (prepend, append):
        if extra is np._NoValue:
            pieces.append(None)
            continue
        e = as_tensor(extra)
        if e.ndim == 0:
            shape = list(a.shape)
            shape[axis] = 1
            e = api.broadcast_to(e, tuple(shape))
        pieces.append(e)
    if pieces[0] is not None or pieces[1] is not None:
        a = api.concatenate([p for p in (pieces[0], a, pieces[1]) if p is not None], axis)
    lead = (slice(None),) * axis
    for _ in range(n):
        a = api.getitem(a, lead + (slice(1, None),)) - api.getitem(a, lead + (slice(None, -1),))
    return a


# ---------------------------------------------------------------- products
def cumprod(a, axis=None):
    """Running product along axis (over the flattened tensor when axis is None).

    Written as the product of a masked triangle (out[i] = prod(x[:i+1])), so the
    gradient is exact where x has zeros, in every order; O(n^2) in the axis length.
    """
    a = as_tensor(a)
    if axis is None:
        a, axis = api.reshape(a, -1), 0
    if a.ndim == 0:
        raise ValueError("cumprod: axis given for a 0-d tensor")
    axis = _axis(axis, a.ndim, "cumprod")
    moved = nops.moveaxis(a, axis, -1)  # (..., n)
    n = moved.shape[-1]
    rows = api.broadcast_to(api.expand_dims(moved, -2), moved.shape[:-1] + (n, n))
    lower = np.tril(np.ones((n, n), dtype=bool))  # row i keeps x[0..i]
    one = np.ones((), dtype=a.dtype)
    out = nops.prod(api.where(lower, rows, one), -1)
    return nops.moveaxis(out, -1, axis)


def _np_cumprod(a, axis=None, dtype=None, out=None):
    if out is not None:
        raise TypeError("np.cumprod(..., out=...) on a Tensor: use the returned Tensor")
    a = as_tensor(a)
    return cumprod(a if dtype is None else api.astype(a, dtype), axis)


def kron(a, b):
    """The Kronecker product (np.kron): a block matrix of a[i] * b."""
    a, b = as_tensor(a), as_tensor(b)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    a_in = api.reshape(a, tuple(d for s in sa for d in (s, 1)))
    b_in = api.reshape(b, tuple(d for s in sb for d in (1, s)))
    return api.reshape(a_in * b_in, tuple(x * y for x, y in zip(sa, sb)))


# ---------------------------------------------------------------- indexing
def take(a, indices, axis=None, mode="raise"):
    """Elements of a at ``indices`` (np.take); repeated indices accumulate gradient."""
    if mode != "raise":
        raise ValueError(f"take: mode={mode!r} is not supported; gradsight takes mode='raise'")
    a = as_tensor(a)
    idx = np.asarray(indices.data if hasattr(indices, "data") else indices)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take: indices must be integers, got dtype {idx.dtype}")
    if axis is None:
        return api.getitem(api.reshape(a, -1), idx)
    axis = _axis(axis, a.ndim, "take")
    return api.getitem(a, (slice(None),) * axis + (idx,))


def take_along_axis(arr, indices, axis):
    """arr's elements at ``indices`` along ``axis`` (np.take_along_axis)."""
    arr = as_tensor(arr)
    idx = np.asarray(indices.data if hasattr(indices, "data") else indices)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take_along_axis: indices must be integers, got dtype {idx.dtype}")
    if axis is None:
        return take_along_axis(api.reshape(arr, -1), idx.reshape(-1), 0)
    axis = _axis(axis, arr.ndim, "take_along_axis")
    if idx.ndim != arr.ndim:
        raise ValueError(
            f"take_along_axis: indices of {idx.ndim} dims do not match arr of {arr.ndim}"
        )
    index = []
    for d in range(arr.ndim):
        if d == axis:
            index.append(idx)
        else:
            shape = [1] * arr.ndim
            shape[d] = arr.shape[d]
            index.append(np.arange(arr.shape[d]).reshape(shape))
    return api.getitem(arr, tuple(np.broadcast_arrays(*index)))


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """a sorted along axis (np.sort; axis=None sorts the flattened tensor). Each
    output's gradient goes to the element sorted there; tied elements keep their order."""
    if order is not None:
        raise ValueError("sort: order= (structured arrays) is not supported on Tensors")
    a = as_tensor(a)
    if axis is None:
        a, axis = api.reshape(a, -1), 0
    if a.ndim == 0:
        raise ValueError(f"sort: axis {axis} is out of bounds for a 0-d tensor")
    idx = np.argsort(a.data, axis=axis, kind="stable")
    return take_along_axis(a, idx, axis)


def _running_extremum(ufunc, what):
    def accumulate(a, axis=0):
        """The running extremum along axis (np.maximum.accumulate and co). Each output's
        gradient goes to the element that set it: the last one reaching the running
        value (as torch.cummax / cummin)."""
        a = as_tensor(a)
        if a.ndim == 0:
            raise ValueError(f"{what}: cannot accumulate a 0-d tensor")
        axis = _axis(axis, a.ndim, what)
        x = a.data
        out = ufunc.accumulate(x, axis=axis)
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        position = np.arange(x.shape[axis]).reshape(shape)
        hit = (x == out) | (np.isnan(x) & np.isnan(out)) if x.dtype.kind == "f" else x == out
        setter = np.maximum.accumulate(np.where(hit, position, 0), axis=axis)
        return take_along_axis(a, setter, axis)

    accumulate.__name__ = what.replace(".", "_")
    return accumulate


maximum_accumulate = _running_extremum(np.maximum, "maximum.accumulate")
minimum_accumulate = _running_extremum(np.minimum, "minimum.accumulate")


# ---------------------------------------------------------------- windows, cleaning
def sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    """Every window of ``window_shape`` (np.lib.stride_tricks.sliding_window_view).

    NumPy returns a view; here it is a recorded copy (an integer-array index of x),
    whose gradient adds up over the windows that share an element."""
    if writeable:
        raise ValueError("sliding_window_view: writeable=True is not supported on Tensors")
    x = as_tensor(x)
    positions = np.arange(x.size).reshape(x.shape)
    windows = np.lib.stride_tricks.sliding_window_view(positions, window_shape, axis)
    return api.getitem(api.reshape(x, -1), np.ascontiguousarray(windows))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """x with NaN and +-inf replaced (np.nan_to_num); the gradient passes where x is
    finite and is 0 at the replaced entries."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return nops.copy(x)
    replaced = np.nan_to_num(x.data, copy=True, nan=nan, posinf=posinf, neginf=neginf)
    finite = np.isfinite(x.data)
    if finite.all():
        return nops.copy(x)
    return api.where(finite, x, replaced)


# ---------------------------------------------------------------- rolling, appending, splitting
def roll(a, shift, axis=None):
    """Elements shifted along axis, wrapping around (np.roll): an index of a."""
    a = as_tensor(a)
    positions = np.arange(a.size).reshape(a.shape)
    return api.getitem(api.reshape(a, -1), np.roll(positions, shift, axis))


def append(arr, values, axis=None):
    """arr with values appended (np.append): flattened when axis is None."""
    arr, values = as_tensor(arr), as_tensor(values)
    if axis is None:
        return api.concatenate([api.reshape(arr, -1), api.reshape(values, -1)], 0)
    return api.concatenate([arr, values], axis)


def column_stack(tup):
    """1-D inputs as columns, others as they are, joined along axis 1 (np.column_stack)."""
    cols = []
    for t in tup:
        t = as_tensor(t)
        cols.append(api.reshape(t, (-1, 1)) if t.ndim < 2 else t)
    return api.concatenate(cols, 1)


def hsplit(ary, indices_or_sections):
    """np.hsplit: split along axis 1 (axis 0 for 1-D)."""
    ary = as_tensor(ary)
    return nops.split(ary, indices_or_sections, 1 if ary.ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    """np.vsplit: split along axis 0 of an at least 2-d tensor."""
    ary = as_tensor(ary)
    if ary.ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return nops.split(ary, indices_or_sections, 0)


def dsplit(ary, indices_or_sections):
    """np.dsplit: split along axis 2 of an at least 3-d tensor."""
    ary = as_tensor(ary)
    if ary.ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return nops.split(ary, indices_or_sections, 2)


def broadcast_arrays(*args, subok=False):
    """Every input broadcast to their common shape (np.broadcast_arrays), as a tuple."""
    ts = [as_tensor(a) for a in args]
    shape = np.broadcast_shapes(*(t.shape for t in ts))
    return tuple(api.broadcast_to(t, shape) for t in ts)


def matrix_transpose(x):
    """The last two axes swapped (np.matrix_transpose, np.linalg.matrix_transpose)."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: needs at least 2 dims, got shape {x.shape}")
    return nops.swapaxes(x, -1, -2)


# ---------------------------------------------------------------- declarations
_SORT = "each output's gradient goes to the element sorted there (stable: ties keep their order)"
_STRIDE = np.lib.stride_tricks.sliding_window_view

declare("flipud", flipud, numpy=np.flipud)
declare("fliplr", fliplr, numpy=np.fliplr)
declare("rot90", rot90, numpy=np.rot90)
declare("atleast_3d", atleast_3d, numpy={np.atleast_3d: _np_atleast_3d})
declare("dstack", dstack, numpy={np.dstack: _np_dstack})
declare("diff", diff, numpy=np.diff)
declare(
    "cumprod",
    cumprod,
    numpy={np.cumprod: _np_cumprod},
    methods="cumprod",
    kinks="exact where x has zeros, in every order",
)
declare("kron", kron, numpy=np.kron)
declare("roll", roll, numpy=np.roll)
declare("append", append, numpy=np.append)
declare("column_stack", column_stack, numpy=np.column_stack)
declare("hsplit", hsplit, numpy=np.hsplit)
declare("vsplit", vsplit, numpy=np.vsplit)
declare("dsplit", dsplit, numpy=np.dsplit)
declare("broadcast_arrays", broadcast_arrays, numpy=np.broadcast_arrays)
declare(
    "matrix_transpose",
    matrix_transpose,
    numpy=(np.matrix_transpose, np.linalg.matrix_transpose),
)
_RUNNING = "the element that set the running value gets the gradient (the last on a tie)"
declare(
    "maximum.accumulate",
    maximum_accumulate,
    numpy={(np.maximum, "accumulate"): maximum_accumulate},
    export=False,
    kinks=_RUNNING,
)
declare(
    "minimum.accumulate",
    minimum_accumulate,
    numpy={(np.minimum, "accumulate"): minimum_accumulate},
    export=False,
    kinks=_RUNNING,
)
declare("take", take, numpy=np.take, methods="take", kinks="repeated indices accumulate")
declare("take_along_axis", take_along_axis, numpy=np.take_along_axis)
declare("sort", sort, numpy=np.sort, kinks=_SORT)
declare("sliding_window_view", sliding_window_view, numpy=_STRIDE, kinks="overlaps accumulate")
declare(
    "nan_to_num",
    nan_to_num,
    numpy=np.nan_to_num,
    kinks="0 at the replaced NaN and infinite entries",
)
