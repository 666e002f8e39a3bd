"""Finite differences, the independent witness: every coordinate, or a sample that scales.

Full: (f(p + eps e_i) - f(p - eps e_i)) / (2 eps) for every element of every
parameter: two forward calls per element (203,540 calls for a 784-128-10
network).

Witness: per parameter, ``DIRECTIONS`` random unit directions u (random signs,
scaled to length 1), each compared as (f(p + eps u) - f(p - eps u)) / (2 eps)
against autograd's g . u, plus central differences at the ``COORDINATES``
coordinates where hand and autograd differ most (there the witness says which
of the two is right; the row's worst index is among them). About
2 (DIRECTIONS + COORDINATES) forward calls per
parameter, whatever its size. A directional check sees an error of autograd
in any coordinate unless it happens to be orthogonal to both directions.

Either way a value passes when |autograd - fd| <= 1e-4 + 1e-3 |fd| (for a
direction, autograd's value is g . u).
"""

from __future__ import annotations

import numpy as np

__all__ = ["COORDINATES", "DIRECTIONS", "FULL_LIMIT", "finite_differences", "resolve_mode"]

DIRECTIONS = 2
COORDINATES = 4
FULL_LIMIT = 5000  # "auto": full finite differences up to this many parameter elements
FD_ATOL, FD_RTOL = 1e-4, 1e-3


class FDResult:
    """Finite differences for one parameter: values at the coordinates sampled, and the verdict."""

    def __init__(self, values: dict, errors: list, ok: bool):
        self.values, self.error, self.ok = values, float(max(errors, default=0.0)), bool(ok)

    def at(self, index: tuple) -> float:
        return self.values.get(tuple(index), float("nan"))


def resolve_mode(finite_differences, params: dict) -> str:
    """ "full", "witness" or "none" from the ``finite_differences`` argument."""
    if finite_differences is True or finite_differences == "full":
        return "full"
    if finite_differences is False or finite_differences is None:
        return "none"
    if finite_differences == "witness":
        return "witness"
    if finite_differences == "auto":
        size = sum(a.size for a in params.values())
        return "full" if size <= FULL_LIMIT else "witness"
    raise ValueError(
        "finite_differences must be 'auto', 'full' (or True), 'witness' or False, "
        f"got {finite_differences!r}"
    )


def _passes(auto: float, fd: float) -> bool:
    return abs(auto - fd) <= FD_ATOL + FD_RTOL * abs(fd)


def _central(loss, params: dict, name: str, direction: np.ndarray, eps: float) -> float:
    vals = []
    for step in (eps, -eps):
        trial = dict(params)
        trial[name] = params[name] + step * direction
        vals.append(loss(trial))
    return (vals[0] - vals[1]) / (2 * eps)


def _coordinate(loss, params: dict, name: str, index: tuple, eps: float) -> float:
    trial = dict(params)
    arr = trial[name] = params[name].copy()
    vals = []
    for step in (eps, -eps):
        arr[index] = params[name][index] + step
        vals.append(loss(trial))
    return (vals[0] - vals[1]) / (2 * eps)


def _full(loss, params: dict, auto: dict, eps: float) -> dict:
    out = {}
    for name, value in params.items():
        values, errors, ok = {}, [], True
        for i in np.ndindex(value.shape):
            fd = _coordinate(loss, params, name, i, eps)
            values[i] = fd
            errors.append(abs(auto[name][i] - fd))
            ok = ok and _passes(auto[name][i], fd)
        out[name] = FDResult(values, errors, ok)
    return out


def _largest_differences(hand, auto: np.ndarray, k: int, rtol: float) -> list:
    """The k coordinates furthest past the hand-vs-autograd tolerance (the row's worst first).

    Without a usable hand gradient: the k largest |autograd| entries.
    """
    hand = None if hand is None else np.asarray(hand, dtype=np.float64)
    if hand is None or hand.shape != auto.shape:
        gap = np.abs(auto)
    else:
        gap = np.abs(hand - auto) - rtol * np.abs(auto)
    gap = np.nan_to_num(gap, nan=np.inf).reshape(-1)
    top = np.argsort(-gap, kind="stable")[:k]
    return [tuple(int(j) for j in np.unravel_index(int(i), auto.shape)) for i in top]


def _witness(loss, params: dict, hand: dict, auto: dict, eps: float, rtol: float) -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for name, value in params.items():
        values, errors, ok = {}, [], True
        for i in _largest_differences(hand.get(name), auto[name], COORDINATES, rtol):
            fd = _coordinate(loss, params, name, i, eps)
            values[i] = fd
            errors.append(abs(auto[name][i] - fd))
            ok = ok and _passes(auto[name][i], fd)
        for _ in range(DIRECTIONS):
            u = rng.choice([-1.0, 1.0], size=value.shape) / np.sqrt(max(value.size, 1))
            fd = _central(loss, params, name, u, eps)
            along = float(np.sum(auto[name] * u))
            errors.append(abs(along - fd))
            ok = ok and _passes(along, fd)
        out[name] = FDResult(values, errors, ok)
    return out


def finite_differences(mode, loss, params: dict, hand: dict, auto: dict, eps: float, rtol: float):
    """({name: FDResult}, what was sampled in words) for ``mode``."""
    if mode == "none":
        return {}, "finite differences skipped"
    if mode == "full":
        return _full(loss, params, auto, eps), f"finite differences eps={eps:g}"
    n = sum(a.size for a in params.values())
    sampled = sum(min(COORDINATES, a.size) for a in params.values())
    text = (
        f"finite differences eps={eps:g}, witness: per parameter {DIRECTIONS} random directions "
        f"and the {COORDINATES} coordinates where hand and autograd differ most "
        f"({sampled} of {n} coordinates)"
    )
    return _witness(loss, params, hand, auto, eps, rtol), text
