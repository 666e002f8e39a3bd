"""Kinks and ties: where hand and autograd may both be right and still differ.

At a point where the forward is not differentiable (relu or abs at 0, a tie
in maximum / max / pooling / sort, clip at a bound) there is no one gradient:
autograd picks one subgradient (it splits a tie evenly, relu'(0) = 0), a hand
backward often another (the first argmax gets it all). Such a difference is
not a mistake when, at the coordinates where the two differ:

- each hand value lies between the left and the right one-sided derivative
  of the loss along that coordinate (and these two differ: a kink), and
- along the direction moving all of those coordinates together (and along two
  random positive mixes of them) the hand's directional value lies between
  the two one-sided directional derivatives: over a tie set the hand's split
  must be non-negative and sum to the upstream gradient. The coordinates are
  grouped by orientation (right derivative above or below the left one) so
  that the one-sided values of separate tie sets add up.

The one-sided derivatives come from replaying the recorded graph with the
value moved (second-order one-sided differences). Anything else is a MISMATCH,
also at a kink.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Replay

# The primitives whose forward has kinks or ties, by their recorded names. One
# table, so that it can later come from the op declarations themselves.
KINK_OPS = frozenset(
    {
        "relu",
        "abs",
        "maximum",
        "minimum",
        "fmax",
        "fmin",
        "max",
        "min",
        "clip",
        "sort",
        "max_pool",
        "max_pool2d",
        "maxpool",
    }  # fmt: skip
)
MAX_COORDS = 512  # more differing coordinates than this: not tested, a MISMATCH
_STEP = 1e-6


@dataclass(frozen=True)
class KinkPoint:
    """One coordinate where hand and autograd chose different subgradients."""

    index: tuple
    hand: float
    auto: float
    left: float  # one-sided derivatives of the loss along this coordinate
    right: float


@dataclass(frozen=True)
class KinkFinding:
    """Why a row's difference is no mistake: the ops with kinks and the points."""

    ops: tuple
    points: tuple  # KinkPoint, all of them

    def describe(self, name: str) -> str:
        p = self.points[0]
        more = f" (and {len(self.points) - 1} more)" if len(self.points) > 1 else ""
        return (
            f"{name} differs only at kinks/ties of {', '.join(self.ops)}: at {p.index}{more} "
            f"the one-sided derivatives are {p.left:.6g} (left) and {p.right:.6g} (right); "
            f"hand chose {p.hand:.6g}, autograd {p.auto:.6g}: both are subgradients"
        )


def _one_sided(replay: Replay, node, base: np.ndarray, direction: np.ndarray) -> tuple:
    """(left, right) derivatives of the loss along ``direction`` from ``base``."""
    h = _STEP * max(1.0, float(np.max(np.abs(base[direction != 0]))))
    f0 = replay.loss_value

    def at(k):
        return replay.loss_with(node, base + (k * h) * direction)

    right = (-3 * f0 + 4 * at(1) - at(2)) / (2 * h)
    left = (3 * f0 - 4 * at(-1) + at(-2)) / (2 * h)
    return left, right, 64 * np.finfo(float).eps * (abs(f0) + 1) / h


def _between(value: float, left: float, right: float, noise: float, atol: float) -> bool:
    tol = max(atol, 1e-7) + 1e-4 * max(abs(left), abs(right)) + noise
    return min(left, right) - tol <= value <= max(left, right) + tol


def _is_kink(left: float, right: float, noise: float, atol: float) -> bool:
    return abs(right - left) > max(atol, 1e-7) + 1e-4 * max(abs(left), abs(right)) + noise


def _sums_respected(replay, node, base, hand, members, atol) -> bool:
    """Along directions moving ``members`` together, hand . u lies between the one-sided values.

    Over a tie set this says the hand's split sums to the upstream gradient.
    Coordinates are grouped by orientation (right above left or below) so that
    the directional one-sided derivatives of separate tie sets add up.
    """
    rng = np.random.default_rng(0)
    mixes = [members.astype(float)]
    mixes += [members * rng.uniform(0.5, 1.5, base.shape) for _ in range(2)]
    for u in mixes:
        left, right, noise = _one_sided(replay, node, base, u)
        if not _between(float(np.sum(hand * u)), left, right, noise * members.sum(), atol):
            return False
    return True


def explain(replay: Replay | None, node, base, hand, auto, failing, atol) -> KinkFinding | None:
    """A KinkFinding when every failing coordinate is a kink the hand value respects."""
    if replay is None or node is None or not replay.replayable(node):
        return None
    ops = tuple(sorted(replay.ops_after(node) & KINK_OPS))
    where = np.argwhere(failing)
    if not ops or not 0 < len(where) <= MAX_COORDS:
        return None
    base = np.asarray(base, dtype=np.float64)
    points = []
    for idx in map(tuple, where):
        e = np.zeros_like(base)
        e[idx] = 1.0
        left, right, noise = _one_sided(replay, node, base, e)
        respected = _between(hand[idx], left, right, noise, atol)
        if not (_is_kink(left, right, noise, atol) and respected):
            return None
        points.append(KinkPoint(tuple(int(i) for i in idx), float(hand[idx]), float(auto[idx]),
                                float(left), float(right)))  # fmt: skip
    for cls in (+1, -1):  # coordinates whose right derivative is above / below their left one
        members = np.zeros(base.shape, dtype=bool)
        for p in points:
            members[p.index] = np.sign(p.right - p.left) == cls
        if members.sum() > 1 and not _sums_respected(replay, node, base, hand, members, atol):
            return None
    return KinkFinding(ops, tuple(points))
