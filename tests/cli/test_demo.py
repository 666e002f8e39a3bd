"""``gradsight demo``: the article's network end to end, and the files it writes."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

XOR = [0, 1, 1, 0]


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, checking its signature and IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()  # raises if the SVG is not well-formed XML
    assert root.tag.endswith("svg")
    return [t.text or "" for t in root.iter() if t.tag.endswith("text")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One default demo run shared by the tests below (it takes a few seconds)."""
    from .conftest import run_cli

    cwd = tmp_path_factory.mktemp("demo")
    return run_cli("demo", "--out", "out", cwd=cwd), cwd / "out"


def test_demo_prints_the_story(demo):
    res, _ = demo
    assert res.rc == 0, res.err
    assert "2-4-1, sigmoid" in res.out and "η = 0.5, α = 0.9" in res.out
    assert "4 of 4 parameters ok" in res.out  # manual (gs.reference) == autograd
    for name, shape in (("W", "(4, 2)"), ("b", "(4,)"), ("V", "(1, 4)"), ("c", "(1,)")):
        assert re.search(rf"^{name}\s+{re.escape(shape)}\s.*\sok$", res.out, re.M), name
    final = float(re.search(r"loss after 2000 steps: ([\d.e-]+)", res.out).group(1))
    assert final < 0.01
    rows = re.findall(r"^\s*(\d)\s+(\d)\s+(\d)\s+([\d.]+)$", res.out, re.M)
    assert [int(r[2]) for r in rows] == XOR
    assert [round(float(r[3])) for r in rows] == XOR  # XOR learnt
    assert res.err == ""


def test_demo_writes_valid_files(demo):
    res, out = demo
    assert sorted(p.name for p in out.iterdir()) == [
        "backprop.html",
        "backprop.py",  # the traced step (tests/tracing/test_demo_program.py)
        "graph.svg",
        "loss.png",
        "report.md",
    ]
    texts = " ".join(svg_texts(out / "graph.svg"))
    for word in ("W", "b", "V", "c", "sigmoid", ".grad", "(4, 2) float64"):
        assert word in texts, word
    assert png_size((out / "loss.png").read_bytes()) == (600, 350)
    mpimg = pytest.importorskip("matplotlib.image")
    assert mpimg.imread(out / "loss.png").shape[:2] == (350, 600)
    html = (out / "backprop.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # self-contained
    assert not list(out.glob(".*"))  # no temp files left


def test_demo_help_names_every_file_the_demo_writes(demo, cli):
    _, out = demo
    res = cli("demo", "--help")
    assert res.rc == 0, res.err
    described = res.out.split("--out:", 1)[1].split("Takes")[0]
    named = set(re.findall(r"\b[a-z]+\.(?:svg|html|py|png|md)\b", described))
    assert named == {p.name for p in out.iterdir()}
    assert re.search(r"\b(three|four|five|six) files\b", res.out) is None  # no count to drift


def test_report_matches_the_run(demo):
    res, out = demo
    md = (out / "report.md").read_text()
    assert "| learning rate η | 0.5 |" in md and "| momentum α | 0.9 |" in md
    assert re.search(r"^\| W \| \(4, 2\) \| .* \| ok \|$", md, re.M)
    assert "All gradients agree: **yes**" in md
    final = re.search(r"loss after 2000 steps: ([\d.e-]+)", res.out).group(1)
    assert f"after 2000 steps: {final}." in md
    preds = re.findall(r"^\| (\d) \| (\d) \| (\d) \| ([\d.]+) \|$", md, re.M)
    assert [round(float(p[3])) for p in preds] == XOR
    assert "![the computation graph of step 1](graph.svg)" in md


def test_demo_options_and_quiet(cli, tmp_path):
    res = cli(
        "demo",
        "--out",
        "d",
        "--epochs",
        "50",
        "--lr",
        "0.1",
        "--momentum",
        "0",
        "--seed",
        "3",
        "--quiet",
    )
    assert res.rc == 0, res.err
    assert "η = 0.1, α = 0; seed 3" in res.out and "loss after 50 steps" in res.out
    assert not any(line.startswith("epoch") for line in res.out.splitlines())
    assert "| momentum α | 0 |" in (tmp_path / "d" / "report.md").read_text()


def test_loss_csv_without_matplotlib(cli, tmp_path, blocker):
    res = cli("demo", "--out", "d", "--epochs", "30", "-q", extra_path=[blocker("matplotlib")])
    assert res.rc == 0, res.err
    out = tmp_path / "d"
    assert sorted(p.name for p in out.iterdir()) == [
        "backprop.html",
        "backprop.py",  # the traced step (tests/tracing/test_demo_program.py)
        "graph.svg",
        "loss.csv",
        "report.md",
    ]
    lines = (out / "loss.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss" and len(lines) == 31
    losses = np.array([float(line.split(",")[1]) for line in lines[1:]])
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert "[loss.csv](loss.csv)" in (out / "report.md").read_text()


def test_graph_dot_without_graphviz(cli, tmp_path):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    res = cli("demo", "--out", "d", "--epochs", "5", "-q", env={"PATH": str(empty)})
    assert res.rc == 0, res.err
    assert "dot" in res.err and "graph.dot" in res.err
    assert (tmp_path / "d" / "graph.dot").read_text().startswith("digraph")
    assert not (tmp_path / "d" / "graph.svg").exists()
