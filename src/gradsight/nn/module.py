"""Module and Parameter: the containers models are built from.

A Module registers the Parameters and sub-Modules assigned to its attributes
(``self.fc = Linear(2, 4)``) in insertion order. That order gives dotted
names (``"layers.0.weight"``), ``state_dict`` keys and the printed tree.
Registered values are also kept in the instance ``__dict__``, so reading
``self.weight`` in ``forward`` is an ordinary attribute lookup.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from gradsight._core.grad_mode import no_grad
from gradsight._core.tensor import Tensor, as_array, check_grad_dtype


class Parameter(Tensor):
    """A Tensor that requires grad and is registered by the Module holding it.

    ``Parameter(data, requires_grad=True)`` copies ``data`` (an array-like or
    a Tensor); it must be floating point.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        arr = as_array(data)
        check_grad_dtype(arr.dtype)
        arr.flags.writeable = False
        self.data = arr
        self.grad_fn = None
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(ValueError, RuntimeError):
    """A state_dict does not fit the Module (a ValueError; RuntimeError as in PyTorch)."""


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of every layer and model: subclass it and define ``forward``.

    ``module(x)`` calls ``module.forward(x)``. Parameters and Modules assigned
    as attributes are registered automatically; ``training`` is True until
    ``eval()`` is called.
    """

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"] = {}
        d["_modules"] = {}
        d["training"] = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, (Parameter, Module)) and params is None:
            raise AttributeError(
                f"cannot assign {type(value).__name__} {name!r} before Module.__init__() is "
                f"called; add super().__init__() at the top of {type(self).__name__}.__init__"
            )
        if isinstance(value, Parameter):
            d["_modules"].pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            d["_modules"][name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__} (a Parameter or None is expected); to change its "
                    "values use load_state_dict or copy_ under gs.no_grad()"
                )
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to sub-module {name!r} of "
                    f"{type(self).__name__} (a Module or None is expected)"
                )
            d["_modules"][name] = None
        d[name] = value

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        d.get("_parameters", {}).pop(name, None)
        d.get("_modules", {}).pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, a named empty slot like ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{name!r}: expected a Parameter or None, got {type(param).__name__}")
        self.__dict__["_parameters"][name] = param
        self.__dict__[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` under ``name`` (any string, e.g. ``"0"``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{name!r}: expected a Module or None, got {type(module).__name__}")
        self.__dict__["_modules"][name] = module
        self.__dict__[name] = module

    # ------------------------------------------------------------ traversal
    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator:
        """(dotted name, Parameter) pairs in definition order; shared ones once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_children(self) -> Iterator:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator:
        """(dotted name, Module) for self (name ``prefix``) and every descendant, once each."""
        seen = {id(self)}
        stack = [(prefix, self)]
        while stack:  # depth first, in definition order, without recursion
            name, module = stack.pop()
            yield name, module
            subs = []
            for sub_name, sub in module._modules.items():
                if sub is None or id(sub) in seen:
                    continue
                seen.add(id(sub))
                subs.append((f"{name}.{sub_name}" if name else sub_name, sub))
            stack.extend(reversed(subs))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    # ------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (set to None, or fill with zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Ordered ``{dotted name: np.ndarray copy}`` of every parameter."""
        return {name: np.array(p.data) for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this Module's parameters, in place.

        Every key, shape and dtype is checked first; if anything is wrong,
        one StateDictError lists all the problems and nothing is assigned.
        With ``strict=False`` missing and unexpected keys are allowed (and
        returned), but shape and dtype mismatches are still errors.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping, got {type(state_dict).__name__}")
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict:
            if missing:
                problems.append("missing keys: " + ", ".join(map(repr, missing)))
            if unexpected:
                problems.append("unexpected keys: " + ", ".join(map(repr, unexpected)))
        values = {}
        for name, p in own.items():
            if name not in state_dict:
                continue
            value, problem = _checked_value(name, state_dict[name], p)
            if problem:
                problems.append(problem)
            else:
                values[name] = value
        if problems:
            raise StateDictError(
                f"cannot load state_dict into {type(self).__name__} (nothing was changed):\n  "
                + "\n  ".join(problems)
            )
        with no_grad():
            for name, value in values.items():
                own[name].copy_(value)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text inside this Module's parentheses in its repr (override it)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _checked_value(name: str, value, p: Parameter):
    """(array, None) if ``value`` can be copied into ``p``, else (None, problem)."""
    try:
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    except Exception as err:  # noqa: BLE001 - any conversion failure is reported by name
        return None, f"{name!r}: cannot convert {type(value).__name__} to an array ({err})"
    if arr.dtype.kind not in "biufc":
        return None, f"{name!r}: value of dtype {arr.dtype} is not numeric"
    if arr.shape != p.shape:
        return None, f"{name!r}: shape {arr.shape} in state_dict, but the parameter has {p.shape}"
    if arr.dtype != p.dtype:
        return None, (
            f"{name!r}: dtype {arr.dtype} in state_dict, but the parameter has {p.dtype} "
            "(convert the array first)"
        )
    return arr, None
