"""Shared pieces for the reference tests: XOR data, two gradient oracles, the gs.nn twin."""

from __future__ import annotations

import numpy as np

import gradsight as gs
from gradsight import reference as ref

X_XOR = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T_XOR = np.array([[0.0], [1.0], [1.0], [0.0]])


def fd_gradients(params, X, T, f="sigmoid", g="sigmoid", eps=1e-6) -> dict:
    """Central differences of the article's L with respect to every parameter element."""
    grads = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][idx] = value[idx] + eps
            up = ref.loss(ref.forward(shifted, X, f, g).Y, T)
            shifted[name][idx] = value[idx] - eps
            down = ref.loss(ref.forward(shifted, X, f, g).Y, T)
            grad[idx] = (up - down) / (2 * eps)
        grads[name] = grad
    return grads


def fd_hidden_error(params, X, T, f="sigmoid", g="sigmoid", eps=1e-6) -> np.ndarray:
    """dL/dH by central differences: L as a function of the hidden outputs H (samples, q)."""
    fw = ref.forward(params, X, f, g)
    gfn = ref.activation(g).fn

    def loss_of(H):
        return ref.loss(gfn(H @ params["V"].T + params["c"]), T)

    out = np.zeros_like(fw.H)
    for idx in np.ndindex(fw.H.shape):
        H = fw.H.copy()
        H[idx] += eps
        up = loss_of(H)
        H[idx] -= 2 * eps
        out[idx] = (up - loss_of(H)) / (2 * eps)
    return out


def article_model(d, q, m, f="sigmoid", g="sigmoid", params=None) -> gs.nn.Module:
    """gs.nn.MLP([d, q, m]) (Linear weights: the article's layout), optionally set to params."""
    model = gs.nn.MLP([d, q, m], activation=f, output_activation=g)
    if params is not None:
        model.load_state_dict({ref.MLP_NAMES[k]: v for k, v in params.items()})
    return model


def article_loss(model, X, T) -> gs.Tensor:
    """The article's L = 1/(2n) sum (y - y_hat)^2, n samples, through gs.nn."""
    Y = model(gs.tensor(X))
    return 0.5 * gs.nn.functional.mse_loss(Y, gs.tensor(T), reduction="sum") / X.shape[0]


def autograd_gradients(params, X, T, f="sigmoid", g="sigmoid") -> dict:
    """dL/dW, db, dV, dc by gradsight autograd through the gs.nn twin, keyed W, b, V, c."""
    model = article_model(*params["W"].shape[::-1], params["V"].shape[0], f, g, params)
    article_loss(model, X, T).backward()
    named = dict(model.named_parameters())
    return {k: named[v].grad.numpy() for k, v in ref.MLP_NAMES.items()}


def max_abs_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def xor_params() -> dict:
    """A fixed zero-mean start for the 2-4-1 XOR network."""
    return ref.init_params(2, 4, 1, seed=0)
