"""``gradsight graph``: SVG, PNG, PDF and DOT drawings of an MLP's graph with gradients."""

from __future__ import annotations

import re

import pytest

from gradsight.cli import build_parser

from .conftest import assert_bad_input
from .test_demo import png_size, svg_texts


def dot_ops(source: str) -> list[str]:
    """The op names drawn (ellipse labels), in DOT order."""
    return re.findall(r"label=<<B>([^<]+)</B>> [^\n]*shape=ellipse", source)


def test_default_graph_is_the_article_network(cli, tmp_path):
    res = cli("graph")
    assert res.rc == 0, res.err
    assert re.search(
        r"drew the 2-4-1 MLP \(sigmoid hidden, sigmoid output\) on a batch of 4: "
        r"\d+ nodes -> graph.svg \(svg\)",
        res.out,
    ), res.out
    texts = " ".join(svg_texts(tmp_path / "graph.svg"))
    for word in ("layers.0.weight", "layers.2.bias", "linear", "sigmoid", "mse", ".grad"):
        assert word in texts, word
    assert "(4, 2) float64" in texts and "(1, 4) float64" in texts  # W is 4x2, V is 1x4


def test_layers_means_hidden_sizes_as_in_train():
    parser = build_parser()
    graph = parser.parse_args(["graph", "--layers", "16,8"])
    train = parser.parse_args(["train", "xor", "--layers", "16,8"])
    assert graph.layers == train.layers == [16, 8]
    for word in ("none", "0"):
        assert parser.parse_args(["graph", "--layers", word]).layers == []
        assert parser.parse_args(["train", "xor", "--layers", word]).layers == []


def test_inputs_layers_outputs_build_those_shapes(cli):
    res = cli(
        "graph",
        "--inputs",
        "3",
        "--layers",
        "8,5",
        "--outputs",
        "2",
        "--format",
        "dot",
        "--out",
        "-",
        "--activation",
        "tanh",
    )
    assert res.rc == 0, res.err
    shapes = dict(re.findall(r"<B>(layers\.\d\.weight)</B>[^(]*\(([\d, ]+)\)", res.out))
    assert shapes == {
        "layers.0.weight": "8, 3",
        "layers.2.weight": "5, 8",
        "layers.4.weight": "2, 5",
    }
    assert dot_ops(res.out).count("tanh") == 2 and dot_ops(res.out).count("sigmoid") == 1


def test_no_hidden_layer_says_so_and_draws_no_hidden_activation(cli, tmp_path):
    res = cli("graph", "--layers", "none", "--activation", "tanh", "--out", "g.dot")
    assert res.rc == 0, res.err
    assert "drew the 2-1 network with no hidden layer (sigmoid output)" in res.out
    assert "tanh" not in res.out
    ops = dot_ops((tmp_path / "g.dot").read_text())
    assert ops.count("linear") == 1 and "tanh" not in ops and ops.count("sigmoid") == 1


def test_png_and_backward_direction(cli, tmp_path):
    res = cli(
        "graph",
        "--inputs",
        "3",
        "--layers",
        "8,8",
        "--outputs",
        "2",
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
    assert "3-8-8-2 MLP (tanh hidden, sigmoid output) on a batch of 5" in res.out
    w, h = png_size((tmp_path / "g.png").read_bytes())
    assert w > 200 and h > 100
    mpimg = pytest.importorskip("matplotlib.image")
    assert mpimg.imread(tmp_path / "g.png").shape[:2] == (h, w)


@pytest.mark.parametrize(
    "name, magic",
    [("g.svg", b"<?xml"), ("G.PNG", b"\x89PNG"), ("g.pdf", b"%PDF-"), ("g.dot", b"digraph")],
)
def test_the_extension_picks_the_format(cli, tmp_path, name, magic):
    res = cli("graph", "--out", name, "--no-grad")
    assert res.rc == 0, res.err
    assert (tmp_path / name).read_bytes().startswith(magic)


def test_dot_to_stdout_and_to_a_gv_file(cli, tmp_path):
    res = cli("graph", "--format", "dot", "--out", "-", "--layers", "3", "--no-grad")
    assert res.rc == 0, res.err
    assert res.out.startswith("digraph") and "layers.2.weight" in res.out
    assert ".grad" not in res.out
    res = cli("graph", "--out", "g.gv", "--show-data")
    assert res.rc == 0
    assert (tmp_path / "g.gv").read_text().startswith("digraph")
    res = cli("graph", "--out", "noext", "--format", "pdf")  # --format stands in for no extension
    assert res.rc == 0 and (tmp_path / "noext").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--out", "g.jpg"], ["--out 'g.jpg'", "'.jpg'", ".svg, .png, .pdf, .dot"]),
        (["--out", "graph"], ["--out 'graph'", "no extension", ".pdf"]),
        (["--out", "g.svg", "--format", "png"], ["'g.svg'", "svg", "--format says png"]),
        (["--out", "-", "--format", "svg"], ["--format dot", "not svg"]),
        (["--inputs", "0"], ["--inputs", "out of range"]),
        (["--layers", "2,x"], ["--layers", "'x' is not a positive integer"]),
    ],
)
def test_bad_out_and_sizes_are_one_line_errors(cli, tmp_path, args, fragments):
    assert_bad_input(cli("graph", *args), *fragments)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


def test_rankdir_option_and_auto_layout(cli, tmp_path):
    res = cli("graph", "--rankdir", "TB", "--format", "dot", "--out", "-")
    assert res.rc == 0 and "rankdir=TB" in res.out
    res = cli("graph", "--rankdir", "LR", "--format", "dot", "--out", "-")
    assert res.rc == 0 and "rankdir=LR" in res.out
    res = cli("graph", "--out", "auto.svg")  # auto: the article's network fits a laptop
    assert res.rc == 0, res.err
    head = (tmp_path / "auto.svg").read_text()[:1000]
    width = float(re.search(r'width="([\d.]+)pt"', head).group(1))
    assert width <= 900


def test_graph_without_graphviz_is_one_line(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "graph.svg").write_text("old")
    res = cli("graph", env={"PATH": str(tmp_path / "empty")})
    assert_bad_input(res, "Graphviz", "'dot'", "--format dot")
    assert (tmp_path / "graph.svg").read_text() == "old"  # left as it was
