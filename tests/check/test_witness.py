"""The finite-difference witness: random directions plus the coordinates that differ most."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight.check import witness


def forward(p, X, y):
    H = np.tanh(X @ p["W1"].T + p["b1"])
    S = H @ p["W2"].T + p["b2"]
    S = S - np.max(S, axis=1, keepdims=True)
    logp = S - np.log(np.sum(np.exp(S), axis=1, keepdims=True))
    return -np.mean(np.sum(logp * np.eye(S.shape[1])[y], axis=1))


def backward(p, X, y, scale_W1=1.0):
    H = np.tanh(X @ p["W1"].T + p["b1"])
    S = H @ p["W2"].T + p["b2"]
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dS = (P - np.eye(S.shape[1])[y]) / len(X)
    dZ = (dS @ p["W2"]) * (1 - H**2)
    return {"W1": scale_W1 * dZ.T @ X, "b1": dZ.sum(0), "W2": dS.T @ H, "b2": dS.sum(0)}


def network(sizes, n):
    rng = np.random.default_rng(0)
    d, q, m = sizes
    p = {"W1": rng.normal(scale=d**-0.5, size=(q, d)), "b1": np.zeros(q),
         "W2": rng.normal(scale=q**-0.5, size=(m, q)), "b2": np.zeros(m)}  # fmt: skip
    return p, rng.normal(size=(n, d)), rng.integers(0, m, size=n)


def test_a_784_128_10_network_is_checked_by_the_witness_and_says_what_it_sampled():
    p, X, y = network((784, 128, 10), 64)
    report = gs.check.backprop(forward, backward, p, X, y)  # 101,770 parameters: the witness
    assert report.ok, report
    assert "witness" in report.sampled and "16 of 101770 coordinates" in report.sampled
    assert report.sampled in str(report)


def test_the_witness_sides_with_autograd_where_the_hand_is_wrong():
    p, X, y = network((784, 128, 10), 64)
    report = gs.check.backprop(forward, lambda *a: backward(*a, scale_W1=64.0), p, X, y)
    row = report["W1"]
    assert not row.ok and row.fd_ok
    assert row.fd == pytest.approx(row.auto, rel=1e-4) and row.hand == pytest.approx(64 * row.auto)


def test_the_witness_sees_autograd_wrong_in_a_coordinate_it_did_not_sample():
    def wrong_vjp(F, g, out, x):  # d/dx of x * x, off in one coordinate of a 30-element tensor
        grad = 2 * x * g
        grad[29] += 0.5
        return grad

    square = gs.autograd.Primitive("square_with_a_bug", lambda x: x * x, (wrong_vjp,))

    def fwd(p, x):
        return np.sum(gs.autograd.apply(square, p["w"] * x)) if isinstance(p["w"], gs.Tensor) \
            else np.sum((p["w"] * x) ** 2)  # fmt: skip

    x = np.linspace(0.5, 1.5, 30)
    p = {"w": np.linspace(-1, 1, 30)}
    same_as_autograd = 2 * p["w"] * x * x
    same_as_autograd[29] += 0.5 * x[29]  # hand and autograd agree: only the witness can tell
    report = gs.check.backprop(fwd, lambda p, x: {"w": same_as_autograd}, p, x,
                               finite_differences="witness")  # fmt: skip
    assert report["w"].ok  # hand == autograd
    assert not report["w"].fd_ok  # a random direction crosses coordinate 29
    hand = same_as_autograd
    sampled = witness._largest_differences(hand, hand, witness.COORDINATES, 1e-5)
    assert (29,) not in sampled
    assert not report.ok


def test_full_differences_stay_available():
    p, X, y = network((3, 4, 2), 5)
    report = gs.check.backprop(forward, backward, p, X, y, finite_differences="full")
    assert report.ok and report.sampled == "finite differences eps=1e-06"
    small = gs.check.backprop(forward, backward, p, X, y)  # few parameters: full by default
    assert small.sampled == report.sampled
    none = gs.check.backprop(forward, backward, p, X, y, finite_differences=False)
    assert none.sampled == "finite differences skipped" and np.isnan(none["W1"].fd)
    with pytest.raises(ValueError, match="finite_differences must be"):
        gs.check.backprop(forward, backward, p, X, y, finite_differences="some")


def test_the_numbers_check_md_states_about_the_witness():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "check.md").read_text(encoding="utf-8")
    n = 784 * 128 + 128 + 128 * 10 + 10
    assert n == 101_770 and f"{2 * n:,}\nfor a 784-128-10 network" in doc
    assert f"Above {witness.FULL_LIMIT:,} parameter elements" in doc
    assert f"per parameter, {witness.DIRECTIONS} random directions" in doc
    assert f"the {witness.COORDINATES} coordinates furthest past" in doc
    assert f"That is {2 * (witness.DIRECTIONS + witness.COORDINATES)} forward calls" in doc
    assert (witness.FD_ATOL, witness.FD_RTOL) == (1e-4, 1e-3)
    assert "`|autograd - fd| <= 1e-4 + 1e-3 |fd|`" in doc
