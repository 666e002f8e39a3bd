"""Check your own hand-written backprop against autograd, number by number.

Your model, your layout, your NumPy: here a tanh layer and a softmax
classifier written the "x @ W" way, with gradients derived by hand. Three lines
check them (marked below): give gs.check the same loss written with gs ops,
and it tells you, per parameter, the largest error and where it is.

    PYTHONPATH=src python3 examples/check_your_backprop.py

The second half plants a classic bug (forgetting tanh's derivative) to show
what a failing check looks like.
"""

from __future__ import annotations

import numpy as np

import gradsight as gs
import gradsight.check


# ---------------------------------------------------------------- your model
def init(rng, n_in=3, n_hidden=5, n_classes=4):
    return {
        "W1": rng.normal(0, 0.5, (n_in, n_hidden)),
        "b1": np.zeros(n_hidden),
        "W2": rng.normal(0, 0.5, (n_hidden, n_classes)),
        "b2": np.zeros(n_classes),
    }


def my_backward(p, x, labels, forget_tanh_derivative=False):
    """Mean softmax cross-entropy of tanh(x W1 + b1) W2 + b2, differentiated by hand."""
    n = len(x)
    h = np.tanh(x @ p["W1"] + p["b1"])
    logits = h @ p["W2"] + p["b2"]
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    d_logits = prob.copy()
    d_logits[np.arange(n), labels] -= 1
    d_logits /= n  # dL/dlogits = (softmax - onehot) / n
    d_h = d_logits @ p["W2"].T
    d_z = d_h if forget_tanh_derivative else d_h * (1 - h**2)
    return {"W1": x.T @ d_z, "b1": d_z.sum(0), "W2": h.T @ d_logits, "b2": d_logits.sum(0)}


# ---------------------------------------------------------------- the same loss in gs ops
def gs_loss(p, x, labels):
    h = gs.tanh(gs.tensor(x) @ p["W1"] + p["b1"])
    return gs.nn.functional.cross_entropy(h @ p["W2"] + p["b2"], labels)


def main() -> int:
    rng = np.random.default_rng(0)
    params = init(rng)
    x, labels = rng.normal(size=(8, 3)), rng.integers(0, 4, size=8)

    # The check: three lines.
    auto = gs.check.autograd_gradients(lambda p: gs_loss(p, x, labels), params)
    report = gs.check.compare_gradients(my_backward(params, x, labels), auto)
    print(report, end="\n\n")

    buggy = gs.check.compare_gradients(
        my_backward(params, x, labels, forget_tanh_derivative=True), auto
    )
    print("With tanh's derivative forgotten:")
    print(buggy)
    print(f"\nparameters to fix: {', '.join(buggy.mismatched_names)}")
    return 0 if report.ok and not buggy.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
