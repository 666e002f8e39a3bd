"""draw_graph(tangents=...): a forward-mode pass drawn on the article's network.

Oracle: the network's closed forms in NumPy (helpers.XorNet): the loss's tangent
is <dL/dW, D> with the hand-derived gradient, the hidden layer's is
h (1 - h) * (X D^T), the output's o (1 - o) * ((h (1 - h) * (X D^T)) V^T).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs

from .helpers import X_XOR, XorNet, dot_node_lines, label_numbers, sigmoid

DIRECTION = np.random.default_rng(5).normal(size=(4, 2))


def _line_named(source: str, name: str) -> str:
    return next(line for line in dot_node_lines(source).values() if f"<B>{name}</B>" in line)


def _tangent_part(line: str) -> str:
    assert "<I>tangent</I>" in line, line
    return line.split("<I>tangent</I>", 1)[1].split("</TD>", 1)[0]


def _oracle(net: XorNet) -> dict:
    h = sigmoid(X_XOR @ net.W0.T + net.b0)
    out = sigmoid(h @ net.V0.T + net.c0)
    dh = h * (1 - h) * (X_XOR @ DIRECTION.T)
    return {
        "h": dh,
        "output": out * (1 - out) * (dh @ net.V0.T),
        "L": float(np.sum(net.oracle()["W"] * DIRECTION)),
    }


def test_each_tensor_shows_its_tangent_along_the_direction():
    net = XorNet()
    names = {**net.params, "h": net.h, "output": net.out, "L": net.loss}
    g = gs.viz.draw_graph(net.loss, params=names, tangents={"hidden.W": DIRECTION}, show_grad=False)
    want = _oracle(net)
    (loss_t,) = label_numbers(_tangent_part(_line_named(g.source, "L")))
    assert loss_t == pytest.approx(want["L"], rel=1e-3)
    out_t = label_numbers(_tangent_part(_line_named(g.source, "output")))
    np.testing.assert_allclose(out_t, want["output"].ravel(), rtol=1e-3, atol=1e-4)
    lo, mean, hi = label_numbers(_tangent_part(_line_named(g.source, "h")))
    dh = want["h"]
    np.testing.assert_allclose([lo, mean, hi], [dh.min(), dh.mean(), dh.max()], rtol=1e-3)
    # the leaves held still show a zero tangent; the moved one its direction
    assert label_numbers(_tangent_part(_line_named(g.source, "hidden.b"))) == [0, 0, 0, 0]
    assert "forward mode" in g.source and "<I>grad</I>" not in g.source


def test_trace_forward_gives_every_node_its_tangent():
    net = XorNet()
    tangents = gs.autograd.trace_forward(net.loss, {net.W: DIRECTION})
    want = _oracle(net)
    assert tangents[net.loss.grad_fn].item() == pytest.approx(want["L"], rel=1e-12)
    np.testing.assert_allclose(tangents[net.h.grad_fn], want["h"], rtol=1e-12)
    assert net.V.grad_fn is None and all(np.shape(t) for t in [tangents[net.out.grad_fn]])


def test_bad_tangents_are_named():
    net = XorNet()
    with pytest.raises(ValueError, match="'hidden.Q', not in params"):
        gs.viz.draw_graph(net.loss, params=net.params, tangents={"hidden.Q": DIRECTION})
    with pytest.raises(
        ValueError, match=r"direction of shape \(2,\) for a tensor of shape \(4, 2\)"
    ):
        gs.viz.draw_graph(net.loss, params=net.params, tangents={"hidden.W": np.ones(2)})
    with pytest.raises(TypeError, match="does not require grad"):
        gs.autograd.trace_forward(net.loss, {net.X: np.ones((4, 2))})
