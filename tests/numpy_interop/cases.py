"""The NumPy calls issue 13 lists, each with sample inputs.

``CASES`` maps a name to ``(call, shapes, domain)``: ``call(*xs)`` is plain
NumPy code (``np.tanh(x)``, ``np.dot(a, b)`` ...), run once on arrays (the
reference) and once on Tensors (through the protocols); ``shapes`` are the
float64 inputs' shapes; ``domain`` keeps them off poles and kinks so central
finite differences are valid. ``NO_GRAD`` calls give constants.
"""

from __future__ import annotations

import numpy as np

POS = (0.5, 2.0)  # log, sqrt, power's base
ANY = (-2.0, 2.0)

CASES = {
    # ufuncs, binary (broadcasting)
    "add": (lambda a, b: np.add(a, b), [(3, 4), (4,)], ANY),
    "subtract": (lambda a, b: np.subtract(a, b), [(3, 1), (4,)], ANY),
    "multiply": (lambda a, b: np.multiply(a, b), [(3, 4), (3, 4)], ANY),
    "true_divide": (lambda a, b: np.true_divide(a, b), [(3, 4), (4,)], POS),
    "divide": (lambda a, b: np.divide(a, b), [(2, 3), (2, 3)], POS),
    "power": (lambda a, b: np.power(a, b), [(2, 3), (2, 3)], POS),
    "maximum": (lambda a, b: np.maximum(a, b), [(3, 4), (3, 4)], ANY),
    "minimum": (lambda a, b: np.minimum(a, b), [(3, 4), (4,)], ANY),
    "fmax": (lambda a, b: np.fmax(a, b), [(3, 4), (3, 4)], ANY),
    "fmin": (lambda a, b: np.fmin(a, b), [(3, 4), (3, 4)], ANY),
    "matmul": (lambda a, b: np.matmul(a, b), [(3, 4), (4, 2)], ANY),
    # ufuncs, unary
    "negative": (lambda x: np.negative(x), [(3, 4)], ANY),
    "positive": (lambda x: np.positive(x), [(3, 4)], ANY),
    "exp": (lambda x: np.exp(x), [(3, 4)], ANY),
    "expm1": (lambda x: np.expm1(x), [(3, 4)], ANY),
    "log": (lambda x: np.log(x), [(3, 4)], POS),
    "log1p": (lambda x: np.log1p(x), [(3, 4)], POS),
    "log2": (lambda x: np.log2(x), [(3, 4)], POS),
    "sqrt": (lambda x: np.sqrt(x), [(3, 4)], POS),
    "square": (lambda x: np.square(x), [(3, 4)], ANY),
    "abs": (lambda x: np.abs(x), [(3, 4)], POS),
    "absolute": (lambda x: np.absolute(-x), [(3, 4)], POS),
    "tanh": (lambda x: np.tanh(x), [(3, 4)], ANY),
    "sin": (lambda x: np.sin(x), [(3, 4)], ANY),
    "cos": (lambda x: np.cos(x), [(3, 4)], ANY),
    # products
    "dot_2d": (lambda a, b: np.dot(a, b), [(3, 4), (4, 2)], ANY),
    "dot_1d": (lambda a, b: np.dot(a, b), [(4,), (4,)], ANY),
    "dot_nd": (lambda a, b: np.dot(a, b), [(2, 3, 4), (3, 4, 2)], ANY),
    "dot_scalar": (lambda a: np.dot(a, 3.0), [(2, 3)], ANY),
    "vdot": (lambda a, b: np.vdot(a, b), [(2, 3), (3, 2)], ANY),
    "inner": (lambda a, b: np.inner(a, b), [(2, 3), (4, 3)], ANY),
    "outer": (lambda a, b: np.outer(a, b), [(3,), (2, 2)], ANY),
    "tensordot": (
        lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])),
        [(2, 3, 4), (4, 2, 5)],
        ANY,
    ),
    "tensordot_int": (lambda a, b: np.tensordot(a, b, 1), [(2, 3), (3, 4)], ANY),
    "einsum": (lambda a, b: np.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)], ANY),
    "einsum_implicit": (lambda a, b: np.einsum("bij,bjk", a, b), [(2, 3, 4), (2, 4, 2)], ANY),
    "einsum_sum": (lambda a: np.einsum("ij->", a), [(3, 4)], ANY),
    "einsum_outer": (lambda a, b: np.einsum("i,j->ij", a, b), [(3,), (2,)], ANY),
    # reductions
    "sum": (lambda x: np.sum(x), [(3, 4)], ANY),
    "sum_axis": (lambda x: np.sum(x, axis=0, keepdims=True), [(3, 4)], ANY),
    "mean": (lambda x: np.mean(x, axis=1), [(3, 4)], ANY),
    "max": (lambda x: np.max(x, axis=0), [(3, 4)], ANY),
    "amax": (lambda x: np.amax(x), [(3, 4)], ANY),
    "min": (lambda x: np.min(x, axis=1, keepdims=True), [(3, 4)], ANY),
    "amin": (lambda x: np.amin(x), [(3, 4)], ANY),
    "prod": (lambda x: np.prod(x, axis=1), [(3, 4)], ANY),
    "prod_with_zero": (lambda x: np.prod(x * np.array([1.0, 0.0, 1.0])), [(3,)], ANY),
    "cumsum": (lambda x: np.cumsum(x, axis=1), [(3, 4)], ANY),
    "cumsum_flat": (lambda x: np.cumsum(x), [(3, 4)], ANY),
    "var": (lambda x: np.var(x, axis=0), [(3, 4)], ANY),
    "var_ddof": (lambda x: np.var(x, ddof=1), [(3, 4)], ANY),
    "std": (lambda x: np.std(x, axis=1, ddof=1), [(3, 4)], ANY),
    "norm": (lambda x: np.linalg.norm(x), [(3, 4)], ANY),
    "norm_axis": (lambda x: np.linalg.norm(x, axis=1), [(3, 4)], ANY),
    "norm_fro": (lambda x: np.linalg.norm(x, "fro"), [(3, 4)], ANY),
    "norm_2": (lambda x: np.linalg.norm(x, 2), [(5,)], ANY),
    "trace": (lambda x: np.trace(x), [(3, 4)], ANY),
    "trace_offset": (lambda x: np.trace(x, 1), [(4, 4)], ANY),
    # elementwise functions
    "clip": (lambda x: np.clip(x, -0.5, 0.5), [(3, 4)], ANY),
    "where": (lambda a, b: np.where(a > 0, a, b), [(3, 4), (4,)], ANY),
    "copy": (lambda x: np.copy(x), [(3, 4)], ANY),
    "maximum_scalar": (lambda x: np.maximum(x, 0.1), [(3, 4)], ANY),
    # shape
    "reshape": (lambda x: np.reshape(x, (4, 3)), [(3, 4)], ANY),
    "ravel": (lambda x: np.ravel(x), [(3, 4)], ANY),
    "transpose": (lambda x: np.transpose(x, (2, 0, 1)), [(2, 3, 4)], ANY),
    "swapaxes": (lambda x: np.swapaxes(x, 0, 2), [(2, 3, 4)], ANY),
    "moveaxis": (lambda x: np.moveaxis(x, 0, -1), [(2, 3, 4)], ANY),
    "squeeze": (lambda x: np.squeeze(x), [(3, 1, 4)], ANY),
    "expand_dims": (lambda x: np.expand_dims(x, 1), [(3, 4)], ANY),
    "broadcast_to": (lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)], ANY),
    "concatenate": (lambda a, b: np.concatenate([a, b], axis=1), [(3, 2), (3, 4)], ANY),
    "concatenate_none": (lambda a, b: np.concatenate([a, b], axis=None), [(3, 2), (4,)], ANY),
    "stack": (lambda a, b: np.stack([a, b], axis=1), [(3, 4), (3, 4)], ANY),
    "hstack": (lambda a, b: np.hstack([a, b]), [(3, 2), (3, 1)], ANY),
    "vstack": (lambda a, b: np.vstack([a, b]), [(4,), (2, 4)], ANY),
    "split": (lambda x: np.split(x, 2, axis=1)[1], [(3, 4)], ANY),
    "split_indices": (lambda x: np.split(x, [1, 3])[2], [(5, 2)], ANY),
    "tile": (lambda x: np.tile(x, (2, 3)), [(2, 3)], ANY),
    "repeat": (lambda x: np.repeat(x, 2, axis=0), [(2, 3)], ANY),
    "repeat_flat": (lambda x: np.repeat(x, [1, 2, 0]), [(3,)], ANY),
    "flip": (lambda x: np.flip(x, 1), [(3, 4)], ANY),
    "flip_all": (lambda x: np.flip(x), [(3, 4)], ANY),
    "pad": (lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=0.5), [(2, 3)], ANY),
    "tril": (lambda x: np.tril(x), [(3, 4)], ANY),
    "triu": (lambda x: np.triu(x, 1), [(3, 4)], ANY),
    "diag_vector": (lambda x: np.diag(x, 1), [(3,)], ANY),
    "diag_matrix": (lambda x: np.diag(x), [(3, 4)], ANY),
    "diagonal": (lambda x: np.diagonal(x, 0, 1, 2), [(2, 3, 3)], ANY),
}

# no gradient: the result is a constant Tensor with NumPy's values
NO_GRAD = {
    "sign": lambda x: np.sign(x),
    "isfinite": lambda x: np.isfinite(x),
    "isnan": lambda x: np.isnan(x),
    "less": lambda x: np.less(x, 0.0),
    "greater_equal": lambda x: np.greater_equal(x, 0.5),
    "equal": lambda x: np.equal(x, x),
    "argmax": lambda x: np.argmax(x, axis=1),
    "argmin": lambda x: np.argmin(x),
    "zeros_like": lambda x: np.zeros_like(x),
    "ones_like": lambda x: np.ones_like(x),
    "full_like": lambda x: np.full_like(x, 7.0),
}
