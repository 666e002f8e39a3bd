"""Stateless layers, activations and losses: ``gs.nn.functional`` (``F`` below).

Losses check their inputs once, up front (shapes, target dtype and range,
the reduction name), then either call a fused primitive (cross-entropy and
BCE-with-logits: one node, stable for any logit magnitude) or compose
ordinary ops (MSE, BCE on probabilities). ``reduction`` is ``"mean"``
(average over every element), ``"sum"`` or ``"none"`` (per-element losses).
"""

from __future__ import annotations

import math

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.ops import api, special

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


def softmin(x, axis: int = -1) -> Tensor:
    """softmax(-x, axis): exp(-x) / sum(exp(-x), axis), the weights favour small x.

    Composite (neg, then the softmax primitive): the softmax node already has
    the stable forward and the one-line rule, so a second primitive would add
    nothing but a copy of them.
    """
    return api.softmax(api.neg(x), axis)


_SQRT_HALF = math.sqrt(0.5)
_GELU_TANH_SCALE = 2.0 * math.sqrt(2.0 / math.pi)  # 2 sqrt(2/pi): see gelu's tanh form


def gelu(x, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, x Phi(x) with Phi the standard normal CDF.

    ``approximate="none"``: x/2 erfc(-x/sqrt(2)), exact. ``"tanh"``: PyTorch's
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as the equal
    x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)), which has no cancellation in
    1 + tanh for negative x.

    Composite (an erfc or sigmoid primitive and products): its gradient
    Phi(x) + x phi(x), and every higher derivative, come from the pieces.
    erfc rather than 1 + erf keeps gelu relatively accurate for negative x.
    """
    if approximate == "none":
        x = api.as_tensor(x)
        return x * special.erfc(x * -_SQRT_HALF) * 0.5
    if approximate == "tanh":
        x = api.as_tensor(x)
        inner = (x + x * x * x * 0.044715) * _GELU_TANH_SCALE
        return x * api.sigmoid(inner)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch).

    Primitive (gradsight.ops.special): the stable form and the switch to the
    linear regime are one node whose rule is g sigmoid(beta x) (g where linear);
    as a composite the untaken branch of the switch would sit in the graph.
    ``beta`` must be a positive number; ``threshold`` any number (inf: never linear).
    """
    beta, threshold = _softplus_settings(beta, threshold, "softplus")
    return special.softplus(x, beta, threshold)


def _is_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))


def _softplus_settings(beta, threshold, what: str) -> tuple:
    """(beta, threshold) as floats: beta positive and finite, threshold not nan."""
    if not _is_number(beta):
        raise TypeError(f"{what}: beta must be a number, got {beta!r}")
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"{what}: beta must be positive and finite, got {beta!r}")
    if not _is_number(threshold):
        raise TypeError(f"{what}: threshold must be a number, got {threshold!r}")
    if math.isnan(threshold):
        raise ValueError(f"{what}: threshold must not be nan")
    return float(beta), float(threshold)


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
    Targets must lie in [0, 1] and have the input's shape. A target Tensor
    that requires grad gets a gradient too (-x, scaled by the reduction): the
    loss is then the composite softplus(x) - x y, softplus in its stable form,
    whose gradient in x is the same sigmoid(x) - y.
    """
    _check_reduction(reduction)
    what = "binary_cross_entropy_with_logits"
    x = _float_input(input, what)
    if isinstance(target, Tensor) and target.requires_grad:
        _same_shape(x, target.data, what)
        _check_unit_interval(target.data, what, "target")
        y = api.astype(target, x.dtype)
        losses = special.softplus(x, 1.0, math.inf) - x * y
        return _reduce(losses, reduction)
    y = _target_array(target, x.dtype, what)
    _same_shape(x, y, what)
    _check_unit_interval(y, what, "target")
    return api.bce_with_logits(x, y, reduction)


def _check_ignore_index(ignore_index, what: str) -> int:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        hint = " (reduction comes after it: pass reduction=...)"
        hint = hint if isinstance(ignore_index, str) else ""
        raise TypeError(f"{what}: ignore_index must be an integer, got {ignore_index!r}{hint}")
    return int(ignore_index)


def _class_axis(x: Tensor, what: str) -> int:
    """1 for (N, C, d1, ...) inputs, 0 for an unbatched (C,) one, as PyTorch."""
    if x.ndim == 0:
        raise ValueError(
            f"{what}: input must have a class axis, (N, C), (C,) or (N, C, d1, ...); got shape ()"
        )
    return 0 if x.ndim == 1 else 1


def _array_of(target):
    """The target's array; duck arrays (gs.trace's traced ones) stay as they are:
    their checks are recorded."""
    if isinstance(target, Tensor):
        target = target.data
    return target if hasattr(target, "__array_function__") else np.asarray(target)


def _at(index: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if index else ""


def _class_indices(t, x: Tensor, axis: int, ignore_index: int, what: str):
    """(indices, kept): integer targets checked against the input, the ignored
    ones replaced by -1 (no class), and the mask of the others (None when no
    target is ignored). Each value must be in [0, C) or equal ignore_index."""
    n_classes = x.shape[axis]
    expected = x.shape[:axis] + x.shape[axis + 1 :]
    if t.shape != expected:
        raise ValueError(
            f"{what}: target shape {t.shape} does not match input shape {x.shape}; "
            f"expected {expected} (the input's shape without its class axis {axis})"
        )
    bad = (t < 0) | (t >= n_classes)
    if bad.any():  # out of range, or ignored
        ignored = t == ignore_index
        wrong = bad & ~ignored
        if wrong.any():
            index = np.unravel_index(int(np.argmax(wrong)), t.shape)
            raise ValueError(
                f"{what}: target{_at(index)} = {t[index]} is not a class index in "
                f"[0, {n_classes}) (input has {n_classes} classes) nor ignore_index "
                f"({ignore_index})"
            )
        return np.where(ignored, -1, t).astype(np.intp, copy=False), ~ignored
    if 0 <= ignore_index < n_classes:
        ignored = t == ignore_index
        if ignored.any():
            return np.where(ignored, -1, t).astype(np.intp, copy=False), ~ignored
    return t.astype(np.intp, copy=False), None


def _check_not_empty(samples: int, target_shape: tuple, reduction: str, what: str) -> None:
    if samples == 0 and reduction == "mean":
        raise ValueError(
            f"{what}: the mean over an empty batch (N = 0, target shape {target_shape}) "
            "is undefined"
        )


def _pick(values: Tensor, axis: int, indices) -> Tensor:
    """values at each target's class, the class axis summed out: where(onehot, values, 0)
    summed over the class axis, with one entry per target (none for an index of -1).

    A select, not a product with the one-hot mask: an excluded -inf log-probability
    (a masked class) would give -inf * 0 = nan. NumPy builds the mask from the target,
    so under gs.trace a new batch's targets are recorded, not read.
    """
    n_classes = values.shape[axis]
    classes = np.arange(n_classes).reshape((n_classes,) + (1,) * (values.ndim - axis - 1))
    targets = indices.reshape(indices.shape[:axis] + (1,) + indices.shape[axis:])
    return api.where(targets == classes, values, 0.0).sum(axis=axis)


def _masked_reduce(losses: Tensor, kept, reduction: str) -> Tensor:
    """Reduce per-target losses, the ignored ones (kept False) counting as 0; the
    mean divides by the number kept (nan when none is: 0/0, as PyTorch)."""
    if kept is not None:
        losses = api.where(kept, losses, 0.0)
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    if kept is None:
        return total / losses.size
    # the count as an array, not a Python int: under gs.trace it is recorded, not read;
    # no target kept gives 0 / nan = nan (PyTorch's 0/0) without a division warning
    count = np.count_nonzero(kept)
    return total / np.where(np.greater(count, 0), count, np.nan).astype(losses.dtype)


def nll_loss(log_probs, target, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood -log_probs[n, t_n] of integer classes t.

    Shapes as PyTorch: log_probs (N, C) with t (N,), (C,) with a 0-d t, or
    (N, C, d1, ...) with t (N, d1, ...). A target equal to ``ignore_index``
    contributes 0 and no gradient; the mean is over the targets not ignored.

    Composite (the gather as a select of each target's entry and a sum over
    the class axis, a where for ignored targets, a sum and a division): each
    piece is an existing primitive with its own rule.
    """
    what = "nll_loss"
    ignore_index = _check_ignore_index(ignore_index, what)
    _check_reduction(reduction)
    x = _float_input(log_probs, what)
    axis = _class_axis(x, what)
    t = _array_of(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{what}: target must hold integer class indices, got dtype {t.dtype}")
    indices, kept = _class_indices(t, x, axis, ignore_index, what)
    _check_not_empty(t.size, t.shape, reduction, what)
    return _masked_reduce(-_pick(x, axis, indices), kept, reduction)


def _check_label_smoothing(label_smoothing, what: str) -> float:
    if not _is_number(label_smoothing):
        raise TypeError(f"{what}: label_smoothing must be a number, got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{what}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return float(label_smoothing)


def cross_entropy(
    input,
    target,
    reduction: str = "mean",
    *,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits against class indices or class probabilities.

    Logits (N, C) (also (C,) unbatched, or (N, C, d1, ...)); ``target`` holds
    integer class indices of the input's shape without the class axis, or
    class probabilities (floats in [0, 1]) of the input's own shape. With
    label smoothing e, the target distribution is (1 - e) onehot(t) + e/C
    (or (1 - e) p + e/C). Indices equal to ``ignore_index`` add 0 and no
    gradient, and "mean" averages over the others; probability targets are
    averaged over N (times d1...) and may require grad (their gradient is
    -log_softmax(x), scaled).

    Integer (N, C) targets with nothing ignored and no smoothing take one fused
    node (the gradient softmax(x) - onehot(t)); every other form is a composite
    of log_softmax and nll_loss (plus the smoothing term), whose rules exist.
    """
    what = "cross_entropy"
    _check_reduction(reduction)
    ignore_index = _check_ignore_index(ignore_index, what)
    smoothing = _check_label_smoothing(label_smoothing, what)
    x = _float_input(input, what)
    axis = _class_axis(x, what)
    if isinstance(target, Tensor) and target.dtype.kind == "f" and target.shape == x.shape:
        return _soft_cross_entropy(x, target, axis, reduction, ignore_index, smoothing)
    t = _array_of(target)
    if t.dtype.kind == "f" and t.shape == x.shape:
        return _soft_cross_entropy(x, t, axis, reduction, ignore_index, smoothing)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{what}: target must hold integer class indices, got dtype {t.dtype} "
            "(convert with .astype(int) if the values are whole numbers; class "
            f"probabilities must have the input's shape {x.shape})"
        )
    indices, kept = _class_indices(t, x, axis, ignore_index, what)
    _check_not_empty(t.size, t.shape, reduction, what)
    if x.ndim == 2 and kept is None and not smoothing:
        return api.cross_entropy_logits(x, indices, reduction)
    logp = api.log_softmax(x, axis)
    losses = -_pick(logp, axis, indices)
    if smoothing:
        uniform = -logp.mean(axis=axis)  # the loss against e/C on every class, over e
        losses = losses * (1.0 - smoothing) + uniform * smoothing
    return _masked_reduce(losses, kept, reduction)


def _soft_cross_entropy(x, target, axis, reduction, ignore_index, smoothing) -> Tensor:
    """-sum_c p_c log_softmax(x)_c with p = (1 - e) target + e/C, per sample."""
    what = "cross_entropy"
    if ignore_index >= 0:
        raise ValueError(
            f"{what}: ignore_index ({ignore_index}) applies to class indices, not to "
            "class-probability targets (PyTorch refuses it too)"
        )
    p = target
    _check_unit_interval(p.data if isinstance(p, Tensor) else p, what, "target")
    samples = math.prod(x.shape[:axis] + x.shape[axis + 1 :])
    _check_not_empty(samples, p.shape, reduction, what)
    if isinstance(p, Tensor):
        p = api.astype(p, x.dtype)
    else:
        p = p.astype(x.dtype, copy=False)
    if smoothing:
        p = p * (1.0 - smoothing) + smoothing / x.shape[axis]
    losses = -(api.log_softmax(x, axis) * p).sum(axis=axis)
    return _reduce(losses, reduction)
