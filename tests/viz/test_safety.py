"""Hostile names are shown literally: valid SVG, the same structure as a plain
name, no user-controlled attributes, generated ids only."""

from __future__ import annotations

import re

import pytest

import gradsight as gs
from gradsight.viz import draw_graph, draw_module
from gradsight.viz.labels import text, visible

from .helpers import (
    SVG,
    XorNet,
    attribute_names,
    cluster_labels,
    dot_edges,
    dot_nodes,
    requires_dot,
    svg_groups,
    svg_root,
    svg_texts,
)

LONG = "x" * 10_000
# (name, what the drawing must show for it)
HOSTILE = [
    ("say \"hi\" 'there'", "say \"hi\" 'there'"),
    ("trailing\\", "trailing\\"),
    ("back\\slash \\n \\l \\N", "back\\slash \\n \\l \\N"),
    ("<b>x</b>", "<b>x</b>"),
    ("a | { b } | <c> [d]", "a | { b } | <c> [d]"),
    ("line1\nline2", "line1\\nline2"),
    ("cr\rtab\t", "cr\\rtab\\t"),
    ("bell\x07null\x00esc\x1b del\x7f", "bell\\x07null\\x00esc\\x1b del\\x7f"),
    ("rtl\u202eevil zero\u200bwidth", "rtl\\u202eevil zero\\u200bwidth"),
    ('x" URL="javascript:alert(1)', 'x" URL="javascript:alert(1)'),
    ("&amp; &lt; &#60; %3", "&amp; &lt; &#60; %3"),
    ("</script><script>alert(1)</script>", "</script><script>alert(1)</script>"),
    ("__SVG__ __DATA__", "__SVG__ __DATA__"),
    (LONG, "x" * 80 + "…"),
]
IDS = [f"case{i}" for i in range(len(HOSTILE))]
FORBIDDEN_ATTRS = {
    "href",
    "url",
    "{http://www.w3.org/1999/xlink}href",
    "xlink:href",
    "target",
    "onclick",
    "onload",
}


def net_named(name: str, in_cluster: bool) -> XorNet:
    names = (
        (f"{name}.W", f"{name}.b", "output.V", "output.c")
        if in_cluster
        else (name, "hidden.b", "output.V", "output.c")
    )
    return XorNet(names=names)


@pytest.mark.parametrize("name, shown", HOSTILE, ids=IDS)
def test_label_text_is_escaped_and_visible(name, shown):
    out = text(name)
    assert "\n" not in out and "\r" not in out and "\x00" not in out
    assert "<" not in out and ">" not in out and '"' not in out
    assert (
        out.replace("\\\\", "\\")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        == shown
    )


@pytest.mark.parametrize("in_cluster", [False, True], ids=["param", "cluster"])
@pytest.mark.parametrize("name, shown", HOSTILE, ids=IDS)
def test_hostile_names_in_the_dot_source(name, shown, in_cluster):
    plain_src = draw_graph(
        net_named("plainname", in_cluster).loss, params=net_named("plainname", in_cluster).params
    ).source
    net = net_named(name, in_cluster)
    src = draw_graph(net.loss, params=net.params, highlight=list(net.params)[:1]).source
    plain_hl = net_named("plainname", in_cluster)
    plain_src = draw_graph(
        plain_hl.loss, params=plain_hl.params, highlight=list(plain_hl.params)[:1]
    ).source
    assert len(dot_nodes(src)) == len(dot_nodes(plain_src))
    assert len(dot_edges(src)) == len(dot_edges(plain_src))
    assert len(cluster_labels(src)) == len(cluster_labels(plain_src))
    assert all(re.fullmatch(r"n\d+", n) for n in dot_nodes(src))
    if any(c in name for c in '"<>\n\r\x00\x07'):
        assert name not in src  # never raw (backslashes are plain text in HTML-like labels)
    assert 'URL="' not in src and "href" not in src.lower()


@requires_dot
@pytest.mark.parametrize("in_cluster", [False, True], ids=["param", "cluster"])
@pytest.mark.parametrize("name, shown", HOSTILE, ids=IDS)
def test_hostile_names_render_to_valid_svg_showing_the_text_literally(name, shown, in_cluster):
    plain = net_named("plainname", in_cluster)
    plain_svg = svg_root(draw_graph(plain.loss, params=plain.params))
    net = net_named(name, in_cluster)
    svg = svg_root(draw_graph(net.loss, params=net.params, show_data=True))  # parses: valid XML
    for cls in ("node", "edge", "cluster"):
        assert len(svg_groups(svg, cls)) == len(svg_groups(plain_svg, cls)), cls
    texts = svg_texts(svg)
    expected = f"{shown}.W" if in_cluster else shown
    if len(expected) > 81:  # the name is cut; the cluster's label is the shown prefix
        expected = shown
    assert any(expected in t for t in texts), (expected, texts[:8])
    assert not attribute_names(svg) & FORBIDDEN_ATTRS
    assert not list(svg.iter(f"{SVG}a"))
    assert not list(svg.iter(f"{SVG}script"))
    for g in svg_groups(svg, "node"):
        assert re.fullmatch(r"gs_n\d+", g.get("id"))
        assert re.fullmatch(r"n\d+", "".join(g.find(f"{SVG}title").itertext()))


@requires_dot
def test_the_injection_attempt_adds_no_attribute():
    net = net_named('x" URL="javascript:alert(1)" tooltip="y', False)
    g = draw_graph(net.loss, params=net.params)
    raw = g.pipe(format="svg").decode()
    assert "javascript" in raw  # shown as text ...
    assert "xlink:href" not in raw and "<a " not in raw  # ... never as a link
    assert 'URL="' not in g.source


class Fake:
    """A duck-typed module whose names and class name are hostile."""

    def __init__(self, children=(), params=()):
        self._children = list(children)
        self._params = list(params)

    def named_children(self):
        return iter(self._children)

    def named_parameters(self, recurse=True):
        return iter(self._params)


@requires_dot
@pytest.mark.parametrize("name, shown", HOSTILE, ids=IDS)
def test_draw_module_with_hostile_names(name, shown):
    if "\x00" in name:
        pytest.skip("Python refuses class names with a null character")
    hostile_cls = type("K", (Fake,), {})
    hostile_cls.__name__ = name

    def build(child_name, cls):
        leaf = cls(params=[("w", gs.zeros(2, 3))])
        return Fake(children=[(child_name, leaf), ("tail", Fake())])

    plain = svg_root(draw_module(build("plain", Fake)))
    svg = svg_root(draw_module(build(name, hostile_cls)))
    for cls in ("node", "edge", "cluster"):
        assert len(svg_groups(svg, cls)) == len(svg_groups(plain, cls))
    joined = "\n".join(svg_texts(svg))
    assert f"{shown}: " in joined or shown in joined
    assert not attribute_names(svg) & FORBIDDEN_ATTRS


def test_visible_escapes_every_invisible_character():
    for code in list(range(0x20)) + [0x7F, 0x85, 0xAD, 0x200B, 0x2028, 0x2029, 0xFEFF]:
        ch = chr(code)
        assert ch not in visible(f"a{ch}b"), hex(code)
    assert visible("plain ascii and ünïcödé ✓") == "plain ascii and ünïcödé ✓"
