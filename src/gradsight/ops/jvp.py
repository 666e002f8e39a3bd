"""Forward-mode (JVP) rules by kind: the ones many ops share, built from their VJPs or
forwards so each op's two rules keep one convention at kinks and ties.

A JVP rule has the form ``rule(F, dots, out, *arrays, *params) -> tangent of out``:
``dots`` holds one tangent per input (None where it is zero; at least one is not),
``out`` is the forward result and the rest is what the VJP rules receive. Like the
VJPs it is written in the namespace ``F`` (arrays, or Tensors when forward mode is
itself differentiated). The result may be broadcastable to ``out.shape``.

- ``elementwise(vjps)``: an elementwise op's Jacobian is diagonal, hence equal to
  its transpose: J d is the VJP applied to d (summed over inputs). Same convention
  at kinks and ties as the VJP by construction.
- ``linear(prim)``: an op linear in its inputs together (reshape, sum, indexing,
  concatenate): J d is the forward applied to the tangents (zeros for None).
- ``multilinear(prim)``: linear in each input separately (matmul, einsum): the sum
  over inputs of the forward with that one input replaced by its tangent.
- ``contraction(vjp, axes)``: each output element depends on its own slice of one
  input (a reduction, a determinant): J d = sum over the slice of W * d, with W the
  VJP of ones (the weights of that slice, ties and zeros as the VJP takes them).
"""

from __future__ import annotations

import numpy as np

from gradsight._core.node import apply


def _run(F, prim, operands, params):
    """prim's forward on arrays, or the recorded op on Tensors (F.records)."""
    if F.records:
        return apply(prim, operands, *params)
    return prim.forward(*operands, *params)


def _zeros_like(F, x):
    return np.zeros(np.shape(F.data(x)), dtype=F.data(x).dtype)


def _add(total, term):
    return term if total is None else total + term


def elementwise(vjps):
    """JVP of an elementwise op from its VJP rules (diagonal Jacobian: J = J^T)."""

    def rule(F, dots, out, *args):
        total = None
        for i, d in enumerate(dots):
            if d is not None:
                total = _add(total, vjps[i](F, d, out, *args))
        return total

    return rule


def linear(prim):
    """JVP of an op linear in all its inputs together: the op applied to the tangents."""

    def rule(F, dots, out, *args):
        n = len(dots)
        operands = [_zeros_like(F, a) if d is None else d for d, a in zip(dots, args)]
        return _run(F, prim, operands, args[n:])

    return rule


def multilinear(prim):
    """JVP of an op linear in each input separately: one term per input with a tangent."""

    def rule(F, dots, out, *args):
        n = len(dots)
        total = None
        for i, d in enumerate(dots):
            if d is not None:
                operands = list(args[:n])
                operands[i] = d
                total = _add(total, _run(F, prim, operands, args[n:]))
        return total

    return rule


def weights(F, vjp, out, args):
    """The VJP of ones: d out / d input per element, shaped like the input."""
    ones = np.ones(np.shape(F.data(out)), dtype=F.data(out).dtype)
    return vjp(F, ones, out, *args)


def contraction(vjps, axes):
    """JVP of an op whose outputs each read one slice of its inputs: sum(W * d) over
    the slice, for each input. ``axes(*args) -> (axis, keepdims)`` names the slice's
    axes (``()`` for an elementwise loss); ``vjps`` is one rule or the tuple of them."""
    if callable(vjps):
        vjps = (vjps,)

    def rule(F, dots, out, *args):
        axis, keepdims = axes(*args)
        total = None
        for vjp, d in zip(vjps, dots):
            if d is not None:
                term = (weights(F, vjp, out, args) * d).sum(axis=axis, keepdims=keepdims)
                total = _add(total, term)
        return total

    return rule


def reduction_axes(x, axis, keepdims, *rest):
    """(axis, keepdims) of a reduction's parameters (sum, max, prod, norm ...)."""
    return axis, keepdims
