"""The report names the typical mistake: in the article's network and in CS231n-style layers.

Each mistake a learner makes (flipped sign, missing 1/N, transpose, another
activation's derivative, a sum over the wrong axis, a forgotten path) is
planted once; the report must name exactly it. Correct code and an
untypical bug get no diagnosis.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import reference as ref


# ------------------------------------------------------------ the article's network
def article_forward(p, X, T, f="tanh", decay=0.0):
    """The article's 2-layer network in gs.reference's layout, sigmoid output, as NumPy."""
    Z = X @ p["W"].T + p["b"]
    H = np.tanh(Z) if f == "tanh" else 1 / (1 + np.exp(-Z))
    U = H @ p["V"].T + p["c"]
    Y = 1 / (1 + np.exp(-U))
    return np.sum((Y - T) ** 2) / (2 * len(X)) + 0.5 * decay * np.sum(p["W"] ** 2)


def article_backward(p, X, T, f="tanh", g="sigmoid", decay=0.0, mistake=None):
    """gs.reference's corrected formulas, with one mistake planted on request."""
    fw = ref.forward(p, X, f, g)
    n = len(X)
    d_out = (fw.Y - T) / n * fw.Y * (1 - fw.Y)
    if mistake == "missing 1/N":
        d_out = (fw.Y - T) * fw.Y * (1 - fw.Y)
    dH = d_out @ p["V"]
    fprime = {"tanh": 1 - fw.H**2, "sigmoid": fw.H * (1 - fw.H)}[f]
    wrong = {
        "tanh' as 1 - H": 1 - fw.H,
        "sigmoid' on sigmoid": 1 / (1 + np.exp(-fw.H)) * (1 - 1 / (1 + np.exp(-fw.H))),
    }
    dZ = dH * wrong.get(mistake, fprime)
    if mistake == "sign":
        dZ = -dZ
    if mistake == "untypical":
        dZ = dZ + 0.01 * np.cos(np.arange(dZ.size).reshape(dZ.shape))
    grads = {
        "W": dZ.T @ fw.X + (0.0 if mistake == "forgot the decay path" else decay) * p["W"],
        "b": dZ.sum(axis=1) if mistake == "axis" else dZ.sum(axis=0),
        "V": d_out.T @ fw.H,
        "c": d_out.sum(axis=0),
        "U": d_out,
        "H": dH,
        "Z": dZ,
    }
    if mistake == "transpose":
        grads["W"] = fw.X.T @ dZ
    return grads


@pytest.fixture
def article():
    rng = np.random.default_rng(4)
    X, T = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    return ref.init_params(3, 4, 2, seed=1), X, T


ARTICLE_CASES = [
    # mistake, backward's keywords, the row, the kind, words the text must hold
    ("sign", {}, "Z", "sign", "sign of dZ is flipped"),
    ("missing 1/N", {}, "U", "scale", "misses a factor 1/5"),
    ("transpose", {}, "W", "transpose", "dW is transposed"),
    ("tanh' as 1 - H", {}, "Z", "activation", "tanh' written as 1 - H instead of 1 - H**2"),
    ("sigmoid' on sigmoid", {"f": "sigmoid"}, "Z", "activation", "applied to sigma(z)"),
    ("axis", {}, "b", "axis", "over axis 1"),
    ("forgot the decay path", {"decay": 0.1}, "W", "path", "the path through pow"),
]


@pytest.mark.parametrize(("mistake", "kw", "row", "kind", "words"), ARTICLE_CASES)
def test_each_typical_mistake_in_the_article_network_is_named(article, mistake, kw, row, kind,
                                                              words):  # fmt: skip
    p, X, T = article
    fwd_kw = {k: v for k, v in kw.items() if k in ("f", "decay")}
    report = gs.check.backprop(
        lambda p, X, T: article_forward(p, X, T, **fwd_kw),
        lambda p, X, T: article_backward(p, X, T, mistake=mistake, **kw),
        p, X, T,
    )  # fmt: skip
    assert not report.ok
    d = report.diagnosis
    assert d is not None, report
    assert (d.name, d.kind) == (row, kind) and words in d.text, d
    assert str(d) in report.verdict()


def test_correct_article_code_and_an_untypical_bug_get_no_diagnosis(article):
    p, X, T = article
    for decay in (0.0, 0.1):
        ok = gs.check.backprop(
            lambda p, X, T: article_forward(p, X, T, decay=decay),
            lambda p, X, T: article_backward(p, X, T, decay=decay), p, X, T,
        )  # fmt: skip
        assert ok.ok and ok.diagnosis is None
    odd = gs.check.backprop(
        article_forward, lambda *a: article_backward(*a, mistake="untypical"), p, X, T
    )
    assert not odd.ok and odd.first_divergence.name == "Z" and odd.diagnosis is None
    assert "likely mistake" not in odd.verdict()


# ------------------------------------------------------------ a CS231n-style layer
class Affine:
    def __init__(self, rng, mistake=None):
        self.W = rng.normal(size=(4, 3))
        self.b = rng.normal(size=3)
        self.mistake = mistake

    def forward(self, x):
        self.cache = x
        return x @ self.W + self.b

    def backward(self, dout):
        x = self.cache
        self.dW = x.T @ dout
        self.db = dout.sum(axis=0)
        if self.mistake == "sign":
            self.dW = -self.dW
        if self.mistake == "transpose":
            self.dW = dout.T @ x
        if self.mistake == "axis":
            self.db = dout.sum(axis=1)
        if self.mistake == "1/N":
            self.dW = self.dW / len(x)
        return dout @ self.W.T


class TanhLayer:
    def __init__(self, mistake=None):
        self.mistake = mistake

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        if self.mistake == "sigmoid's derivative":
            return dout * self.out * (1 - self.out)
        return dout * (1 - self.out**2)


class Residual:
    """out = x + tanh(x @ W): x takes two paths."""

    def __init__(self, rng, forget_skip=False):
        self.W = rng.normal(size=(4, 4))
        self.forget_skip = forget_skip

    def forward(self, x):
        self.x, self.h = x, np.tanh(x @ self.W)
        return x + self.h

    def backward(self, dout):
        dz = dout * (1 - self.h**2)
        self.dW = self.x.T @ dz
        through_w = dz @ self.W.T
        return through_w if self.forget_skip else through_w + dout


def mean_squared(out, y):
    return 0.5 * np.sum((out - y) ** 2) / len(out), (out - y) / len(out)


def mean_squared_missing_n(out, y):
    return 0.5 * np.sum((out - y) ** 2) / len(out), out - y


@pytest.mark.parametrize(
    ("mistake", "row", "kind"),
    [("sign", "W", "sign"), ("transpose", "W", "transpose"), ("axis", "b", "axis"),
     ("1/N", "W", "scale")],
)  # fmt: skip
def test_typical_mistakes_in_a_cs231n_layer_are_named(mistake, row, kind):
    rng = np.random.default_rng(0)
    report = gs.check.layer(Affine(rng, mistake), rng.normal(size=(6, 4)))
    assert report.diagnosis is not None, report
    assert (report.diagnosis.name, report.diagnosis.kind) == (row, kind)


def test_cs231n_layers_activation_loss_and_path_mistakes_are_named():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    swapped = gs.check.layers([Affine(rng), TanhLayer("sigmoid's derivative")], x, mean_squared,
                              y=y)  # fmt: skip
    assert swapped.diagnosis.kind == "activation" and swapped.diagnosis.name == "out[0]"
    assert "sigmoid's derivative" in swapped.diagnosis.text
    loss_bug = gs.check.layers([Affine(rng)], x, mean_squared_missing_n, y=y)
    assert loss_bug.diagnosis.kind == "scale" and "1/6" in loss_bug.diagnosis.text
    skip = gs.check.layer(Residual(rng, forget_skip=True), x)
    assert skip.diagnosis.kind == "path" and skip.diagnosis.name == "x"
    assert "through add" in skip.diagnosis.text or "through matmul" in skip.diagnosis.text
    assert gs.check.layer(Residual(rng), x).diagnosis is None
