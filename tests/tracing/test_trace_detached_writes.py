"""An in-place write into a ``detach()``ed alias of an intermediate, traced and eager
side by side: eagerly the write reaches the tensor it came from (and what backward
saved of it); a replay could not follow it, so the tracing call refuses it, leaving
the model as it was. A detached *copy* is the step's own array and replays exactly."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return gs.tensor(rng.normal(size=(6, 4))), rng.integers(0, 3, 6)


def _classifier(write, prepare=lambda x: x):
    """A two-layer classifier whose step passes the batch through ``prepare`` and the
    hidden layer through ``write``."""
    gs.manual_seed(0)
    hidden, out = gs.nn.Linear(4, 8), gs.nn.Linear(8, 3)
    params = [*hidden.parameters(), *out.parameters()]
    opt = gs.optim.SGD(params, lr=0.1)

    def step(x, y):
        opt.zero_grad()
        h = write(hidden(prepare(x)))
        loss = gs.nn.functional.cross_entropy(out(h), y)
        loss.backward()
        opt.step()
        return loss

    return step, params


def _shift_tanh_through_alias(z):
    h = gs.tanh(z)  # tanh saves its output for backward
    alias = h.detach()
    alias += 1.0  # lands in h's memory
    return h


def _drop_a_feature_through_alias(x):
    scaled = x * 2.0  # no grad needed: no history for the write to spoil
    alias = scaled.detach()
    alias[:, 0] = 0.0  # eagerly scaled's first column is zeroed too
    return scaled


def _shift_after_taking_an_alias(z):
    before = z.detach()  # meant as a snapshot, but it shares z's memory
    z += 1.0  # recorded (z has history); eagerly ``before`` sees the shift too
    return gs.tanh(z) + before * 0.5


def _write_into_a_detached_copy(z):
    h = gs.tanh(z)
    noisy = h.detach().copy()
    noisy += 0.5  # the step's own array: h and backward are untouched
    return h + noisy * 0.0 + noisy.mean()


def test_write_into_the_alias_of_a_saved_output_fails_eagerly_and_is_refused_traced():
    eager, _ = _classifier(_shift_tanh_through_alias)
    with pytest.raises(RuntimeError, match="overwritten in place"):
        eager(*_batch())
    traced, params = _classifier(_shift_tanh_through_alias)
    before = [p.data.copy() for p in params]
    traced = gs.trace(traced, verify=False)
    with pytest.raises(gs.TraceError, match=r"detach\(\)ed alias"):
        traced(*_batch())
    for p, b in zip(params, before):  # refused before any update: nothing half-written
        assert p.data.tobytes() == b.tobytes()


def test_write_into_an_alias_eager_sees_in_the_original_is_refused_not_replayed_apart():
    # eagerly this step runs (the write reaches the scaled batch, which has no history)
    # and the zeroed column changes the loss; a copy-on-write replay would not zero it
    keep = lambda z: z  # noqa: E731
    eager, _ = _classifier(keep, _drop_a_feature_through_alias)
    plain, _ = _classifier(keep, lambda x: x * 2.0)
    x, y = _batch()
    assert eager(x, y).item() != plain(x, y).item()  # the write matters eagerly
    traced, params = _classifier(keep, _drop_a_feature_through_alias)
    traced = gs.trace(traced, verify=False)
    with pytest.raises(gs.TraceError, match="another tensor or view also holds"):
        traced(x, y)
    _, fresh_params = _classifier(keep)
    for p, q in zip(params, fresh_params):
        assert p.data.tobytes() == q.data.tobytes()


def test_write_into_a_detached_copy_replays_bit_for_bit():
    (eager, eager_params), (step, params) = (
        _classifier(_write_into_a_detached_copy),
        _classifier(_write_into_a_detached_copy),
    )
    traced = gs.trace(step, verify=False)
    for k in range(5):
        x, y = _batch(k)
        want, got = eager(x, y), traced(x, y)
        assert got.data.tobytes() == want.data.tobytes(), k
    assert traced.replays >= 3
    for p, q in zip(params, eager_params):
        assert p.data.tobytes() == q.data.tobytes()


def test_write_into_a_tensor_whose_detached_alias_is_used_later_is_refused():
    eager, _ = _classifier(_shift_after_taking_an_alias)
    unshifted, _ = _classifier(lambda z: gs.tanh(z + 1.0) + z.detach() * 0.5)
    x, y = _batch()
    assert eager(x, y).item() != unshifted(x, y).item()  # eagerly the alias sees it
    traced, _ = _classifier(_shift_after_taking_an_alias)
    traced = gs.trace(traced, verify=False)
    with pytest.raises(gs.TraceError, match="another tensor or view also holds"):
        traced(x, y)
