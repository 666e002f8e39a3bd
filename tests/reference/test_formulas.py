"""Errata for the article's text (sections 3.1 and 3.2): each formula as printed next to its fix.

Every defect has a test that shows it (a disagreement with autograd *and*
with finite differences, an IndexError, a loss that goes up) beside a test
that the corrected formula agrees. docs/article.md names these tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import reference as ref
from gradsight.reference import as_written

from .helpers import (
    T_XOR,
    X_XOR,
    article_model,
    autograd_gradients,
    fd_gradients,
    fd_hidden_error,
    xor_params,
)


def _batch(d, q, m, n=5, seed=0):
    rng = np.random.default_rng(seed)
    return ref.init_params(d, q, m, seed=seed), rng.normal(size=(n, d)), rng.uniform(size=(n, m))


def _autograd_dL_dH(p, H, T, g="sigmoid"):
    """dL/dH by autograd, with H a leaf: L = 1/(2n) sum (g(H V^T + c) - T)^2."""
    Ht = gs.tensor(H, requires_grad=True)
    Y = getattr(gs.linear(Ht, gs.tensor(p["V"]), gs.tensor(p["c"])), g)()
    L = 0.5 * ((Y - gs.tensor(T)) ** 2).sum() / H.shape[0]
    return gs.autograd.grad(L, [Ht])[0].numpy()


def _far(a, b, rel=0.05):
    """a and b differ by more than ``rel`` of b's scale somewhere."""
    return np.max(np.abs(a - b)) > rel * np.max(np.abs(b))


# ------------------------------------------------ 3.1 / 3.1.1: what training adjusts
def test_forward_and_loss_leave_parameters_unchanged():
    p = xor_params()
    before = {k: v.copy() for k, v in p.items()}
    fw = ref.forward(p, X_XOR)
    ref.loss(fw.Y, T_XOR)
    assert all(np.array_equal(p[k], before[k]) for k in p)
    # only the update, driven by the gradients, moves them
    new, _ = ref.momentum_step(p, ref.backward(p, fw, T_XOR), None, 0.5, 0.9)
    assert all(not np.array_equal(new[k], before[k]) for k in p)


def test_activations_have_no_parameters_to_adjust():
    model = article_model(2, 4, 1)
    assert [n for n, _ in model.named_parameters()] == list(ref.MLP_NAMES.values())
    assert list(gs.nn.Sigmoid().named_parameters()) == []


# ------------------------------------------------ 3.1.2: the legend's directions
def test_w_ij_joins_input_j_to_hidden_i():
    p = xor_params()
    x = np.array([[0.3, -0.7]])

    def hidden(W):
        return gs.linear(gs.tensor(x), W, gs.tensor(p["b"])).sigmoid()[0]

    J = gs.jacobian(hidden)(gs.tensor(p["W"])).numpy()  # (q,) + (q, d): dh_k / dw_ij
    fw = ref.forward(p, x)
    fprime = fw.H[0] * (1 - fw.H[0])
    expected = np.einsum("ki,i,j->kij", np.eye(4), fprime, x[0])  # only k = i, times x_j
    assert np.allclose(J, expected, atol=1e-15)


def test_v_ki_joins_hidden_i_to_output_k():
    p = ref.init_params(2, 4, 3, seed=1)
    H = ref.forward(p, np.array([[0.3, -0.7]])).H

    def out(V):
        return gs.linear(gs.tensor(H), V, gs.tensor(p["c"])).sigmoid()[0]

    J = gs.jacobian(out)(gs.tensor(p["V"])).numpy()  # (m,) + (m, q): dy_k / dv_ij
    assert np.count_nonzero(J[0, 1:]) == 0 and np.count_nonzero(J[0, 0]) == 4


# ------------------------------------------------ 3.1.2: h_i is right as printed
def test_hidden_formula_as_printed_is_right():
    p = xor_params()
    f = ref.activation("sigmoid").fn
    H = np.array(
        [
            [f(sum(p["W"][i, j] * x[j] for j in range(2)) + p["b"][i]) for i in range(4)]
            for x in X_XOR
        ]
    )
    assert np.allclose(H, ref.forward(p, X_XOR).H, atol=1e-15)


# ------------------------------------------------ 3.1.2: y_i sums to m, the output count
def test_output_formula_as_written_ignores_hidden_units():
    p = xor_params()
    fw = ref.forward(p, X_XOR)
    y_printed = as_written.output(p, fw.H)  # m = 1: only hidden unit 1 reaches the output
    f = ref.activation("sigmoid").fn
    assert np.allclose(y_printed, f(fw.H[:, :1] * p["V"][0, 0] + p["c"]), atol=1e-15)
    assert _far(y_printed, fw.Y, rel=0.01)


def test_output_formula_as_written_index_error_when_m_exceeds_q():
    p = ref.init_params(2, 2, 3)
    with pytest.raises(IndexError):
        as_written.output(p, ref.forward(p, X_XOR).H)


def test_output_formula_corrected_equals_gs_nn():
    p = ref.init_params(3, 5, 2, seed=4)
    X = np.random.default_rng(4).normal(size=(6, 3))
    model = article_model(3, 5, 2, params=p)
    assert np.allclose(ref.forward(p, X).Y, model(gs.tensor(X)).numpy(), atol=1e-15)


# ------------------------------------------------ 3.1.2: L and its n
def test_loss_as_written_index_error_for_xor_net():
    p = xor_params()
    fw = ref.forward(p, X_XOR)
    with pytest.raises(IndexError):  # n = 2 input neurons, but only y_1 exists
        as_written.loss(fw.Y[0], T_XOR[0], n=2)


def test_loss_as_written_ignores_outputs_when_n_below_m():
    p, X, T = _batch(2, 4, 3)
    y, t = ref.forward(p, X).Y[0], T[0]
    assert as_written.loss(y, t, n=2) == pytest.approx(((y[:2] - t[:2]) ** 2).sum() / 4)
    assert as_written.loss(y, t, n=2) != pytest.approx(((y - t) ** 2).sum() / 2)


def test_loss_corrected_averages_over_samples():
    torch = pytest.importorskip("torch")
    p, X, T = _batch(2, 4, 3, n=7)
    Y = ref.forward(p, X).Y
    mse = torch.nn.functional.mse_loss(torch.tensor(Y), torch.tensor(T), reduction="sum")
    assert ref.loss(Y, T) == pytest.approx(mse.item() / (2 * 7), rel=1e-15)


# ------------------------------------------------ 3.2.2: delta_i = dL/dh_i
def test_hidden_error_as_written_is_2n_times_dL_dH():
    p, X, T = _batch(2, 4, 1, n=4)
    fw = ref.forward(p, X)
    printed = as_written.hidden_error(p, fw, T)
    auto, fd = _autograd_dL_dH(p, fw.H, T), fd_hidden_error(p, X, T)
    assert _far(printed, auto) and _far(printed, fd)
    assert np.allclose(printed, 2 * 4 * auto, rtol=1e-12, atol=0)  # the lost 1/(2n)


def test_hidden_error_corrected_equals_autograd_and_fd():
    p, X, T = _batch(2, 4, 3, n=4)
    fw = ref.forward(p, X)
    corrected = ref.hidden_error(p, ref.output_delta(fw, T))
    assert np.max(np.abs(corrected - _autograd_dL_dH(p, fw.H, T))) <= 1e-15
    assert np.max(np.abs(corrected - fd_hidden_error(p, X, T))) < 1e-9


def test_hidden_error_same_index_reading_disagrees():
    p, X, T = _batch(2, 3, 3)
    fw = ref.forward(p, X)
    clash = as_written.hidden_error_same_index(p, fw, T)
    auto = _autograd_dL_dH(p, fw.H, T)
    assert _far(clash / (2 * X.shape[0]), auto) and _far(clash, auto)
    assert _far(clash / (2 * X.shape[0]), fd_hidden_error(p, X, T))


def test_hidden_error_same_index_reading_index_error_for_xor():
    p = xor_params()
    with pytest.raises(IndexError):  # hidden unit 2 has no output 2
        as_written.hidden_error_same_index(p, ref.forward(p, X_XOR), T_XOR)


def test_output_delta_equals_autograd_dL_dU():
    p, X, T = _batch(3, 4, 2)
    fw = ref.forward(p, X)
    U = gs.tensor(fw.U, requires_grad=True)
    L = 0.5 * ((U.sigmoid() - gs.tensor(T)) ** 2).sum() / X.shape[0]
    assert np.max(np.abs(ref.output_delta(fw, T) - gs.autograd.grad(L, [U])[0].numpy())) <= 1e-15


# ------------------------------------------------ delta must be dL/dz (f' included)
def _w_grad_without_fprime(p, fw, T):
    return ref.hidden_error(p, ref.output_delta(fw, T)).T @ fw.X


def test_weight_gradient_from_dL_dH_without_f_prime_disagrees():
    p, X, T = _batch(2, 4, 1)
    wrong = _w_grad_without_fprime(p, ref.forward(p, X), T)
    assert _far(wrong, autograd_gradients(p, X, T)["W"])
    assert _far(wrong, fd_gradients(p, X, T)["W"])


def test_weight_gradient_with_f_prime_equals_autograd_and_fd():
    p, X, T = _batch(2, 4, 1)
    right = ref.backward(p, ref.forward(p, X), T)["W"]
    assert np.max(np.abs(right - autograd_gradients(p, X, T)["W"])) <= 1e-12
    assert np.max(np.abs(right - fd_gradients(p, X, T)["W"])) < 1e-8


# ------------------------------------------------ 3.2.1 step 4: delta_j h_i
def test_w_update_term_as_written_disagrees():
    p, X, T = _batch(2, 4, 1)
    printed = as_written.w_gradient(p, ref.forward(p, X), T)
    assert _far(printed, autograd_gradients(p, X, T)["W"])
    assert _far(printed, fd_gradients(p, X, T)["W"])


def test_w_update_term_corrected_is_delta_i_x_j():
    p, X, T = _batch(2, 4, 1)
    fw = ref.forward(p, X)
    delta = ref.hidden_error(p, ref.output_delta(fw, T)) * fw.H * (1 - fw.H)
    term = np.einsum("si,sj->ij", delta, X)  # sum over samples of delta_i x_j
    assert np.allclose(term, ref.backward(p, fw, T)["W"], rtol=1e-14, atol=1e-17)
    assert np.max(np.abs(term - autograd_gradients(p, X, T)["W"])) <= 1e-12
    assert np.max(np.abs(term - fd_gradients(p, X, T)["W"])) < 1e-8


# ------------------------------------------------ 3.2.1 step 5: delta_i y_j
def test_v_update_term_as_written_index_error_for_xor():
    p = xor_params()
    with pytest.raises(IndexError):  # y_j for j = 1..4, but there is one output
        as_written.v_gradient(p, ref.forward(p, X_XOR), T_XOR)


def test_v_update_term_as_written_disagrees_when_it_runs():
    p, X, T = _batch(2, 2, 3)
    printed = as_written.v_gradient(p, ref.forward(p, X), T)
    assert _far(printed, autograd_gradients(p, X, T)["V"])
    assert _far(printed, fd_gradients(p, X, T)["V"])


def test_v_update_term_corrected_is_delta_i_h_j():
    p, X, T = _batch(2, 2, 3)
    fw = ref.forward(p, X)
    term = np.einsum("si,sj->ij", ref.output_delta(fw, T), fw.H)
    assert np.allclose(term, ref.backward(p, fw, T)["V"], rtol=1e-14, atol=1e-17)
    assert np.max(np.abs(term - autograd_gradients(p, X, T)["V"])) <= 1e-12
    assert np.max(np.abs(term - fd_gradients(p, X, T)["V"])) < 1e-8


# ------------------------------------------------ biases: no formula printed
def test_bias_gradients_are_summed_deltas():
    p, X, T = _batch(3, 4, 2)
    fw = ref.forward(p, X)
    d_out = ref.output_delta(fw, T)
    d_hid = ref.hidden_error(p, d_out) * fw.H * (1 - fw.H)
    auto, fd = autograd_gradients(p, X, T), fd_gradients(p, X, T)
    grads = ref.backward(p, fw, T)
    for name, value in (("b", d_hid.sum(axis=0)), ("c", d_out.sum(axis=0))):
        assert np.allclose(value, grads[name], rtol=1e-14, atol=1e-17)
        assert np.max(np.abs(value - auto[name])) <= 1e-12
        assert np.max(np.abs(value - fd[name])) < 1e-8


# ------------------------------------------------ the sign of the update
def test_update_sign_as_written_increases_loss():
    p = xor_params()
    grads = ref.backward(p, ref.forward(p, X_XOR), T_XOR)
    step = {k: as_written.update_step(grads[k], np.zeros_like(p[k]), 0.1, 0.9) for k in p}
    before = ref.loss(ref.forward(p, X_XOR).Y, T_XOR)
    after = ref.loss(ref.forward({k: p[k] + step[k] for k in p}, X_XOR).Y, T_XOR)
    assert after > before


def test_update_sign_corrected_decreases_loss():
    p = xor_params()
    grads = ref.backward(p, ref.forward(p, X_XOR), T_XOR)
    new, _ = ref.momentum_step(p, grads, None, 0.1, 0.9)
    assert ref.loss(ref.forward(new, X_XOR).Y, T_XOR) < ref.loss(ref.forward(p, X_XOR).Y, T_XOR)
