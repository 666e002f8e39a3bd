"""Matrix products.

matmul: (..., m, k) @ (..., k, n) -> (..., m, n); dA = g @ B^T, dB = A^T @ g,
with NumPy's rules for 1-D operands (a vector is a row on the left, a column
on the right); batch broadcasting is undone by the engine.
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import Primitive


def _matmul_da(F, g, out, a, b):
    if b.ndim == 1:  # out has shape a.shape[:-1]
        return g * b if a.ndim == 1 else g[..., None] * b
    if a.ndim == 1:  # out has shape (..., n)
        return (g[..., None, :] @ F.mT(b))[..., 0, :]
    return g @ F.mT(b)


def _matmul_db(F, g, out, a, b):
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a[:, None] * g[..., None, :]
    if b.ndim == 1:
        return (F.mT(a) @ g[..., None])[..., 0]
    return F.mT(a) @ g


matmul = Primitive("matmul", np.matmul, (_matmul_da, _matmul_db))
