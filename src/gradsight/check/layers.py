"""gs.check.layer / gs.check.layers: layer classes with ``forward(x)`` and ``backward(dout)``.

Most hand-written networks are layer objects: ``forward(x)`` returns the
output (or keeps it as ``self.output``), ``backward(dout)`` returns dL/dx (or
keeps it as ``self.dinputs``) and leaves the parameters' gradients on the
object. A parameter is a float array kept as an attribute (``self.W``) or in a
``params`` / ``parameters`` dict; its gradient is found after backward as

- an attribute ``dW``, ``d_W``, ``W_grad``, ``grad_W`` or ``gradW``, or
- an entry of a ``grads``, ``param_grads``, ``gradients`` or ``grad`` dict,

or where ``grads={"W": "dW"}`` says (an attribute name, or a path such as
``"cache['dW']"``). Arrays the layer keeps of its input and output are not
parameters. The check itself is gs.check.backprop's: the hand side runs on
the user's layers with plain arrays; the Tensor forward on deep copies with
Tensors in the parameters' places; dL/dx of every layer localises a mistake.
"""

from __future__ import annotations

import copy

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.autograd import Primitive, apply

from .backprop import backprop
from .paths import lookup

__all__ = ["layer", "layers"]

_PARAM_DICTS = ("params", "parameters")
_GRAD_DICTS = ("grads", "param_grads", "gradients", "grad")
_GRAD_ATTRS = ("d{}", "d_{}", "{}_grad", "grad_{}", "grad{}")
LOSS_EPS = 1e-6


def _is_float_array(v) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind == "f"


def _candidates(obj) -> list:
    """(name, place) of every float array the object keeps: attributes and params dicts."""
    out = []
    for attr, value in vars(obj).items():
        if _is_float_array(value):
            out.append((attr, ("attr", attr)))
        elif attr in _PARAM_DICTS and isinstance(value, dict):
            out += [(k, ("item", attr, k)) for k, v in value.items() if _is_float_array(v)]
    return out


def _gradient(obj, name: str, grads):
    """The hand gradient of parameter ``name`` kept on ``obj``, or None."""
    if grads is not None and name in grads:
        path = grads[name]
        return lookup("self" + (path if path[:1] in "[." else "." + path), {"self": obj})
    state = vars(obj)
    for d in _GRAD_DICTS:
        if isinstance(state.get(d), dict) and _is_float_array(state[d].get(name)):
            return state[d][name]
    for pattern in _GRAD_ATTRS:
        g = state.get(pattern.format(name[:1].upper() + name[1:] if pattern == "grad{}" else name))
        if _is_float_array(g):
            return g
    return None


def _read(obj, place):
    return getattr(obj, place[1]) if place[0] == "attr" else getattr(obj, place[1])[place[2]]


def _write(obj, place, value) -> None:
    if place[0] == "attr":
        setattr(obj, place[1], value)
    else:
        getattr(obj, place[1])[place[2]] = value


def _forward(obj, h):
    out = obj.forward(h)
    if out is None:  # nnfs: the output is kept as self.output
        out = getattr(obj, "output", None)
        if out is None:
            raise ValueError(f"{type(obj).__name__}.forward returned None and set no .output")
    return out


def _backward(obj, dout):
    dx = obj.backward(dout)
    if isinstance(dx, tuple):  # (dx, [dW, db]) and the like: dx comes first
        dx = dx[0]
    if dx is None:  # nnfs: kept as self.dinputs
        dx = getattr(obj, "dinputs", None)
    return dx


class _Loss:
    """A loss as a function returning (loss, dx), or an object with forward / backward."""

    def __init__(self, loss, y):
        self.loss, self.y = loss, y
        self.is_object = callable(getattr(loss, "forward", None)) and callable(
            getattr(loss, "backward", None)
        )
        if not self.is_object and not callable(loss):
            raise TypeError(
                "loss must be a function returning (loss, dx) or an object with forward and "
                f"backward, got {type(loss).__name__}"
            )

    def _args(self, h):
        return (h,) if self.y is None else (h, self.y)

    def value(self, loss, h):
        """The scalar loss of output ``h`` (a loss object's per-sample values are averaged)."""
        if not self.is_object and isinstance(h, Tensor):
            return apply(_as_primitive(loss, self._args(h)[1:]), h)
        if not self.is_object:
            out = loss(*self._args(h))
            if not isinstance(out, tuple) or len(out) != 2:
                raise TypeError("a loss function must return (loss, dx), as CS231n's softmax_loss")
            return out[0]
        out = loss.forward(*self._args(h))
        if out is None:
            out = getattr(loss, "output", None)
        return out if np.size(out) == 1 else np.mean(out)  # nnfs: calculate() is the mean

    def gradient(self, loss, h):
        if not self.is_object:
            return loss(*self._args(h))[1]
        dx = loss.backward(*self._args(h))
        return getattr(loss, "dinputs", None) if dx is None else dx


def _as_primitive(fn, rest: tuple) -> Primitive:
    """A loss function returning (loss, dx) as an op of its own, differentiated numerically.

    It computes dx in the same call, usually in place (``dx[range(n), y] -= 1``),
    which a Tensor cannot do; so autograd's side of dL/dout is central
    differences of its loss value in each element of the output (2 calls each).
    """

    def value(h):  # on a copy: a loss may shift its scores in place
        return float(np.asarray(fn(np.array(h, dtype=np.float64), *rest)[0]))

    def vjp(F, g, out, h):
        grad = np.zeros(h.shape)
        trial = np.array(h, dtype=np.float64)
        for i in np.ndindex(h.shape):
            trial[i] = h[i] + LOSS_EPS
            up = value(trial)
            trial[i] = h[i] - LOSS_EPS
            grad[i] = (up - value(trial)) / (2 * LOSS_EPS)
            trial[i] = h[i]
        return g * grad

    return Primitive("loss_function", lambda h: np.asarray(value(h)), (vjp,))


def _discover(stack: list, x, loss: _Loss, grads) -> list:
    """[(layer index, name, place)] of the parameters whose gradients backward leaves.

    Found on scratch copies, so the user's layers are untouched by it.
    """
    scratch, lossobj = copy.deepcopy((stack, loss.loss))
    seen_io, h = [x], x
    for obj in scratch:
        h = _forward(obj, h)
        seen_io.append(h)
    loss.value(lossobj, h)
    dh = loss.gradient(lossobj, h)
    for obj in reversed(scratch):
        dh = _backward(obj, dh)
        seen_io.append(dh)
    io_ids = {id(a) for a in seen_io}
    found = []
    for i, obj in enumerate(scratch):
        for name, place in _candidates(obj):
            if id(_read(obj, place)) not in io_ids and _gradient(obj, name, grads) is not None:
                found.append((i, name, place))
    if not found:
        raise ValueError(
            "found no parameter with a gradient on the layers after backward: name where "
            "each gradient is kept, e.g. grads={'W': 'dW'}"
        )
    return found


def layers(stack, x, loss, grads=None, *, y=None, **check_kw):
    """Check a stack of layer objects and a loss, parameter by parameter and layer by layer.

    Parameters
    ----------
    stack : list of layer objects with ``forward(x)`` and ``backward(dout)``
    x : the input array (its gradient dL/dx is checked too, as ``"x"``)
    loss : a function ``loss(out[, y]) -> (loss, dout)`` (CS231n's softmax_loss; as it
        computes dout in the same call, autograd's side of dL/dout is central
        differences of its loss value) or an object with ``forward(out[, y])`` and
        ``backward(out[, y])`` (nnfs's losses: a forward returning per-sample losses
        is averaged, as their ``calculate``; differentiated by autograd)
    grads : optional {parameter name: where its gradient is} for unusual names
    y : targets passed to the loss after the output, when given
    check_kw : atol, rtol, fd_eps, finite_differences, as for ``backprop``

    Returns a BackpropReport: rows ``out[i]`` (dL/d output of layer i, the dout
    layer i's backward received), ``"x"``, and ``"i.W"`` for parameter W of layer i.
    """
    stack = list(stack)
    if not stack:
        raise ValueError("layers needs at least one layer")
    for obj in stack:
        for method in ("forward", "backward"):
            if not callable(getattr(obj, method, None)):
                raise TypeError(f"{type(obj).__name__} has no {method}() method")
    x = np.asarray(x, dtype=np.float64)
    lossfn = _Loss(loss, y)
    places = _discover(stack, x, lossfn, grads)
    single = len(stack) == 1
    key = {(i, n): (n if single else f"{i}.{n}") for i, n, _ in places}
    params = {"x": x} | {key[i, n]: np.array(_read(stack[i], p), float) for i, n, p in places}
    user = id(stack)  # an int survives deep copies; the copies get new identities

    def forward(p, run):
        if id(run["stack"]) != user:  # a copy: put these parameters (Tensors) in place
            for i, n, place in places:
                _write(run["stack"][i], place, p[key[i, n]])
        h = p["x"]
        out = []  # out[i]: layer i's output, named so by backward's keys
        for obj in run["stack"]:
            h = _forward(obj, h)
            out.append(h)
        run["last"] = h
        return lossfn.value(run["loss"], h)

    def backward(p, run):
        dh = lossfn.gradient(run["loss"], run["last"])
        found = {}
        for i in reversed(range(len(run["stack"]))):
            found[f"out[{i}]"] = dh
            dh = _backward(run["stack"][i], dh)
        found["x"] = dh
        for i, n, _ in places:
            found[key[i, n]] = _gradient(run["stack"][i], n, grads)
        return {k: v for k, v in found.items() if v is not None}

    run = {"stack": stack, "loss": loss, "last": None}
    report = backprop(forward, backward, params, run, **check_kw)
    names = [f"{type(obj).__name__}.backward (layer {i})" for i, obj in enumerate(stack)]
    report.computed_by = {f"out[{i}]": names[i + 1] for i in range(len(stack) - 1)}
    report.computed_by[f"out[{len(stack) - 1}]"] = "the loss's gradient"
    report.computed_by["x"] = names[0]
    if not lossfn.is_object and not isinstance(loss, _Projection):
        report.sampled += "; autograd's dL/dout of the loss function by central differences"
    return report


def layer(obj, x, dout=None, grads=None, **check_kw):
    """Check one layer object: L = sum(forward(x) * dout), dout random when not given.

    ``grads`` as for ``layers``. Rows: ``out[0]`` (the dout given), ``x`` and
    each parameter by its own name.
    """
    x = np.asarray(x, dtype=np.float64)
    if dout is None:
        probe = copy.deepcopy(obj)
        out = np.asarray(_forward(probe, x))
        dout = np.random.default_rng(0).normal(size=out.shape)
    dout = np.asarray(dout, dtype=np.float64)
    return layers([obj], x, _Projection(dout), grads, **check_kw)


class _Projection:
    """The loss sum(out * dout): its gradient is dout."""

    def __init__(self, dout):
        self.dout = dout

    def __call__(self, out):
        if tuple(np.shape(out)) != self.dout.shape:
            raise ValueError(
                f"dout has shape {self.dout.shape} but the layer's output has {np.shape(out)}"
            )
        return np.sum(out * self.dout), self.dout
