"""``backprop_steps``: a self-contained HTML page stepping through backward.

The page shows the forward graph (rendered by Graphviz, embedded as inline
SVG with generated element ids) and, for each step the engine takes, which
node's backward runs, the gradient it received (d loss / d its output), the
rule it applies and the gradients it sends to each input. The steps are
exactly ``gs.autograd.trace_backward(loss)``, the engine's own order.

With ``tangents=`` the page plays a forward-mode pass instead: the same graph
walked inputs first, each step showing a node's value and its tangent (its
derivative along the chosen input direction, ``gs.autograd.trace_forward``).
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from pathlib import Path

import graphviz
import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.autograd import graph_nodes, trace_forward

from . import labels as L
from .graph import _emit, _resolve_tangents, choose_rankdir, new_drawing
from .model import Model, build
from .page import TEMPLATE
from .params import Names
from .render import INSTALL_HELP

MAX_VALUES = 64  # arrays up to this size are printed in full on the page
# how a tensor without a name is called (names come from params=)
UNNAMED = {"leaf": "unnamed leaf (pass params= to name it)", "const": "constant"}

# what each backward rule computes, for the teaching panel (g: incoming gradient)
RULES = {
    "add": "∂a = g, ∂b = g (summed over broadcast axes)",
    "sub": "∂a = g, ∂b = −g (summed over broadcast axes)",
    "mul": "∂a = g·b, ∂b = g·a",
    "div": "∂a = g / b, ∂b = −g·a / b²",
    "pow": "∂a = g·b·a^(b−1), ∂b = g·a^b·ln a",
    "neg": "∂x = −g",
    "matmul": "∂A = g @ Bᵀ, ∂B = Aᵀ @ g",
    "linear": "y = x Wᵀ + b: ∂x = g W, ∂W = gᵀ x, ∂b = g summed over rows",
    "sigmoid": "y = σ(z): ∂z = g·y·(1 − y)",
    "tanh": "y = tanh z: ∂z = g·(1 − y²)",
    "relu": "∂z = g where z > 0, else 0",
    "exp": "y = eᶻ: ∂z = g·y",
    "log": "∂z = g / z",
    "sqrt": "y = √z: ∂z = g / (2y)",
    "mean": "∂x = g / N, spread over the N averaged entries",
    "sum": "∂x = g, broadcast back over the summed axes",
    "reshape": "∂x = g reshaped back",
    "transpose": "∂x = g transposed back",
}

# what each forward-mode (JVP) rule computes; a dot marks a tangent, ẋ = dx/dt
JVP_RULES = {
    "add": "ẏ = ȧ + ḃ (broadcast like the values)",
    "sub": "ẏ = ȧ − ḃ (broadcast like the values)",
    "mul": "ẏ = ȧ·b + a·ḃ",
    "div": "ẏ = ȧ / b − a·ḃ / b²",
    "pow": "ẏ = b·a^(b−1)·ȧ + a^b·ln a·ḃ",
    "neg": "ẏ = −ẋ",
    "matmul": "ẏ = Ȧ @ B + A @ Ḃ",
    "linear": "y = x Wᵀ + b: ẏ = ẋ Wᵀ + x Ẇᵀ + ḃ",
    "sigmoid": "y = σ(z): ẏ = y·(1 − y)·ż",
    "tanh": "y = tanh z: ẏ = (1 − y²)·ż",
    "relu": "ẏ = ż where z > 0, else 0",
    "exp": "y = eᶻ: ẏ = y·ż",
    "log": "ẏ = ż / z",
    "sqrt": "y = √z: ẏ = ż / (2y)",
    "mean": "ẏ = the mean of ẋ over the same entries",
    "sum": "ẏ = the sum of ẋ over the same axes",
    "reshape": "ẏ = ẋ reshaped the same way",
    "transpose": "ẏ = ẋ transposed the same way",
}

BACKWARD_HINT = """Step through the backward pass: buttons, the slider, or the arrow keys
(&larr; &rarr;, Home, End). Red: the node whose backward runs now and the edges its
gradients go along; orange: the gradient it received; green: nodes already done."""
FORWARD_HINT = """Step through a forward-mode pass: buttons, the slider, or the arrow keys
(&larr; &rarr;, Home, End). Red: the node computed now, its result and the edges its
inputs' tangents come along; orange: those inputs; green: nodes already done."""


def _values(a, symbol: str = "g") -> str:
    """Every entry with 6 significant digits (small arrays), else a summary
    (``symbol`` names the array in its norm, ``‖g‖``)."""
    a = np.asarray(a)
    if a.size <= MAX_VALUES:
        text = np.array2string(
            a,
            separator=", ",
            threshold=MAX_VALUES + 1,
            max_line_width=100,
            formatter={"float_kind": lambda v: f"{v:.6g}"},
        )
        return f"{text}   shape {L.fmt_shape(a.shape)}"
    # one fact a line: the summary never needs a wide column
    norm = L.fmt_number(L.grad_norm(a))
    return f"shape {L.fmt_shape(a.shape)}\n‖{symbol}‖ = {norm}\n{L.summary(a)}"


def _describe(model: Model, tid: str, with_shape: bool = True) -> str:
    """How the page names a tensor: its name, or 'output of <op>', with its shape."""
    t = model.tensors[tid]
    shape = f", shape {L.fmt_shape(t.shape)}" if t.shape is not None and with_shape else ""
    if t.name is not None:
        return f"{L.plain(t.name)}{shape}"
    for op in model.ops.values():
        if op.out == tid:
            return f"output of {op.title}{shape}"
    return f"{UNNAMED.get(t.role, t.role)}{shape}"


def _step_record(model: Model, step, loss_name: str) -> dict:
    node = step.node
    did = model.node_ids[node]
    if node.prim is None:  # a leaf: the gradient lands in .grad
        who = _describe(model, did)
        return {
            "title": f"AccumulateGrad: {who}",
            "nodes": ["gs_" + did],
            "received_ids": [],
            "targets": [],
            "edges": [],
            "received_text": f"∂{loss_name}/∂({who}), now added to its .grad:",
            "received": _values(step.grad),
            "rule": "",
            "sent": [],
            "note": "A leaf: nothing to send further; backward() accumulates this into .grad.",
        }
    op = model.ops[did]
    sent, targets, edges = [], [], []
    for i, g in step.sent:
        edge = model.input_edges[node, i]
        targets.append("gs_" + edge.src)
        edges.append("gs_" + edge.id)
        sent.append(
            {"to": f"Sent to input {i} ({_describe(model, edge.src)}):", "value": _values(g)}
        )
    return {
        "title": op.bname,
        "nodes": ["gs_" + op.id],
        "received_ids": ["gs_" + op.out],
        "targets": targets,
        "edges": edges,
        "received_text": f"Received ∂{loss_name}/∂({_describe(model, op.out)}):",
        "received": _values(step.grad),
        "rule": RULES.get(node.prim.name, ""),
        "sent": sent,
        "note": "",
    }


def _producers_first(root_node) -> list:
    """Every node of the graph, each after all of its inputs: a post-order walk
    from the root, inputs in argument order (the order the program ran them),
    with an explicit stack instead of recursion."""
    order, seen = [], {root_node}
    stack = [(root_node, iter(root_node.parents))]
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if p is not None and p not in seen:
                seen.add(p)
                stack.append((p, iter(p.parents)))
                break
        else:  # every input is done: this node's turn
            stack.pop()
            order.append(node)
    return order


def _forward_record(model: Model, node, tangent, reached: bool, out_edges: dict) -> dict:
    """One forward-mode step: a node's value and its tangent (``reached``: the
    direction reaches it, else its tangent is 0)."""
    did = model.node_ids[node]
    if node.prim is None:  # a leaf: its tangent is the given direction, or 0
        who, short = _describe(model, did), _describe(model, did, with_shape=False)
        moved = "the direction given in tangents=" if reached else "0, held still"
        return {
            "title": f"Leaf: {who}",
            "nodes": ["gs_" + did],
            "received_ids": [],
            "targets": [],
            "edges": [],
            "received_text": f"Value of {who}:",
            "received": _values(model.tensors[did].data),
            "rule": "",
            "sent": [{"to": f"Tangent d({short})/dt, {moved}:", "value": _values(tangent, "ẋ")}],
            "note": "",
        }
    op = model.ops[did]
    inputs, edges, constants = [], [], 0
    for i, _ in enumerate(node.parents):
        edge = model.input_edges.get((node, i))
        if edge is None:  # a constant input (data, targets, exponents): tangent 0
            constants += 1
            continue
        inputs.append("gs_" + edge.src)
        edges.append("gs_" + edge.id)
    who, short = _describe(model, op.out), _describe(model, op.out, with_shape=False)
    return {
        "title": op.title,
        "nodes": ["gs_" + op.id, "gs_" + op.out],
        "received_ids": inputs,
        "targets": [],
        "edges": edges + ["gs_" + out_edges[op.id]],
        "received_text": f"Value of {who}:",
        "received": _values(model.tensors[op.out].data),
        "rule": JVP_RULES.get(node.prim.name, ""),
        "sent": [{"to": f"Tangent d({short})/dt:", "value": _values(tangent, "ẏ")}],
        "note": "Its constant inputs have tangent 0." if constants else "",
    }


def _value_id(model: Model, node) -> str:
    """The drawn tensor holding a node's value: a leaf's own box or an op's output."""
    did = model.node_ids[node]
    return model.ops[did].out if did in model.ops else did


def _forward_steps(model: Model, loss: Tensor, names: Names, tangents, loss_name: str):
    """(steps, intro, why) for the forward-mode page along ``tangents``."""
    seeds = _resolve_tangents(tangents, names)
    if not seeds:
        raise ValueError("tangents is empty: give at least one input and its direction")
    by_node = trace_forward(loss, seeds)
    nodes = _producers_first(graph_nodes(loss)[0])
    out_edges = {e.src: e.id for e in model.edges if e.src in model.ops}
    steps = []
    for node in nodes:
        view = model.tensors[_value_id(model, node)]
        tangent = by_node.get(node)
        if tangent is None:  # the direction does not reach this node
            tangent = np.zeros(view.shape, view.dtype)
        steps.append(_forward_record(model, node, tangent, node in by_node, out_edges))
    dloss = by_node.get(nodes[-1])
    dloss = 0.0 if dloss is None else float(np.asarray(dloss).reshape(-1)[0])
    elements = sum(np.size(n.variable.data) for n in nodes if n.prim is None)
    intro = (
        f"{loss_name} = {L.fmt_number(loss.item())}. Forward mode starts from the inputs: "
        "the tensors in tangents= move along the given direction, every other leaf stays "
        f"still, and each of the {len(steps)} steps computes a node's value and its tangent "
        "(a dot marks a tangent: ẋ = dx/dt), every input before the nodes that use it; "
        "press Next."
    )
    why = (
        f"One forward pass gives d{loss_name}/dt = {L.fmt_number(dloss)}, the derivative "
        f"along ONE direction; the whole gradient would take {elements:,} forward passes "
        f"(one per parameter element), while one backward pass gives all {elements:,} "
        f"entries at once: for a scalar loss, reverse mode wins."
    )
    return steps, intro, why


def _svg(model: Model) -> str:
    """The forward graph as inline SVG (no XML prolog), or a notice when dot is missing."""
    g = new_drawing("backprop", choose_rankdir(model))
    _emit(g, model, show_data=False, show_grad=False, backward=False, color_by_grad=False)
    try:
        svg = g.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        notice = "The graph picture needs Graphviz's dot program. " + INSTALL_HELP
        return f'<pre id="no-graphviz">{html.escape(notice)}</pre>'
    return svg[svg.index("<svg") :]


def _json_for_script(obj) -> str:
    """JSON that cannot end the <script> element it sits in."""
    text = json.dumps(obj, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class StepPage:
    """A step-through page in memory, as ``backprop_steps(loss)`` returns it.

    ``html`` is the self-contained page; ``save(path)`` writes it. In Jupyter the
    page shows inline: ``_repr_html_`` puts it in an iframe (``srcdoc``, escaped;
    ``sandbox="allow-scripts"``: its script runs, but apart from the notebook),
    ``height`` pixels tall.
    """

    def __init__(self, html_text: str, title: str, steps: int, height: int = 720):
        self.html = html_text
        self.title = title
        self.steps = steps
        self.height = height

    def save(self, path) -> Path:
        """Write the page to ``path`` (replaced atomically); returns the path."""
        return _write_atomic(Path(path), self.html)

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            f'title="{html.escape(self.title, quote=True)}" sandbox="allow-scripts" '
            f'style="width: 100%; height: {int(self.height)}px; border: 1px solid #ddd;">'
            "</iframe>"
        )

    def __repr__(self) -> str:
        return f"<gs.viz step-through page {self.title!r}: {self.steps} steps>"


def backprop_steps(
    loss: Tensor,
    path=None,
    *,
    params=None,
    title: str | None = None,
    max_nodes: int = 300,
    tangents=None,
):
    """A self-contained HTML page that steps through ``loss``'s backward pass
    (or, with ``tangents``, a forward-mode pass): written to ``path``, or,
    without one, returned to show inline in Jupyter.

    Parameters
    ----------
    loss : Tensor
        A single-element result whose graph is alive: call this before
        ``loss.backward()`` (or after ``backward(retain_graph=True)``).
        ``.grad`` is not touched.
    path : str or PathLike, optional
        Where to write the page (replaced atomically). Without it the page is
        returned as a ``StepPage``: a notebook cell ending in
        ``gs.viz.backprop_steps(loss)`` shows it.
    params : Module or mapping name -> Tensor, optional
        Names for parameters and other tensors (see ``draw_graph``).
    title : str, optional
        The page title (shown literally).
    max_nodes : int
        Larger graphs raise ValueError (one step per node would not be readable).
    tangents : mapping Tensor (or name in ``params``) -> array, optional
        Play a forward-mode pass instead of backward: the given tensors move
        along the given directions (same shapes), every other leaf stays still,
        and the steps walk the graph inputs first, each showing a node's value
        and its tangent d(node)/dt (``gs.autograd.trace_forward``). The loss's
        tangent is the directional derivative ⟨∇loss, direction⟩; the page
        counts the forward passes the whole gradient would take (one per
        parameter element) against backward's one.

    Returns
    -------
    pathlib.Path or StepPage
        The path written; without ``path``, the page (``.html``, ``.save(path)``).
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"backprop_steps needs a Tensor, got {type(loss).__name__}")
    if loss.data.size != 1:
        raise ValueError(f"backprop_steps needs a single-element loss, got shape {loss.shape}")
    if not loss.requires_grad:
        raise ValueError("the loss does not require grad: there is no backward pass to show")
    size = len(graph_nodes(loss))
    if size > max_nodes:
        raise ValueError(
            f"the graph has {size:,} nodes, more than max_nodes={max_nodes:,}; step-through "
            "pages are for small graphs (pass a larger max_nodes to force it)"
        )
    names = Names(params)
    forward = tangents is not None
    model = build(loss, names, max(size, 1), want_grads=not forward, highlight=[])
    if not model.alive:
        raise RuntimeError(
            "backprop_steps needs the graph that backward() frees: call it before "
            "loss.backward(), or call loss.backward(retain_graph=True)"
        )
    root_id = model.node_ids[graph_nodes(loss)[0]]
    root_view = model.ops[root_id].out if root_id in model.ops else root_id
    loss_name = L.plain(model.tensors[root_view].name or "L", 40)
    if forward:
        steps, intro, why = _forward_steps(model, loss, names, tangents, loss_name)
        steps[-1]["note"] = why  # said again where the pass ends, at the loss
        default_title, before, hint = "Forward mode, step by step", "Before forward", FORWARD_HINT
        intro = f"{intro} {why}"
    else:
        steps = [_step_record(model, s, loss_name) for s in model.steps]
        default_title, before = "Backpropagation, step by step", "Before backward"
        hint = BACKWARD_HINT
        intro = (
            f"{loss_name} = {L.fmt_number(loss.item())}. Backward starts from "
            f"∂{loss_name}/∂{loss_name} = 1 and visits {len(steps)} nodes in the "
            "order the engine does; press Next."
        )
    page_title = L.plain(title if title is not None else default_title, 200)
    data = {"title": page_title, "before": before, "intro": intro, "steps": steps}
    if forward:
        data["why"] = why
    fill = {
        "__TITLE__": html.escape(page_title),
        "__HINT__": hint,
        "__SVG__": _svg(model),
        "__DATA__": _json_for_script(data),
    }
    page = re.sub("__TITLE__|__HINT__|__SVG__|__DATA__", lambda m: fill[m.group(0)], TEMPLATE)
    if path is None:
        return StepPage(page, page_title, len(steps))
    return _write_atomic(Path(path), page)


def _write_atomic(path: Path, text: str) -> Path:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=".gs-", suffix=".html.tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a page is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
