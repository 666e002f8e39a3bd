"""draw_graph: structure, names, shapes, gradients and clusters in the DOT source
(and rendered with the real dot program) for the article's network, a
broadcasting expression and a gs.nn MLP."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradsight as gs
from gradsight.autograd import graph_nodes
from gradsight.viz import draw_graph

from .helpers import (
    XorNet,
    cluster_labels,
    dot_edge_lines,
    dot_edges,
    dot_node_lines,
    dot_nodes,
    fmt,
    label_numbers,
    requires_dot,
    svg_groups,
    svg_node_texts,
    svg_root,
)


def expected_counts(root) -> tuple[int, int]:
    """Drawn (nodes, edges) from the autograd graph: each leaf is a node; each op
    is an op node plus its output tensor; each input that needs no gradient is a
    constant node; one edge per op input plus one op -> output edge."""
    nodes = graph_nodes(root)
    ops = [n for n in nodes if n.prim is not None]
    leaves = len(nodes) - len(ops)
    consts = sum(p is None for n in ops for p in n.parents)
    inputs = sum(len(n.parents) for n in ops)
    return leaves + 2 * len(ops) + consts, inputs + len(ops)


def node_with(source: str, text: str) -> str:
    """The one node line whose label contains ``text``."""
    hits = [line for line in dot_node_lines(source).values() if text in line]
    assert len(hits) == 1, f"{len(hits)} nodes contain {text!r}"
    return hits[0]


def numbers_in(text: str) -> list[float]:
    return label_numbers(text)


# ------------------------------------------------------------ the article's network
def test_article_network_structure():
    net = XorNet()
    src = draw_graph(net.loss, params=net.params).source
    # by hand: 4 parameters, 8 ops (linear, sigmoid, linear, sigmoid, sub, pow, mean, div)
    # with 8 outputs, 4 constants (X, y, the exponent 2, the divisor 2)
    assert len(dot_nodes(src)) == 4 + 8 + 8 + 4 == expected_counts(net.loss)[0]
    # 8 op -> output edges; inputs: linear 3, sigmoid 1, linear 3, sigmoid 1, sub 2, pow 2,
    # mean 1, div 2
    assert len(dot_edges(src)) == 8 + 15 == expected_counts(net.loss)[1]
    ops = [
        re.search(r"label=<<B>([^<]*)</B>>", line).group(1)
        for line in dot_node_lines(src).values()
        if "shape=ellipse" in line
    ]
    assert sorted(ops) == sorted(
        ["linear", "sigmoid", "linear", "sigmoid", "sub −", "pow **", "mean", "div ÷"]
    )
    assert "(4, 2) float64" in node_with(src, "<B>hidden.W</B>")
    assert "(4,) float64" in node_with(src, "<B>hidden.b</B>")
    assert "(1, 4) float64" in node_with(src, "<B>output.V</B>")
    assert "(1,) float64" in node_with(src, "<B>output.c</B>")
    assert src.count("(4, 4) float64") == 2  # the hidden pre-activation and activation
    assert sorted(cluster_labels(src)) == ["hidden", "output"]


def test_every_edge_joins_drawn_nodes_and_ids_are_generated():
    net = XorNet()
    src = draw_graph(net.loss, params=net.params).source
    nodes = set(dot_nodes(src))
    assert all(re.fullmatch(r"n\d+", n) for n in nodes)
    assert all(a in nodes and b in nodes for a, b in dot_edges(src))


def test_clusters_hold_the_ops_that_consume_their_parameters():
    net = XorNet()
    src = draw_graph(net.loss, params=net.params).source
    blocks = re.findall(r"subgraph cluster_\d+ \{(.*?)\n\t\}", src, re.S)
    by_label = {re.search(r"label=<<B>(.*?)</B>>", b).group(1): b for b in blocks}
    assert set(by_label) == {"hidden", "output"}
    for label, names in (
        ("hidden", ("hidden.W", "hidden.b")),
        ("output", ("output.V", "output.c")),
    ):
        block = by_label[label]
        assert all(f"<B>{n}</B>" in block for n in names)
        assert block.count("<B>linear</B>") == 1  # the op that consumes them, with its output
        assert "sigmoid" not in block


def test_gradients_after_backward_match_the_closed_form():
    net = XorNet()
    want = net.oracle()
    net.loss.backward(retain_graph=True)
    src = draw_graph(net.loss, params=net.params).source
    w_line = node_with(src, "<B>hidden.W</B>")
    grad_part = w_line.split("<I>.grad</I>")[1]
    np.testing.assert_allclose(numbers_in(grad_part)[:8], want["W"].ravel(), rtol=1e-3)
    c_line = node_with(src, "<B>output.c</B>")
    np.testing.assert_allclose(
        numbers_in(c_line.split("<I>.grad</I>")[1])[:1], want["c"], rtol=1e-3
    )
    # an intermediate: d L / d ŷ = (ŷ - y) / n, shown on the last sigmoid's output
    outs = [
        line
        for line in dot_node_lines(src).values()
        if "(4, 1) float64" in line and "<I>grad</I>" in line
    ]
    shown = [numbers_in(line.split("<I>grad</I>")[1])[:4] for line in outs]
    assert any(np.allclose(s, want["out"].ravel(), rtol=1e-3) for s in shown)
    # the hidden activation (16 entries) shows the norm of its gradient
    h_line = [
        line
        for line in outs + list(dot_node_lines(src).values())
        if "(4, 4) float64" in line and "‖g‖" in line
    ]
    norms = [numbers_in(line.split("‖g‖ = ")[1])[0] for line in h_line]
    assert any(np.isclose(n, np.linalg.norm(want["h"]), rtol=1e-3) for n in norms)


def test_before_backward_leaves_show_no_grad_but_intermediates_are_traced():
    net = XorNet()
    src = draw_graph(net.loss, params=net.params).source
    assert "<I>.grad</I> None" in node_with(src, "<B>hidden.W</B>")
    assert net.W.grad is None  # drawing did not touch .grad
    root_line = [line for line in dot_node_lines(src).values() if "penwidth=2 " in line]
    assert len(root_line) == 1 and "<I>grad</I> 1<BR" in root_line[0]


def test_after_a_freeing_backward_the_graph_says_how_to_see_intermediate_gradients():
    net = XorNet()
    net.loss.backward()
    src = draw_graph(net.loss, params=net.params).source
    assert "retain_graph=True" in src
    assert "<I>grad</I>" not in src  # no intermediate gradient could be computed
    assert src.count("<I>.grad</I>") == 4  # the leaves' .grad
    assert "<I>.grad</I> None" not in src


def test_show_data_shows_values_or_a_summary():
    net = XorNet()
    src = draw_graph(net.loss, params=net.params, show_data=True, show_grad=False).source
    w_line = node_with(src, "<B>hidden.W</B>")
    np.testing.assert_allclose(
        numbers_in(w_line.split("float64")[1])[:8], net.W0.ravel(), rtol=1e-3
    )
    h = net.h.data
    assert f"min {fmt(h.min())}  mean {fmt(h.mean())}  max {fmt(h.max())}" in src
    assert "<I>grad</I>" not in src and "<I>.grad</I>" not in src


def test_named_intermediates_and_constants():
    net = XorNet()
    names = {**net.params, "X": net.X, "y": net.y, "h": net.h, "loss": net.loss}
    src = draw_graph(net.loss, params=names).source
    for name in ("X", "y", "h", "loss"):
        node_with(src, f"<B>{name}</B>")
    assert "(4, 2) float64" in node_with(src, "<B>X</B>")


def test_backward_direction_labels_edges_with_what_each_backward_sends():
    net = XorNet()
    want = net.oracle()
    src = draw_graph(net.loss, params=net.params, direction="backward").source
    for name in (
        "LinearBackward",
        "SigmoidBackward",
        "SubBackward",
        "PowBackward",
        "MeanBackward",
        "DivBackward",
    ):
        assert f"<B>{name}</B>" in src
    lines = dot_node_lines(src)
    v_id = [k for k, line in lines.items() if "<B>output.V</B>" in line][0]
    (edge,) = [e for e in dot_edge_lines(src) if e.split("->")[1].split()[0] == v_id]
    assert "LinearBackward" in lines[edge.split("->")[0].strip()]  # op -> parameter
    np.testing.assert_allclose(
        numbers_in(edge.split("label=")[1])[:4], want["V"].ravel(), rtol=1e-3
    )
    # constants receive nothing and are left out of the gradient flow
    assert "constant" not in src
    assert len(dot_edges(src)) == expected_counts(net.loss)[1] - 4


def test_broadcasting_expression():
    a = gs.tensor(np.arange(3.0).reshape(3, 1) + 1, requires_grad=True)
    b = gs.tensor(np.array([0.5, -1.0, 2.0, 3.0]), requires_grad=True)
    s = gs.tensor(2.5, requires_grad=True)
    out = ((a + b) * s).sum()
    out.backward(retain_graph=True)
    src = draw_graph(out, params={"a": a, "b": b, "s": s}).source
    assert len(dot_nodes(src)) == expected_counts(out)[0] == 3 + 3 * 2
    assert len(dot_edges(src)) == expected_counts(out)[1] == 2 + 2 + 1 + 3
    assert "(3, 1) float64" in node_with(src, "<B>a</B>")
    assert "(4,) float64" in node_with(src, "<B>b</B>")
    assert "() float64" in node_with(src, "<B>s</B>")
    assert src.count("(3, 4) float64") == 2
    # closed forms: d/da = 4 s per row, d/db = 3 s per column, d/ds = sum(a + b)
    a_grad = numbers_in(node_with(src, "<B>a</B>").split("<I>.grad</I>")[1])[:3]
    np.testing.assert_allclose(a_grad, [4 * 2.5] * 3)
    b_grad = numbers_in(node_with(src, "<B>b</B>").split("<I>.grad</I>")[1])[:4]
    np.testing.assert_allclose(b_grad, [3 * 2.5] * 4)
    s_grad = numbers_in(node_with(src, "<B>s</B>").split("<I>.grad</I>")[1])[:1]
    np.testing.assert_allclose(s_grad, [float((a.data + b.data).sum())], rtol=1e-3)
    # backward: the add's backward sends a (3, 1)-shaped (reduced) gradient to a
    bsrc = draw_graph(out, params={"a": a, "b": b, "s": s}, direction="backward").source
    a_id = [k for k, line in dot_node_lines(bsrc).items() if "<B>a</B>" in line][0]
    (edge,) = [e for e in dot_edge_lines(bsrc) if e.split("->")[1].split()[0] == a_id]
    np.testing.assert_allclose(numbers_in(edge.split("label=")[1])[:3], [10.0, 10.0, 10.0])


def test_mlp_from_gs_nn_with_module_clusters():
    if not hasattr(gs.nn, "MLP"):
        pytest.skip("gs.nn.MLP not available")
    gs.manual_seed(3)
    model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
    x, y = gs.tensor(np.random.default_rng(1).normal(size=(5, 2))), gs.rand(5, 1)
    loss = gs.nn.MSELoss()(model(x), y)
    src = draw_graph(loss, params=model).source
    assert len(dot_nodes(src)) == expected_counts(loss)[0]
    assert len(dot_edges(src)) == expected_counts(loss)[1]
    for name, p in model.named_parameters():
        line = node_with(src, f"<B>{name}</B>")
        shape = "(" + ", ".join(map(str, p.shape)) + ("," if p.ndim == 1 else "") + ")"
        assert f"{shape} float" in line
    assert sorted(cluster_labels(src)) == ["layers.0 (Linear)", "layers.2 (Linear)"]
    assert src.count("<B>linear</B>") == 2
    boxes = "".join(re.findall(r"subgraph cluster_\d+ \{(.*?)\n\t\}", src, re.S))
    assert src.count("<B>sigmoid</B>") == 2 and "sigmoid" not in boxes
    # activations (no parameters) stay outside the layers' boxes


def test_clusters_nest_when_the_outer_module_holds_nodes_itself():
    x = gs.tensor(np.ones((2, 3)))
    w = gs.tensor(np.full((4, 3), 0.5), requires_grad=True)
    scale = gs.tensor(2.0, requires_grad=True)
    out = ((x @ w.T) * scale).sum()
    src = draw_graph(out, params={"enc.fc.weight": w, "enc.scale": scale}).source
    assert sorted(cluster_labels(src)) == ["enc", "enc.fc"]
    assert re.search(r"\n\t\tsubgraph cluster_\d+ \{\n[^\n]*label=<<B>enc.fc</B>>", src)
    outer = re.search(r"\n\tsubgraph cluster_\d+ \{\n[^\n]*label=<<B>enc</B>>", src)
    assert outer is not None


# ------------------------------------------------------------ rendered with dot
@requires_dot
def test_article_network_renders_to_svg_with_the_same_structure():
    net = XorNet()
    g = draw_graph(net.loss, params=net.params, show_data=True, color_by_grad=True)
    root = svg_root(g)
    assert len(svg_groups(root, "node")) == len(dot_nodes(g.source))
    assert len(svg_groups(root, "edge")) == len(dot_edges(g.source))
    clusters = svg_groups(root, "cluster")
    assert sorted(
        "".join(c.find("{http://www.w3.org/2000/svg}text").itertext()) for c in clusters
    ) == ["hidden", "output"]
    texts = "\n".join(svg_node_texts(root).values())
    for expected in ("hidden.W", "output.c", "linear", "sigmoid", "(4, 4) float64"):
        assert expected in texts


@requires_dot
def test_mlp_and_backward_direction_render():
    if not hasattr(gs.nn, "MLP"):
        pytest.skip("gs.nn.MLP not available")
    model = gs.nn.MLP([3, 5, 2], activation="tanh")
    loss = (model(gs.randn(4, 3)) ** 2).mean()
    for direction in ("forward", "backward"):
        g = draw_graph(loss, params=model, direction=direction)
        root = svg_root(g)
        assert len(svg_groups(root, "node")) == len(dot_nodes(g.source))
        assert len(svg_groups(root, "edge")) == len(dot_edges(g.source))
        assert len(svg_groups(root, "cluster")) == 2


# ------------------------------------------------------------ options and errors
def test_non_scalar_root_and_root_without_graph():
    x = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    src = draw_graph(x * 2, params={"x": x}).source
    assert "not a scalar" in src
    assert "<I>grad</I> [1, 1, 1]" in src  # d sum(y) / dy for y = 2x
    assert "<I>.grad</I> None" in src  # x before backward
    plain = draw_graph(gs.tensor([1.0, 2.0])).source
    assert len(dot_nodes(plain)) == 1 and not dot_edges(plain)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"direction": "sideways"}, "direction"),
        ({"rankdir": "XY"}, "rankdir"),
        ({"max_nodes": 0}, "max_nodes"),
        ({"max_nodes": 2.5}, "max_nodes"),
    ],
)
def test_bad_options_are_refused_clearly(kwargs, message):
    net = XorNet()
    with pytest.raises(ValueError, match=message):
        draw_graph(net.loss, **kwargs)


def test_bad_params_are_refused_naming_the_entry():
    net = XorNet()
    with pytest.raises(TypeError, match="Module"):
        draw_graph(net.loss, params=42)
    with pytest.raises(TypeError, match="'w'.*ndarray"):
        draw_graph(net.loss, params={"w": np.zeros(3)})
    with pytest.raises(TypeError, match="strings"):
        draw_graph(net.loss, params={3: net.W})
    with pytest.raises(TypeError, match="Tensor"):
        draw_graph(np.zeros(3))
