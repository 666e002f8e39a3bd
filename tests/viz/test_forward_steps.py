"""backprop_steps(tangents=...): the step-through page playing a forward-mode pass.

Oracles, independent of the page and of each other: ``gs.jvp`` on the same
function written again, the closed-form gradient dotted with the direction
(helpers.XorNet), and central finite differences of the loss in NumPy float64.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import gradsight as gs
from gradsight.viz import StepPage, backprop_steps

from .helpers import X_XOR, Y_XOR, ClassText, XorNet, dump_dom, requires_browser, sigmoid

RNG = np.random.default_rng(7)
DW = RNG.normal(size=(4, 2))  # a direction for the hidden weights
DV = RNG.normal(size=(1, 4))  # and one for the output weights

# the article's network, inputs first, in the order the program ran it
XOR_ORDER = [
    "Leaf: hidden.W, shape (4, 2)",
    "Leaf: hidden.b, shape (4,)",
    "linear",
    "sigmoid",
    "Leaf: output.V, shape (1, 4)",
    "Leaf: output.c, shape (1,)",
    "linear",
    "sigmoid",
    "sub −",
    "pow **",
    "mean",
    "div ÷",
]


def page_data(html_text: str) -> dict:
    raw = re.search(r'<script type="application/json" id="gs-data">(.*?)</script>', html_text, re.S)
    return json.loads(raw.group(1))


def shown(pre_text: str) -> np.ndarray:
    """The numbers of a value panel (``[[...]]   shape (4, 1)``), the shape left out."""
    body = pre_text.split("shape")[0]
    return np.array([float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", body)])


def tangent_of(step: dict) -> np.ndarray:
    (item,) = step["sent"]
    assert item["to"].startswith("Tangent d("), item["to"]
    return shown(item["value"])


def numpy_loss(W, b, V, c) -> float:
    out = sigmoid(sigmoid(X_XOR @ W.T + b) @ V.T + c)
    return float(((out - Y_XOR) ** 2).mean() / 2)


def forward_page(net: XorNet, **kwargs) -> StepPage:
    return backprop_steps(
        net.loss, params=net.params, tangents={"hidden.W": DW, net.V: DV}, **kwargs
    )


# ------------------------------------------------------------ the order
def test_steps_walk_the_graph_inputs_first():
    net = XorNet()
    steps = page_data(forward_page(net).html)["steps"]
    assert [s["title"] for s in steps] == XOR_ORDER
    # every tensor a step reads was computed (or is a leaf shown) by an earlier step
    done: set[str] = set()
    for k, s in enumerate(steps):
        assert set(s["received_ids"]) <= done, (k, s["title"])
        done |= set(s["nodes"])
    # the same nodes as the backward page, walked the other way round
    backward = page_data(backprop_steps(net.loss, params=net.params).html)["steps"]
    assert {s["nodes"][0] for s in steps} == {s["nodes"][0] for s in backward}
    ops_forward = [s["nodes"][0] for s in steps if not s["title"].startswith("Leaf")]
    ops_backward = [s["nodes"][0] for s in backward if not s["title"].startswith("Accumulate")]
    assert ops_forward == ops_backward[::-1]
    # the last step computes the loss: the tensor backward starts from
    assert backward[0]["received_ids"][0] in steps[-1]["nodes"]


# ------------------------------------------------------------ the numbers
def test_the_loss_tangent_is_the_directional_derivative():
    net = XorNet()
    data = page_data(forward_page(net).html)
    steps = data["steps"]
    (shown_dl,) = tangent_of(steps[-1])

    # oracle 1: gs.jvp on the loss written again as a function of the moved weights
    def loss_of(W, V):
        h = gs.linear(gs.tensor(X_XOR), W, gs.tensor(net.b0)).sigmoid()
        out = gs.linear(h, V, gs.tensor(net.c0)).sigmoid()
        return ((out - gs.tensor(Y_XOR)) ** 2).mean() / 2

    _, jvp_dl = gs.jvp(loss_of, (gs.tensor(net.W0), gs.tensor(net.V0)), (DW, DV))
    assert shown_dl == pytest.approx(jvp_dl.item(), rel=1e-5)
    # oracle 2: the closed-form gradient dotted with the direction
    grads = net.oracle()
    dot = float(np.sum(grads["W"] * DW) + np.sum(grads["V"] * DV))
    assert shown_dl == pytest.approx(dot, rel=1e-5)
    # oracle 3: central finite differences of the loss along the direction
    eps = 1e-6
    plus = numpy_loss(net.W0 + eps * DW, net.b0, net.V0 + eps * DV, net.c0)
    minus = numpy_loss(net.W0 - eps * DW, net.b0, net.V0 - eps * DV, net.c0)
    assert shown_dl == pytest.approx((plus - minus) / (2 * eps), rel=1e-5)

    # on the way: the hidden layer's tangent, h (1 - h) * (X DWᵀ), and the leaves
    h = sigmoid(X_XOR @ net.W0.T + net.b0)
    np.testing.assert_allclose(
        tangent_of(steps[3]), (h * (1 - h) * (X_XOR @ DW.T)).ravel(), rtol=1e-5, atol=1e-9
    )
    np.testing.assert_allclose(tangent_of(steps[0]), DW.ravel(), rtol=1e-5)
    assert "held still" in steps[1]["sent"][0]["to"] and not tangent_of(steps[1]).any()
    assert "direction given" in steps[4]["sent"][0]["to"]
    np.testing.assert_allclose(shown(steps[3]["received"]), h.ravel(), rtol=1e-5)
    assert "ẏ = y·(1 − y)·ż" in steps[3]["rule"]


def test_the_page_says_why_reverse_mode_wins():
    net = XorNet()
    data = page_data(forward_page(net).html)
    elements = sum(p.data.size for p in net.params.values())  # 8 + 4 + 4 + 1
    why = data["why"]
    assert f"would take {elements} forward passes" in why
    assert f"one backward pass gives all {elements} entries" in why
    assert "ONE direction" in why
    grads = net.oracle()
    dot = float(np.sum(grads["W"] * DW) + np.sum(grads["V"] * DV))
    (number,) = re.findall(r"dL/dt = (-?[\d.e+-]+),", why)
    assert float(number) == pytest.approx(dot, rel=1e-3)  # 4 significant digits
    assert why in data["intro"] and data["steps"][-1]["note"] == why
    assert data["title"] == "Forward mode, step by step" and data["before"] == "Before forward"


def test_the_article_mlp_by_parameter_name():
    model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
    X, y = gs.tensor(X_XOR, dtype=np.float32), gs.tensor(Y_XOR, dtype=np.float32)
    loss = ((model(X) - y) ** 2).mean()
    direction = np.random.default_rng(3).normal(size=(4, 2)).astype(np.float32)
    page = backprop_steps(loss, params=model, tangents={"layers.0.weight": direction})
    steps = page_data(page.html)["steps"]
    assert [s["title"].split(",")[0] for s in steps] == [
        "Leaf: layers.0.weight",
        "Leaf: layers.0.bias",
        "linear",
        "sigmoid",
        "Leaf: layers.2.weight",
        "Leaf: layers.2.bias",
        "linear",
        "sigmoid",
        "sub −",
        "pow **",
        "mean",
    ]
    W, b = model.layers[0].weight, model.layers[0].bias

    def loss_of(w):  # the same network, the first layer's weight as the argument
        h = gs.linear(X, w, b).sigmoid()
        return ((model.layers[2](h).sigmoid() - y) ** 2).mean()

    _, want = gs.jvp(loss_of, (W,), (direction,))
    (shown_dl,) = tangent_of(steps[-1])
    assert shown_dl == pytest.approx(want.item(), rel=1e-5)
    loss.backward()  # the graph was left alive and .grad untouched until now
    dot = float(np.sum(W.grad.numpy().astype(np.float64) * direction))
    assert shown_dl == pytest.approx(dot, rel=1e-4)  # float32: 4 digits agree
    assert "would take 17 forward passes" in steps[-1]["note"]


# ------------------------------------------------------------ forms and safety
def test_inline_and_file_forms_hold_the_same_page(tmp_path):
    net = XorNet()
    page = forward_page(net)
    assert isinstance(page, StepPage) and page.steps == 12
    assert repr(page) == "<gs.viz step-through page 'Forward mode, step by step': 12 steps>"
    path = backprop_steps(
        net.loss, tmp_path / "fwd.html", params=net.params, tangents={"hidden.W": DW, net.V: DV}
    )
    assert path.read_text(encoding="utf-8") == page.html
    assert 'srcdoc="' in page._repr_html_() and 'sandbox="allow-scripts"' in page._repr_html_()
    assert "forward-mode pass" in page.html and "tangent" in page.html
    assert all(p.grad is None for p in net.params.values())
    # without tangents, the backward page: no forward-mode words in its hint or data
    back = backprop_steps(net.loss, params=net.params).html
    assert "forward-mode" not in back and "Step through the backward pass" in back
    assert "why" not in page_data(back) and page_data(back)["before"] == "Before backward"


def test_hostile_names_stay_escaped():
    evil = '</script><b id="evil">x</b><script>document.title="pwned"</script>'
    net = XorNet(names=(evil, "hidden.b", "output.V", "output.c"))
    page = backprop_steps(net.loss, params=net.params, tangents={evil: DW}, title=evil)
    assert page.html.count("</script>") == 2  # the template's own two script elements
    assert '<b id="evil">' not in page.html
    data = page_data(page.html)
    assert data["title"] == evil and data["steps"][0]["title"].startswith(f"Leaf: {evil}")
    fragment = page._repr_html_()
    assert fragment.count("<") == 2  # <iframe ...></iframe>: nothing escapes the attribute


@requires_browser
def test_browser_plays_forward_to_the_loss(tmp_path):
    evil = '</script><b id="evil">x</b>'
    net = XorNet(names=(evil, "hidden.b", "output.V", "output.c"))
    path = backprop_steps(
        net.loss, tmp_path / "fwd.html", params=net.params, tangents={evil: DW, net.V: DV}
    )
    dom = dump_dom(path.as_uri() + "#step=last", tmp_path / "profile")
    p = ClassText("current")
    p.feed(dom)
    assert "evil" not in p.by_id
    assert p.text_of("step-title") == "Step 12 of 12: div ÷"
    body = p.text_of("step-body")
    assert "Tangent d(" in body and "reverse mode wins" in body
    start = dump_dom(path.as_uri() + "#step=0", tmp_path / "profile0")
    q = ClassText("current")
    q.feed(start)
    assert q.text_of("step-title") == "Before forward"
    assert "would take 17 forward passes" in q.text_of("step-body")


def test_bad_tangents_are_refused_before_anything_is_written(tmp_path):
    net = XorNet()
    target = tmp_path / "f.html"
    with pytest.raises(ValueError, match="tangents is empty"):
        backprop_steps(net.loss, target, params=net.params, tangents={})
    with pytest.raises(ValueError, match="'hidden.Q', not in params"):
        backprop_steps(net.loss, target, params=net.params, tangents={"hidden.Q": DW})
    with pytest.raises(ValueError, match=r"direction of shape \(2,\) for a tensor of shape"):
        backprop_steps(net.loss, target, params=net.params, tangents={"hidden.W": np.ones(2)})
    net.loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        backprop_steps(net.loss, target, params=net.params, tangents={"hidden.W": DW})
    assert not target.exists()


def test_a_skip_connection_still_goes_inputs_first():
    """``F(h) + h``, the residual idiom: h feeds the add directly and through F, so a
    walk that meets h on the short path first must still wait for F's branch."""
    rng = np.random.default_rng(11)
    W = gs.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    V = gs.tensor(rng.normal(size=(3, 3)), requires_grad=True)
    x = gs.tensor(rng.normal(size=(5, 2)))

    def loss_of(W, V):
        h = (x @ W.T).sigmoid()
        out = (h @ V.T).tanh() + h  # the block's output: F(h) + h
        return (out**2).mean()

    loss = loss_of(W, V)
    dV = rng.normal(size=(3, 3))
    page = backprop_steps(loss, params={"W": W, "V": V}, tangents={"V": dV})
    steps = page_data(page.html)["steps"]
    done: set[str] = set()
    for k, s in enumerate(steps):
        assert set(s["received_ids"]) <= done, (k, s["title"])
        done |= set(s["nodes"])
    assert steps[-1]["title"] == "mean"
    _, want = gs.jvp(loss_of, (W, V), (np.zeros((3, 2)), dV))
    assert tangent_of(steps[-1])[0] == pytest.approx(want.item(), rel=1e-5)
