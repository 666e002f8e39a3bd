"""The way onward: gradsight Modules to and from PyTorch ``torch.nn`` Modules.

``to_torch(model)`` builds the equivalent ``torch.nn.Module`` with the same
weights in the same layout (``Linear.weight`` is (out, in) in both) and the
same state_dict keys; ``from_torch(module)`` is the reverse, and
``load_torch_state_dict(model, source)`` copies a PyTorch state_dict (or a
``.pt`` file holding one, read with ``weights_only=True``) into a gradsight
model. The layers that translate:

==========================  ==========================================
gradsight                   torch.nn
==========================  ==========================================
Linear(i, o, bias)          Linear(i, o, bias), same dtype
Sequential                  Sequential (same child names)
MLP(sizes, ...)             Sequential(layers=Sequential(...)) (keys ``layers.0.weight``)
Sigmoid Tanh ReLU Identity  Sigmoid Tanh ReLU Identity
LeakyReLU(negative_slope)   LeakyReLU(negative_slope)
Softmax(axis)               Softmax(dim)
Softmin(axis)               Softmin(dim)
GELU(approximate)           GELU(approximate)
Softplus(beta, threshold)   Softplus(beta, threshold)
MSELoss BCELoss ...         the loss of the same name and ``reduction``
CrossEntropyLoss NLLLoss    with ``ignore_index`` (and ``label_smoothing``)
==========================  ==========================================

Anything else (a Module subclass with its own ``forward``, a convolution)
is refused with a TypeError naming the layer. torch is imported only when
one of these functions is called: ``import gradsight`` never imports it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from os import PathLike
from typing import Any

import numpy as np

from . import activation as act
from . import loss as losses
from .layers import MLP, Linear, Sequential
from .module import Module, StateDictError

__all__ = ["from_torch", "load_torch_state_dict", "to_torch"]

_SIMPLE = {  # gradsight class -> torch.nn class name, for layers without settings
    act.Sigmoid: "Sigmoid",
    act.Tanh: "Tanh",
    act.ReLU: "ReLU",
    act.Identity: "Identity",
}
_LOSSES = {
    losses.MSELoss: "MSELoss",
    losses.BCELoss: "BCELoss",
    losses.BCEWithLogitsLoss: "BCEWithLogitsLoss",
    losses.CrossEntropyLoss: "CrossEntropyLoss",
    losses.NLLLoss: "NLLLoss",
}
_SUPPORTED = (
    "Linear, Sequential, MLP, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Softmin, GELU, "
    "Softplus, Identity, " + ", ".join(_LOSSES.values())
)


_LOSS_SETTINGS = {  # settings besides ``reduction``, named alike in both libraries
    losses.CrossEntropyLoss: ("ignore_index", "label_smoothing"),
    losses.NLLLoss: ("ignore_index",),
}


def _loss_settings(m, kind) -> dict:
    return {k: getattr(m, k) for k in _LOSS_SETTINGS.get(kind, ())}


def _import_torch(caller: str):
    """The torch module, or a one-line ImportError naming the missing package."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{caller} needs PyTorch: the package 'torch' is not installed "
            "(pip install torch, or gradsight's 'torch' extra)"
        ) from None
    return torch


def _where(path: str) -> str:
    return f"layer {path!r}" if path else "the model"


# ---------------------------------------------------------------- export
def to_torch(module: Module) -> Any:
    """An equivalent ``torch.nn.Module`` with copies of ``module``'s weights.

    Parameters keep their dtype (gradsight's default float64 gives a float64
    torch module: feed it float64 tensors, or call ``.float()`` on it) and
    their names, so ``to_torch(m).state_dict()`` has the keys of
    ``m.state_dict()``. The train/eval mode is copied too. Raises TypeError
    naming the first layer without a PyTorch counterpart.
    """
    torch = _import_torch("gs.nn.to_torch")
    if not isinstance(module, Module):
        raise TypeError(f"to_torch expects a gradsight Module, got {type(module).__name__}")
    out = _export(module, "", torch)
    out.train(module.training)
    return out


def _export(m: Module, path: str, torch) -> Any:
    tnn, kind = torch.nn, type(m)
    if kind is Linear:
        return _export_linear(m, torch)
    if kind is Sequential:
        children = OrderedDict(
            (name, _export(child, f"{path}.{name}" if path else name, torch))
            for name, child in m.named_children()
        )
        return tnn.Sequential(children)
    if kind is MLP:
        inner = _export(m.layers, f"{path}.layers" if path else "layers", torch)
        return tnn.Sequential(OrderedDict(layers=inner))
    if kind in _SIMPLE:
        return getattr(tnn, _SIMPLE[kind])()
    if kind is act.LeakyReLU:
        return tnn.LeakyReLU(m.negative_slope)
    if kind is act.Softmax:
        return tnn.Softmax(dim=m.axis)
    if kind is act.Softmin:
        return tnn.Softmin(dim=m.axis)
    if kind is act.GELU:
        return tnn.GELU(approximate=m.approximate)
    if kind is act.Softplus:
        return tnn.Softplus(beta=m.beta, threshold=m.threshold)
    if kind in _LOSSES:
        return getattr(tnn, _LOSSES[kind])(reduction=m.reduction, **_loss_settings(m, kind))
    raise TypeError(
        f"to_torch: {_where(path)} is a {kind.__module__}.{kind.__qualname__}, which has no "
        f"PyTorch counterpart (supported: {_SUPPORTED})"
    )


def _export_linear(m: Linear, torch) -> Any:
    dtype = getattr(torch, m.weight.dtype.name)  # float32 -> torch.float32, ...
    out = torch.nn.Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=dtype)
    with torch.no_grad():
        out.weight.copy_(torch.from_numpy(np.array(m.weight.data)))
        if m.bias is not None:
            out.bias.copy_(torch.from_numpy(np.array(m.bias.data)))
    return out


# ---------------------------------------------------------------- import
def from_torch(module: Any) -> Module:
    """The gradsight Module equivalent to a ``torch.nn.Module`` built of supported layers.

    ``torch.nn.Sequential`` keeps its child names (so state_dict keys match);
    parameters are copied (to the CPU) in their dtype. Raises TypeError naming
    the first layer, or the first setting, that gradsight does not have.
    """
    torch = _import_torch("gs.nn.from_torch")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    out = _import(module, "", torch)
    out.train(module.training)
    return out


def _import(m: Any, path: str, torch) -> Module:
    tnn, kind = torch.nn, type(m)
    if kind is tnn.Linear:
        return _import_linear(m, path)
    if kind is tnn.Sequential:
        children = {
            name: _import(child, f"{path}.{name}" if path else name, torch)
            for name, child in m.named_children()
        }
        return Sequential(children)
    for ours, name in _SIMPLE.items():
        if kind is getattr(tnn, name):
            return ours()
    if kind is tnn.LeakyReLU:
        return act.LeakyReLU(m.negative_slope)
    if kind is tnn.Softmax:
        if m.dim is None:
            raise TypeError(f"from_torch: {_where(path)} is a Softmax without dim; give dim=")
        return act.Softmax(axis=m.dim)
    if kind is tnn.Softmin:
        if m.dim is None:
            raise TypeError(f"from_torch: {_where(path)} is a Softmin without dim; give dim=")
        return act.Softmin(axis=m.dim)
    if kind is tnn.GELU:
        return act.GELU(approximate=m.approximate)
    if kind is tnn.Softplus:
        return act.Softplus(beta=m.beta, threshold=m.threshold)
    for ours, name in _LOSSES.items():
        if kind is getattr(tnn, name):
            _check_plain_loss(m, path)
            return ours(reduction=m.reduction, **_loss_settings(m, ours))
    raise TypeError(
        f"from_torch: {_where(path)} is a {kind.__module__}.{kind.__qualname__}, which has no "
        f"gradsight counterpart (supported: {_SUPPORTED})"
    )


def _import_linear(m: Any, path: str) -> Linear:
    weight = _to_numpy(m.weight, f"{path}.weight" if path else "weight")
    out = Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=weight.dtype)
    state = {"weight": weight}
    if m.bias is not None:
        state["bias"] = _to_numpy(m.bias, f"{path}.bias" if path else "bias")
    out.load_state_dict(state)
    return out


def _check_plain_loss(m: Any, path: str) -> None:
    """Refuse torch loss settings that gradsight's losses do not have."""
    unsupported = {
        "weight": getattr(m, "weight", None) is not None,
        "pos_weight": getattr(m, "pos_weight", None) is not None,
    }
    bad = [k for k, v in unsupported.items() if v]
    if bad:
        raise TypeError(
            f"from_torch: {_where(path)} ({type(m).__name__}) sets {', '.join(bad)}, "
            "which gradsight's loss does not have"
        )


def _to_numpy(t: Any, key: str) -> np.ndarray:
    """A NumPy copy of a torch tensor (moved to the CPU, detached)."""
    try:
        return t.detach().cpu().numpy().copy()
    except (TypeError, RuntimeError) as err:
        raise TypeError(f"{key!r}: cannot convert a tensor of dtype {t.dtype} to NumPy") from err


# ---------------------------------------------------------------- state_dict
def load_torch_state_dict(module: Module, source: Mapping | str | PathLike) -> Module:
    """Copy a PyTorch state_dict into ``module`` (all keys required); returns ``module``.

    ``source`` is a mapping of names to torch tensors (or arrays), or the path
    of a ``.pt`` file holding one, read with ``torch.load(weights_only=True)``
    (never unpickling code). Values are cast to each parameter's dtype, as
    ``torch.nn.Module.load_state_dict`` does. A missing or unexpected key, or
    a shape that differs, raises a one-line StateDictError naming it, before
    anything is changed.
    """
    torch = _import_torch("gs.nn.load_torch_state_dict")
    if isinstance(source, (str, PathLike)):
        source = _load_file(torch, source)
    if not isinstance(source, Mapping):
        raise TypeError(f"expected a state_dict mapping or a path, got {type(source).__name__}")
    own = dict(module.named_parameters())
    missing = [k for k in own if k not in source]
    unexpected = [k for k in source if k not in own]
    if missing or unexpected:
        parts = [f"missing key(s) {', '.join(map(repr, missing))}"] if missing else []
        parts += [f"unexpected key(s) {', '.join(map(repr, unexpected))}"] if unexpected else []
        raise StateDictError(
            f"cannot load the state_dict into {type(module).__name__}: {'; '.join(parts)}"
        )
    values = {}
    for name, p in own.items():
        value = source[name]
        arr = _to_numpy(value, name) if isinstance(value, torch.Tensor) else np.asarray(value)
        if arr.shape != p.shape:
            raise StateDictError(
                f"cannot load the state_dict into {type(module).__name__}: {name!r} has shape "
                f"{arr.shape}, but the parameter has {p.shape}"
            )
        values[name] = arr.astype(p.dtype, copy=False)
    module.load_state_dict(values)
    return module


def _load_file(torch, path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such state_dict file: '{path}'") from None
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported in one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"cannot read a state_dict from '{path}': {first}") from None
