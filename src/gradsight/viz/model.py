"""What a drawing shows, worked out once from the autograd graph.

``build(root, ...)`` walks the graph through the public introspection layer
(``gs.autograd.graph_nodes`` / ``trace_backward``) and returns a ``Model``:
op nodes, tensor nodes (leaves, constants, each op's output) and the edges
between them, with names, shapes, values, gradients, module clusters and the
highlighted path. ``graph.py`` turns a Model into DOT for either direction and
``steps.py`` reuses it for the step-through page. Nothing here recurses: the
walks use explicit loops, so 100,000-op graphs are fine.

Drawn ids are generated (``n0, n1, ...``, ``e0, e1, ...``), never user text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.autograd import graph_nodes, trace_backward

from .params import Names

KEEP = 2  # ops kept at each end of a collapsed chain
MAX_CLUSTER_DEPTH = 8

# readable op names: the primitive's name, with the usual symbol for arithmetic
_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "**", "neg": "−x", "matmul": "@"}


def op_title(prim_name: str) -> str:
    """``mul`` -> ``mul ×``; other primitive names are shown as they are."""
    sym = _SYMBOLS.get(prim_name)
    return f"{prim_name} {sym}" if sym else prim_name


@dataclass
class TensorView:
    id: str
    role: str  # "param" (named leaf), "leaf", "const", "output" (an op's result)
    name: str | None
    shape: tuple | None
    dtype: object | None
    data: object = None  # ndarray / scalar, or None when unknown (freed graph)
    grad: np.ndarray | None = None
    tangent: np.ndarray | None = None  # forward mode: d(tensor)/dt along a chosen direction
    cluster: str = ""
    hot: bool = False  # on the highlighted path
    is_root: bool = False


@dataclass
class OpView:
    id: str
    node: object
    title: str  # forward name, e.g. "linear"
    bname: str  # backward name, e.g. "LinearBackward"
    out: str  # id of the output TensorView
    cluster: str = ""
    hot: bool = False


@dataclass
class EdgeView:
    id: str
    src: str  # a TensorView id (input) or OpView id (output)
    dst: str
    index: int | None = None  # which input of the op (None for op -> output)
    grad: np.ndarray | None = None  # what backward sends along this edge
    hot: bool = False
    const: bool = False


@dataclass
class SummaryView:
    id: str
    count: int
    names: Counter


@dataclass
class Model:
    tensors: dict = field(default_factory=dict)  # id -> TensorView
    ops: dict = field(default_factory=dict)  # id -> OpView
    edges: list = field(default_factory=list)
    summaries: dict = field(default_factory=dict)  # id -> SummaryView
    clusters: dict = field(default_factory=dict)  # path -> label text
    node_ids: dict = field(default_factory=dict)  # autograd node -> drawn id (op or leaf)
    input_edges: dict = field(default_factory=dict)  # (node, input index) -> EdgeView
    graph_size: int = 0  # autograd nodes before collapsing
    alive: bool = True  # intermediate gradients could be computed
    root_scalar: bool = True
    steps: list | None = None  # trace_backward's steps when computed


def _consumer_counts(nodes: list) -> dict:
    counts = dict.fromkeys(nodes, 0)
    for n in nodes:
        for p in n.parents:
            if p is not None:
                counts[p] += 1
    return counts


def _collapse(nodes: list, counts: dict) -> tuple[set, dict]:
    """Hide the middle of long single-file chains of ops.

    A link is an op whose only graph input is an op with no other consumer.
    Each maximal chain longer than 2*KEEP + 1 keeps KEEP ops at each end; the
    rest become one summary. Returns (hidden nodes, {kept node: (summary, up)})
    where the kept downstream node's chain input is replaced by the summary
    and ``up`` is the kept op the summary consumes.
    """
    single = {}
    for n in nodes:
        if n.prim is None:
            continue
        ps = [p for p in n.parents if p is not None]
        if len(ps) == 1 and ps[0].prim is not None and counts[ps[0]] == 1:
            single[n] = ps[0]
    inner = set(single.values())
    hidden, bridges = set(), {}
    for head in single:
        if head in inner:
            continue
        chain = [head]
        while chain[-1] in single:
            chain.append(single[chain[-1]])
        if len(chain) <= 2 * KEEP + 1:
            continue
        middle = chain[KEEP:-KEEP]
        hidden.update(middle)
        summary = SummaryView("", len(middle), Counter(n.name for n in middle))
        bridges[chain[KEEP - 1]] = (summary, chain[-KEEP])
    return hidden, bridges


def _cluster_of(paths: list[str]) -> str:
    """The deepest module path shared by all ``paths`` ('' when none)."""
    if not paths:
        return ""
    parts = [p.split(".") for p in paths]
    common = []
    for level in zip(*parts):
        if any(x != level[0] for x in level):
            break
        common.append(level[0])
    return ".".join(common[:MAX_CLUSTER_DEPTH])


def _module_path(param_name: str) -> str:
    return param_name.rpartition(".")[0]


class _Ids:
    def __init__(self):
        self.n = 0
        self.e = 0

    def node(self) -> str:
        self.n += 1
        return f"n{self.n - 1}"

    def edge(self) -> str:
        self.e += 1
        return f"e{self.e - 1}"


def _trace(root: Tensor) -> list:
    gradient = None if root.data.size == 1 else np.ones(root.shape, root.dtype)
    return trace_backward(root, gradient)


def build(root: Tensor, names: Names, max_nodes: int, want_grads: bool, highlight: list) -> Model:
    """The Model for ``root``'s graph (see module docstring)."""
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph needs a Tensor, got {type(root).__name__}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
    model = Model(root_scalar=root.data.size == 1)
    ids = _Ids()
    if not root.requires_grad:
        tid = ids.node()
        view = TensorView(tid, "leaf", names.of_tensor(root), root.shape, root.dtype, root.data)
        view.is_root = True
        model.tensors[tid] = view
        return model
    nodes = graph_nodes(root)
    model.graph_size = len(nodes)
    counts = _consumer_counts(nodes)
    hidden, bridges = set(), {}
    if len(nodes) > max_nodes:
        hidden, bridges = _collapse(nodes, counts)
        shown = len(nodes) - len(hidden) + len(bridges)
        if shown > max_nodes:
            raise ValueError(
                f"the graph has {len(nodes):,} nodes ({shown:,} after collapsing long chains), "
                f"more than max_nodes={max_nodes:,}; pass a larger max_nodes, or draw a "
                "smaller part of the computation"
            )
    visible = [n for n in reversed(nodes) if n not in hidden]
    ops = [n for n in visible if n.prim is not None]
    model.alive = all(n.args is not None for n in nodes if n.prim is not None)
    grads, sent = {}, {}
    if want_grads and model.alive and ops:
        model.steps = _trace(root)
        for step in model.steps:
            grads[step.node] = step.grad
            for i, g in step.sent:
                sent[step.node, i] = g
    hot = _hot_nodes(nodes, highlight, hidden) if highlight else set()
    _add_leaves(model, [n for n in visible if n.prim is None], names, hot, nodes[0], ids)
    _add_ops(model, ops, names, grads, hot, nodes[0], ids)
    for summary, _ in bridges.values():
        summary.id = ids.node()
        model.summaries[summary.id] = summary
    _add_edges(model, ops, bridges, sent, names, ids)
    _add_clusters(model, names)
    return model


def _add_leaves(model: Model, leaves: list, names: Names, hot: set, root_node, ids) -> None:
    """A tensor node per leaf; named leaves are parameters of module ``name``'s prefix."""
    for n in leaves:
        var = n.variable
        name = names.of_tensor(var)
        tid = ids.node()
        grad = var.grad.data if var.grad is not None else None
        role = "param" if name is not None else "leaf"
        view = TensorView(tid, role, name, var.shape, var.dtype, var.data, grad)
        view.cluster = _module_path(name) if name else ""
        view.hot, view.is_root = n in hot, n is root_node
        model.tensors[tid] = view
        model.node_ids[n] = tid


def _add_ops(model: Model, ops: list, names: Names, grads: dict, hot: set, root_node, ids):
    """An op node and its output tensor node per op, in the module of its parameters."""
    for n in ops:
        oid, tid = ids.node(), ids.node()
        shape, dtype = n.output_meta()
        param_names = [
            names.of_tensor(p.variable) for p in n.parents if p is not None and p.prim is None
        ]
        cluster = _cluster_of([_module_path(x) for x in param_names if x is not None])
        model.ops[oid] = OpView(oid, n, op_title(n.prim.name), n.name, tid, cluster, n in hot)
        view = TensorView(tid, "output", names.of_node(n), shape, dtype, n.out, grads.get(n))
        view.cluster, view.hot, view.is_root = cluster, n in hot, n is root_node
        model.tensors[tid] = view
        model.node_ids[n] = oid


def _out_id(model: Model, node) -> str:
    """The drawn tensor a node's value is: a leaf's own node or an op's output."""
    did = model.node_ids[node]
    op = model.ops.get(did)
    return op.out if op is not None else did


def _add_edges(model: Model, ops: list, bridges: dict, sent: dict, names: Names, ids) -> None:
    for n in ops:
        op = model.ops[model.node_ids[n]]
        model.edges.append(EdgeView(ids.edge(), op.id, op.out, hot=op.hot))
        args = n.args
        for i, p in enumerate(n.parents):
            if p is None:
                value = args[i] if args is not None else None
                cid = ids.node()
                shape = np.shape(value) if args is not None else None
                dtype = getattr(value, "dtype", None)
                model.tensors[cid] = TensorView(
                    cid, "const", names.of_array(value), shape, dtype, value
                )
                model.edges.append(EdgeView(ids.edge(), cid, op.id, i, const=True))
                continue
            if n in bridges and p not in model.node_ids:
                summary, up = bridges[n]
                model.edges.append(EdgeView(ids.edge(), summary.id, op.id, i))
                model.edges.append(EdgeView(ids.edge(), _out_id(model, up), summary.id))
                continue
            src = _out_id(model, p)
            hot = op.hot and model.tensors[src].hot
            edge = EdgeView(ids.edge(), src, op.id, i, sent.get((n, i)), hot=hot)
            model.edges.append(edge)
            model.input_edges[n, i] = edge


def _add_clusters(model: Model, names: Names) -> None:
    """One cluster per module path that holds drawn nodes. A module that only
    contains other clusters (an MLP's ``layers``) gets no box of its own: it would
    wrap ops from several layers but not the activations between them, which
    only tangles the layout. A cluster inside another one with nodes nests."""
    paths = set()
    for view in list(model.tensors.values()) + list(model.ops.values()):
        if view.cluster:
            view.cluster = ".".join(view.cluster.split(".")[:MAX_CLUSTER_DEPTH])
            paths.add(view.cluster)
    for path in sorted(paths):
        kind = names.module_kind(path)
        model.clusters[path] = f"{path} ({kind})" if kind else path


def _hot_nodes(nodes: list, tensors: list, hidden: set) -> set:
    """The highlighted tensors' nodes and every node on a path from them to the root."""
    consumers: dict = {}
    for n in nodes:
        for p in n.parents:
            if p is not None:
                consumers.setdefault(p, []).append(n)
    leaves = {id(t) for t in tensors if t.grad_fn is None}
    fns = {t.grad_fn for t in tensors if t.grad_fn is not None}
    start = [n for n in nodes if (id(n.variable) in leaves if n.prim is None else n in fns)]
    hot, stack = set(start), list(start)
    while stack:
        for c in consumers.get(stack.pop(), ()):
            if c not in hot:
                hot.add(c)
                stack.append(c)
    return hot - hidden
