"""The article's two-layer network, forward and backward by hand: NumPy only, no autograd.

Sizes: n samples (rows of X), d inputs, q hidden units, m outputs. The weight
layout is the article's (section 3.1.2): w_ij joins input j to hidden unit i,
v_ki joins hidden unit i to output k, so W is (q, d) and V is (m, q), the same
layout as ``gs.nn.Linear.weight``::

    Z = X W^T + b      H = f(Z)              (n, q)
    U = H V^T + c      Y = g(U)              (n, m)
    L = 1/(2n) sum_s sum_k (Y_sk - T_sk)^2   T: the targets (the article's y-hat)

The backward pass, 3.2.2 corrected (``backward``)::

    delta_out = dL/dU = (Y - T) / n * g'(U)            (n, m)
    dL/dV = delta_out^T H        dL/dc = sum_s delta_out
    dL/dH = delta_out V                                (n, q)  the article's delta_i
    delta_hid = dL/dZ = dL/dH * f'(Z)                  (n, q)
    dL/dW = delta_hid^T X        dL/db = sum_s delta_hid

and the momentum update, 3.2.1 steps 4-5 corrected (``momentum_step``)::

    step(t) = -lr * dL/dtheta + alpha * step(t-1)      theta <- theta + step(t)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "MLP_NAMES",
    "PARAM_NAMES",
    "Activation",
    "Forward",
    "activation",
    "backward",
    "forward",
    "hidden_error",
    "init_params",
    "loss",
    "momentum_step",
    "output_delta",
    "train",
]

PARAM_NAMES = ("W", "b", "V", "c")
# The same parameters in gs.nn.MLP([d, q, m], f, g): Linear, activation, Linear, activation.
MLP_NAMES = {
    "W": "layers.0.weight",
    "b": "layers.0.bias",
    "V": "layers.2.weight",
    "c": "layers.2.bias",
}


@dataclass(frozen=True)
class Activation:
    """An elementwise activation a = fn(z) with its derivative ``deriv(z, a)`` = fn'(z).

    The derivative gets both the input z and the output a, so sigmoid and
    tanh can reuse a (sigmoid' = a(1 - a), tanh' = 1 - a^2).
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    deriv: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^-z) as e^(-log(1 + e^-z)): no overflow for large negative z
    return np.exp(-np.logaddexp(0.0, -z))


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": Activation("tanh", np.tanh, lambda z, a: 1.0 - a * a),
    # relu'(0) = 0, the convention gradsight's relu uses
    "relu": Activation("relu", lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(z.dtype)),
    "identity": Activation("identity", lambda z: z, lambda z, a: np.ones_like(z)),
}


def activation(spec: str | Activation) -> Activation:
    """An Activation from a name in ``ACTIVATIONS`` or an Activation itself."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str) and spec in ACTIVATIONS:
        return ACTIVATIONS[spec]
    raise ValueError(
        f"unknown activation {spec!r}; use one of {sorted(ACTIVATIONS)} or an Activation"
    )


class Forward(NamedTuple):
    """Everything the forward pass computed, kept for the backward pass (shapes above)."""

    X: np.ndarray
    Z: np.ndarray
    H: np.ndarray
    U: np.ndarray
    Y: np.ndarray


def init_params(d: int, q: int, m: int, seed: int = 0) -> dict[str, np.ndarray]:
    """W (q, d), b (q,), V (m, q), c (m,) in float64, each from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Zero-mean like ``gs.nn.Linear``; drawn from ``np.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    bw, bv = 1.0 / np.sqrt(d), 1.0 / np.sqrt(q)
    return {
        "W": rng.uniform(-bw, bw, (q, d)),
        "b": rng.uniform(-bw, bw, q),
        "V": rng.uniform(-bv, bv, (m, q)),
        "c": rng.uniform(-bv, bv, m),
    }


def _check_params(params: Mapping[str, np.ndarray]) -> tuple[int, int, int]:
    """(d, q, m) from consistent W, b, V, c; ValueError naming any that do not fit."""
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; it needs {list(PARAM_NAMES)}")
    W, b, V, c = (np.shape(params[k]) for k in PARAM_NAMES)
    if len(W) != 2 or len(V) != 2 or b != W[:1] or c != V[:1] or V[1] != W[0]:
        raise ValueError(
            f"params do not fit the layout W (q, d), b (q,), V (m, q), c (m,): got W {W}, "
            f"b {b}, V {V}, c {c}"
        )
    return W[1], W[0], V[0]


def forward(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    f: str | Activation = "sigmoid",
    g: str | Activation = "sigmoid",
) -> Forward:
    """Z = X W^T + b, H = f(Z), U = H V^T + c, Y = g(U) for a batch X of shape (n, d)."""
    d, _, _ = _check_params(params)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n, {d}) (one sample per row), got {X.shape}")
    f, g = activation(f), activation(g)
    Z = X @ params["W"].T + params["b"]
    H = f.fn(Z)
    U = H @ params["V"].T + params["c"]
    return Forward(X, Z, H, U, g.fn(U))


def _check_targets(Y: np.ndarray, T) -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != Y.shape:
        raise ValueError(f"targets must have the outputs' shape {Y.shape}, got {T.shape}")
    return T


def loss(Y: np.ndarray, T) -> float:
    """L = 1/(2n) sum over samples s and outputs k of (Y_sk - T_sk)^2; Y, T: (n, m)."""
    T = _check_targets(Y, T)
    return float(np.sum((Y - T) ** 2) / (2 * Y.shape[0]))


def output_delta(fw: Forward, T, g: str | Activation = "sigmoid") -> np.ndarray:
    """delta_out = dL/dU = (Y - T) / n * g'(U), shape (n, m): the output layer's error."""
    T = _check_targets(fw.Y, T)
    return (fw.Y - T) / fw.Y.shape[0] * activation(g).deriv(fw.U, fw.Y)


def hidden_error(params: Mapping[str, np.ndarray], delta_out: np.ndarray) -> np.ndarray:
    """dL/dH = delta_out V, shape (n, q): what the article's delta_i = dL/dh_i should be.

    Per sample: dL/dh_i = sum_k delta_out_k v_ki (the chain rule through every output k).
    """
    return delta_out @ params["V"]


def backward(
    params: Mapping[str, np.ndarray],
    fw: Forward,
    T,
    f: str | Activation = "sigmoid",
    g: str | Activation = "sigmoid",
) -> dict[str, np.ndarray]:
    """dL/dW (q, d), dL/db (q,), dL/dV (m, q), dL/dc (m,) by the corrected 3.2.2 formulas."""
    _check_params(params)
    d_out = output_delta(fw, T, g)
    d_hid = hidden_error(params, d_out) * activation(f).deriv(fw.Z, fw.H)
    return {
        "W": d_hid.T @ fw.X,
        "b": d_hid.sum(axis=0),
        "V": d_out.T @ fw.H,
        "c": d_out.sum(axis=0),
    }


def momentum_step(
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    steps: Mapping[str, np.ndarray] | None,
    lr: float,
    alpha: float,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One update step(t) = -lr * grad + alpha * step(t-1); theta <- theta + step(t).

    ``steps`` holds step(t-1) for each parameter (None before the first update,
    meaning zeros). Returns new (params, steps); the inputs are not modified.
    """
    new_params, new_steps = {}, {}
    for k in params:
        step = -lr * np.asarray(grads[k])
        if steps is not None:
            step = step + alpha * steps[k]
        new_steps[k] = step
        new_params[k] = params[k] + step
    return new_params, new_steps


def train(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    T,
    lr: float,
    alpha: float,
    epochs: int,
    f: str | Activation = "sigmoid",
    g: str | Activation = "sigmoid",
) -> tuple[dict[str, np.ndarray], list[float]]:
    """Full-batch gradient descent with momentum; returns (params, loss before each step)."""
    params, steps, losses = dict(params), None, []
    for _ in range(epochs):
        fw = forward(params, X, f, g)
        losses.append(loss(fw.Y, T))
        params, steps = momentum_step(params, backward(params, fw, T, f, g), steps, lr, alpha)
    return params, losses
