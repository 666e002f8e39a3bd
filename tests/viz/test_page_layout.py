"""Readable pictures: the step-through page names parameters as graph.svg does, its
graph text is not shrunk, its value boxes show every value on a laptop screen, and
draw_graph(rankdir="auto") picks a layout by shape."""

from __future__ import annotations

import re
import subprocess

import numpy as np

import gradsight as gs
from gradsight.viz import backprop_steps, draw_graph
from gradsight.viz.graph import choose_rankdir, graph_shape
from gradsight.viz.model import build
from gradsight.viz.params import Names

from .helpers import XorNet, chromium_path, requires_browser, requires_dot
from .test_steps import page_data


def demo_page(tmp_path) -> str:
    """The demo's backprop.html, made by the demo's own code."""
    from gradsight.cli.demo import ArticleNet, first_step

    gs.manual_seed(0)
    html = first_step(ArticleNet())["html"].decode("utf-8")
    (tmp_path / "backprop.html").write_text(html, encoding="utf-8")
    return html


def leaf_titles(steps) -> list[str]:
    return [s["title"] for s in steps if s["title"].startswith("AccumulateGrad")]


def test_demo_page_names_parameters_like_graph_svg(tmp_path):
    demo_page(tmp_path)
    steps = page_data(tmp_path / "backprop.html")["steps"]
    assert sorted(leaf_titles(steps)) == [
        "AccumulateGrad: V, shape (1, 4)",
        "AccumulateGrad: W, shape (4, 2)",
        "AccumulateGrad: b, shape (4,)",
        "AccumulateGrad: c, shape (1,)",
    ]
    assert not any("leaf" in s["title"] for s in steps)


def test_an_unnamed_leaf_says_how_to_name_it(tmp_path):
    net = XorNet()
    path = backprop_steps(net.loss, tmp_path / "p.html")  # no params=
    titles = leaf_titles(page_data(path)["steps"])
    assert "AccumulateGrad: unnamed leaf (pass params= to name it), shape (4, 2)" in titles


def mlp_loss(sizes):
    gs.manual_seed(0)
    model = gs.nn.MLP(sizes, activation="tanh", output_activation="sigmoid")
    x = gs.tensor(np.random.default_rng(0).normal(size=(4, sizes[0])))
    loss = ((model(x) - 0.5) ** 2).mean()
    loss.backward(retain_graph=True)
    return loss, model


def test_graph_shape_counts_ranks_and_the_widest_rank():
    loss, model = mlp_loss([2, 1])  # x, W, b -> linear -> out -> sigmoid -> ... -> mean
    m = build(loss, Names(model), 500, False, [])
    depth, breadth = graph_shape(m)
    # ranks: inputs | linear | its output | sigmoid | output | sub | output | pow | output
    # | mean | loss: 11 ranks; rank 0 holds x, W, b and the constants 0.5 and 2 of ** 2
    assert depth == 11
    assert breadth == 3 + 2


def test_auto_layout_is_left_to_right_when_it_fits_else_the_narrower():
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    small = (x * 3.0).sum()  # 5 ranks: x, 3 | mul | output | sum | output
    deep, _ = mlp_loss([2, 8, 8, 8, 8, 1])
    assert graph_shape(build(small, Names(None), 500, False, [])) == (5, 2)
    assert choose_rankdir(build(small, Names(None), 500, False, [])) == "LR"
    assert choose_rankdir(build(deep, Names(None), 500, False, [])) == "TB"
    assert "rankdir=TB" in draw_graph(deep).source  # auto is the default
    assert "rankdir=LR" in draw_graph(deep, rankdir="LR").source


def svg_width_pt(drawing) -> float:
    head = drawing.pipe(format="svg").decode("utf-8")[:1000]
    return float(re.search(r'width="([\d.]+)pt"', head).group(1))


@requires_dot
def test_auto_layout_fits_a_laptop_where_left_to_right_does_not():
    net = XorNet()
    net.loss.backward(retain_graph=True)
    wide = svg_width_pt(draw_graph(net.loss, params=net.params, rankdir="LR"))
    auto = svg_width_pt(draw_graph(net.loss, params=net.params))
    assert wide > 900 >= auto  # measured by dot: 1,948 pt against 787 pt


MEASURE = """<script>
(function () {
  var texts = document.querySelectorAll("#graph svg text"), least = 1e9;
  for (var i = 0; i < texts.length; i++) {
    var size = parseFloat(getComputedStyle(texts[i]).fontSize) * texts[i].getScreenCTM().a;
    least = Math.min(least, size);
  }
  document.body.setAttribute("data-least-font-px", String(least));
  document.body.setAttribute("data-texts", String(texts.length));
})();
</script></body>"""


@requires_browser
@requires_dot
def test_browser_graph_text_is_readable_on_a_laptop_screen(tmp_path):
    page = demo_page(tmp_path).replace("</body>", MEASURE)
    (tmp_path / "measure.html").write_text(page, encoding="utf-8")
    cmd = [
        chromium_path(),
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1366,768",
        "--virtual-time-budget=3000",
        "--dump-dom",
        (tmp_path / "measure.html").as_uri(),
    ]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    texts = int(re.search(r'data-texts="(\d+)"', dom).group(1))
    least = float(re.search(r'data-least-font-px="([\d.e+-]+)"', dom).group(1))
    assert texts > 20
    assert least >= 12, f"graph text drawn at {least:.1f} px"  # 10 pt = 13.3 px unscaled


def test_page_never_scales_the_graph_down():
    from gradsight.viz.page import TEMPLATE

    css = TEMPLATE.split("<style>")[1].split("</style>")[0]
    svg_rules = re.findall(r"#graph svg \{([^}]*)\}", css)
    assert svg_rules and not any("max-width" in r or "width:" in r for r in svg_rules)


# every step in turn: each value box's hidden width (scrollWidth beyond clientWidth), its
# text lines against the lines drawn (a wrapped row draws more), and its right edge
BOXES = """<script>
(function () {
  var n = parseInt(document.getElementById("slider").max, 10), found = [], boxes = 0;
  for (var k = 0; k <= n; k++) {
    window.gsShow(k);
    var pres = document.querySelectorAll("#panel pre");
    for (var i = 0; i < pres.length; i++) {
      var p = pres[i], style = getComputedStyle(p), r = p.getBoundingClientRect();
      var inner = p.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
      var drawn = Math.round(inner / parseFloat(style.lineHeight));
      var lines = p.textContent.split("\\n").length;
      boxes++;
      found.push([k, i, p.scrollWidth - p.clientWidth, lines, drawn,
                  Math.round(r.right - document.documentElement.clientWidth)].join(","));
    }
  }
  document.body.setAttribute("data-boxes", found.join(";"));
  document.body.setAttribute("data-count", String(boxes));
})();
</script></body>"""


def browser_dom(tmp_path, page: str, size: str) -> str:
    (tmp_path / "boxes.html").write_text(page, encoding="utf-8")
    cmd = [
        chromium_path(),
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={size}",
        "--virtual-time-budget=3000",
        "--dump-dom",
        (tmp_path / "boxes.html").as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


@requires_browser
@requires_dot
def test_browser_value_boxes_show_every_value_at_1366_by_900(tmp_path):
    """The demo's page on a 1366×900 laptop screen: no value box hides part of its text
    behind a scrollbar, none breaks a matrix row, none reaches past the window."""
    page = demo_page(tmp_path).replace("</body>", BOXES)
    dom = browser_dom(tmp_path, page, "1366,900")
    boxes = [
        tuple(map(int, b.split(",")))
        for b in re.search(r'data-boxes="([^"]*)"', dom).group(1).split(";")
    ]
    assert len(boxes) == int(re.search(r'data-count="(\d+)"', dom).group(1)) > 20
    assert any(lines == 4 for _, _, _, lines, _, _ in boxes)  # the (4, 4) matrices are there
    for step, i, hidden, lines, drawn, past_edge in boxes:
        where = f"step {step}, box {i}"
        assert hidden <= 0, f"{where}: {hidden} px hidden behind a scrollbar"
        assert drawn == lines, f"{where}: {lines} lines drawn as {drawn}"
        assert past_edge <= 0, f"{where}: {past_edge} px past the window"


def test_large_gradients_are_summarised_one_fact_a_line(tmp_path):
    x = gs.tensor(np.linspace(-1.0, 1.0, 200).reshape(8, 25), requires_grad=True)
    path = backprop_steps((x * x).sum(), tmp_path / "big.html", params={"x": x})
    step = [s for s in page_data(path)["steps"] if s["title"].startswith("AccumulateGrad")][0]
    shape, norm, stats = step["received"].split("\n")
    g = 2 * np.linspace(-1.0, 1.0, 200)
    assert shape == "shape (8, 25)"
    assert norm == f"‖g‖ = {np.linalg.norm(g):.4g}"
    assert stats.startswith(f"min {g.min():.4g}  mean ") and stats.endswith(f"max {g.max():.4g}")
