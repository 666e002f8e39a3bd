"""A backprop report reads as its table (repr, HTML) and draws its own graph."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradsight as gs


def forward(p, X, T):
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.tanh(Z1)
    Z2 = H1 @ p["W2"] + p["b2"]
    return 0.5 * np.sum((Z2 - T) ** 2) / len(X)


def backward(p, X, T, tanh_prime=lambda H: 1 - H**2):
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.tanh(Z1)
    dZ2 = (H1 @ p["W2"] + p["b2"] - T) / len(X)
    dH1 = dZ2 @ p["W2"].T
    dZ1 = dH1 * tanh_prime(H1)
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(0), "W2": H1.T @ dZ2, "b2": dZ2.sum(0),
            "Z2": dZ2, "H1": dH1, "Z1": dZ1}  # fmt: skip


@pytest.fixture
def buggy():
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    params = {"W1": rng.normal(size=(3, 4)), "b1": np.zeros(4),
              "W2": rng.normal(size=(4, 2)), "b2": np.zeros(2)}  # fmt: skip
    bad = lambda *a: backward(*a, tanh_prime=lambda H: 1 - H)  # noqa: E731
    return gs.check.backprop(forward, bad, params, X, T)


def test_repr_is_the_table(buggy):
    assert repr(buggy) == str(buggy)
    assert not repr(buggy).startswith("BackpropReport(")
    assert "Z1    intermediate" in repr(buggy)


def test_html_marks_exactly_the_mismatched_rows(buggy):
    page = buggy._repr_html_()
    marked = re.findall(r'<tr class="mismatch"[^>]*><td>([^<]*)</td>', page)
    assert marked == ["Z1", "W1", "b1"] == list(buggy.mismatched_names)
    assert page.count("<tr>") == 1 + 4  # the header and the rows that agree
    assert "your gradient for Z1 differs" in page


def test_rel_error_of_a_correct_gradient_with_zero_entries_is_small():
    def fwd(p, x):
        return np.sum(p["w"] * x)

    report = gs.check.backprop(fwd, lambda p, x: {"w": x}, {"w": np.ones(3)}, np.array([0.0, 1, 2]))
    assert report.ok and report["w"].max_rel_error == 0.0


def test_draw_graph_of_a_report_highlights_the_first_divergence_and_its_path(buggy):
    dot = gs.viz.draw_graph(buggy).source
    red = 'color="#d62728"'
    hot = {m[1] for m in re.finditer(r"<B>(\w+)</B></TD>.*?" + red, dot)}
    assert {"Z1", "H1", "Z2"} <= hot  # the divergence and every tensor on to the loss
    assert not hot & {"W1", "b1", "W2", "b2"}  # parameters stay as they are


def test_a_report_without_a_graph_refuses_to_draw(buggy):
    buggy.graph = None
    with pytest.raises(ValueError, match="no graph"):
        gs.viz.draw_graph(buggy)
