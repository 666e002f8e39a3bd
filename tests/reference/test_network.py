"""gs.reference.network (the corrected hand-derived network) against independent oracles.

Autograd through a gs.nn network with the article's layout, central finite
differences, and PyTorch: the corrected 3.2.2 gradients agree to 1e-12 (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradsight as gs
from gradsight import reference as ref
from gradsight.check import compare_gradients

from .helpers import (
    T_XOR,
    X_XOR,
    article_loss,
    article_model,
    autograd_gradients,
    fd_gradients,
    max_abs_diff,
    xor_params,
)

ACTS = sorted(ref.ACTIVATIONS)


def test_xor_2_4_1_gradients_equal_autograd_to_1e12():
    p = xor_params()
    manual = ref.backward(p, ref.forward(p, X_XOR), T_XOR)
    model = article_model(2, 4, 1, params=p)
    article_loss(model, X_XOR, T_XOR).backward()
    report = compare_gradients(
        {ref.MLP_NAMES[k]: v for k, v in manual.items()}, model, atol=1e-12, rtol=0
    )
    assert report.ok, report
    assert max(row.max_abs_error for row in report.rows) <= 1e-12


def test_xor_loss_equals_gs_nn_loss():
    p = xor_params()
    model = article_model(2, 4, 1, params=p)
    assert ref.loss(ref.forward(p, X_XOR).Y, T_XOR) == pytest.approx(
        article_loss(model, X_XOR, T_XOR).item(), abs=1e-15
    )


@given(
    d=st.integers(1, 5),
    q=st.integers(1, 6),
    m=st.integers(1, 4),
    n=st.integers(1, 8),
    f=st.sampled_from(ACTS),
    g=st.sampled_from(ACTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_sizes_and_batches_equal_autograd_to_1e12(d, q, m, n, f, g, seed):
    rng = np.random.default_rng(seed)
    p = ref.init_params(d, q, m, seed=seed)
    X, T = rng.normal(size=(n, d)), rng.uniform(size=(n, m))
    manual = ref.backward(p, ref.forward(p, X, f, g), T, f, g)
    auto = autograd_gradients(p, X, T, f, g)
    assert max_abs_diff(manual, auto) <= 1e-12


@pytest.mark.parametrize("f,g", [("sigmoid", "sigmoid"), ("tanh", "identity"), ("relu", "tanh")])
def test_gradients_equal_finite_differences(f, g):
    rng = np.random.default_rng(1)
    p = ref.init_params(3, 5, 2, seed=1)
    X, T = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2))
    manual = ref.backward(p, ref.forward(p, X, f, g), T, f, g)
    assert max_abs_diff(manual, fd_gradients(p, X, T, f, g)) < 1e-8


def test_hidden_error_equals_finite_differences_in_h():
    from .helpers import fd_hidden_error

    p, rng = ref.init_params(2, 3, 2, seed=2), np.random.default_rng(2)
    X, T = rng.normal(size=(5, 2)), rng.uniform(size=(5, 2))
    fw = ref.forward(p, X)
    dL_dH = ref.hidden_error(p, ref.output_delta(fw, T))
    assert np.max(np.abs(dL_dH - fd_hidden_error(p, X, T))) < 1e-9


def test_gradients_equal_torch():
    torch = pytest.importorskip("torch")
    p = ref.init_params(2, 4, 1, seed=3)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    Xt, Tt = torch.tensor(X_XOR), torch.tensor(T_XOR)
    H = torch.sigmoid(Xt @ tp["W"].T + tp["b"])
    Y = torch.sigmoid(H @ tp["V"].T + tp["c"])
    (((Y - Tt) ** 2).sum() / (2 * len(X_XOR))).backward()
    manual = ref.backward(p, ref.forward(p, X_XOR), T_XOR)
    assert max_abs_diff(manual, {k: t.grad.numpy() for k, t in tp.items()}) <= 1e-12


def test_momentum_step_does_not_modify_its_inputs():
    p = xor_params()
    before = {k: v.copy() for k, v in p.items()}
    grads = ref.backward(p, ref.forward(p, X_XOR), T_XOR)
    new, steps = ref.momentum_step(p, grads, None, 0.5, 0.9)
    assert all(np.array_equal(p[k], before[k]) for k in p)
    assert all(np.array_equal(steps[k], -0.5 * grads[k]) for k in p)
    assert all(np.array_equal(new[k], p[k] + steps[k]) for k in p)


def test_reference_trains_xor_below_0_01():
    params, losses = ref.train(xor_params(), X_XOR, T_XOR, lr=0.5, alpha=0.9, epochs=2000)
    final = ref.loss(ref.forward(params, X_XOR).Y, T_XOR)
    assert losses[0] > 0.1 and final < 0.01
    assert np.array_equal(ref.forward(params, X_XOR).Y > 0.5, T_XOR > 0.5)


def test_gs_nn_version_trains_xor_below_0_01():
    gs.manual_seed(0)
    model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
    opt = gs.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    first = None
    for _ in range(2000):
        opt.zero_grad()
        loss = article_loss(model, X_XOR, T_XOR)
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    final = article_loss(model, X_XOR, T_XOR).item()
    assert first > 0.1 and final < 0.01


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"W": np.zeros((4, 2)), "b": np.zeros(4), "V": np.zeros((1, 3)), "c": np.zeros(1)}, "V"),
        ({"W": np.zeros((4, 2)), "b": np.zeros(2), "V": np.zeros((1, 4)), "c": np.zeros(1)}, "b"),
        ({"W": np.zeros((4, 2)), "b": np.zeros(4), "V": np.zeros((1, 4))}, "missing"),
    ],
)
def test_inconsistent_params_raise_naming_shapes(bad, match):
    with pytest.raises(ValueError, match=match):
        ref.forward(bad, X_XOR)


def test_bad_inputs_raise_clear_errors():
    p = xor_params()
    with pytest.raises(ValueError, match=r"\(n, 2\).*\(4, 3\)"):
        ref.forward(p, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        ref.backward(p, ref.forward(p, X_XOR), T_XOR.ravel())
    with pytest.raises(ValueError, match="softsign"):
        ref.forward(p, X_XOR, f="softsign")


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = ref.ACTIVATIONS["sigmoid"].fn(np.array([-1000.0, 0.0, 1000.0]))
    assert np.array_equal(y, [0.0, 0.5, 1.0])
