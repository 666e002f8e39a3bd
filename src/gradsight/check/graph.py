"""The recorded graph, read by gs.check: dependency order, and replay with one value changed.

``forward_order(loss)`` lists the graph's nodes inputs first (every node after
all the nodes it reads), found without recursion. ``Replay`` recomputes the
loss with one node's output (an intermediate, or a parameter's accumulator)
replaced, by running each recorded primitive's NumPy forward again on the
nodes downstream of it: the loss as a function of that one value, which is
what one-sided derivatives at a kink need.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import parent_of
from gradsight._core.tensor import Tensor

__all__ = ["Replay", "first_divergence", "forward_order", "order_from_loss", "source_node"]


def source_node(t: Tensor):
    """The node standing for ``t`` in the graph: its grad_fn, or its leaf accumulator."""
    return t.grad_fn if t.grad_fn is not None else parent_of(t)


def forward_order(loss: Tensor) -> list:
    """Every node ``loss`` depends on, each after the nodes it reads (iterative post-order)."""
    start = source_node(loss)
    order, done, stack = [], set(), [(start, iter(start.parents))]
    seen = {start}
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if p is not None and p not in seen:
                seen.add(p)
                stack.append((p, iter(p.parents)))
                break
        else:
            stack.pop()
            done.add(node)
            order.append(node)
    return order


def order_from_loss(loss: Tensor, tensors: dict) -> list:
    """The names of ``tensors`` ordered from the loss back by dependency.

    A tensor comes before every tensor it was computed from, so in a loop over
    time steps the last step's state comes first (breadth-first distance would
    put every step's output at the same distance).
    """
    position = {node: i for i, node in enumerate(forward_order(loss))}
    ranked = [(position.get(source_node(t), -1), n) for n, t in tensors.items()]
    return [n for _, n in sorted(ranked, key=lambda r: -r[0])]


def first_divergence(loss: Tensor, tensors: dict, mismatched: set) -> str | None:
    """The mismatched tensor none of whose downstream tensors (towards the loss) mismatches.

    Walks the graph once from the loss back, carrying for each node whether a
    mismatched named tensor lies between it and the loss. Of several such
    tensors (parallel branches), the one nearest the loss in dependency order.
    """
    named = {source_node(t): n for n, t in tensors.items()}
    below: dict = {}  # node -> a mismatched named tensor lies downstream of it
    candidates = []
    for node in reversed(forward_order(loss)):
        name = named.get(node)
        downstream = below.get(node, False)
        if name in mismatched and not downstream:
            candidates.append(name)
        passes = downstream or name in mismatched
        for p in node.parents:
            if p is not None and passes:
                below[p] = True
    return candidates[0] if candidates else None


class Replay:
    """The loss recomputed from the recorded graph with one node's value changed."""

    def __init__(self, loss: Tensor):
        self.order = forward_order(loss)
        self.loss_node = source_node(loss)
        self.loss_value = float(np.asarray(loss.data).reshape(-1)[0])
        self._position = {node: i for i, node in enumerate(self.order)}

    def replayable(self, node) -> bool:
        return node in self._position and all(
            getattr(n, "args", None) is not None
            for n in self.order[self._position[node] + 1 :]
            if getattr(n, "prim", None) is not None
        )

    def loss_with(self, node, value: np.ndarray) -> float:
        """The loss when ``node``'s output is ``value`` (every other input as recorded)."""
        changed = {node: value}
        for n in self.order[self._position[node] + 1 :]:
            parents = n.parents
            if not any(p in changed for p in parents if p is not None):
                continue
            args = list(n.args)
            for i, p in enumerate(parents):
                if p is not None and p in changed:
                    args[i] = changed[p]
            changed[n] = n.prim.forward(*args)
        out = changed.get(self.loss_node)
        return self.loss_value if out is None else float(np.asarray(out).reshape(-1)[0])

    def ops_after(self, node) -> set:
        """Names of the primitives that read ``node``'s value, directly or further down."""
        reach, names = {node}, set()
        for n in self.order[self._position[node] + 1 :]:
            if any(p in reach for p in n.parents if p is not None):
                reach.add(n)
                names.add(n.prim.name)
        return names
