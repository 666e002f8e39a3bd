"""Every differentiable op of the registry, traced: the replay of ``grad`` through
the op, on new input values, equals the eager gradient bit for bit. Each op's
expected outcome is declared: replayed, or refused with its reason (REFUSED); a
refusal of an op not declared there fails, as does a declared one that traces."""

from __future__ import annotations

import numpy as np
import pytest
from tests.ops import samples as S
from tests.ops.checks import kwargs_in, upstream
from tests.ops.registry import cases

import gradsight as gs

DIFF = cases(differentiable_only=True)

# op name, or (op name, sample note) -> the reason its trace is refused (a regular
# expression of the TraceError)
READS = "converting to a NumPy array reads the value of a traced array"
REFUSED: dict = {
    "sort": READS,  # the permutation is computed from the values (argsort) in eager code
    "maximum.accumulate": READS,  # which element set the running value, read eagerly
    "minimum.accumulate": READS,
    "linalg.slogdet": READS,  # the sign's zero test
    ("vecdot", "broadcast"): READS,
    ("matrix_power", "n=0"): "nothing to replay",  # the identity: no input reaches it
}


@pytest.fixture(autouse=True)
def _no_value_checks_in_the_registry(monkeypatch):
    """The registry's entries compare the op's spellings (a value read a trace refuses):
    here the op alone is traced."""
    monkeypatch.setattr(S, "CHECK_SPELLINGS", False)


def _op(info):
    return info.gs


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
    reason = REFUSED.get((info.name, sample.note), REFUSED.get(info.name))
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
