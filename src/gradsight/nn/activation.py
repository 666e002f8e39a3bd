"""Activation modules: thin wrappers over ``gs.nn.functional``."""

from __future__ import annotations

from gradsight._core.tensor import Tensor
from gradsight.ops import api

from . import functional as F
from .module import Module


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x) -> Tensor:
        return api.sigmoid(x)


class Tanh(Module):
    def forward(self, x) -> Tensor:
        return api.tanh(x)


class ReLU(Module):
    """max(x, 0); the gradient at 0 is 0."""

    def forward(self, x) -> Tensor:
        return api.relu(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """softmax along ``axis`` (the last one by default)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = int(axis)

    def forward(self, x) -> Tensor:
        return api.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Softmin(Module):
    """softmax(-x) along ``axis`` (the last one by default)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = int(axis)

    def forward(self, x) -> Tensor:
        return F.softmin(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class GELU(Module):
    """x Phi(x), exact (``approximate="none"``) or with PyTorch's tanh formula ("tanh")."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = F._softplus_settings(beta, threshold, "Softplus")

    def forward(self, x) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def forward(self, x):
        return x
