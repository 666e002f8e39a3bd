"""``gs.autograd``: gradients as return values, anomaly detection, and your own ops.

Your own differentiable op is a ``Primitive`` (a NumPy forward and one VJP rule
per input, docs/engine.md section 2) run on Tensors with ``apply``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._core.arrays import is_duck_array, owned_copy
from ._core.engine import backward, run_backward
from ._core.grad_mode import detect_anomaly
from ._core.node import Primitive, parent_of
from ._core.node import apply as _apply
from ._core.tensor import Tensor, new_tensor

__all__ = [
    "grad",
    "backward",
    "detect_anomaly",
    "graph_nodes",
    "trace_backward",
    "trace_forward",
    "BackwardStep",
    "Primitive",
    "apply",
]


def _as_tuple(x, what: str) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, Sequence) and all(isinstance(t, Tensor) for t in x):
        return tuple(x)
    raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """d(outputs)/d(inputs) as a tuple of Tensors, without touching any ``.grad``.

    ``grad_outputs`` weights each output (required for non-scalar outputs);
    with ``create_graph=True`` the results are themselves differentiable.
    An input the outputs do not depend on raises unless ``allow_unused``,
    in which case its entry is None.
    """
    outputs = _as_tuple(outputs, "outputs")
    inputs = _as_tuple(inputs, "inputs")
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = (grad_outputs,)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"input {i} (shape {t.shape}) does not require grad")
    nodes = [parent_of(t) for t in inputs]
    captured = run_backward(outputs, grad_outputs, retain_graph, create_graph, capture=set(nodes))
    result = []
    for i, (t, node) in enumerate(zip(inputs, nodes)):
        if node not in captured:
            if not allow_unused:
                raise RuntimeError(
                    f"input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
            continue
        g, owned = captured[node]
        if create_graph:
            result.append(g if g.dtype == t.dtype else g.astype(t.dtype))
            continue
        if g.__class__ is not np.ndarray or not owned or g.dtype != t.dtype:
            g = owned_copy(g, t.dtype)  # (an array of a tool's too: gs.trace)
        g.flags.writeable = False
        result.append(new_tensor(g, None, False))
    return tuple(result)


def apply(prim: Primitive, *inputs, params: tuple = ()) -> Tensor:
    """Run the primitive ``prim`` on ``inputs`` and record it in the graph.

    ``inputs`` are Tensors, arrays or scalars, one per VJP rule of ``prim``;
    ``params`` are static arguments passed after them (an axis, a shape).
    The result is ``prim.forward(*arrays, *params)`` as a Tensor. When grad
    mode is on and an input requires grad, backward calls
    ``prim.vjps[i](F, g, out, *arrays, *params)`` for each input ``i`` that
    needs a gradient: ``g`` is d(loss)/d(out), the rule returns g · ∂out/∂input_i
    (the engine sums it back over broadcast axes).
    """
    if not isinstance(prim, Primitive):
        raise TypeError(f"apply needs a gs.autograd.Primitive, got {type(prim).__name__}")
    if prim.arity >= 0 and len(inputs) != prim.arity:
        raise TypeError(
            f"{prim.name} takes {prim.arity} input(s) (one per VJP rule), got {len(inputs)}"
        )
    if not isinstance(params, tuple):
        raise TypeError(f"params must be a tuple of static arguments, got {type(params).__name__}")
    return _apply(prim, inputs, *params)


def graph_nodes(root: Tensor) -> list:
    """Every node reachable from ``root``'s grad_fn (leaf accumulators included),
    in discovery order from the root (depth first, without recursion: not a
    topological order when paths share a node, e.g. a skip connection). Each node has
    ``name``, ``parents`` (nodes or None), ``output_meta()`` -> (shape, dtype),
    and a leaf accumulator has ``variable`` (the leaf Tensor)."""
    if not root.requires_grad:
        return []
    start = parent_of(root)
    order, seen, stack = [], {start}, [start]
    while stack:
        node = stack.pop()
        order.append(node)
        for p in node.parents:
            if p is not None and p not in seen:
                seen.add(p)
                stack.append(p)
    return order


class BackwardStep:
    """One node's turn in backward: the gradient it received and what it sent."""

    __slots__ = ("node", "grad", "sent")

    def __init__(self, node, grad, sent):
        self.node = node
        self.grad = grad  # ndarray: d(root)/d(this node's output)
        self.sent = sent  # list of (input index, ndarray) sent to node.parents[index]

    def __repr__(self) -> str:
        return f"<BackwardStep {self.node.name} -> {len(self.sent)} inputs>"


def trace_backward(root: Tensor, gradient=None) -> list:
    """Run backward from ``root`` without touching any ``.grad`` or freeing the
    graph, and return the steps in the order the engine took them."""
    steps = []

    def record(node, g, sent):
        steps.append(BackwardStep(node, g, sent))

    run_backward(
        (root,),
        None if gradient is None else (gradient,),
        True,
        False,
        capture=set(),
        on_step=record,
    )
    return steps


def trace_forward(root: Tensor, tangents) -> dict:
    """Forward mode over ``root``'s recorded graph, for one input direction.

    ``tangents`` maps Tensors of the graph (leaves or intermediate results) to a
    direction of their shape; every other leaf is held still. Returns a dict from
    each reached graph node (``graph_nodes(root)``'s objects, leaf accumulators
    included) to its tangent, d(its value)/dt along the direction, as an ndarray;
    a node the direction does not reach is absent (its tangent is zero). Nothing
    is changed or freed; the graph must still hold its saved arrays."""
    from ._core import forward as _fwd

    if not isinstance(root, Tensor):
        raise TypeError(f"trace_forward needs a Tensor, got {type(root).__name__}")
    if not hasattr(tangents, "items"):
        raise TypeError(f"tangents must map Tensors to directions, got {type(tangents).__name__}")
    seeds = {}
    for t, v in tangents.items():
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise TypeError(
                "tangents must map Tensors that are part of the graph (requiring grad) to "
                f"directions, got a key of type {type(t).__name__}"
                + ("" if not isinstance(t, Tensor) else " that does not require grad")
            )
        v = v.data if isinstance(v, Tensor) else v
        v = v if is_duck_array(v) else np.asarray(v)  # (gs.trace's arrays: not read)
        if v.shape != t.shape:
            raise ValueError(f"a direction of shape {v.shape} for a tensor of shape {t.shape}")
        seeds[_fwd.node_of(t)] = v.astype(t.dtype, copy=False)
    if not root.requires_grad:
        return {}
    nodes = _fwd.order([_fwd.node_of(root)], seeds)
    return _fwd.push(nodes, seeds, False)
