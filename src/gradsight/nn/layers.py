"""Layers: Linear, Sequential and the MLP built from them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.ops import api

from . import init
from .activation import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softmin, Softplus, Tanh
from .module import Module, Parameter


class Linear(Module):
    """y = x @ W^T + b: (..., in_features) -> (..., out_features).

    ``weight`` has shape (out_features, in_features) and ``bias``
    (out_features,); both start as U(-1/sqrt(in), 1/sqrt(in)), like PyTorch.
    ``dtype`` defaults to float64.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {n!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(np.float64 if dtype is None else dtype)
        self.weight = Parameter(np.zeros((out_features, in_features), dtype))
        if bias:
            self.bias = Parameter(np.zeros(out_features, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights and bias from U(-1/sqrt(in), 1/sqrt(in))."""
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x) -> Tensor:
        try:
            return api.linear(x, self.weight, self.bias)
        except ValueError as err:
            if np.shape(x)[-1:] == (self.in_features,):
                raise
            raise ValueError(
                f"Linear(in_features={self.in_features}): input of shape {np.shape(x)} does "
                f"not end in {self.in_features} features"
            ) from err

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(2, 4), Sigmoid())``.

    Sub-modules are named "0", "1", ... (or by the keys of a single mapping
    argument); indexing with an int gives a module, with a slice a new
    Sequential sharing the modules.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: entry {name} is a {type(m).__name__}, not a Module")
            self.add_module(name, m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        mods = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*mods[index])
        try:
            return mods[index]
        except (IndexError, TypeError) as err:
            raise IndexError(
                f"Sequential index {index!r} out of range for {len(mods)} modules"
            ) from err


_ACTIVATIONS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
    "softmin": Softmin,
    "gelu": GELU,
    "softplus": Softplus,
    "identity": Identity,
}


def _activation(spec, what: str) -> Module:
    """A Module from a name ("tanh"), a Module class or a Module instance."""
    if isinstance(spec, str):
        if spec.lower() not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown {what} {spec!r}; choose one of {', '.join(_ACTIVATIONS)}, "
                "or pass a Module"
            )
        return _ACTIVATIONS[spec.lower()]()
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    if isinstance(spec, Module):
        return spec
    raise TypeError(f"MLP: {what} must be a name, a Module class or a Module, got {spec!r}")


class MLP(Module):
    """A multilayer perceptron: Linear layers of ``sizes`` with an activation between.

    ``MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")``
    builds Linear(2, 4), Sigmoid, Linear(4, 1), Sigmoid under ``self.layers``
    (a Sequential), so parameters are named ``layers.0.weight``, ...
    ``output_activation=None`` leaves the last layer linear (logits).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation="sigmoid",
        output_activation=None,
        bias: bool = True,
        dtype=None,
    ):
        super().__init__()
        sizes = list(sizes)
        bad = [n for n in sizes if isinstance(n, bool) or not isinstance(n, (int, np.integer))]
        if len(sizes) < 2 or bad or min(sizes) < 1:
            raise ValueError(
                f"MLP needs at least two positive int sizes (inputs, ..., outputs), got {sizes}"
            )
        self.sizes = [int(n) for n in sizes]
        _activation(activation, "activation")  # checked even when there is no hidden layer
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(_activation(activation, "activation"))
        if output_activation is not None:
            layers.append(_activation(output_activation, "output_activation"))
        self.layers = Sequential(*layers)

    def forward(self, x) -> Tensor:
        return self.layers(x)
