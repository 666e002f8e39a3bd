"""Adversarial rendering: hostile names in graph labels, through the real ``dot``.

Each hostile name is used as a parameter name (and a module path) in
``gs.viz.draw_graph`` and ``draw_module``; the DOT source is rendered to SVG
by Graphviz's ``dot`` program and the SVG is parsed as XML. The text must be
shown literally (control characters as visible escapes, long text cut with
``…``), the drawing must have the same nodes and edges as with a plain name,
and no element may carry a link (``href``/``xlink:href``, from a URL attribute).
The step-through HTML page gets the same names and must not grow a script.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import gradsight as gs

viz = pytest.importorskip("gradsight.viz")
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")

MEGABYTE = 'mb" URL="javascript:alert(1)' + "x" * (1 << 20)

# hostile name -> the text the drawing must show (independent of the escaping code)
HOSTILE = {
    'say "hi"': 'say "hi"',
    "trailing backslash\\": "trailing backslash\\",
    "\\": "\\",
    "<b>x</b>": "<b>x</b>",
    "<<TABLE>>": "<<TABLE>>",
    "| { } [ ] ; -> --": "| { } [ ] ; -> --",
    "node [shape=box]; }": "node [shape=box]; }",
    "a\nb": "a\\nb",
    "cr\rtab\t": "cr\\rtab\\t",
    "ctl\x00\x07\x1b[31m\x7f": "ctl\\x00\\x07\\x1b[31m\\x7f",
    "\u202eevil\u200b": "\\u202eevil\\u200b",
    'x" URL="javascript:alert(1)': 'x" URL="javascript:alert(1)',
    "x' href='javascript:alert(1)": "x' href='javascript:alert(1)",
    "&amp; &lt; &#60; &": "&amp; &lt; &#60; &",
    "%s %d {0} $x ${y}": "%s %d {0} $x ${y}",
    "é 名前 🙂": "é 名前 🙂",
    MEGABYTE: MEGABYTE[:80] + "…",
}
IDS = [repr(k[:24]) for k in HOSTILE]


def _graph(name: str):
    """A small MLP-like graph whose weight is called ``name``."""
    w = gs.tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    b = gs.tensor(np.array([0.1, -0.2]), requires_grad=True)
    x = gs.tensor(np.array([[1.0, 2.0]]))
    loss = gs.linear(x, w, b).tanh().sum()
    return loss, {name: w, "bias": b}


def _svg(drawing) -> ET.Element:
    svg = drawing.pipe(format="svg")
    return ET.fromstring(svg)  # raises ParseError unless it is well-formed XML


def _count(root: ET.Element, cls: str) -> int:
    return sum(1 for e in root.iter() if e.tag.endswith("}g") and e.get("class") == cls)


def _texts(root: ET.Element) -> str:
    return "\n".join(e.text or "" for e in root.iter() if e.tag.endswith("}text"))


def _assert_no_links(root: ET.Element) -> None:
    for e in root.iter():
        assert not e.tag.endswith("}a"), "an <a> element: a URL attribute got through"
        for key, value in e.attrib.items():
            assert not key.lower().endswith("href"), (key, value)
            assert "javascript:" not in value.lower(), (key, value)


@pytest.fixture(scope="module")
def plain_counts():
    loss, params = _graph("weight")
    root = _svg(viz.draw_graph(loss, params=params, show_data=True))
    return _count(root, "node"), _count(root, "edge")


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_hostile_parameter_name_renders_literally(name, plain_counts):
    loss, params = _graph(name)
    drawing = viz.draw_graph(loss, params=params, show_data=True, highlight=[name])
    assert len(drawing.source) < 100_000  # a 1 MB name is cut, not copied into the DOT
    root = _svg(drawing)
    assert (_count(root, "node"), _count(root, "edge")) == plain_counts
    assert HOSTILE[name] in _texts(root)
    _assert_no_links(root)


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_hostile_name_with_a_module_path_renders_literally(name, plain_counts):
    """``a.b`` names make module clusters: the cluster label is user text too."""
    loss, params = _graph(name + ".weight")
    root = _svg(viz.draw_graph(loss, params=params))
    assert (_count(root, "node"), _count(root, "edge")) == plain_counts
    shown = HOSTILE[name] if len(name) < 80 else MEGABYTE[:80]
    assert shown in _texts(root)
    _assert_no_links(root)


def test_backward_drawing_with_hostile_names():
    loss, params = _graph('x" URL="javascript:alert(1)')
    root = _svg(viz.draw_graph(loss, params=params, direction="backward", color_by_grad=True))
    assert 'x" URL="javascript:alert(1)' in _texts(root)
    _assert_no_links(root)


@pytest.mark.parametrize(
    "name", ['x" URL="javascript:alert(1)', "a\nb", "<b>x</b>", "trailing\\"], ids=repr
)
def test_hostile_module_attribute_name_in_draw_module(name):
    nn = pytest.importorskip("gradsight.nn")
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
    setattr(model, name, nn.Linear(3, 1))  # any string is a valid attribute name
    root = _svg(viz.draw_module(model))
    assert HOSTILE.get(name, name) in _texts(root)
    _assert_no_links(root)


SCRIPT = re.compile(r"<\s*/?\s*script", re.IGNORECASE)


@pytest.mark.parametrize(
    "name",
    ["</script><script>alert(1)</script>", "<!--", "]]>", "\u2028\u2029", 'x" onload="alert(1)'],
    ids=repr,
)
def test_step_through_page_with_hostile_names_grows_no_script(name, tmp_path):
    loss, params = _graph("weight")
    plain = viz.backprop_steps(loss, tmp_path / "plain.html", params=params).read_text("utf-8")
    loss, params = _graph(name)
    page = viz.backprop_steps(loss, tmp_path / "p.html", params=params, title=name)
    page = page.read_text("utf-8")
    assert len(SCRIPT.findall(page)) == len(SCRIPT.findall(plain))
    assert page.count("<!--") == plain.count("<!--")
    assert 'onload="' not in page
