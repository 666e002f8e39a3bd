"""The article's momentum rule Delta w(t) = -eta dL/dw + alpha Delta w(t-1) vs SGD(momentum).

SGD keeps v = mu v + g and steps p -= lr v, so Delta w(t) = -lr v(t): the same
trajectory. The printed rule has no time index (read as an equation it is no
momentum at all) and calls alpha a "decay factor": both shown here.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import reference as ref
from gradsight.reference import as_written

from .helpers import T_XOR, X_XOR, article_loss, article_model, xor_params

STEPS, LR, ALPHA = 40, 0.5, 0.9


def _reference_trajectory(p, step_rule, steps=STEPS):
    """Parameters after each update; ``step_rule(grads, previous_steps) -> steps``."""
    out, previous = [], None
    for _ in range(steps):
        grads = ref.backward(p, ref.forward(p, X_XOR), T_XOR)
        previous = step_rule(grads, previous)
        p = {k: p[k] + previous[k] for k in p}
        out.append(p)
    return out


def _article_rule(grads, previous):
    return ref.momentum_step({k: 0.0 for k in grads}, grads, previous, LR, ALPHA)[1]


def _sgd_trajectory(p, steps=STEPS, **sgd):
    model = article_model(2, 4, 1, params=p)
    opt = gs.optim.SGD(model.parameters(), **sgd)
    named, out = dict(model.named_parameters()), []
    for _ in range(steps):
        opt.zero_grad()
        article_loss(model, X_XOR, T_XOR).backward()
        opt.step()
        out.append({k: named[v].numpy().copy() for k, v in ref.MLP_NAMES.items()})
    return out


def _max_gap(a, b):
    return max(float(np.max(np.abs(x[k] - y[k]))) for x, y in zip(a, b) for k in x)


def test_article_momentum_rule_equals_gs_sgd_momentum_trajectory():
    p = xor_params()
    ours = _reference_trajectory(p, _article_rule)
    assert _max_gap(ours, _sgd_trajectory(p, lr=LR, momentum=ALPHA)) <= 1e-12
    # and the trajectory really moves: it is not equal to plain descent
    assert _max_gap(ours, _sgd_trajectory(p, lr=LR)) > 1e-2


def test_article_momentum_rule_equals_torch_sgd_momentum():
    torch = pytest.importorskip("torch")
    p = xor_params()
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    opt = torch.optim.SGD(list(tp.values()), lr=LR, momentum=ALPHA)
    Xt, Tt = torch.tensor(X_XOR), torch.tensor(T_XOR)
    theirs = []
    for _ in range(STEPS):
        opt.zero_grad()
        H = torch.sigmoid(Xt @ tp["W"].T + tp["b"])
        Y = torch.sigmoid(H @ tp["V"].T + tp["c"])
        (((Y - Tt) ** 2).sum() / (2 * len(X_XOR))).backward()
        opt.step()
        theirs.append({k: t.detach().numpy().copy() for k, t in tp.items()})
    assert _max_gap(_reference_trajectory(p, _article_rule), theirs) <= 1e-12


def test_momentum_equation_reading_is_not_momentum():
    """Delta w = -eta g + alpha Delta w, solved as an equation: plain steps eta / (1 - alpha)."""
    p = xor_params()

    def equation_rule(grads, previous):
        return {k: as_written.equation_step(-grads[k], LR, ALPHA) for k in grads}

    literal = _reference_trajectory(p, equation_rule)
    assert _max_gap(literal, _sgd_trajectory(p, lr=LR / (1 - ALPHA))) <= 1e-12
    assert _max_gap(literal, _sgd_trajectory(p, lr=LR, momentum=ALPHA)) > 1e-2


def test_alpha_is_momentum_not_weight_decay():
    p = xor_params()
    ours = _reference_trajectory(p, _article_rule)
    assert _max_gap(ours, _sgd_trajectory(p, lr=LR, momentum=ALPHA)) <= 1e-12
    assert _max_gap(ours, _sgd_trajectory(p, lr=LR, weight_decay=ALPHA)) > 1e-2


def test_alpha_is_not_a_learning_rate_decay():
    p = xor_params()

    calls = []

    def decayed(grads, previous):  # eta_t = eta * alpha^t, no memory of earlier steps
        calls.append(None)
        return {k: -LR * ALPHA ** (len(calls) - 1) * grads[k] for k in grads}

    ours = _reference_trajectory(p, _article_rule)
    assert _max_gap(ours, _reference_trajectory(p, decayed)) > 1e-2


def test_reference_training_losses_equal_gs_nn_training_losses():
    """From the same start, the hand-derived loop and gs.nn + SGD see the same loss every step."""
    p = xor_params()
    model = article_model(2, 4, 1, params=p)
    opt = gs.optim.SGD(model.parameters(), lr=LR, momentum=ALPHA)
    _, losses = ref.train(p, X_XOR, T_XOR, lr=LR, alpha=ALPHA, epochs=STEPS)
    for expected in losses:
        opt.zero_grad()
        loss = article_loss(model, X_XOR, T_XOR)
        assert loss.item() == pytest.approx(expected, abs=1e-14)
        loss.backward()
        opt.step()
