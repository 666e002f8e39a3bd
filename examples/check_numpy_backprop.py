"""Check a plain-NumPy two-layer network's hand-written backprop, unchanged.

This is the example of docs/check.md as a script: the same data, the same
forward and backward, the same report (tests/docs/test_check_example.py
holds them together). forward and backward are ordinary NumPy: no gradsight
inside. backward carries a planted bug (the tanh derivative written 1 - H1
instead of 1 - H1**2); gs.check.backprop runs forward as written under
autograd, adds central finite differences, and names the layer where the
hand gradients go wrong: the δ for Z1, with everything after it (Z2, H1)
agreeing.

    python examples/check_numpy_backprop.py          # exit 1: the planted bug
    python examples/check_numpy_backprop.py --fixed  # exit 0
    gradsight check --file examples/check_numpy_backprop.py   # the same check

It also has the shape ``gradsight check --file`` reads: forward, backward,
init_params() and make_data().
"""

from __future__ import annotations

import sys

import numpy as np

import gradsight as gs

BUG = "--fixed" not in sys.argv


def forward(p, X, T):  # plain NumPy: nothing of gradsight inside
    """Z1 = X W1 + b1, H1 = tanh(Z1), Z2 = H1 W2 + b2, L = sum of squared errors / (2n)."""
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.tanh(Z1)
    Z2 = H1 @ p["W2"] + p["b2"]
    return 0.5 * np.sum((Z2 - T) ** 2) / len(X)


def backward(p, X, T):  # by hand: δ2 = dL/dZ2, δ1 = dL/dZ1, and the weights' gradients
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.tanh(Z1)
    Z2 = H1 @ p["W2"] + p["b2"]
    dZ2 = (Z2 - T) / len(X)
    dH1 = dZ2 @ p["W2"].T
    dZ1 = dH1 * (1 - H1 if BUG else 1 - H1**2)  # the planted bug: tanh' = 1 - tanh^2
    return {
        "W1": X.T @ dZ1,
        "b1": dZ1.sum(0),
        "W2": H1.T @ dZ2,
        "b2": dZ2.sum(0),
        "Z2": dZ2,  # intermediates, named as in forward
        "H1": dH1,
        "Z1": dZ1,
    }


def _draws(seed: int = 0) -> tuple:
    """X (8, 3), T (8, 2), W1 (3, 4), W2 (4, 2): drawn in this order from one generator,
    as the page's example draws them."""
    rng = np.random.default_rng(seed)
    X, T = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    return X, T, rng.normal(size=(3, 4)), rng.normal(size=(4, 2))


def init_params() -> dict:
    _, _, W1, W2 = _draws()
    return {"W1": W1, "b1": np.zeros(4), "W2": W2, "b2": np.zeros(2)}


def make_data() -> tuple:
    X, T, _, _ = _draws()
    return X, T


def main() -> int:
    report = gs.check.backprop(forward, backward, init_params(), *make_data())
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
