"""``draw_graph``: the computation graph of a Tensor as a Graphviz Digraph.

Forward (``direction="forward"``): leaf and constant tensors flow into op
nodes (ellipses, named after the primitive: ``linear``, ``sigmoid``, ``mul ×``),
each op into its output tensor (boxes: name, shape, dtype, values, gradient).
Backward (``direction="backward"``): the same tensors and ops with the edges
reversed, ops named after their backward function (``SigmoidBackward``) and
each edge labelled with what that backward sends to that input.

Module clusters: a parameter named ``layers.0.weight`` belongs to module
``layers.0``; an op whose parameter inputs all belong to one module (or share
a module prefix) is drawn inside that module's cluster, with its output.
Ops without parameter inputs (activations, the loss) stay outside. Only
modules holding drawn nodes get a box; such a box inside another one nests.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.autograd import trace_forward

from . import labels as L
from .model import Model, TensorView, build
from .params import Names, highlight_names, resolve_highlight
from .render import Drawing

DEFAULT_MAX_NODES = 500
RANKDIRS = ("auto", "LR", "RL", "TB", "BT")
RANK_WIDTH = 110  # points one rank takes across, labels and spacing included (measured)
SCREEN_WIDTH = 900  # points: a laptop browser window's width, about 1,200 px
FONT = "Helvetica"
HOT = "#d62728"

# gradient magnitude (root-mean-square of the entries) -> colour, on a log scale
GRAD_BUCKETS = (
    (1e-6, "#4575b4", "vanishing: rms < 1e-6"),
    (1e-3, "#abd9e9", "small: 1e-6 ≤ rms < 1e-3"),
    (1e1, "#a6d96a", "normal: 1e-3 ≤ rms < 10"),
    (1e3, "#fdae61", "large: 10 ≤ rms < 1e3"),
    (math.inf, "#f46d43", "exploding: rms ≥ 1e3"),
)
NONFINITE = ("#9e0142", "nan or inf")

_FILL = {"param": "#fff2cc", "leaf": "#e8f0fe", "const": "#f3f3f3", "output": "#ffffff"}
_TITLE = {"param": None, "leaf": "leaf", "const": "constant", "output": None}


def grad_color(g: np.ndarray) -> str:
    """The legend colour for a gradient's rms magnitude."""
    if not np.all(np.isfinite(g)):
        return NONFINITE[0]
    r = L.rms(g)
    for limit, color, _ in GRAD_BUCKETS:
        if r < limit:
            return color
    return GRAD_BUCKETS[-1][1]


def draw_graph(
    root: Tensor,
    *,
    params=None,
    show_data: bool = False,
    show_grad: bool = True,
    direction: str = "forward",
    rankdir: str = "auto",
    max_nodes: int = DEFAULT_MAX_NODES,
    highlight=None,
    color_by_grad: bool = False,
    tangents=None,
) -> Drawing:
    """Draw the graph that computed ``root``.

    Parameters
    ----------
    root : Tensor, or a gs.check.backprop report
        Usually the loss. A report draws the graph its check recorded, its
        parameters and intermediates named, the first divergence (else the
        mismatched tensors) and its path to the loss highlighted. Its graph
        is read, never changed; ``.grad`` is not touched.
    params : Module or mapping name -> Tensor, optional
        Names for parameters (matched by identity) and module clusters.
    show_data : bool
        Show values (up to 8 entries) or min/mean/max of each tensor.
    show_grad : bool
        Show gradients: leaves show ``.grad`` (values up to 8 entries, else the
        norm); other tensors show d(root)/d(tensor), computed by a traced
        backward while the graph is alive (not after ``backward()`` freed it).
        For a non-scalar root the gradients are those of ``root.sum()``.
    direction : "forward" or "backward"
        ``backward`` reverses the edges and labels each with the gradient
        that op's backward sends to that input.
    rankdir : "LR", "RL", "TB", "BT" or "auto"
        Graphviz layout direction. ``auto`` estimates the drawing's size from
        the graph's shape (ranks along the longest path, nodes per rank) and
        draws left to right when that fits a laptop screen's width (about
        900 pt), else in whichever direction is narrower (usually top to
        bottom for a long chain of layers).
    max_nodes : int
        Graphs with more autograd nodes get long chains collapsed into one
        "… N more nodes …" node; if that is still too many, ValueError.
    highlight : gs.check report, name, or iterable of names, optional
        These parameters and every path from them to ``root`` are drawn in red.
    color_by_grad : bool
        Fill tensors and colour edges by gradient magnitude, the root-mean-square
        ``sqrt(mean(g²))`` of the entries, with a legend; gradient labels then
        state that rms (``rms(g) = …``) instead of the norm ``‖g‖``.
    tangents : mapping Tensor (or name in ``params``) -> array, optional
        A forward-mode pass: each tensor shows its tangent, d(tensor)/dt as the
        given inputs move along the given directions (same shapes) and every
        other leaf stays still, computed by ``gs.autograd.trace_forward`` while
        the graph is alive. Pair it with ``show_grad=False`` to see forward mode
        alone.

    Returns
    -------
    Drawing
        A ``graphviz.Digraph``: ``.source`` is the DOT text; ``.pipe("svg")``,
        ``.render(...)`` and Jupyter display use Graphviz's ``dot`` program.
    """
    if callable(getattr(root, "graph_for_drawing", None)):  # a gs.check report: its own graph
        root, params, first = root.graph_for_drawing()
        highlight = first if highlight is None else highlight
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(
            f"rankdir must be one of {', '.join(map(repr, RANKDIRS))}, got {rankdir!r}"
        )
    names = Names(params)
    hot_tensors = resolve_highlight(highlight, names)
    backward = direction == "backward"
    want_grads = show_grad or backward or color_by_grad
    model = build(root, names, max_nodes, want_grads, hot_tensors)
    if tangents is not None:
        _attach_tangents(model, trace_forward(root, _resolve_tangents(tangents, names)))
    if rankdir == "auto":
        rankdir = choose_rankdir(model, backward)
    g = new_drawing("gradsight", rankdir)
    _emit(g, model, show_data, show_grad, backward, color_by_grad)
    notes = _notes(model, want_grads, highlight, color_by_grad, max_nodes, tangents is not None)
    if notes:
        g.attr(label=notes, labelloc="b", labeljust="l")
    return g


TANGENT_NOTE = "tangent: d(tensor)/dt along the chosen input direction (forward mode)"


def _resolve_tangents(tangents, names: Names) -> dict:
    """{Tensor: direction} from a mapping keyed by Tensors or by names in ``params``."""
    if not hasattr(tangents, "items"):
        raise TypeError(f"tangents must be a mapping, got {type(tangents).__name__}")
    out = {}
    for key, v in tangents.items():
        if isinstance(key, str):
            if key not in names.tensors:
                known = ", ".join(sorted(names.tensors)) or "none"
                raise ValueError(f"tangents names {L.plain(repr(key))}, not in params ({known})")
            key = names.tensors[key]
        out[key] = v
    return out


def _attach_tangents(model: Model, by_node: dict) -> None:
    """Each drawn tensor's tangent (zeros where the direction does not reach it)."""
    for node, did in model.node_ids.items():
        op = model.ops.get(did)
        view = model.tensors[op.out if op is not None else did]
        t = by_node.get(node)
        if t is None and view.shape is not None and view.dtype is not None:
            t = np.zeros(view.shape, view.dtype)
        view.tangent = t


def choose_rankdir(model: Model, backward: bool = False) -> str:
    """``"LR"`` when a left-to-right drawing fits a laptop screen's width, else
    whichever of ``"LR"`` and ``"TB"`` gives the narrower drawing.

    The size is estimated from the shape: ``depth`` ranks along the longest
    path, at most ``breadth`` nodes in one rank. Left to right, ranks are
    columns (width ≈ depth · column, height ≈ breadth · row); top to bottom,
    ranks are rows (width ≈ breadth · column).
    """
    depth, breadth = graph_shape(model, backward)
    lr_width = depth * RANK_WIDTH
    tb_width = breadth * RANK_WIDTH
    if lr_width <= SCREEN_WIDTH or lr_width <= tb_width:
        return "LR"
    return "TB"


def graph_shape(model: Model, backward: bool = False) -> tuple[int, int]:
    """(depth, breadth) of the drawn graph: the number of ranks on its longest
    path, and the most nodes in one rank (longest-path ranking, without recursion)."""
    nodes = [t.id for t in model.tensors.values() if not (backward and t.role == "const")]
    nodes += list(model.ops) + list(model.summaries)
    rank = dict.fromkeys(nodes, 0)
    indegree = dict.fromkeys(nodes, 0)
    out: dict[str, list[str]] = {n: [] for n in nodes}
    for e in model.edges:
        if e.src in rank and e.dst in rank:
            out[e.src].append(e.dst)
            indegree[e.dst] += 1
    ready = [n for n in nodes if indegree[n] == 0]
    while ready:
        n = ready.pop()
        for m in out[n]:
            rank[m] = max(rank[m], rank[n] + 1)
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    if not rank:
        return 0, 0
    per_rank = Counter(rank.values())
    return max(per_rank) + 1, max(per_rank.values())


def new_drawing(name: str, rankdir: str) -> Drawing:
    g = Drawing(name=name)
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="10", nodesep="0.25", ranksep="0.35")
    g.attr("node", fontname=FONT, fontsize="10", margin="0.08,0.04")
    g.attr("edge", fontname=FONT, fontsize="9", color="#555555", arrowsize="0.7")
    return g


# ---------------------------------------------------------------- node labels
def tensor_rows(
    t: TensorView, show_data: bool, show_grad: bool, measure: str = "norm"
) -> list[str]:
    """Escaped HTML rows describing a tensor node (``measure``: see ``L.grad_lines``)."""
    rows = []
    title = t.name if t.name is not None else _TITLE[t.role]
    if title is not None:
        rows.append(f"<B>{L.text(title)}</B>")
    data = t.data
    if t.role == "const" and t.shape is not None and not isinstance(data, np.ndarray):
        rows.append(L.text(str(data)))  # a Python scalar: its value, all digits
        return rows
    if t.shape is not None:
        dtype = f" {t.dtype}" if t.dtype is not None else ""
        rows.append(L.text(L.fmt_shape(t.shape) + dtype))
    small_const = t.role == "const" and data is not None and np.size(data) <= L.SMALL
    if data is not None and (show_data or small_const):
        rows.append(L.lines_html(L.value_lines(np.asarray(data))))
    if show_grad and t.role != "const":
        # a leaf shows its .grad (what backward() accumulated); others d(root)/d(tensor)
        prefix = "<I>grad</I> " if t.role == "output" else "<I>.grad</I> "
        if t.grad is not None:
            rows.append(prefix + L.lines_html(L.grad_lines(t.grad, measure=measure)))
        elif t.role != "output":
            rows.append(prefix + L.text("None"))
    if t.tangent is not None:
        rows.append("<I>tangent</I> " + L.lines_html(L.value_lines(t.tangent)))
    return rows


def _tensor_attrs(t: TensorView, color_by_grad: bool) -> dict:
    attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": _FILL[t.role]}
    if t.role == "const":
        attrs["style"] = "rounded,filled,dashed"
    if color_by_grad and t.grad is not None:
        attrs["fillcolor"] = grad_color(t.grad)
    if t.is_root:
        attrs["penwidth"] = "2"
    if t.hot:
        attrs.update(color=HOT, penwidth="2.5", fontcolor=HOT)
    return attrs


def _emit(g: Drawing, model: Model, show_data, show_grad, backward, color_by_grad) -> None:
    """Nodes (grouped into module clusters) and edges of ``model`` into ``g``."""
    by_cluster: dict[str, list] = {}
    # coloured by rms: the labels state the rms too, so a label never contradicts its colour
    measure = "rms" if color_by_grad else "norm"

    def place(cluster: str, node_id: str, label: str, attrs: dict) -> None:
        by_cluster.setdefault(cluster, []).append((node_id, label, attrs))

    for t in model.tensors.values():
        if backward and t.role == "const":
            continue
        rows = tensor_rows(t, show_data, show_grad, measure)
        place(t.cluster, t.id, L.table(rows), _tensor_attrs(t, color_by_grad))
    for op in model.ops.values():
        title = op.bname if backward else op.title
        attrs = {"shape": "ellipse", "style": "filled", "fillcolor": "#dbe9f6"}
        if op.hot:
            attrs.update(color=HOT, penwidth="2.5", fontcolor=HOT)
        place(op.cluster, op.id, f"<<B>{L.text(title)}</B>>", attrs)
    for s in model.summaries.values():
        kinds = ", ".join(f"{n} ×{c:,}" for n, c in s.names.most_common(3))
        label = L.table([L.text(f"… {s.count:,} more nodes …"), L.text(kinds)])
        place("", s.id, label, {"shape": "note", "style": "filled", "fillcolor": "#eeeeee"})
    _emit_clusters(g, model, by_cluster)
    for e in model.edges:
        if backward and e.const:
            continue
        attrs = {}
        if e.const:
            attrs["style"] = "dashed"
        if color_by_grad and e.grad is not None:
            attrs.update(color=grad_color(e.grad), penwidth="2")
        if e.hot:
            attrs.update(color=HOT, penwidth="2.5")
        if backward:
            if e.grad is not None:
                attrs["label"] = L.table([L.lines_html(L.grad_lines(e.grad, measure=measure))])
            g.edge(e.dst, e.src, id=f"gs_{e.id}", **attrs)
        else:
            g.edge(e.src, e.dst, id=f"gs_{e.id}", **attrs)


def _emit_clusters(g: Drawing, model: Model, by_cluster: dict) -> None:
    """Nested ``subgraph cluster_k`` blocks, deepest first, without recursion."""
    order = sorted(model.clusters, key=lambda p: (-p.count("."), p))
    built = {}
    for k, path in enumerate(order):
        sub = Drawing(name=f"cluster_{k}")
        sub.attr(
            label=f"<<B>{L.text(model.clusters[path])}</B>>",
            style="rounded,filled",
            fillcolor="#fafafa",
            color="#999999",
            fontname=FONT,
            fontsize="10",
        )
        for node_id, label, attrs in by_cluster.pop(path, ()):
            sub.node(node_id, label, id=f"gs_{node_id}", **attrs)
        built[path] = sub
    for path in order:  # children before parents: attach each to its parent (or the root)
        parent = path.rpartition(".")[0]
        while parent and parent not in built:
            parent = parent.rpartition(".")[0]
        (built[parent] if parent else g).subgraph(built[path])
    for node_id, label, attrs in by_cluster.pop("", ()):
        g.node(node_id, label, id=f"gs_{node_id}", **attrs)


def _notes(model: Model, want_grads, highlight, color_by_grad, max_nodes, tangents=False) -> str:
    """The graph label: legend and explanations, as an escaped HTML table."""
    rows = [L.fixed(TANGENT_NOTE)] if tangents else []
    if model.summaries:
        rows.append(
            L.fixed(
                f"{model.graph_size:,} autograd nodes, more than max_nodes={max_nodes:,}: "
                "long chains are collapsed"
            )
        )
    if want_grads and not model.alive and model.ops:
        rows.append(
            L.fixed(
                "Gradients of intermediate results are not shown: backward() freed the graph. "
                "Draw before calling backward(), or call backward(retain_graph=True)."
            )
        )
    if want_grads and model.alive and not model.root_scalar and model.ops:
        rows.append(L.fixed("The output is not a scalar: gradients shown are those of its sum."))
    if highlight is not None:
        shown = ", ".join(L.text(n, 40) for n in highlight_names(highlight)) or "none"
        text = "red: " + shown + L.fixed(" and every path from them to the output")
        rows.append(f'<FONT COLOR="{HOT}">{text}</FONT>')
    if color_by_grad:
        rows.append(L.fixed("gradient magnitude (root-mean-square of the entries):"))
        for _, color, text in GRAD_BUCKETS + ((None, *NONFINITE),):
            rows.append(f'<FONT COLOR="{color}">■</FONT> ' + L.fixed(text))
    return L.table(rows) if rows else ""
