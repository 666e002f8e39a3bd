"""``backprop_steps``: a self-contained HTML page stepping through backward.

The page shows the forward graph (rendered by Graphviz, embedded as inline
SVG with generated element ids) and, for each step the engine takes, which
node's backward runs, the gradient it received (d loss / d its output), the
rule it applies and the gradients it sends to each input. The steps are
exactly ``gs.autograd.trace_backward(loss)``, the engine's own order.
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
from gradsight.autograd import graph_nodes

from . import labels as L
from .graph import _emit, choose_rankdir, new_drawing
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


def _values(a) -> str:
    """Every entry with 6 significant digits (small arrays), else a summary."""
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
    return f"shape {L.fmt_shape(a.shape)}\n‖g‖ = {L.fmt_number(L.grad_norm(a))}\n{L.summary(a)}"


def _describe(model: Model, tid: str) -> str:
    """How the page names a tensor: its name, or 'output of <op>', with its shape."""
    t = model.tensors[tid]
    shape = f", shape {L.fmt_shape(t.shape)}" if t.shape is not None else ""
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
):
    """A self-contained HTML page that steps through ``loss``'s backward pass:
    written to ``path``, or, without one, returned to show inline in Jupyter.

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
    model = build(loss, names, max(size, 1), want_grads=True, highlight=[])
    if not model.alive:
        raise RuntimeError(
            "backprop_steps needs the graph that backward() frees: call it before "
            "loss.backward(), or call loss.backward(retain_graph=True)"
        )
    root_id = model.node_ids[graph_nodes(loss)[0]]
    root_view = model.ops[root_id].out if root_id in model.ops else root_id
    loss_name = L.plain(model.tensors[root_view].name or "L", 40)
    steps = [_step_record(model, s, loss_name) for s in model.steps]
    page_title = L.plain(title if title is not None else "Backpropagation, step by step", 200)
    data = {
        "title": page_title,
        "intro": (
            f"{loss_name} = {L.fmt_number(loss.item())}. Backward starts from "
            f"∂{loss_name}/∂{loss_name} = 1 and visits {len(steps)} nodes in the "
            "order the engine does; press Next."
        ),
        "steps": steps,
    }
    fill = {
        "__TITLE__": html.escape(page_title),
        "__SVG__": _svg(model),
        "__DATA__": _json_for_script(data),
    }
    page = re.sub("__TITLE__|__SVG__|__DATA__", lambda m: fill[m.group(0)], TEMPLATE)
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
