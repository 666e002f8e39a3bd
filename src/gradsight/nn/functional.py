"""Stateless layers, activations and losses: ``gs.nn.functional`` (``F`` below).

Losses check their inputs once, up front (shapes, target dtype and range,
the reduction name), then either call a fused primitive (cross-entropy and
BCE-with-logits: one node, stable for any logit magnitude) or compose
ordinary ops (MSE, BCE on probabilities). ``reduction`` is ``"mean"``
(average over every element), ``"sum"`` or ``"none"`` (per-element losses).
"""

from __future__ import annotations

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.ops import api

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- layers and activations
def linear(x, weight, bias=None) -> Tensor:
    """(..., in) with weight (out, in) and bias (out,) -> (..., out): x @ W^T + b."""
    return api.linear(x, weight, bias)


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)), elementwise."""
    return api.sigmoid(x)


def tanh(x) -> Tensor:
    return api.tanh(x)


def relu(x) -> Tensor:
    """max(x, 0); the gradient at 0 is 0 (as in PyTorch)."""
    return api.relu(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x; the gradient at 0 is negative_slope."""
    x = api.as_tensor(x)
    return api.where(x.data > 0, x, x * negative_slope)


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x), axis), computed without overflow."""
    return api.softmax(x, axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    """x - logsumexp(x, axis), computed without overflow."""
    return api.log_softmax(x, axis)


# ---------------------------------------------------------------- validation helpers
def _check_reduction(reduction) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _float_input(x, what: str) -> Tensor:
    x = api.as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{what}: input must be floating point, got dtype {x.dtype}")
    return x


def _same_shape(x: Tensor, target, what: str) -> None:
    if x.shape != np.shape(target):
        raise ValueError(
            f"{what}: input shape {x.shape} and target shape {np.shape(target)} differ; "
            "they must be equal (no broadcasting, to avoid silent mistakes)"
        )


def _target_array(target, dtype, what: str) -> np.ndarray:
    """A constant target as an array of ``dtype``; fused losses give no target gradient."""
    if isinstance(target, Tensor):
        if target.requires_grad:
            raise ValueError(
                f"{what}: the target requires grad, but this loss gives no gradient to its "
                "target; pass target.detach()"
            )
        target = target.data
    arr = target if hasattr(target, "__array_function__") else np.asarray(target)  # duck arrays
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: target must be numeric, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


def _check_unit_interval(arr: np.ndarray, what: str, name: str) -> None:
    """Every value of ``arr`` in [0, 1]; the error names the first bad one."""
    ok = (arr >= 0) & (arr <= 1)
    if not ok.all():
        index = tuple(int(i) for i in np.unravel_index(int(np.argmin(ok)), arr.shape))
        where = "[" + ", ".join(map(str, index)) + "]" if index else ""
        raise ValueError(
            f"{what}: every {name} value must lie in [0, 1], but {name}{where} = "
            f"{arr[index].item()!r}"
        )


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


# ---------------------------------------------------------------- losses
def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Squared error (input - target)^2, reduced; same shapes required.

    The target may be a Tensor that requires grad (it then gets a gradient).
    """
    _check_reduction(reduction)
    x = _float_input(input, "mse_loss")
    _same_shape(x, target.data if isinstance(target, Tensor) else target, "mse_loss")
    return api.mse(x, target, reduction)


def _clamped_log(p: Tensor) -> Tensor:
    """max(log(p), -100) with log(0) = -inf, like PyTorch's BCE; no warnings, no nan.

    Where p == 0 the log is taken of 1 instead and replaced by -100, so the
    log's rule never divides by zero and those entries get no gradient.
    """
    positive = p.data > 0
    safe = api.where(positive, p, 1.0)
    return api.clip(api.where(positive, api.log(safe), -100.0), -100.0, None)


def binary_cross_entropy(input, target, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1] and targets y in [0, 1].

    Each log is clamped at -100 (as PyTorch does), so p of exactly 0 or 1
    gives a finite loss and gradient. For raw scores, prefer
    ``binary_cross_entropy_with_logits`` (stabler and one node).
    """
    _check_reduction(reduction)
    p = _float_input(input, "binary_cross_entropy")
    y = _target_array(target, p.dtype, "binary_cross_entropy")
    _same_shape(p, y, "binary_cross_entropy")
    _check_unit_interval(p.data, "binary_cross_entropy", "input")
    _check_unit_interval(y, "binary_cross_entropy", "target")
    losses = -(y * _clamped_log(p) + (1.0 - y) * _clamped_log(1.0 - p))
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean") -> Tensor:
    """BCE of sigmoid(x) against y, as max(x, 0) - x y + log(1 + exp(-|x|)).

    One fused node; finite loss and gradient (sigmoid(x) - y) for any x.
    Targets must lie in [0, 1] and have the input's shape.
    """
    _check_reduction(reduction)
    x = _float_input(input, "binary_cross_entropy_with_logits")
    y = _target_array(target, x.dtype, "binary_cross_entropy_with_logits")
    _same_shape(x, y, "binary_cross_entropy_with_logits")
    _check_unit_interval(y, "binary_cross_entropy_with_logits", "target")
    return api.bce_with_logits(x, y, reduction)


def cross_entropy(input, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: -log softmax(x)[n, t_n] for logits (N, C), classes t (N,).

    ``target`` holds integer class indices in [0, C). One fused node; the
    gradient is (softmax(x) - onehot(t)) scaled by the reduction.
    """
    _check_reduction(reduction)
    x = _float_input(input, "cross_entropy")
    if x.ndim != 2:
        raise ValueError(f"cross_entropy: input must be logits of shape (N, C), got {x.shape}")
    if isinstance(target, Tensor):
        target = target.data
    # duck arrays (gs.trace's traced arrays) stay as they are: their checks are recorded
    t = target if hasattr(target, "__array_function__") else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: target must hold integer class indices, got dtype {t.dtype} "
            "(convert with .astype(int) if the values are whole numbers)"
        )
    n, c = x.shape
    if t.shape != (n,):
        raise ValueError(
            f"cross_entropy: target shape {t.shape} does not match input shape {x.shape}; "
            f"expected ({n},)"
        )
    if n == 0 and reduction == "mean":
        raise ValueError("cross_entropy: the mean over an empty batch (N = 0) is undefined")
    bad = (t < 0) | (t >= c)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"cross_entropy: target[{i}] = {t[i]} is not a class index in [0, {c}) "
            f"(input has {c} classes)"
        )
    return api.cross_entropy_logits(x, t.astype(np.intp, copy=False), reduction)
