"""The article's step rows (python -m benchmarks.article): the same math on both sides,
and NumPy calls counted as one per call."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.workloads import ARTICLE, BY_NAME, make_data  # noqa: E402

from benchmarks import article, harness  # noqa: E402
from benchmarks import peers as peer_registry  # noqa: E402

TINY = [w.tiny() for w in ARTICLE]
IDS = [w.name for w in ARTICLE]


def _run(key, w, steps=2):
    runner = peer_registry.load(key).build(w, make_data(w))
    return [runner.step() for _ in range(steps)], runner.grads()


@pytest.mark.parametrize("key", ["gradsight", "gradsight_traced"])
@pytest.mark.parametrize("w", TINY, ids=IDS)
def test_gradsight_eager_and_traced_match_numpy_by_hand(key, w):
    losses, grads = _run(key, w)
    ref_losses, ref_grads = _run("numpy", w)
    assert harness.compare(w, losses, grads, ref_losses, ref_grads) is None
    assert losses[1] != losses[0]  # the update moved the weights


def test_the_hand_loss_is_half_the_summed_squares_over_the_batch():
    w = TINY[1]
    data = make_data(w)
    x, y = data["x"], data["y"]
    h = x
    for W, b in zip(data["params"][0::2], data["params"][1::2]):
        h = 1 / (1 + np.exp(-(h @ W.T + b)))
    want = float(((h - y) ** 2).sum() / (2 * len(x)))
    loss = peer_registry.load("numpy").build(w, make_data(w)).step()
    np.testing.assert_allclose(loss, want, rtol=1e-12)


def test_every_row_is_known_and_has_a_target():
    for w in ARTICLE:
        assert BY_NAME[w.name] is w and w.loss == "half_sse" and w.activation == "sigmoid"
        assert w.name in article.TARGETS and w.name in article.COUNT_STEPS


def test_numpy_calls_are_counted_once_each():
    a, b = (np.arange(6.0).reshape(2, 3).view(article._Counted) for _ in range(2))

    def step():
        c = a @ b.T  # one call (the view .T is none)
        c += 1  # one, in place
        np.exp(c, out=c)  # one
        s = (a * b).sum()  # two: the product and the reduction
        np.mean(a, axis=0)  # one (NumPy's own calls inside it are not counted again)
        return s + a.copy().max()  # copy and max: two (the scalar addition is Python)

    assert article._count(step) == 8


def test_the_traced_xor_program_makes_no_more_numpy_calls_than_the_hand_step():
    calls = article.numpy_calls(BY_NAME["article_xor"])
    assert calls["hand"] > 20 and calls["traced"] <= calls["hand"], calls
