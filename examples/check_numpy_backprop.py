"""Check a plain-NumPy two-layer network's hand-written backprop, unchanged.

forward and backward below are ordinary NumPy: no gradsight inside. backward
carries a planted bug (the tanh derivative written 1 - H1 instead of
1 - H1**2); gs.check.backprop runs forward as written under autograd, adds
central finite differences, and names the layer where the hand gradients
go wrong: the δ for Z1, with everything after it (Z2, H1) agreeing.

    python examples/check_numpy_backprop.py          # exit 1: the planted bug
    python examples/check_numpy_backprop.py --fixed  # exit 0
"""

from __future__ import annotations

import sys

import numpy as np

import gradsight as gs

BUG = "--fixed" not in sys.argv


def forward(params, X, T):
    """Z1 = X W1 + b1, H1 = tanh(Z1), Z2 = H1 W2 + b2, L = mean squared error / 2."""
    Z1 = np.dot(X, params["W1"]) + params["b1"]
    H1 = np.tanh(Z1)
    Z2 = np.dot(H1, params["W2"]) + params["b2"]
    return 0.5 * np.mean(np.sum((Z2 - T) ** 2, axis=1))


def backward(params, X, T):
    """The hand derivation: δ2 = dL/dZ2, δ1 = dL/dZ1, and the weights' gradients."""
    n = X.shape[0]
    Z1 = X @ params["W1"] + params["b1"]
    H1 = np.tanh(Z1)
    Z2 = H1 @ params["W2"] + params["b2"]
    dZ2 = (Z2 - T) / n
    dH1 = dZ2 @ params["W2"].T
    dZ1 = dH1 * (1 - H1 if BUG else 1 - H1**2)  # the planted bug: tanh' = 1 - tanh^2
    return {
        "W2": H1.T @ dZ2,
        "b2": dZ2.sum(axis=0),
        "W1": X.T @ dZ1,
        "b1": dZ1.sum(axis=0),
        "Z2": dZ2,
        "H1": dH1,
        "Z1": dZ1,
    }


def init_params(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(scale=0.5, size=(3, 4)),
        "b1": np.zeros(4),
        "W2": rng.normal(scale=0.5, size=(4, 2)),
        "b2": np.zeros(2),
    }


def make_data(seed: int = 1) -> tuple:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(5, 3)), rng.normal(size=(5, 2))


def main() -> int:
    report = gs.check.backprop(forward, backward, init_params(), *make_data())
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
