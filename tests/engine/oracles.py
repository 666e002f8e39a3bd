"""Independent gradient oracles that do not go through gs.gradcheck.

``projection_check`` is a cheap second opinion that scales to large inputs:
for random directions u (output space) and v_i (each input's space),

    numeric  = (u . f(x + eps v) - u . f(x - eps v)) / (2 eps)    ~ u^T J v
    analytic = sum_i <VJP_i(u), v_i>                               = u^T J v

One backward and two forwards, whatever the sizes, instead of one backward
per output element and two forwards per input element.
"""

from __future__ import annotations

import numpy as np

import gradsight as gs


def projection_check(fn, arrays, rng: np.random.Generator, eps: float = 1e-6):
    """Return (analytic, numeric, scale) for f = fn(*tensors) at float64 ``arrays``.

    Also asserts that every gradient has its input's shape and dtype. ``scale``
    is sum |u * f(x)|, the size of the rounding error the numeric side carries.
    """
    xs = [gs.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    u = rng.standard_normal(out.shape)
    vs = [rng.standard_normal(np.shape(a)) for a in arrays]
    grads = gs.autograd.grad(out, xs, grad_outputs=u, allow_unused=True)
    analytic = 0.0
    for g, x, v in zip(grads, xs, vs):
        if g is None:
            continue
        assert g.shape == x.shape, f"gradient shape {g.shape} != input shape {x.shape}"
        assert g.dtype == x.dtype, f"gradient dtype {g.dtype} != input dtype {x.dtype}"
        analytic += float(np.sum(g.data * v))

    def along(t: float) -> float:
        moved = [gs.tensor(a + t * v) for a, v in zip(arrays, vs)]
        return float(np.sum(u * fn(*moved).data))

    numeric = (along(eps) - along(-eps)) / (2 * eps)
    return analytic, numeric, float(np.sum(np.abs(u * out.data)))


def assert_projection_close(fn, arrays, rng, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Analytic and numeric u^T J v agree to rtol, plus atol and rounding noise."""
    analytic, numeric, scale = projection_check(fn, arrays, rng)
    tol = atol + rtol * abs(numeric) + 1e-9 * scale
    assert abs(analytic - numeric) <= tol, (
        f"u^T J v: analytic {analytic!r} vs numeric {numeric!r} "
        f"(|diff| {abs(analytic - numeric):.3e} > tol {tol:.3e})"
    )
