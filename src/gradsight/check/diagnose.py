"""Naming the typical mistake: what a teaching assistant would say about a wrong gradient.

At the first divergence (else at the first mismatched parameter), the hand
gradient is tested against autograd's under the transforms a learner's
mistakes produce:

- a flipped sign: hand = -auto;
- a missing (or extra) 1/N: hand = N auto (auto / N), N a size of the data;
- a transpose: hand = auto.T;
- an activation's derivative swapped for another's: for Z feeding H = f(Z),
  hand = dL/dH * f_wrong where autograd has dL/dH * f' (tanh' written 1 - H,
  the sigmoid's derivative for tanh's, sigma'(z) applied to sigma(z), ...);
- a sum over the wrong axis: for a tensor broadcast into a sum (a bias),
  hand = the upstream gradient summed over other axes than the right ones;
- a forgotten path: for a tensor used twice, hand = what one of its uses
  sends back, without the other.

A transform fits when it matches the hand gradient at every element within
the check's tolerances (atol + rtol |expected|); it is named only when
exactly one transform fits. Otherwise nothing is said.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from gradsight.autograd import trace_backward

from .graph import source_node

__all__ = ["Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Diagnosis:
    """The one typical mistake that explains a row: its kind, in words, and the evidence."""

    name: str  # the row
    kind: str  # "sign" | "scale" | "transpose" | "activation" | "axis" | "path"
    text: str
    evidence: str

    def __str__(self) -> str:
        return f"likely mistake: {self.text} ({self.evidence})"


def _fits(hand, expected, atol, rtol) -> bool:
    expected = np.asarray(expected, dtype=np.float64)
    if hand.shape != expected.shape:
        if hand.size != expected.size:
            return False
        expected = expected.reshape(hand.shape)
    return bool(np.all(np.abs(hand - expected) <= atol + rtol * np.abs(expected)))


def _elementwise(name, hand, auto, sizes) -> list:
    """(kind, text, evidence, expected) for the transforms needing autograd's value only."""
    out = [("sign", f"the sign of d{name} is flipped", "hand = -autograd at every element",
            -auto)]  # fmt: skip
    for n in sorted(sizes):
        out.append(("scale", f"d{name} misses a factor 1/{n} (a mean over {n} taken as a sum)",
                    f"hand = {n} x autograd at every element", auto * n))  # fmt: skip
        out.append(("scale", f"d{name} has a factor 1/{n} too many",
                    f"hand = autograd / {n} at every element", auto / n))  # fmt: skip
    if auto.ndim == 2:
        out.append(("transpose", f"d{name} is transposed", "hand = autograd.T", auto.T))
    return out


# derivative written wrongly, by activation: (text, f_wrong(H, Z)); H = f(Z)
def _sig(x):
    return 1 / (1 + np.exp(-x))


_WRONG_DERIVATIVES = {
    "tanh": [
        ("tanh' written as 1 - {H} instead of 1 - {H}**2", lambda H, Z: 1 - H),
        ("the sigmoid's derivative {H}(1 - {H}) used for tanh's 1 - {H}**2",
         lambda H, Z: H * (1 - H)),
        ("tanh' applied to tanh(z): 1 - tanh({H})**2 instead of 1 - {H}**2",
         lambda H, Z: 1 - np.tanh(H) ** 2),
        ("tanh's derivative forgotten", lambda H, Z: np.ones_like(H)),
    ],
    "sigmoid": [
        ("tanh's derivative 1 - {H}**2 used for the sigmoid's {H}(1 - {H})", lambda H, Z: 1 - H**2),
        ("sigma'(z) applied to sigma(z): sigma({H})(1 - sigma({H})) instead of {H}(1 - {H})",
         lambda H, Z: _sig(H) * (1 - _sig(H))),
        ("the sigmoid's derivative written as {H} instead of {H}(1 - {H})", lambda H, Z: H),
        ("the sigmoid's derivative forgotten", lambda H, Z: np.ones_like(H)),
    ],
}  # fmt: skip


class _Graph:
    """The backward steps of the check's graph, looked up by node."""

    def __init__(self, loss):
        self.steps = trace_backward(loss)
        self.by_node = {s.node: s for s in self.steps}

    def downstream(self, node) -> list:
        """The steps of the ops computed from ``node``, nearest first."""
        reached, out = {node}, []
        for s in reversed(self.steps):  # the engine went loss first: reversed is inputs first
            if s.node not in reached and any(p in reached for p in s.node.parents if p):
                reached.add(s.node)
                out.append(s)
        return out

    def uses(self, node) -> list:
        """(consumer step, what it sent to ``node``) for every op reading ``node``."""
        out = []
        for s in self.steps:
            parents = s.node.parents
            for i, sent in s.sent:
                if parents[i] is node:
                    out.append((s, sent))
        return out


_ACTIVATIONS = {"tanh": np.tanh, "sigmoid": _sig}


def _activation(graph, node, name, tensors) -> list:
    """For Z feeding H = f(Z) (tanh or sigmoid, as an op or written out): wrong derivatives.

    H is the nearest value computed from Z that equals f(Z); dL/dH is the
    gradient backward brought it.
    """
    Z = getattr(node, "out", None)
    if Z is None:
        return []
    for step in graph.downstream(node):
        H = step.node.out
        if H is None or H.shape != Z.shape:
            continue
        for act, fn in _ACTIVATIONS.items():
            if np.allclose(H, fn(Z), rtol=1e-12, atol=1e-15):
                h_name = next(
                    (n for n, t in tensors.items() if t.grad_fn is step.node), f"{act}({name})"
                )
                g = np.asarray(step.grad)
                return [("activation", text.format(H=h_name),
                         f"hand = dL/d{h_name} x that, at every element", g * wrong(H, Z))
                        for text, wrong in _WRONG_DERIVATIVES[act]]  # fmt: skip
    return []


def _axes(graph, node, name, hand, shape) -> list:
    """Sums of a broadcasting consumer's upstream gradient over the wrong axes."""
    out = []
    for step, _sent in graph.uses(node):
        if step.node.prim is None or step.node.prim.name not in ("add", "sub"):
            continue
        G = np.asarray(step.grad)
        if G.shape == tuple(shape):
            continue
        for k in range(1, G.ndim + 1):
            for axes in itertools.combinations(range(G.ndim), k):
                s = G.sum(axis=axes)
                if s.size == hand.size:
                    out.append(("axis", f"d{name} sums the upstream gradient over axis "
                                f"{axes[0] if len(axes) == 1 else axes}",
                                f"hand = upstream.sum(axis={axes[0] if len(axes) == 1 else axes})",
                                s))  # fmt: skip
    return out


def _paths(graph, node, name) -> list:
    uses = graph.uses(node)
    if len(uses) < 2:
        return []
    out = []
    for step, sent in uses:
        op = _op(step.node)
        others = ", ".join(_op(u[0].node) for u in uses if u[0] is not step)
        text = f"d{name} keeps only the gradient through {op}: the path through {others} is missing"
        out.append(("path", text, f"hand = what {op} sends back to {name}, at every element", sent))
    return out


def _op(node) -> str:
    return node.prim.name if node.prim is not None else node.name


def _data_sizes(report, tensors) -> set:
    sizes = set()
    for t in tensors.values():
        sizes.update(d for d in t.shape if d > 1)
    return sizes


def diagnose(report, hand: dict, auto: dict, atol: float, rtol: float):
    """A Diagnosis for the row to look at, or None when no single typical mistake fits."""
    if report.graph is None or report.ok:
        return None
    row = report.first_divergence
    if row is None:
        row = next((r for r in report.rows if not r.ok and r.kind == "parameter"), None)
    if row is None or hand.get(row.name) is None:
        return None
    loss, tensors = report.graph
    h = np.asarray(hand[row.name], dtype=np.float64)
    a = np.asarray(auto[row.name], dtype=np.float64)
    if not np.all(np.isfinite(h)):
        return None
    graph = _Graph(loss)
    node = source_node(tensors[row.name])
    candidates = _elementwise(row.name, h, a, _data_sizes(report, tensors))
    candidates += _activation(graph, node, row.name, tensors)
    candidates += _axes(graph, node, row.name, h, a.shape)
    candidates += _paths(graph, node, row.name)
    if _fits(h, a, atol, rtol):
        return None
    fitting = [c for c in candidates if _fits(h, c[3], atol, rtol)]
    distinct = {c[1] for c in fitting}
    if len(distinct) != 1:
        return None
    kind, text, evidence, _ = fitting[0]
    return Diagnosis(row.name, kind, text, evidence)
