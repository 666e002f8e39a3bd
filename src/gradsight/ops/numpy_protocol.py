"""NumPy's dispatch protocols on Tensor: NEP 13 ``__array_ufunc__`` and NEP 18
``__array_function__``.

``np.tanh(t)``, ``np.dot(W, t)``, ``np.concatenate([t, x])`` on Tensors run
gradsight's op and return a recorded Tensor with the value NumPy gives on
the arrays. ``IMPLEMENTATIONS`` is the one table from NumPy callable to
implementation; each entry is made by ``@implements(np.f)`` (or
``_ufunc(np.f, impl)``) next to its implementation.

The policy (docs/engine.md, "NumPy on Tensors"): NumPy may see a tensor's
values only where no gradient is lost.
- A NumPy function or ufunc without an entry raises TypeError naming it when
  an argument requires grad and grad mode is on; otherwise (constants, or
  inside gs.no_grad()) it runs on the values as NumPy would.
- ``np.asarray(t)`` / ``np.array(t)`` (``__array__``) follow the same rule.
- ``t.numpy()`` and ``t.detach()`` are the explicit exits (API.md) and always
  give the values.
- ``out=t`` writes the result into Tensor t (recorded, ops/inplace.py); ``out=``
  an ndarray (``array += tensor``) returns the recorded Tensor instead, so the
  name is rebound to it. ``where=`` (other than True) and exotic ufunc keywords are
  refused; ``dtype=`` casts the inputs (recorded); ``axis=``/``keepdims=``
  and ``ddof=`` are honoured.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.grad_mode import mode
from gradsight._core.tensor import Tensor

from . import api, more
from . import inplace as _inplace

IMPLEMENTATIONS: dict = {}  # NumPy ufunc or function -> implementation taking Tensors
_get_impl = IMPLEMENTATIONS.get
_REDUCE = {}  # ufunc -> its reduction, for ufunc.reduce
_NOVALUE = getattr(np, "_NoValue", None)
_DEFAULT = object()


def implements(*np_callables):
    """Register the decorated function as the implementation of each NumPy callable."""

    def register(fn):
        for c in np_callables:
            IMPLEMENTATIONS[c] = fn
        return fn

    return register


def _ufunc(np_ufunc, fn) -> None:
    IMPLEMENTATIONS[np_ufunc] = fn


def _np_name(func) -> str:
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None) or "numpy"
    sub = module.replace("numpy", "np", 1) if module.startswith("numpy") else "np"
    sub = "np" if sub in ("np", "np._core.multiarray", "np._core.numeric", "np.core") else sub
    sub = "np" if sub.startswith(("np._core", "np.core", "np.lib")) else sub
    sub = sub.replace("np.linalg._linalg", "np.linalg")
    return f"{sub}.{name}"


# ---------------------------------------------------------------- the graph-cut rule
def _records(x) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _needs_graph(args, kwargs) -> bool:
    """True when a call would cut a gradient: grad mode on and some argument
    (or an element of a list/tuple argument) requires grad."""
    if not mode.enabled:
        return False
    for a in (*args, *kwargs.values()):
        if _records(a):
            return True
        if isinstance(a, (list, tuple)) and any(_records(x) for x in a):
            return True
    return False


def _values(x):
    """x with Tensors replaced by their arrays (one level into lists and tuples)."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_values(i) for i in x)
    return x


def unsupported(what: str) -> TypeError:
    return TypeError(
        f"{what} has no gradient rule in gradsight, so it would cut a tensor that requires "
        "grad from the graph. Use a function gradsight records (docs/engine.md, 'NumPy on "
        "Tensors', lists them), or detach explicitly, e.g. "
        f"{what}(t.detach().numpy()), or run it inside gs.no_grad()"
    )


def as_array(t: Tensor, dtype=None, copy=None) -> np.ndarray:
    """``Tensor.__array__``: the values, unless that would cut a recorded tensor."""
    if t.requires_grad and mode.enabled:
        raise TypeError(
            "np.asarray/np.array on a Tensor that requires grad would cut it from the graph "
            "(the gradient would silently be missing). Call the NumPy function on the Tensor "
            "itself (np.tanh(t), np.dot(W, t): recorded), or take the values explicitly with "
            "t.detach().numpy() / t.numpy(), or convert inside gs.no_grad()"
        )
    data = t.data
    if dtype is not None and np.dtype(dtype) != data.dtype:
        return data.astype(dtype)
    return data.copy() if copy else data


# ---------------------------------------------------------------- __array_ufunc__
_UFUNC_KEYWORDS = {"casting": "same_kind", "order": "K", "subok": True, "signature": None}


def _check_ufunc_kwargs(name: str, kwargs: dict):
    """The dtype to cast to (or None); TypeError for keywords gradsight cannot honour."""
    out = kwargs.pop("out", None)
    if out is not None and any(o is not None for o in (out if isinstance(out, tuple) else (out,))):
        raise TypeError(
            f"{name}(..., out=...) on a Tensor: gradsight cannot write a result into an array "
            "or a (read-only) Tensor and keep it in the graph; use the returned Tensor "
            "(y = np.f(x)). In-place `array op= tensor` is refused for the same reason"
        )
    where = kwargs.pop("where", True)
    if where is not True:
        raise TypeError(
            f"{name}(..., where=...) on a Tensor leaves unselected elements undefined; "
            "use np.where(mask, np.f(x), fallback), which is recorded"
        )
    dtype = kwargs.pop("dtype", None)
    for key, default in _UFUNC_KEYWORDS.items():
        if key in kwargs and kwargs.pop(key) != default:
            raise TypeError(f"{name}(..., {key}=...) is not supported on Tensors")
    if kwargs:
        raise TypeError(f"{name}: keyword(s) {sorted(kwargs)} are not supported on Tensors")
    return dtype


def _cast(x, dtype):
    if dtype is None:
        return x
    return api.astype(x, dtype) if isinstance(x, Tensor) else np.asarray(x, dtype=dtype)


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """``Tensor.__array_ufunc__``: run gradsight's op for ``ufunc`` (see module doc)."""
    if method == "__call__" and not kwargs:  # `array * tensor` and np.exp(t): the common case
        impl = _get_impl(ufunc)
        if impl is not None:
            return impl(*inputs)
    for x in inputs:
        if not isinstance(x, (Tensor, np.ndarray, np.generic, int, float, bool, list, tuple)):
            return NotImplemented
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if method == "__call__":
        impl = IMPLEMENTATIONS.get(ufunc)
        if impl is not None:
            if kwargs.get("out") is not None:  # np.f(..., out=t), and `array op= tensor`
                return _into_out(name, impl, inputs, kwargs, ufunc)
            dtype = _check_ufunc_kwargs(name, kwargs)
            return impl(*(_cast(x, dtype) for x in inputs))
    elif method == "reduce" and ufunc in _REDUCE:
        return _ufunc_reduce(name, ufunc, *inputs, **kwargs)
    elif method == "accumulate" and ufunc is np.add:
        axis = kwargs.pop("axis", 0)
        dtype = _check_ufunc_kwargs(name, kwargs)
        return more.cumsum(_cast(inputs[0], dtype), axis)
    elif method == "outer" and ufunc in IMPLEMENTATIONS and len(inputs) == 2:
        dtype = _check_ufunc_kwargs(name, kwargs)
        a, b = (api.as_tensor(_cast(x, dtype)) for x in inputs)
        return IMPLEMENTATIONS[ufunc](api.reshape(a, a.shape + (1,) * b.ndim), b)
    if _needs_graph(inputs, kwargs):
        raise unsupported(name)
    return getattr(ufunc, method)(*_values(inputs), **{k: _values(v) for k, v in kwargs.items()})


def _into_out(name, impl, inputs, kwargs, ufunc):
    """``ufunc(*inputs, out=target)``: computed out of place, then written into a
    Tensor target (recorded), or returned in place of an ndarray one (ops/inplace.py)."""
    out = kwargs.pop("out")
    outs = out if isinstance(out, tuple) else (out,)
    if len(outs) != 1 or not isinstance(outs[0], (Tensor, np.ndarray)):
        raise TypeError(f"{name}(..., out=...): one Tensor or array as out is supported")
    target = outs[0]
    dtype = _check_ufunc_kwargs(name, kwargs)
    rebinds = len(inputs) > 0 and inputs[0] is target  # `array op= tensor`
    inputs = _inplace.unaliased_inputs(inputs, target)
    r = impl(*(_cast(x, dtype) for x in inputs))
    return _inplace.write_result(target, r, name, ufunc, rebinds)


def _ufunc_reduce(name, ufunc, x, axis=0, dtype=None, out=None, keepdims=False, **kwargs):
    initial = kwargs.pop("initial", _NOVALUE)
    if initial is not _NOVALUE:
        raise TypeError(f"{name}(..., initial=...) is not supported on Tensors")
    _check_ufunc_kwargs(name, {"out": out, **kwargs})
    return _REDUCE[ufunc](_cast(x, dtype), axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------- __array_function__
def array_function(self, func, types, args, kwargs):
    """``Tensor.__array_function__``: gradsight's implementation of ``func``, or
    NumPy's on the values when no gradient is lost, or a TypeError naming it."""
    for t in types:
        if not issubclass(t, (Tensor, np.ndarray)):
            return NotImplemented
    impl = IMPLEMENTATIONS.get(func)
    if impl is not None:
        if kwargs.get("out") is not None:  # np.clip(d, -5, 5, out=d)
            kwargs = dict(kwargs)
            target = kwargs.pop("out")
            r = impl(*_inplace.unaliased_inputs(args, target), **kwargs)
            return _inplace.write_result(target, r, _np_name(func))
        return impl(*args, **kwargs)
    if _needs_graph(args, kwargs):
        raise unsupported(_np_name(func))
    return func(*_values(args), **{k: _values(v) for k, v in kwargs.items()})


def _no(name: str, **given) -> None:
    """Refuse keyword arguments gradsight cannot honour (given a non-default value)."""
    for key, value in given.items():
        if key == "out" and value is not None:
            raise TypeError(
                f"np.{name}(..., out=...) on a Tensor: write-into-array would cut the graph; "
                "use the returned Tensor"
            )
        if key == "where" and value is not _NOVALUE and value is not True:
            raise TypeError(
                f"np.{name}(..., where=...) is not supported on Tensors; mask first with "
                "np.where(mask, x, fill), which is recorded"
            )
        if key == "initial" and value is not _NOVALUE:
            raise TypeError(f"np.{name}(..., initial=...) is not supported on Tensors")
        if key == "order" and value not in ("C", "K", "A", None):
            raise TypeError(f"np.{name}(..., order={value!r}): only C order is supported")


def _const(fn):
    """A NumPy function without a gradient, run on the values: a constant Tensor."""

    def impl(*args, **kwargs):
        return more.constant(fn(*_values(args), **{k: _values(v) for k, v in kwargs.items()}))

    return impl


def _as_dtype(x, dtype):
    return x if dtype is None else api.astype(x, dtype)


# ---------------------------------------------------------------- ufuncs
_ufunc(np.add, api.add)
_ufunc(np.subtract, api.sub)
_ufunc(np.multiply, api.mul)
_ufunc(np.true_divide, api.div)  # np.divide is the same ufunc
_ufunc(np.power, api.power)
_ufunc(np.negative, api.neg)
_ufunc(np.positive, more.positive)
_ufunc(np.exp, api.exp)
_ufunc(np.expm1, more.expm1)
_ufunc(np.log, api.log)
_ufunc(np.log1p, more.log1p)
_ufunc(np.log2, more.log2)
_ufunc(np.sqrt, api.sqrt)
_ufunc(np.square, more.square)
_ufunc(np.absolute, api.abs)  # np.abs is the same ufunc
_ufunc(np.tanh, api.tanh)
_ufunc(np.sin, more.sin)
_ufunc(np.cos, more.cos)
_ufunc(np.maximum, api.maximum)
_ufunc(np.minimum, api.minimum)
_ufunc(np.fmax, more.fmax)
_ufunc(np.fmin, more.fmin)
_ufunc(np.matmul, api.matmul)
for _f in (
    np.sign,
    np.isfinite,
    np.isnan,
    np.isinf,
    np.less,
    np.less_equal,
    np.greater,
    np.greater_equal,
    np.equal,
    np.not_equal,
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.logical_xor,
):
    _ufunc(_f, _const(_f))  # no gradient: 0 almost everywhere
_REDUCE.update({np.add: api.sum, np.multiply: more.prod, np.maximum: api.max, np.minimum: api.min})


# ---------------------------------------------------------------- products
implements(np.dot)(lambda a, b, out=None: (_no("dot", out=out), more.dot(a, b))[1])
implements(np.vdot)(more.vdot)
implements(np.inner)(more.inner)
implements(np.outer)(lambda a, b, out=None: (_no("outer", out=out), more.outer(a, b))[1])
implements(np.tensordot)(more.tensordot)


@implements(np.einsum)
def _einsum(subscripts, *operands, out=None, optimize=False, **kwargs):
    _no("einsum", out=out)
    if kwargs.get("dtype") is not None:
        operands = [_as_dtype(api.as_tensor(o), kwargs["dtype"]) for o in operands]
    return more.einsum(subscripts, *operands)


@implements(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return more.norm(x, ord, axis, keepdims)


@implements(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no("trace", out=out)
    return more.trace(_as_dtype(api.as_tensor(a), dtype), offset, axis1, axis2)


# ---------------------------------------------------------------- reductions
@implements(np.sum)
def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
    _no("sum", out=out, initial=initial, where=where)
    return api.sum(_as_dtype(api.as_tensor(a), dtype), axis, keepdims)


@implements(np.mean)
def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=_NOVALUE):
    _no("mean", out=out, where=where)
    return api.mean(_as_dtype(api.as_tensor(a), dtype), axis, keepdims)


@implements(np.prod)
def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
    _no("prod", out=out, initial=initial, where=where)
    return more.prod(_as_dtype(api.as_tensor(a), dtype), axis, keepdims)


def _extremum(name, fn):
    def impl(a, axis=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
        _no(name, out=out, initial=initial, where=where)
        return fn(a, axis, keepdims)

    return impl


implements(np.max, np.amax)(_extremum("max", api.max))
implements(np.min, np.amin)(_extremum("min", api.min))


def _var_like(name, fn):
    def impl(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NOVALUE, **kw):
        _no(name, out=out, where=where)
        if kw.get("mean", _NOVALUE) is not _NOVALUE:
            raise TypeError(f"np.{name}(..., mean=...) is not supported on Tensors")
        if kw.get("correction", _NOVALUE) is not _NOVALUE:
            ddof = kw["correction"]
        return fn(_as_dtype(api.as_tensor(a), dtype), axis, keepdims, ddof=ddof)

    return impl


implements(np.var)(_var_like("var", api.var))
implements(np.std)(_var_like("std", more.std))


@implements(np.cumsum)
def _cumsum(a, axis=None, dtype=None, out=None):
    _no("cumsum", out=out)
    return more.cumsum(_as_dtype(api.as_tensor(a), dtype), axis)


def _arg(fn):
    def impl(a, axis=None, out=None, *, keepdims=False):
        _no(fn.__name__, out=out)
        data = _values(a)
        return more.constant(fn(data, axis=axis, keepdims=keepdims))

    return impl


implements(np.argmax)(_arg(np.argmax))
implements(np.argmin)(_arg(np.argmin))


# ---------------------------------------------------------------- elementwise functions
@implements(np.clip)
def _clip(a, a_min=_DEFAULT, a_max=_DEFAULT, out=None, *, min=_DEFAULT, max=_DEFAULT, **kwargs):  # noqa: A002
    _no("clip", out=out)
    lo = None if a_min is _DEFAULT else a_min
    hi = None if a_max is _DEFAULT else a_max
    lo = lo if min is _DEFAULT else min
    hi = hi if max is _DEFAULT else max
    if isinstance(lo, Tensor) or isinstance(hi, Tensor) or np.ndim(lo) or np.ndim(hi):
        x = a if lo is None else api.maximum(a, lo)
        return x if hi is None else api.minimum(x, hi)
    return api.clip(a, lo, hi)


@implements(np.where)
def _where(condition, *xy):
    if not xy:  # the indices of nonzero elements: integers, no gradient
        return tuple(more.constant(i) for i in np.nonzero(_values(condition)))
    if len(xy) != 2:
        raise TypeError("np.where takes a condition and either both x and y or neither")
    return api.where(condition, *xy)


def _like(fn):
    def impl(a, *args, dtype=None, order="K", subok=True, shape=None, **kwargs):
        kw = {"device": kwargs["device"]} if "device" in kwargs else {}
        return more.constant(fn(_values(a), *args, dtype=dtype, shape=shape, **kw))

    return impl


implements(np.zeros_like)(_like(np.zeros_like))
implements(np.ones_like)(_like(np.ones_like))
implements(np.full_like)(_like(np.full_like))
implements(np.empty_like)(_like(np.zeros_like))  # zeros, not garbage: a defined value


@implements(np.copy)
def _copy(a, order="K", subok=False):
    return more.copy(a)


for _f in (np.isclose, np.allclose, np.array_equal, np.array_equiv, np.nonzero, np.count_nonzero):
    implements(_f)(_const(_f))  # comparisons of values: no gradient
implements(np.shape)(lambda a: np.shape(_values(a)))
implements(np.ndim)(lambda a: np.ndim(_values(a)))
implements(np.size)(lambda a, axis=None: np.size(_values(a), axis))


# ---------------------------------------------------------------- shape
@implements(np.reshape)
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    _no("reshape", order=order)
    return api.reshape(a, shape if newshape is None else newshape)


@implements(np.ravel)
def _ravel(a, order="C"):
    _no("ravel", order=order)
    return more.ravel(a)


@implements(np.transpose)
def _transpose(a, axes=None):
    return api.transpose(a, *(() if axes is None else axes))


implements(np.swapaxes)(more.swapaxes)
implements(np.moveaxis)(more.moveaxis)
implements(np.squeeze)(api.squeeze)
implements(np.expand_dims)(api.expand_dims)
implements(np.broadcast_to)(lambda array, shape, subok=False: api.broadcast_to(array, shape))
implements(np.atleast_1d)(lambda *arys: _one_or_list([more.atleast_1d(a) for a in arys]))
implements(np.atleast_2d)(lambda *arys: _one_or_list([more.atleast_2d(a) for a in arys]))


def _one_or_list(xs):
    return xs[0] if len(xs) == 1 else tuple(xs)


@implements(np.concatenate)
def _concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _no("concatenate", out=out)
    ts = [_as_dtype(api.as_tensor(a), dtype) for a in arrays]
    if axis is None:
        return api.concatenate([more.ravel(t) for t in ts], 0)
    return api.concatenate(ts, axis)


@implements(np.stack)
def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _no("stack", out=out)
    return api.stack([_as_dtype(api.as_tensor(a), dtype) for a in arrays], axis)


@implements(np.hstack)
def _hstack(tup, *, dtype=None, casting="same_kind"):
    return more.hstack([_as_dtype(api.as_tensor(a), dtype) for a in tup])


@implements(np.vstack)
def _vstack(tup, *, dtype=None, casting="same_kind"):
    return more.vstack([_as_dtype(api.as_tensor(a), dtype) for a in tup])


implements(np.split)(more.split)
implements(np.array_split)(more.array_split)
implements(np.tile)(more.tile)
implements(np.repeat)(lambda a, repeats, axis=None: more.repeat(a, repeats, axis))
implements(np.flip)(more.flip)
implements(np.pad)(more.pad)
implements(np.tril)(more.tril)
implements(np.triu)(more.triu)
implements(np.diag)(more.diag)
implements(np.diagonal)(more.diagonal)


# ---------------------------------------------------------------- Tensor's NumPy-named methods
METHODS = {
    "__array__": as_array,
    "__array_ufunc__": array_ufunc,
    "__array_function__": array_function,
    "dot": more.dot,
    "prod": more.prod,
    "cumsum": more.cumsum,
    "std": lambda self, axis=None, keepdims=False, ddof=0: more.std(self, axis, keepdims, ddof),
    "ravel": more.ravel,
    "swapaxes": more.swapaxes,
    "repeat": more.repeat,
    "trace": more.trace,
    "diagonal": more.diagonal,
    "copy": more.copy,
}


def bind() -> None:
    """Set the protocol methods and the NumPy-named methods on Tensor."""
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
