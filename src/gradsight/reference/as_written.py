"""The article's formulas exactly as printed (sections 3.1.2, 3.2.1 and 3.2.2), for the errata.

Each function transcribes one formula index by index, with the article's
symbols and its own legend (n: "the number of input neurons", m: "the number of
output neurons"), so that tests can show where it disagrees with the corrected
formulas in ``network``, with autograd and with finite differences. Where a
formula cannot be read literally (an index bound twice), the docstring says
which reading is taken. Do not train with these.

Shapes follow ``network``, with "samples" for the rows of X (the corrected
n; the article's own n appears only where its legend is meant): X (samples, d),
H (samples, q), Y (samples, m).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .network import Activation, Forward, activation, output_delta
from .network import hidden_error as _dL_dH

__all__ = [
    "equation_step",
    "hidden_error",
    "hidden_error_same_index",
    "loss",
    "output",
    "update_step",
    "v_gradient",
    "w_gradient",
]


def output(
    params: Mapping[str, np.ndarray], H: np.ndarray, g: str | Activation = "sigmoid"
) -> np.ndarray:
    """3.1.2: y_i = g(sum_{j=1}^{m} v_ij h_j + c_i), m = the number of output units.

    H (samples, q) -> Y (samples, m). The sum stops at m, not at the number of
    hidden units q: with m < q it ignores hidden units m+1..q, with m > q it
    reads past V's columns (IndexError).
    """
    V, c = params["V"], params["c"]
    m = V.shape[0]
    U = np.empty((H.shape[0], m))
    for s in range(H.shape[0]):
        for i in range(m):
            U[s, i] = sum(V[i, j] * H[s, j] for j in range(m)) + c[i]
    return activation(g).fn(U)


def loss(y: np.ndarray, y_hat: np.ndarray, n: int) -> float:
    """3.1.2: L = 1/(2n) sum_{i=1}^{n} (y_i - y_hat_i)^2 for one sample's outputs y (m,).

    The legend makes n the number of input neurons, so the sum asks for
    outputs y_1..y_n: IndexError when n > m, and outputs n+1..m ignored when n < m.
    """
    return sum((y[i] - y_hat[i]) ** 2 for i in range(n)) / (2 * n)


def hidden_error(
    params: Mapping[str, np.ndarray], fw: Forward, T, g: str | Activation = "sigmoid"
) -> np.ndarray:
    """3.2.2: delta_i = dL/dh_i = d/dh_i sum_{i=1}^{n} (y_i - y_hat_i)^2, shape (samples, q).

    The clashing summation index is read as "over every output k" (the reading
    that makes the formula meaningful), and the derivative is taken exactly:
    2 sum_k (y_k - t_k) g'(u_k) v_ki per sample. What remains wrong is the
    printed equality: the right side has lost L's factor 1/(2n).
    """
    T = np.asarray(T, dtype=np.float64)
    return (2.0 * (fw.Y - T) * activation(g).deriv(fw.U, fw.Y)) @ params["V"]


def hidden_error_same_index(
    params: Mapping[str, np.ndarray], fw: Forward, T, g: str | Activation = "sigmoid"
) -> np.ndarray:
    """3.2.2 with the summation index taken as the free index i, shape (samples, q).

    Then only the term with the same i survives: delta_i = d/dh_i (y_i - t_i)^2 =
    2 (y_i - t_i) g'(u_i) v_ii, as if output i depended on hidden unit i alone.
    IndexError when q > m (there is no output i for some hidden unit i).
    """
    T = np.asarray(T, dtype=np.float64)
    gd = activation(g).deriv(fw.U, fw.Y)
    V = params["V"]
    delta = np.empty(fw.H.shape)
    for s in range(delta.shape[0]):
        for i in range(delta.shape[1]):
            delta[s, i] = 2.0 * (fw.Y[s, i] - T[s, i]) * gd[s, i] * V[i, i]
    return delta


def w_gradient(
    params: Mapping[str, np.ndarray],
    fw: Forward,
    T,
    f: str | Activation = "sigmoid",
    g: str | Activation = "sigmoid",
) -> np.ndarray:
    """3.2.1 step 4 and 3.2.2: the term delta_j h_i of Delta w_ij, summed over samples, (q, d).

    w_ij joins input j to hidden unit i, so delta_j is an input-layer error:
    the "error of the input layer" of step 3, dL/dx_j, computed correctly here.
    h_i is hidden unit i's output. The correct term is delta_hidden_i x_j.
    """
    d_hid = _dL_dH(params, output_delta(fw, T, g)) * activation(f).deriv(fw.Z, fw.H)
    d_in = d_hid @ params["W"]  # dL/dX, (samples, d)
    q, d = params["W"].shape
    G = np.zeros((q, d))
    for s in range(fw.X.shape[0]):
        for i in range(q):
            for j in range(d):
                G[i, j] += d_in[s, j] * fw.H[s, i]
    return G


def v_gradient(
    params: Mapping[str, np.ndarray], fw: Forward, T, g: str | Activation = "sigmoid"
) -> np.ndarray:
    """3.2.1 step 5: the term delta_i y_j of Delta v_ij, summed over samples, (m, q).

    v_ij joins hidden unit j to output i; delta_i is output i's error dL/du_i
    (computed correctly here) and y_j the j-th *output*, j running over the q
    hidden units: IndexError when q > m. The correct term is delta_i h_j.
    """
    d_out = output_delta(fw, T, g)
    m, q = params["V"].shape
    G = np.zeros((m, q))
    for s in range(fw.X.shape[0]):
        for i in range(m):
            for j in range(q):
                G[i, j] += d_out[s, i] * fw.Y[s, j]
    return G


def update_step(term: np.ndarray, previous: np.ndarray, lr: float, alpha: float) -> np.ndarray:
    """Delta w = eta * term + alpha * Delta w, read as an assignment (right side: the old step).

    The article's sign: with term = dL/dw (delta is defined as a derivative of
    L), adding this step to w climbs the loss.
    """
    return lr * term + alpha * previous


def equation_step(term: np.ndarray, lr: float, alpha: float) -> np.ndarray:
    """Delta w = eta * term + alpha * Delta w read as the equation it is printed as.

    Solved for Delta w: eta * term / (1 - alpha), a plain step 1/(1 - alpha)
    times larger, with no memory of earlier steps (so no momentum at all).
    """
    return lr * term / (1.0 - alpha)
