"""``draw_module``: a Module's architecture, without running any data.

Duck-typed, so any Module-like object works: sub-modules come from
``named_children()``, parameters from ``named_parameters()``, descriptions
from ``extra_repr()`` (else the first line of ``repr``). A module with
children is a cluster; a module without is a box listing its parameters
(name, shape, count). Arrows follow the children's order: solid inside an
ordered container (one that has ``__len__`` and ``__getitem__``, like
``Sequential``), dotted elsewhere, since there the real order is whatever
``forward`` does. Arrows carry the feature size ``(*, n)`` where it is known
from ``in_features``/``out_features``; a size that does not match the next
layer's ``in_features`` is drawn in red.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import labels as L
from .graph import FONT, HOT, new_drawing
from .render import Drawing

MAX_PARAM_ROWS = 10


@dataclass
class _Mod:
    path: str
    kind: str
    module: object
    params: list  # (name, shape, count) of its own parameters
    children: list = field(default_factory=list)
    ordered: bool = False
    id: str = ""  # drawn node id (modules without children, or holding own params)
    shared: str | None = None  # path of the first occurrence of a module seen twice

    @property
    def count(self) -> int:
        """Parameters of this module and all below it."""
        total, stack = 0, [self]
        while stack:
            m = stack.pop()
            total += sum(c for _, _, c in m.params)
            stack.extend(m.children)
        return total


def _own_params(module) -> list:
    fn = getattr(module, "named_parameters", None)
    if not callable(fn):
        return []
    try:
        items = list(fn(recurse=False))
    except TypeError:  # no recurse= keyword: keep the names without a dot
        items = [(n, p) for n, p in fn() if "." not in n]
    out = []
    for name, p in items:
        shape = tuple(int(d) for d in np.shape(p))
        out.append((str(name), shape, int(np.prod(shape, dtype=np.int64))))
    return out


def _children(module) -> list:
    fn = getattr(module, "named_children", None)
    return [(str(n), c) for n, c in fn()] if callable(fn) else []


def _tree(module, max_modules: int) -> _Mod:
    """The module tree, built with an explicit stack (shared modules drawn once)."""
    root = _Mod("", type(module).__name__, module, _own_params(module))
    seen = {id(module): root}
    stack, count = [root], 1
    while stack:
        m = stack.pop()
        m.ordered = hasattr(type(m.module), "__len__") and hasattr(type(m.module), "__getitem__")
        for name, child in _children(m.module):
            count += 1
            if count > max_modules:
                raise ValueError(
                    f"the module has more than max_modules={max_modules:,} sub-modules; "
                    "pass a larger max_modules or draw a part of it"
                )
            path = f"{m.path}.{name}" if m.path else name
            first = seen.get(id(child))
            if first is not None:
                m.children.append(_Mod(path, type(child).__name__, child, [], shared=first.path))
                continue
            c = _Mod(path, type(child).__name__, child, _own_params(child))
            seen[id(child)] = c
            m.children.append(c)
            stack.append(c)
    return root


def _describe(module) -> str:
    extra = getattr(module, "extra_repr", None)
    if callable(extra):
        return str(extra())
    text = repr(module).split("\n", 1)[0]
    return text[len(type(module).__name__) :].strip("()") if text else ""


def _features(module) -> tuple:
    """(in_features, out_features) when the module declares them as ints."""
    fi, fo = getattr(module, "in_features", None), getattr(module, "out_features", None)
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (fi, fo))
    return (int(fi), int(fo)) if ok else (None, None)


def _leaf_rows(m: _Mod) -> list[str]:
    title = f"{m.path or '(root)'}: {m.kind}"
    rows = [f"<B>{L.text(title)}</B>"]
    if m.shared is not None:
        rows.append(L.text(f"the same module as {m.shared}"))
        return rows
    desc = _describe(m.module)
    if desc:
        rows.append(L.text(desc))
    rows += _param_rows(m.params)
    return rows


def _param_rows(params: list) -> list[str]:
    rows = [
        L.text(f"{name} {L.fmt_shape(shape)}: {count:,}")
        for name, shape, count in params[:MAX_PARAM_ROWS]
    ]
    if len(params) > MAX_PARAM_ROWS:
        rows.append(L.text(f"… {len(params) - MAX_PARAM_ROWS} more parameters"))
    if params:
        rows.append(L.text(f"{sum(c for _, _, c in params):,} parameters"))
    return rows


def draw_module(module, *, rankdir: str = "TB", max_modules: int = 500) -> Drawing:
    """Draw ``module``'s architecture: layers, feature sizes, parameter counts.

    Parameters
    ----------
    module : a gs.nn.Module (or anything with named_children/named_parameters)
    rankdir : "TB", "LR", "BT" or "RL"
    max_modules : more sub-modules than this raise ValueError

    Returns
    -------
    Drawing
        A ``graphviz.Digraph`` (see ``draw_graph``).
    """
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be one of 'LR', 'RL', 'TB', 'BT', got {rankdir!r}")
    root = _tree(module, max_modules)
    g = new_drawing("module", rankdir)
    order = _postorder(root)
    n = 0
    for m in order:  # generated ids for every box: leaves, and modules with own parameters
        if not m.children or m.params:
            m.id = f"n{n}"
            n += 1
    built = {}
    for k, m in enumerate(order):  # children before parents: no recursion
        if not m.children:
            continue  # drawn inside its parent's cluster
        sub = Drawing(name=f"cluster_{k}")
        label = f"{m.path or '(root)'}: {m.kind} · {m.count:,} parameters"
        sub.attr(
            label=f"<<B>{L.text(label)}</B>>",
            style="rounded,filled",
            fillcolor="#fafafa",
            color="#999999",
            fontname=FONT,
            fontsize="10",
        )
        if m.params:
            rows = [f"<B>{L.text('own parameters')}</B>"] + _param_rows(m.params)
            _box(sub, m.id, rows, "#fff2cc")
        for c in m.children:
            if c.children:
                sub.subgraph(built.pop(c.path))
            else:
                _box(sub, c.id, _leaf_rows(c), "#fff2cc" if c.params else "#eef3fb")
        built[m.path] = sub
    if root.children:
        g.subgraph(built.pop(root.path))
    else:
        _box(g, root.id, _leaf_rows(root), "#fff2cc" if root.params else "#eef3fb")
    if _flow_edges(g, root):
        note = (
            "dotted arrows follow the order the sub-modules were registered in; "
            "the real data flow is whatever forward() does"
        )
        g.attr(label=L.table([L.fixed(note)]), labelloc="b", labeljust="l")
    return g


def _box(g: Drawing, node_id: str, rows: list[str], fill: str) -> None:
    g.node(
        node_id,
        L.table(rows),
        id=f"gs_{node_id}",
        shape="box",
        style="rounded,filled",
        fillcolor=fill,
    )


def _postorder(root: _Mod) -> list:
    order, stack = [], [(root, False)]
    while stack:
        m, done = stack.pop()
        if done:
            order.append(m)
            continue
        stack.append((m, True))
        for c in reversed(m.children):
            stack.append((c, False))
    return order


def _flow_edges(g: Drawing, root: _Mod) -> bool:
    """Input -> layers in order -> output, labelled with feature sizes.
    Returns whether any arrow is a guess (dotted: not inside an ordered container)."""
    order = _postorder(root)
    first, last, leaves = {}, {}, []  # first/last leaf below each module, leaves in order
    for m in order:
        if m.children:
            first[m.path], last[m.path] = first[m.children[0].path], last[m.children[-1].path]
        else:
            first[m.path] = last[m.path] = m
            leaves.append(m)
    into: dict[str, tuple] = {}  # leaf id -> (feature size arriving, mismatch)
    cur = None
    for m in leaves:
        fi, fo = _features(m.module)
        if fi is None:
            into[m.id] = (cur, False)
            continue
        into[m.id] = (cur if cur is not None else fi, cur is not None and cur != fi)
        cur = fo
    g.node("in", L.table([L.text("input")]), id="gs_in", shape="plaintext")
    g.node("out", L.table([L.text("output")]), id="gs_out", shape="plaintext")
    head = leaves[0]
    _edge(g, "in", head.id, *into[head.id], solid=True, want=_features(head.module)[0])
    _edge(g, leaves[-1].id, "out", cur, False, solid=True)
    guessed = False
    for m in order:
        for a, b in zip(m.children, m.children[1:]):
            entry = first[b.path]
            _edge(
                g,
                last[a.path].id,
                entry.id,
                *into[entry.id],
                solid=m.ordered,
                want=_features(entry.module)[0],
            )
            guessed = guessed or not m.ordered
    return guessed


def _edge(g, a, b, size, mismatch, solid, want=None) -> None:
    attrs = {} if solid else {"style": "dotted"}
    if size is not None:
        text = f"(*, {size})"
        if mismatch:
            text += f" ≠ in_features {want}"
            attrs.update(color=HOT, fontcolor=HOT, penwidth="2")
        attrs["label"] = L.table([L.text(text)])
    g.edge(a, b, **attrs)
