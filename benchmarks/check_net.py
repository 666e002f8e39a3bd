"""The hand-written network of the ``check`` rows: forward and backward in plain NumPy.

Layer i computes ``h @ W_i.T + b_i`` (W_i of shape (out, in), as workloads.py
lays out parameters), tanh between layers, mean softmax cross-entropy of the
logits against integer labels. ``backward`` is the hand derivation gs.check
checks; ``central_differences`` is the full per-coordinate witness.
"""

from __future__ import annotations

import numpy as np


def names(n_layers: int) -> list:
    return [f"{kind}{i}" for i in range(1, n_layers + 1) for kind in ("W", "b")]


def as_params(flat: list) -> dict:
    return dict(zip(names(len(flat) // 2), flat))


def forward(p, x, y):
    n_layers = len(p) // 2
    h = x
    for i in range(1, n_layers + 1):
        z = h @ p[f"W{i}"].T + p[f"b{i}"]
        h = np.tanh(z) if i < n_layers else z
    shifted = h - np.max(h, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(log_probs * np.eye(h.shape[1])[y], axis=1))


def backward(p, x, y):
    n_layers = len(p) // 2
    hs = [x]
    for i in range(1, n_layers + 1):
        z = hs[-1] @ p[f"W{i}"].T + p[f"b{i}"]
        hs.append(np.tanh(z) if i < n_layers else z)
    logits = hs[-1]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    dz = (probs - np.eye(logits.shape[1])[y]) / len(x)
    grads = {}
    for i in range(n_layers, 0, -1):
        grads[f"W{i}"] = dz.T @ hs[i - 1]
        grads[f"b{i}"] = dz.sum(axis=0)
        if i > 1:
            dz = (dz @ p[f"W{i}"]) * (1 - hs[i - 1] ** 2)
    return grads


def central_differences(p, x, y, eps: float = 1e-6) -> dict:
    """dL/dp for every coordinate: 2 forward calls each."""
    grads = {}
    for name, value in p.items():
        g = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            orig = value[i]
            value[i] = orig + eps
            up = forward(p, x, y)
            value[i] = orig - eps
            g[i] = (up - forward(p, x, y)) / (2 * eps)
            value[i] = orig
        grads[name] = g
    return grads
