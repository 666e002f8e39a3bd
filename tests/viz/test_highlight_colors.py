"""highlight (a gs.check report, rows, or names) and colouring by gradient magnitude."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

import gradsight as gs
from gradsight.viz import draw_graph
from gradsight.viz.graph import GRAD_BUCKETS, NONFINITE, grad_color

from .helpers import XorNet, dot_edge_lines, dot_node_lines

RED = "#d62728"


def red_labels(src: str) -> list[str]:
    """The bold titles of the nodes drawn in the highlight colour ('' for untitled)."""
    out = []
    for line in dot_node_lines(src).values():
        if f'color="{RED}"' in line.split(">> ", 1)[1]:
            title = line.split("<B>", 1)[1].split("</B>", 1)[0] if "<B>" in line else ""
            out.append(title)
    return out


# the article network: output.V is consumed by the second linear; its path to the loss is
# linear -> sigmoid -> sub -> pow -> mean -> div, each with its output tensor
PATH_FROM_V = ["output.V", "linear", "sigmoid", "sub −", "pow **", "mean", "div ÷"]


def check_v_highlighted(src: str) -> None:
    red = red_labels(src)
    assert sorted(t for t in red if t) == sorted(PATH_FROM_V)
    assert red.count("") == 6  # the six op outputs on that path (untitled tensor boxes)
    assert "hidden.W" not in red and "hidden.b" not in red and "output.c" not in red
    red_edges = [e for e in dot_edge_lines(src) if f'color="{RED}"' in e]
    # V -> linear, then op -> output and output -> next op along the path
    assert len(red_edges) == 1 + 6 + 5


def test_highlight_by_names():
    net = XorNet()
    check_v_highlighted(draw_graph(net.loss, params=net.params, highlight=["output.V"]).source)
    check_v_highlighted(draw_graph(net.loss, params=net.params, highlight="output.V").source)


def test_highlight_from_a_real_gs_check_report():
    check = pytest.importorskip("gradsight.check")
    net = XorNet()
    want = net.oracle()
    net.loss.backward(retain_graph=True)
    manual = {
        "hidden.W": want["W"],
        "hidden.b": want["b"],
        "output.V": -want["V"],
        "output.c": want["c"],
    }  # a wrong sign in one formula
    auto = {name: t.grad for name, t in net.params.items()}
    report = check.compare_gradients(manual, auto)
    assert not report.ok
    src = draw_graph(net.loss, params=net.params, highlight=report).source
    check_v_highlighted(src)
    assert "red: output.V" in src


@dataclass
class Row:
    name: str
    ok: bool


class RowsOnly:
    def __init__(self, rows):
        self.rows = rows


class MethodReport:
    def mismatched_names(self):
        return ["output.V"]


@pytest.mark.parametrize(
    "highlight",
    [
        RowsOnly([Row("hidden.W", True), Row("output.V", False), Row("output.c", True)]),
        [Row("hidden.W", True), Row("output.V", False)],
        MethodReport(),
        ("output.V",),
    ],
    ids=["rows-attribute", "iterable-of-rows", "mismatched-method", "tuple"],
)
def test_highlight_accepts_duck_typed_reports(highlight):
    net = XorNet()
    check_v_highlighted(draw_graph(net.loss, params=net.params, highlight=highlight).source)


def test_highlight_of_an_early_parameter_reddens_everything_downstream():
    net = XorNet()
    src = draw_graph(net.loss, params=net.params, highlight=["hidden.W"]).source
    red = red_labels(src)
    assert "hidden.W" in red and "output.V" not in red and "hidden.b" not in red
    assert red.count("linear") == 2 and red.count("sigmoid") == 2


def test_an_all_ok_report_highlights_nothing():
    net = XorNet()
    src = draw_graph(net.loss, params=net.params, highlight=[Row("output.V", True)]).source
    assert red_labels(src) == []


def test_bad_highlights_are_refused_naming_them():
    net = XorNet()
    with pytest.raises(ValueError, match="'nope'.*hidden.W"):
        draw_graph(net.loss, params=net.params, highlight=["nope"])
    with pytest.raises(ValueError, match="params="):
        draw_graph(net.loss, highlight=["output.V"])
    with pytest.raises(TypeError, match="highlight"):
        draw_graph(net.loss, params=net.params, highlight=42)
    with pytest.raises(TypeError, match="names or report rows"):
        draw_graph(net.loss, params=net.params, highlight=[3])


# ------------------------------------------------------------ gradient magnitude
def rms(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return math.sqrt(float((a * a).mean()))


@pytest.mark.parametrize("scale", [0.0, 1e-9, 3e-5, 0.2, 50.0, 1e5])
def test_grad_color_follows_the_legend(scale):
    g = np.full((3, 2), scale)
    g[0, 0] = -scale
    expected = next(color for limit, color, _ in GRAD_BUCKETS if rms(g) < limit)
    assert grad_color(g) == expected
    assert grad_color(np.array([1.0, np.nan])) == NONFINITE[0]
    assert grad_color(np.array([np.inf])) == NONFINITE[0]


def test_vanishing_and_exploding_gradients_stand_out():
    """A deep sigmoid chain makes the first weight's gradient vanish; a huge scale
    makes the last one explode. Both show in the fill colours, with a legend."""
    rng = np.random.default_rng(0)
    w_first = gs.tensor(rng.normal(size=(3, 3)) * 0.1, requires_grad=True)
    w_last = gs.tensor(rng.normal(size=(3, 3)), requires_grad=True)
    h = gs.tensor(rng.normal(size=(2, 3))) @ w_first
    for _ in range(12):
        h = (h * 0.1).sigmoid()
    loss = ((h @ w_last) * 1e6).sum()
    loss.backward(retain_graph=True)
    assert rms(w_first.grad.data) < 1e-6 and rms(w_last.grad.data) >= 1e3  # the premise
    src = draw_graph(loss, params={"w_first": w_first, "w_last": w_last}, color_by_grad=True).source
    lines = {
        line.split("<B>")[1].split("</B>")[0]: line
        for line in dot_node_lines(src).values()
        if "<B>w_" in line
    }
    assert f'fillcolor="{GRAD_BUCKETS[0][1]}"' in lines["w_first"]
    assert f'fillcolor="{GRAD_BUCKETS[-1][1]}"' in lines["w_last"]
    for _, _, text in GRAD_BUCKETS:
        assert text.replace("<", "&lt;") in src
    colored = [e for e in dot_edge_lines(src) if "penwidth=2 " in e or e.endswith("penwidth=2]")]
    assert colored  # edges carrying a gradient are coloured too


def bucket_of(value: float) -> str:
    """The legend colour a magnitude falls in, by the legend's own bounds."""
    return next(color for limit, color, _ in GRAD_BUCKETS if value < limit)


def test_coloured_labels_state_the_rms_the_colour_is_chosen_by():
    """A 1000-entry gradient of 1e-4 each: ‖g‖ = 3.2e-3 ("normal") but rms = 1e-4
    ("small"). Coloured by rms, its label must say rms(g) = 0.0001, not ‖g‖ = 0.003162."""
    w = gs.tensor(np.full((10, 100), 0.5), requires_grad=True)
    v = gs.tensor(np.array([2.0, -3.0]), requires_grad=True)
    loss = (w * 1e-4).sum() + (v * v).sum() * 0.5  # dL/dw = 1e-4 everywhere, dL/dv = v
    loss.backward(retain_graph=True)
    g = w.grad.numpy()
    assert bucket_of(np.linalg.norm(g)) != bucket_of(1e-4)  # the premise: the two disagree
    src = draw_graph(loss, params={"w": w, "v": v}, color_by_grad=True).source
    nodes = {n: line for n, line in dot_node_lines(src).items() if "<B>w</B>" in line}
    (w_line,) = nodes.values()
    assert "rms(g) = 0.0001<" in w_line and "‖g‖" not in src
    assert f'fillcolor="{bucket_of(1e-4)}"' in w_line
    (v_line,) = (line for line in dot_node_lines(src).values() if "<B>v</B>" in line)
    assert "[2, -3]" in v_line and f"rms(g) = {math.sqrt(6.5):.4g}" in v_line  # values, and rms
    # every coloured box: the rms its label states falls in the bucket of its fill colour
    checked = 0
    for line in dot_node_lines(src).values():
        if "rms(g) = " in line and "fillcolor" in line:
            shown = float(line.split("rms(g) = ")[1].split("<")[0])
            assert f'fillcolor="{bucket_of(shown)}"' in line, line
            checked += 1
    assert checked >= 4
    plain = draw_graph(loss, params={"w": w, "v": v}).source  # uncoloured: the norm, as before
    assert f"‖g‖ = {np.linalg.norm(g):.4g}" in plain and "rms(g)" not in plain


def test_backward_drawing_edge_labels_state_the_rms_when_coloured():
    w = gs.tensor(np.full((3, 4), 1.0), requires_grad=True)
    loss = (w * 1e-2).sum()
    loss.backward(retain_graph=True)
    src = draw_graph(loss, params={"w": w}, direction="backward", color_by_grad=True).source
    labelled = [e for e in dot_edge_lines(src) if "label=" in e]
    assert labelled and all("rms(g) = " in e and "‖g‖" not in e for e in labelled)
