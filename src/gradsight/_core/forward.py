"""Forward mode on a recorded graph: tangents pushed from the inputs to the outputs.

The function runs once, recording its graph exactly as for backward (ordinary ops
pay nothing for forward mode: there is no tangent slot on Tensors and no check in
the op path). Then one pass visits the recorded nodes producers-first and applies
each primitive's JVP rule, ``prim.jvp(F, dots, out, *args) -> tangent of out``,
with ``dots`` the tangents of the node's inputs (None where zero). A node whose
inputs all have zero tangent is skipped.

The rules run on arrays (namespace ARRAY), or on Tensors with grad mode on when
forward mode is itself differentiated (jvp inside grad, jacfwd of jacfwd), so the
tangent computation is recorded like a create_graph backward.

A primitive without a JVP rule (a user's custom op) gets its JVP by transposing its
VJPs: the VJP is linear in its cotangent u, so J d = d/du <J^T u, d> (the
double-VJP trick), run through the rules in the TENSOR namespace.
"""

from __future__ import annotations

import numpy as np

from .engine import FREED_MESSAGE, _inputs_as_tensors, _namespace, run_backward
from .grad_mode import mode, set_mode
from .node import MANY_INPUTS, ONE_INPUT, parent_of
from .tensor import Tensor, new_tensor

ndarray = np.ndarray


def node_of(t: Tensor):
    """The node standing for ``t``'s value: its grad_fn, or its leaf accumulator."""
    return t.grad_fn or parent_of(t)


def order(roots, seeds) -> list:
    """Recorded nodes reachable from ``roots``, producers before consumers, without
    recursion; the walk stops at seeded nodes and at leaves (which hold no rule)."""
    out = []
    seen = set()
    stack = [(node, False) for node in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        if node in seeds or node.prim is None:
            continue
        stack.append((node, True))
        for p in node.parents:
            if p is not None and p not in seen:
                stack.append((p, False))
    return out


def push(nodes, seeds: dict, records: bool) -> dict:
    """Tangents of every node in ``nodes`` (from ``order``), given the seeds' tangents:
    a dict node -> tangent (an ndarray, or a Tensor when ``records``)."""
    F = _namespace(records)
    tangents = dict(seeds)
    get = tangents.get
    saved = mode.enabled
    if records:
        set_mode(True, mode.anomaly)
    try:
        for node in nodes:
            # Node.parents, inlined (see node.py): get(None) is None, as for a zero tangent
            p1 = node.p1
            if p1 is ONE_INPUT:
                d = get(node.p0)
                if d is None:
                    continue
                dots = (d,)
            elif p1 is MANY_INPUTS:
                dots = tuple([get(p) for p in node.p0])
                if all([d is None for d in dots]):
                    continue
            else:
                d0, d1 = get(node.p0), get(p1)
                if d0 is None and d1 is None:
                    continue
                dots = (d0, d1)
            args = node.args
            if args is None:
                raise RuntimeError(FREED_MESSAGE.format(name=node.name))
            if records:
                out = new_tensor(node.out, node, True)
                inputs = _inputs_as_tensors(node)
            else:
                out = node.out
                inputs = args
            rule = getattr(node.prim, "jvp", None)
            if rule is None:
                t = transposed_vjp(node, dots, out, inputs, records)
            else:
                t = rule(F, dots, out, *inputs)
            if t is not None:
                tangents[node] = fit(t, node.out, records)
    finally:
        set_mode(saved, mode.anomaly)
    return tangents


def fit(t, out: np.ndarray, records: bool):
    """A rule's result as a tangent of ``out``: its shape (broadcast) and dtype."""
    if records:
        from gradsight.ops import api

        t = api.as_tensor(t)
        if t.shape != out.shape:
            t = api.broadcast_to(t, out.shape)
        if t.dtype != out.dtype:
            t = api.astype(t, out.dtype)
        return t
    if t.__class__ is not ndarray:
        t = np.asarray(t)
    if t.shape != out.shape:
        t = np.broadcast_to(t, out.shape)
    if t.dtype != out.dtype:
        t = t.astype(out.dtype)
    return t


def transposed_vjp(node, dots, out, inputs, records: bool):
    """J d for a primitive with VJP rules only: d/du sum_i <vjp_i(u), d_i> at any u
    (the VJP is linear in u), each vjp_i run on Tensors so that it is recorded."""
    from gradsight.ops import api

    F = _namespace(True)
    prim = node.prim
    shape, dtype = node.out.shape, node.out.dtype
    u = new_tensor(np.zeros(shape, dtype), None, True)  # a dummy cotangent, a leaf
    saved = mode.enabled
    set_mode(True, mode.anomaly)
    try:
        total = None
        for i, d in enumerate(dots):
            if d is None:
                continue
            r = prim.vjps[i](F, u, out, *inputs)
            if not isinstance(r, Tensor) or not r.requires_grad:
                raise TypeError(
                    f"{prim.name} has no JVP rule, and its VJP rule for input {i} did not "
                    "record an operation on its gradient argument (it is not written in the "
                    "F namespace's operations), so forward mode cannot transpose it: give "
                    "the Primitive a jvp= rule"
                )
            in_shape = np.shape(node.args[i])
            if r.shape != in_shape:
                r = api.sum_to(r, in_shape)
            term = api.sum(r * d)
            total = term if total is None else total + term
        captured = run_backward((total,), None, True, records, capture={node_of(u)})
    finally:
        set_mode(saved, mode.anomaly)
    hit = captured.get(node_of(u))
    if hit is None:
        return np.zeros(shape, dtype)
    g = hit[0]
    if records:
        return g
    return g.data if isinstance(g, Tensor) else g
