"""Every differentiable op of the registry, traced: the replay of ``grad`` through
the op, on new input values, equals the eager gradient bit for bit. Each op's
expected outcome is declared: replayed, or refused with its reason (REFUSED); a
refusal of an op not declared there fails, as does a declared one that traces."""

from __future__ import annotations

import numpy as np
import pytest
from tests.ops.checks import kwargs_in, upstream
from tests.ops.registry import cases

import gradsight as gs

DIFF = cases(differentiable_only=True)

# op name -> the reason its trace is refused (a regular expression of the TraceError)
REFUSED: dict[str, str] = {}


def _op(info):
    """The registry's ``gs`` side without the registry's own value check: an entry made
    by ``_also_method`` also calls the Tensor method and compares the two values with
    np.testing (a value read, which a trace refuses). The method itself is checked
    eagerly by tests/ops; here the NumPy-named function is what is traced."""
    fn = info.gs
    code = getattr(fn, "__code__", None)
    cells = dict(zip(code.co_freevars, fn.__closure__ or ())) if code is not None else {}
    if code is None or code.co_name != "call" or set(cells) != {"np_fn", "method", "fixed"}:
        return fn
    np_fn, fixed = cells["np_fn"].cell_contents, cells["fixed"].cell_contents
    return lambda x, *rest, **kw: np_fn(x, *rest, **{**fixed, **kw})


def _same_layout(a: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` in an array laid out as ``a`` (a transposed sample stays transposed);
    ``a`` itself unless it is floating point."""
    if a.dtype.kind != "f":
        return a
    out = np.empty_like(a)
    out[...] = values
    return out


def _grads(info, kw, xs):
    out = _op(info)(*xs, **kw)
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
    reason = REFUSED.get(info.name)
    with np.errstate(all="ignore"):  # samples at poles: warnings are not the point here
        if reason is not None:
            with pytest.raises(gs.TraceError, match=reason):
                traced(*[gs.tensor(a, requires_grad=True) for a in first])
            return
        traced(*[gs.tensor(a, requires_grad=True) for a in first])  # traced, not refused
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
