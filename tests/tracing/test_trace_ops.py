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


# In-place writes inside a traced step: each form replays equal to eager, bit for bit,
# or is refused with its reason (never a replay that differs from the eager step).
_WRITE_READS = "reads the value of a traced array"
_WRITE_SHARED = "another tensor or view also holds"
INPLACE_FORMS = {
    "y += x": (lambda y, x: y.__iadd__(x), None),
    "np.clip(y, lo, hi, out=y)": (lambda y, x: np.clip(y, -0.2, 0.2, out=y), None),
    "y[0, 1] = 0": (lambda y, x: y.__setitem__((0, 1), 0.0), _WRITE_READS),
    "y[rows, cols] = 1.5": (
        lambda y, x: y.__setitem__((np.array([0, 1, 1]), np.array([2, 0, 0])), 1.5),
        _WRITE_READS,
    ),
    "y[:, 1:] *= 3 (through a view)": (lambda y, x: y[:, 1:].__imul__(3.0), _WRITE_SHARED),
}


@pytest.mark.parametrize("form", list(INPLACE_FORMS))
def test_inplace_write_in_a_traced_step_replays_equal_eager_or_is_refused(form):
    write, refused = INPLACE_FORMS[form]
    W = gs.tensor(np.array([[0.3, -0.2, 0.5], [0.1, 0.5, -0.4]]), requires_grad=True)

    def step(x):
        y = W * x
        write(y, x)
        loss = (y**2).sum()
        loss.backward()
        return loss

    def run(f, x):
        W.grad = None
        return f(x).data.copy(), W.grad.data.copy()

    traced = gs.trace(step)
    if refused is not None:
        with pytest.raises(gs.TraceError, match=refused):
            traced(np.ones((2, 3)))
        return
    for k in range(3):  # the tracing call, then replays on new values
        x = np.full((2, 3), 1.0 + k) * np.array([1.0, -1.0, 0.5])
        got, want = run(traced, x), run(step, x)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b, strict=True)


def test_writing_an_intermediate_a_live_view_still_reads_is_refused_like_eager():
    """Eagerly the view sees the write and backward refuses (its saved values changed);
    traced, the write is refused at once, never replayed with the old view values."""
    W = gs.tensor(np.array([[0.3, -0.2, 0.5], [0.1, 0.5, -0.4]]), requires_grad=True)

    def step(x):
        y = W * x
        v = y[:, 1:]
        y *= 2.0
        loss = (v**2).sum() + (y**2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="overwritten in place"):
        step(np.ones((2, 3)))
    W.grad = None
    with pytest.raises(gs.TraceError, match=_WRITE_SHARED):
        gs.trace(step)(np.ones((2, 3)))
