"""``gradsight graph``: SVG, PNG and DOT drawings of an MLP's graph with gradients."""

from __future__ import annotations

import re

import pytest

from .test_demo import png_size, svg_texts


def test_default_graph_is_the_article_network(cli, tmp_path):
    res = cli("graph")
    assert res.rc == 0, res.err
    assert re.search(r"2-4-1 sigmoid MLP on a batch of 4: \d+ nodes -> graph.svg", res.out)
    texts = " ".join(svg_texts(tmp_path / "graph.svg"))
    for word in ("layers.0.weight", "layers.2.bias", "linear", "sigmoid", "mse", ".grad"):
        assert word in texts, word


def test_png_and_backward_direction(cli, tmp_path):
    res = cli(
        "graph",
        "--layers",
        "3,8,8,2",
        "--activation",
        "tanh",
        "--batch",
        "5",
        "--direction",
        "backward",
        "--out",
        "g.png",
    )
    assert res.rc == 0, res.err
    assert "3-8-8-2 tanh MLP on a batch of 5" in res.out
    w, h = png_size((tmp_path / "g.png").read_bytes())
    assert w > 200 and h > 100
    mpimg = pytest.importorskip("matplotlib.image")
    assert mpimg.imread(tmp_path / "g.png").shape[:2] == (h, w)


def test_dot_to_stdout_and_to_a_file(cli, tmp_path):
    res = cli("graph", "--format", "dot", "--out", "-", "--layers", "2,3,1", "--no-grad")
    assert res.rc == 0, res.err
    assert res.out.startswith("digraph") and "layers.2.weight" in res.out
    assert ".grad" not in res.out
    res = cli("graph", "--out", "g.gv", "--show-data")
    assert res.rc == 0
    assert (tmp_path / "g.gv").read_text().startswith("digraph")


def test_graph_without_graphviz_is_one_line(cli, tmp_path):
    from .conftest import assert_bad_input

    (tmp_path / "empty").mkdir()
    (tmp_path / "graph.svg").write_text("old")
    res = cli("graph", env={"PATH": str(tmp_path / "empty")})
    assert_bad_input(res, "Graphviz", "'dot'", "--format dot")
    assert (tmp_path / "graph.svg").read_text() == "old"  # left as it was
