"""Regenerate the pictures in docs/visualization.md (needs Graphviz's `dot`;
the step-through screenshot also needs chromium, and is skipped without it).

    PYTHONPATH=src python3 docs/img/make_images.py

The network is the article's: 2 inputs, 4 sigmoid hidden units, 1 sigmoid
output, XOR data, L = 1/(2n) Σ (ŷ - y)², weights drawn like the article's
listing (np.random.seed(0); rand), biases zero.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import gradsight as gs
from gradsight.check import compare_gradients
from gradsight.viz import backprop_steps, draw_graph, draw_module

HERE = Path(__file__).resolve().parent
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
T = np.array([[0], [1], [1], [0]], dtype=np.float64)


def article_network():
    """Parameters named like the article (W, b: hidden; V, c: output) and the loss."""
    np.random.seed(0)
    params = {
        "hidden.W": gs.tensor(np.random.rand(4, 2), requires_grad=True),
        "hidden.b": gs.zeros(4, dtype="float64", requires_grad=True),
        "output.V": gs.tensor(np.random.rand(1, 4), requires_grad=True),
        "output.c": gs.zeros(1, dtype="float64", requires_grad=True),
    }
    x, t = gs.tensor(X), gs.tensor(T)
    h = gs.linear(x, params["hidden.W"], params["hidden.b"]).sigmoid()
    y = gs.linear(h, params["output.V"], params["output.c"]).sigmoid()
    loss = ((y - t) ** 2).sum() / (2 * len(X))
    return params, {"X": x, "target": t, "h": h, "output": y, "L": loss}, loss


def hand_gradients(params, forgot_hidden_derivative=False):
    """The corrected backprop by hand; optionally with a classic slip (f'(z) left out)."""
    W, b, V, c = (params[k].numpy() for k in ("hidden.W", "hidden.b", "output.V", "output.c"))
    h = 1 / (1 + np.exp(-(X @ W.T + b)))
    y = 1 / (1 + np.exp(-(h @ V.T + c)))
    d_out = (y - T) / len(X) * y * (1 - y)
    d_hid = d_out @ V if forgot_hidden_derivative else d_out @ V * h * (1 - h)
    return {
        "hidden.W": d_hid.T @ X,
        "hidden.b": d_hid.sum(0),
        "output.V": d_out.T @ h,
        "output.c": d_out.sum(0),
    }


def deep_sigmoid_gradients():
    """Eight sigmoid layers: the first layers' gradients fade (coloured by magnitude)."""
    gs.manual_seed(0)
    model = gs.nn.MLP([2] + [3] * 8 + [1], activation="sigmoid", output_activation="sigmoid")
    loss = ((model(gs.tensor(X)) - gs.tensor(T)) ** 2).mean()
    loss.backward(retain_graph=True)
    return draw_graph(loss, params=model, color_by_grad=True, rankdir="TB")


def tangents_drawing(loss, everything):
    """A forward-mode pass: every hidden weight moved up by one, each tensor's tangent."""
    names = {k: v for k, v in everything.items() if k not in ("X", "target")}
    return draw_graph(loss, params=names, tangents={"hidden.W": np.ones((4, 2))}, show_grad=False)


def save_svg(graph, name: str) -> None:
    (HERE / name).write_bytes(graph.pipe(format="svg"))
    print("wrote", HERE / name)


def main() -> None:
    params, named, loss = article_network()
    everything = {**params, **named}
    save_svg(
        draw_graph(loss, params=everything, show_data=True, show_grad=False), "xor_forward.svg"
    )
    loss.backward(retain_graph=True)  # keep the graph: intermediate gradients stay visible
    save_svg(draw_graph(loss, params=everything, color_by_grad=True), "xor_gradients.svg")
    save_svg(draw_graph(loss, params=params, direction="backward"), "xor_backward.svg")
    save_svg(tangents_drawing(loss, everything), "xor_tangents.svg")
    auto = {k: p.grad for k, p in params.items()}
    report = compare_gradients(hand_gradients(params, forgot_hidden_derivative=True), auto)
    print(report)
    save_svg(draw_graph(loss, params=params, highlight=report, show_grad=False), "xor_mismatch.svg")
    model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
    save_svg(draw_module(model), "xor_module.svg")
    save_svg(deep_sigmoid_gradients(), "deep_vanishing.svg")

    fresh_params, _, fresh_loss = article_network()
    page = backprop_steps(
        fresh_loss,
        HERE / "xor_backprop.html",
        params=fresh_params,
        title="The article's XOR network: backprop step by step",
    )
    print("wrote", page)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no chromium: skipped the screenshot")
        return
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                "--window-size=1200,860",
                f"--screenshot={HERE / 'xor_backprop.png'}",
                page.as_uri() + "#step=6",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print("wrote", HERE / "xor_backprop.png")


if __name__ == "__main__":
    main()
