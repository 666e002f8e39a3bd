"""One meaning of --layers (hidden sizes) in train and graph; summaries say what was built."""

from __future__ import annotations

import re

import gradsight as gs


def test_train_layers_none_builds_and_says_a_linear_model(cli, tmp_path):
    res = cli("train", "xor", "--layers", "none", "--epochs", "2", "-q", "--save", "m.npz")
    assert res.rc == 0, res.err
    line = next(x for x in res.out.splitlines() if x.startswith("model: "))
    assert line.startswith("model: 2-1 linear model without hidden layer or activation")
    assert "tanh" not in line and "(3 parameters)" in line
    saved = gs.load(tmp_path / "m.npz")
    weights = sorted(k for k in saved if k.endswith(".weight"))
    assert len(weights) == 1 and saved[weights[0]].shape == (1, 2)  # one Linear, nothing else


def test_train_and_graph_build_the_same_hidden_layers(cli, tmp_path):
    res = cli("train", "xor", "--layers", "5,3", "--epochs", "1", "-q")
    assert res.rc == 0, res.err
    assert re.search(r"^model: 2-5-3-1 tanh MLP \(", res.out, re.M), res.out
    res = cli("graph", "--layers", "5,3", "--out", "g.dot", "--no-grad")
    assert res.rc == 0, res.err
    assert "drew the 2-5-3-1 MLP" in res.out
    shapes = re.findall(r"\((\d+, \d+)\) float64", (tmp_path / "g.dot").read_text())
    assert {"5, 2", "3, 5", "1, 3"} <= set(shapes)
