"""Every differentiable op of the registry, traced: the replay of ``grad`` through
the op, on new input values, equals the eager gradient bit for bit (or the trace
is refused with TraceError, never a stale or different result)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.ops.checks import kwargs_in, upstream
from tests.ops.registry import cases

import gradsight as gs

DIFF = cases(differentiable_only=True)


def _same_layout(a: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` in an array laid out as ``a`` (a transposed sample stays transposed);
    ``a`` itself unless it is floating point."""
    if a.dtype.kind != "f":
        return a
    out = np.empty_like(a)
    out[...] = values
    return out


def _grads(info, kw, xs):
    out = info.gs(*xs, **kw)
    if not out.requires_grad:  # a cast to an integer dtype: no gradient to take
        return out, [None] * len(xs)
    v = upstream(np.shape(out.data))
    got = gs.autograd.grad(out, xs, grad_outputs=v, allow_unused=True)
    return out, got


@pytest.mark.parametrize(
    ("info", "sample"), [(i, s) for i, s, _ in DIFF], ids=[name for _, _, name in DIFF]
)
def test_registry_op_gradient_replays_equal_eager(info, sample):
    kw = kwargs_in(sample)
    first = sample.arrays(np.float64)
    rng = np.random.default_rng(3)
    # new values of the same shapes and layouts (a replay must read them, not the traced
    # ones; another layout, strides, is guarded: it retraces)
    second = [_same_layout(a, a + rng.integers(-2, 3, a.shape) * 0.125) for a in first]

    def step(*xs):
        out, got = _grads(info, kw, xs)
        return (out,) + tuple(got)

    traced = gs.trace(step)
    try:
        with np.errstate(all="ignore"):  # samples at poles: warnings are not the point here
            traced(*[gs.tensor(a, requires_grad=True) for a in first])
    except gs.TraceError:
        return  # refused: allowed, never silently wrong
    xs = [gs.tensor(a, requires_grad=True) for a in second]
    with np.errstate(all="ignore"):
        try:
            out, got = _grads(info, kw, [gs.tensor(a, requires_grad=True) for a in second])
        except (ValueError, TypeError, FloatingPointError):
            with pytest.raises((ValueError, TypeError, FloatingPointError)):
                traced(*xs)  # the eager call rejects these values: so must the replay
            return
        replayed = traced(*xs)
    # a replay, or an eager call when one of gradsight's value checks went the other way
    assert traced.replays + traced.eager_calls == 1 and traced.traces == 1
    np.testing.assert_array_equal(replayed[0].numpy(), out.numpy())
    for r, g in zip(replayed[1:], got):
        assert (r is None) == (g is None)
        if g is not None:
            np.testing.assert_array_equal(r.numpy(), g.numpy())
