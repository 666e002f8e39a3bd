"""Shared builders and parsers for the gs.viz tests.

The article's network: 2 inputs, 4 sigmoid hidden units, 1 sigmoid output,
trained on XOR with L = 1/(2n) Σ (y - ŷ)², written with raw tensors so the
expected structure can be counted by hand.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import gradsight as gs
import gradsight.viz  # noqa: F401  (makes gs.viz available even before gradsight imports it)

SVG = "{http://www.w3.org/2000/svg}"
requires_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y_XOR = np.array([[0], [1], [1], [0]], dtype=np.float64)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class XorNet:
    """The article's 2-4-1 network with hand-derivable gradients (NumPy oracle)."""

    def __init__(self, seed: int = 0, names=("hidden.W", "hidden.b", "output.V", "output.c")):
        rng = np.random.default_rng(seed)
        self.W0 = rng.normal(size=(4, 2))
        self.b0 = rng.normal(size=4) * 0.1
        self.V0 = rng.normal(size=(1, 4))
        self.c0 = rng.normal(size=1) * 0.1
        self.W = gs.tensor(self.W0, requires_grad=True)
        self.b = gs.tensor(self.b0, requires_grad=True)
        self.V = gs.tensor(self.V0, requires_grad=True)
        self.c = gs.tensor(self.c0, requires_grad=True)
        self.X = gs.tensor(X_XOR)
        self.y = gs.tensor(Y_XOR)
        self.params = dict(zip(names, (self.W, self.b, self.V, self.c)))
        self.h = gs.linear(self.X, self.W, self.b).sigmoid()
        self.out = gs.linear(self.h, self.V, self.c).sigmoid()
        self.loss = ((self.out - self.y) ** 2).mean() / 2

    def oracle(self) -> dict:
        """Closed-form gradients of L = 1/(2n) Σ (ŷ - y)², n = 4 (the corrected article)."""
        h = sigmoid(X_XOR @ self.W0.T + self.b0)
        out = sigmoid(h @ self.V0.T + self.c0)
        d_out = (out - Y_XOR) / 4
        d_z2 = d_out * out * (1 - out)
        d_h = d_z2 @ self.V0
        d_z1 = d_h * h * (1 - h)
        return {
            "out": d_out,
            "z2": d_z2,
            "V": d_z2.T @ h,
            "c": d_z2.sum(0),
            "h": d_h,
            "W": d_z1.T @ X_XOR,
            "b": d_z1.sum(0),
            "loss": float(((out - Y_XOR) ** 2).mean() / 2),
        }


# ---------------------------------------------------------------- DOT source
_NODE = re.compile(r"^\s*(\w+) \[", re.M)
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)


def dot_nodes(source: str) -> list[str]:
    return [m for m in _NODE.findall(source) if m not in ("node", "edge", "graph")]


def dot_edges(source: str) -> list[tuple[str, str]]:
    return _EDGE.findall(source)


def dot_node_lines(source: str) -> dict[str, str]:
    """node id -> its whole statement line (labels never contain raw newlines)."""
    out = {}
    for line in source.splitlines():
        m = re.match(r"^\s*(\w+) \[", line)
        if m and m.group(1) not in ("node", "edge", "graph"):
            out[m.group(1)] = line
    return out


def dot_edge_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if re.match(r"^\s*\w+ -> \w+", line)]


def cluster_labels(source: str) -> list[str]:
    return re.findall(r"subgraph cluster_\d+ \{\s*[^\n]*label=<<B>(.*?)</B>>", source)


# ---------------------------------------------------------------- SVG
def svg_root(graph) -> ET.Element:
    """Render with the real dot program and parse the SVG (raises on invalid XML)."""
    return ET.fromstring(graph.pipe(format="svg"))


def svg_groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == cls]


def svg_texts(elem: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in elem.iter(f"{SVG}text")]


def svg_node_texts(root: ET.Element) -> dict[str, str]:
    """SVG node element id (gs_nK) -> all its text joined with newlines."""
    return {g.get("id"): "\n".join(svg_texts(g)) for g in svg_groups(root, "node")}


def attribute_names(root: ET.Element) -> set[str]:
    names = set()
    for e in root.iter():
        names.update(k.lower() for k in e.attrib)
    return names


def label_numbers(text: str) -> list[float]:
    """The numbers shown in (a piece of) an HTML-like label, tags removed."""
    text = re.sub(r"<[^>]*>", " ", text)
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def fmt(x: float) -> str:
    return f"{x:.4g}"


# ---------------------------------------------------------------- browser
def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


NO_BROWSER = (
    "no Chromium installed: the browser tests are skipped (`./run test` installs it as root; "
    "under CI, CI=true, its absence is a failure)"
)


def requires_browser(test):
    """Skip ``test`` without Chromium, with a note; under CI (``CI=true``) fail instead,
    so a CI machine without a browser cannot pass by skipping the browser tests."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if chromium_path() is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("CI=true and no Chromium: the browser tests must run under CI")
            pytest.skip(NO_BROWSER)
        return test(*args, **kwargs)

    return wrapper


def dump_dom(url: str, profile_dir) -> str:
    """The DOM after the page's scripts ran, from headless chromium."""
    cmd = [
        chromium_path(),
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=3000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert "<html" in done.stdout, f"chromium produced no DOM: {done.stderr[-2000:]}"
    return done.stdout


_VOID = {"br", "meta", "input", "img", "link", "hr", "wbr", "area", "base", "col", "embed"}


class ClassText(HTMLParser):
    """Collects the text inside elements whose class list has ``cls``, and by id."""

    def __init__(self, cls: str):
        super().__init__(convert_charrefs=True)
        self.cls = cls
        self.hits: list[list[str]] = []
        self.by_id: dict[str, list[str]] = {}
        self.ids_with_cls: list[str] = []
        self._open: list[tuple[str, list[str] | None, list[str] | None]] = []

    def handle_starttag(self, tag, attrs):
        self._start(tag, attrs, push=tag not in _VOID)

    def handle_startendtag(self, tag, attrs):
        self._start(tag, attrs, push=False)

    def _start(self, tag, attrs, push):
        a = dict(attrs)
        hit = None
        if self.cls in (a.get("class") or "").split():
            hit = []
            self.hits.append(hit)
            self.ids_with_cls.append(a.get("id"))
        byid = None
        if a.get("id"):
            byid = []
            self.by_id[a["id"]] = byid
        if push:
            self._open.append((tag, hit, byid))

    def handle_endtag(self, tag):
        if not any(t == tag for t, _, _ in self._open):
            return
        while self._open:
            t, _, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, hit, byid in self._open:
            if hit is not None:
                hit.append(data)
            if byid is not None:
                byid.append(data)

    def text_of(self, elem_id: str) -> str:
        return "".join(self.by_id.get(elem_id, []))
