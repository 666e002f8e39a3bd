"""Big graphs are collapsed or refused (iteratively, never recursing), and a
missing Graphviz gives a clear message while the DOT source stays available."""

from __future__ import annotations

import sys

import graphviz
import pytest

import gradsight as gs
from gradsight.viz import GraphvizNotFound, backprop_steps, draw_graph, draw_module

from .helpers import XorNet, dot_edges, dot_nodes, requires_dot, svg_groups, svg_root

N = 100_000


class shallow_recursion:
    """Run with only ~150 frames to spare: any recursion over the graph would fail."""

    def __enter__(self):
        self.old = sys.getrecursionlimit()
        depth = 0
        frame = sys._getframe()
        while frame is not None:
            depth += 1
            frame = frame.f_back
        sys.setrecursionlimit(depth + 150)

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.old)


@pytest.fixture(scope="module")
def chain():
    x = gs.tensor(1.5, requires_grad=True)
    y = x
    for _ in range(N):
        y = y * 1.000001
    return x, y


def test_a_100000_op_chain_is_collapsed(chain):
    x, y = chain
    with shallow_recursion():
        g = draw_graph(y, params={"x": x}, max_nodes=500)
    nodes = dot_nodes(g.source)
    # kept: x, 2 ops at each end with their outputs and constants, and one summary
    assert len(nodes) == 1 + 4 * 3 + 1
    assert f"… {N - 4:,} more nodes …" in g.source
    assert f"MulBackward ×{N - 4:,}" in g.source
    assert f"{N + 1:,} autograd nodes" in g.source
    assert all(a in nodes and b in nodes for a, b in dot_edges(g.source))
    # the last op's output is the root: its gradient is d y / d y = 1
    assert "<I>grad</I> 1<BR" in g.source


def test_a_100000_op_chain_collapses_in_the_backward_direction_too(chain):
    x, y = chain
    with shallow_recursion():
        g = draw_graph(y, params={"x": x}, direction="backward", show_grad=False)
    assert "more nodes" in g.source
    assert len(dot_nodes(g.source)) == 1 + 4 * 2 + 1  # constants are not in the gradient flow


@requires_dot
def test_the_collapsed_chain_renders(chain):
    x, y = chain
    g = draw_graph(y, params={"x": x})
    root = svg_root(g)
    assert len(svg_groups(root, "node")) == len(dot_nodes(g.source))
    assert len(svg_groups(root, "edge")) == len(dot_edges(g.source))


def test_a_mixed_chain_is_collapsed_with_a_census(chain):
    x = gs.tensor(0.5, requires_grad=True)
    z = x
    for _ in range(2000):
        z = (z * 0.999).tanh() + 0.001
    g = draw_graph(z, params={"x": x}, max_nodes=100, show_grad=False)
    assert "more nodes" in g.source
    for name in ("MulBackward", "TanhBackward", "AddBackward"):
        assert name in g.source


def test_a_wide_graph_that_cannot_collapse_is_refused_clearly():
    x = gs.tensor(2.0, requires_grad=True)
    parts = [x * float(i) for i in range(600)]
    total = gs.stack(parts).sum()
    with shallow_recursion(), pytest.raises(ValueError, match=r"max_nodes=500.*larger max_nodes"):
        draw_graph(total)
    g = draw_graph(total, max_nodes=5000)  # allowed when asked for
    assert len(dot_nodes(g.source)) > 600


def test_step_pages_refuse_big_graphs(chain, tmp_path):
    _, y = chain
    with pytest.raises(ValueError, match="max_nodes"):
        backprop_steps(y, tmp_path / "big.html")
    assert not (tmp_path / "big.html").exists()


def test_a_deep_module_tree_draws_without_recursion():
    class Box:
        def __init__(self, child=None):
            self.child = child

        def named_children(self):
            return iter([("c", self.child)] if self.child is not None else [])

        def named_parameters(self, recurse=True):
            return iter([])

    m = Box()
    for _ in range(600):
        m = Box(m)
    with shallow_recursion():
        g = draw_module(m, max_modules=1000)
    assert g.source.count("subgraph cluster_") == 600
    with pytest.raises(ValueError, match="max_modules"):
        draw_module(m)


# ------------------------------------------------------------ without the dot program
@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_rendering_without_dot_explains_how_to_install(no_dot, tmp_path):
    net = XorNet()
    g = draw_graph(net.loss, params=net.params)
    assert "digraph" in g.source and "hidden.W" in g.source  # the source is always there
    with pytest.raises(GraphvizNotFound) as info:
        g.pipe(format="svg")
    message = str(info.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert ".source" in message
    assert isinstance(info.value, graphviz.ExecutableNotFound)  # existing handlers still work
    with pytest.raises(GraphvizNotFound, match="saved to .*graph.gv"):
        g.render(tmp_path / "graph.gv", format="svg")
    assert (tmp_path / "graph.gv").read_text(encoding="utf-8") == g.source
    bundle = g._repr_mimebundle_()  # what Jupyter shows
    assert "apt-get install graphviz" in bundle["text/plain"]
    assert g.source in bundle["text/plain"]
    with pytest.raises(GraphvizNotFound):
        draw_module(type("M", (), {"named_parameters": lambda self: iter([])})()).pipe("svg")


def test_step_page_without_dot_still_steps(no_dot, tmp_path):
    net = XorNet()
    page = backprop_steps(net.loss, tmp_path / "steps.html", params=net.params)
    text = page.read_text(encoding="utf-8")
    assert 'id="no-graphviz"' in text and "apt-get install graphviz" in text
    assert '"AccumulateGrad: hidden.W' in text
