"""draw_module: layers, feature sizes and parameter counts, without running data."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradsight as gs
from gradsight.viz import draw_module

from .helpers import (
    cluster_labels,
    dot_edge_lines,
    dot_node_lines,
    dot_nodes,
    requires_dot,
    svg_groups,
    svg_root,
    svg_texts,
)

nn = gs.nn
needs_nn = pytest.mark.skipif(not hasattr(gs.nn, "MLP"), reason="gs.nn not available")


def edge_labels(src: str) -> list[str]:
    return [
        re.search(r'<TD ALIGN="LEFT">(.*?)</TD>', e).group(1)
        for e in dot_edge_lines(src)
        if "label=" in e
    ]


@needs_nn
def test_article_mlp_architecture():
    model = nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
    calls = []
    model.forward = lambda *a: calls.append(a)  # drawing must not run data through it
    src = draw_module(model).source
    assert calls == []
    total = sum(p.size for p in model.parameters())
    assert total == 2 * 4 + 4 + 4 * 1 + 1
    assert sorted(cluster_labels(src)) == [
        f"(root): MLP · {total} parameters",
        f"layers: Sequential · {total} parameters",
    ]
    boxes = {k: v for k, v in dot_node_lines(src).items() if k.startswith("n")}
    assert len(boxes) == 4  # Linear, Sigmoid, Linear, Sigmoid
    assert len(dot_nodes(src)) == 4 + 2  # and the input / output markers
    text = "\n".join(boxes.values())
    for expected in (
        "layers.0: Linear",
        "layers.1: Sigmoid",
        "layers.2: Linear",
        "layers.3: Sigmoid",
        "weight (4, 2): 8",
        "bias (4,): 4",
        "weight (1, 4): 4",
        "bias (1,): 1",
        "12 parameters",
        "5 parameters",
        "in_features=2, out_features=4, bias=True",
    ):
        assert expected in text, expected
    # the data flow: input -> 4 layers -> output, sizes from in/out_features
    assert len(dot_edge_lines(src)) == 5
    assert edge_labels(src) == ["(*, 2)", "(*, 1)", "(*, 4)", "(*, 4)", "(*, 1)"]
    assert "dotted" not in src  # Sequential order is known


@needs_nn
def test_custom_module_uses_registration_order_and_flags_a_size_mismatch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(3, 5)
            self.act = nn.Tanh()
            self.fc2 = nn.Linear(4, 2)  # wrong: fc1 gives 5 features

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    src = draw_module(Net()).source
    assert "style=dotted" in src and "registered" in src
    bad = [e for e in dot_edge_lines(src) if "≠" in e]
    assert len(bad) == 1 and "(*, 5) ≠ in_features 4" in bad[0] and "#d62728" in bad[0]
    assert "(root): Net · 30 parameters" in src  # 5*3 + 5 + 2*4 + 2


@needs_nn
def test_a_single_layer_and_a_shared_layer():
    src = draw_module(nn.Linear(3, 2)).source
    assert len(dot_nodes(src)) == 3 and "subgraph" not in src
    assert "(root): Linear" in src and "8 parameters" in src
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.Tanh(), shared)  # gs.nn lists a shared child once
    src = draw_module(seq).source
    assert len(dot_nodes(src)) == len(list(seq.named_children())) + 2
    assert f"{shared.weight.size + shared.bias.size} parameters" in cluster_labels(src)[0]


def test_a_module_reached_twice_is_drawn_once_and_referenced():
    class Box:
        def __init__(self, children=(), params=()):
            self.children, self.params = list(children), list(params)

        def named_children(self):
            return iter(self.children)

        def named_parameters(self, recurse=True):
            return iter(self.params)

    shared = Box(params=[("w", np.zeros((2, 2)))])
    root = Box(children=[("first", shared), ("again", shared)])
    src = draw_module(root).source
    assert "the same module as first" in src
    assert "(root): Box · 4 parameters" in src  # counted once


def test_duck_typed_module_without_gs_nn():
    class Layer:
        in_features, out_features = 3, 7

        def named_children(self):
            return iter([])

        def named_parameters(self):  # no recurse= keyword
            return iter([("w", np.zeros((7, 3))), ("b", np.zeros(7))])

        def __repr__(self):
            return "Layer(3 -> 7)"

    class Model:
        def named_children(self):
            return iter([("a", Layer()), ("b", Layer())])

        def named_parameters(self):
            return iter(
                [
                    ("a.w", np.zeros((7, 3))),
                    ("a.b", np.zeros(7)),
                    ("b.w", np.zeros((7, 3))),
                    ("b.b", np.zeros(7)),
                ]
            )

    src = draw_module(Model()).source
    assert "(root): Model · 56 parameters" in src
    assert src.count("w (7, 3): 21") == 2
    assert "3 -&gt; 7" in src  # the description from repr, escaped
    assert "(*, 7) ≠ in_features 3" in src


def test_bad_rankdir():
    with pytest.raises(ValueError, match="rankdir"):
        draw_module(object(), rankdir="UP")


@requires_dot
@needs_nn
def test_module_drawing_renders():
    model = nn.MLP([2, 8, 8, 3], activation="relu")
    g = draw_module(model, rankdir="LR")
    root = svg_root(g)
    assert len(svg_groups(root, "node")) == len(dot_nodes(g.source)) == 5 + 2
    assert len(svg_groups(root, "cluster")) == 2
    texts = "\n".join(svg_texts(root))
    assert "layers.4: Linear" in texts and "weight (3, 8): 24" in texts
