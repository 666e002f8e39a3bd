"""SGD and Adam against independent NumPy loops and closed forms; validation; state dicts."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn
from gradsight.optim import SGD, Adam


def _quadratic_grad(w, c):
    """Gradient of L(w) = 0.5 * sum((w - c)^2 * scale) used by the NumPy oracles."""
    return (w - c) * np.arange(1, w.size + 1).reshape(w.shape)


def _run_gs(opt_cls, w0, c, steps, **kw):
    w = nn.Parameter(w0)
    scale = np.arange(1, w0.size + 1).reshape(w0.shape)
    opt = opt_cls([w], **kw)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * ((w - c) ** 2 * scale).sum()).backward()
        opt.step()
    return w.data


def test_article_momentum_rule_is_reproduced():
    """dw(t) = -eta dL/dw + alpha dw(t-1); w += dw  (the article's rule, in NumPy)."""
    rng = np.random.default_rng(0)
    w0, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    eta, alpha = 0.03, 0.9
    w, dw = w0.copy(), np.zeros_like(w0)
    for _ in range(100):
        dw = -eta * _quadratic_grad(w, c) + alpha * dw
        w = w + dw
    ours = _run_gs(SGD, w0, c, 100, lr=eta, momentum=alpha)
    np.testing.assert_allclose(ours, w, rtol=1e-12, atol=1e-14)


def test_article_momentum_rule_bitwise_with_exact_arithmetic():
    """With dyadic values every operation is exact, so both orders agree bit for bit."""
    w0 = np.array([1.0, -2.0, 0.5, 3.0])
    c = np.array([0.25, 0.5, -1.0, 2.0])
    eta, alpha = 0.125, 0.5
    w, dw = w0.copy(), np.zeros_like(w0)
    for _ in range(6):
        dw = -eta * _quadratic_grad(w, c) + alpha * dw
        w = w + dw
    assert np.array_equal(_run_gs(SGD, w0, c, 6, lr=eta, momentum=alpha), w)


def test_sgd_dampening_nesterov_weight_decay_against_numpy():
    rng = np.random.default_rng(1)
    w0, c = rng.standard_normal(5), rng.standard_normal(5)
    lr, mu, wd = 0.02, 0.8, 0.05
    for nesterov, damp in ((False, 0.3), (True, 0.0)):
        w, v = w0.copy(), None
        for _ in range(30):
            g = _quadratic_grad(w, c) + wd * w
            v = g.copy() if v is None else mu * v + (1 - damp) * g
            w = w - lr * (g + mu * v if nesterov else v)
        ours = _run_gs(
            SGD, w0, c, 30, lr=lr, momentum=mu, dampening=damp, weight_decay=wd, nesterov=nesterov
        )
        np.testing.assert_allclose(ours, w, rtol=1e-12)


def test_adam_against_numpy_and_first_step_closed_form():
    rng = np.random.default_rng(2)
    w0, c = rng.standard_normal(6), rng.standard_normal(6)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w, m, v = w0.copy(), np.zeros(6), np.zeros(6)
    for t in range(1, 41):
        g = _quadratic_grad(w, c)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(_run_gs(Adam, w0, c, 40, lr=lr), w, rtol=1e-10)
    # one step moves each weight by lr * g / (|g| + eps): about lr against the gradient
    g0 = _quadratic_grad(w0, c)
    one = _run_gs(Adam, w0, c, 1, lr=lr)
    np.testing.assert_allclose(one, w0 - lr * g0 / (np.abs(g0) + eps), rtol=1e-13)


@pytest.mark.parametrize(
    "make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1)]
)
def test_parameters_without_grad_are_skipped(make):
    a, b = nn.Parameter([1.0, 2.0]), nn.Parameter([3.0])
    opt = make([a, b])
    (a * a).sum().backward()
    opt.step()
    assert b.data.tolist() == [3.0] and b not in opt.state
    assert a.data.tolist() != [1.0, 2.0]


def test_float32_parameters_stay_float32():
    for opt_cls, kw in ((SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)), (Adam, {})):
        p = nn.Parameter(np.ones(3, np.float32))
        opt = opt_cls([p], **kw)
        for _ in range(2):
            (p * p).sum().backward()
            opt.step()
        assert p.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))


def test_step_keeps_values_saved_by_a_live_graph():
    p = nn.Parameter([1.0, 2.0])
    y = (p * p).sum()
    y.backward(retain_graph=True)
    SGD([p], lr=0.5).step()
    assert p.data.tolist() == [0.0, 0.0]
    p.grad = None
    y.backward()  # the graph still holds the old values of p
    assert p.grad.tolist() == [2.0, 4.0]


def test_zero_grad():
    p = nn.Parameter([1.0, 2.0])
    opt = SGD([p], lr=0.1)
    (p * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda ps: SGD(ps, lr=-0.1), "invalid lr: -0.1"),
        (lambda ps: SGD(ps, lr=float("nan")), "invalid lr: nan"),
        (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "invalid momentum: -0.5"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "invalid weight_decay: -1"),
        (lambda ps: SGD(ps, lr=0.1, nesterov=True), "nesterov"),
        (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
        (lambda ps: Adam(ps, lr=-1e-3), "invalid lr: -0.001"),
        (lambda ps: Adam(ps, betas=(1.0, 0.999)), "index 0: 1.0"),
        (lambda ps: Adam(ps, betas=(0.9, -0.1)), "index 1: -0.1"),
        (lambda ps: Adam(ps, betas=(0.9,)), "pair"),
        (lambda ps: Adam(ps, eps=-1.0), "invalid eps: -1.0"),
        (lambda ps: SGD([], lr=0.1), "empty parameter list"),
        (lambda ps: SGD(ps + ps[:1], lr=0.1), "more than once"),
        (lambda ps: SGD([{"params": ps}, {"params": ps[:1]}], lr=0.1), "more than once"),
        (lambda ps: SGD([{"params": ps, "lr": -2.0}], lr=0.1), "invalid lr: -2.0"),
        (lambda ps: SGD([ps[0] * 2], lr=0.1), "not a leaf"),
    ],
)
def test_invalid_hyper_parameters_raise_value_error(build, match):
    params = [nn.Parameter([1.0]), nn.Parameter([2.0])]
    with pytest.raises(ValueError, match=match):
        build(params)


def test_type_errors():
    p = nn.Parameter([1.0])
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="invalid lr: '0.1'"):
        SGD([p], lr="0.1")


def test_generator_of_parameters_is_accepted():
    model = nn.Linear(2, 2)
    opt = SGD(model.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 2


def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("opt_cls, kw", [(SGD, dict(lr=0.1, momentum=0.9)), (Adam, dict(lr=0.01))])
def test_state_dict_resume_equals_uninterrupted_training(opt_cls, kw):
    gs.manual_seed(0)
    a = nn.MLP([2, 5, 1], activation="tanh")
    b = nn.MLP([2, 5, 1], activation="tanh")
    b.load_state_dict(a.state_dict())
    opt_a = opt_cls(a.parameters(), **kw)
    _train(a, opt_a, 10, seed=1)
    _train(a, opt_a, 10, seed=2)

    opt_b = opt_cls(b.parameters(), **kw)
    _train(b, opt_b, 10, seed=1)
    saved_model, saved_opt = b.state_dict(), opt_b.state_dict()
    c = nn.MLP([2, 5, 1], activation="tanh")
    c.load_state_dict(saved_model)
    opt_c = opt_cls(c.parameters(), **kw)
    opt_c.load_state_dict(saved_opt)
    _train(c, opt_c, 10, seed=2)
    for pa, pc in zip(a.parameters(), c.parameters()):
        assert np.array_equal(pa.data, pc.data)


def test_state_dict_is_a_copy_in_pytorch_layout():
    p = nn.Parameter([1.0, 2.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"] == [
        dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, params=[0])
    ]
    sd["state"][0]["momentum_buffer"][:] = 99.0
    assert opt.state[p]["momentum_buffer"].tolist() == [2.0, 4.0]


def test_load_state_dict_checks_everything_first():
    p, q = nn.Parameter([1.0, 2.0]), nn.Parameter([3.0])
    opt = Adam([p, q], lr=0.1)
    (p.sum() + q.sum()).backward()
    opt.step()
    good = opt.state_dict()
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1.0
    bad["state"][0]["exp_avg"] = np.zeros(3)
    del bad["state"][1]["exp_avg_sq"]
    bad["state"][7] = {}
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(bad)
    msg = str(info.value)
    for part in (
        "invalid lr: -1.0",
        "shape (3,)",
        "missing entry 'exp_avg_sq'",
        "index 7",
        "nothing was changed",
    ):
        assert part in msg
    assert opt.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], good["state"][0]["exp_avg"])
    with pytest.raises(ValueError, match="2 parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": [good["param_groups"][0]] * 2})


def test_lr_can_be_changed_between_steps():
    p = nn.Parameter([1.0])
    opt = SGD([p], lr=0.5)
    (p * 1.0).sum().backward()
    opt.param_groups[0]["lr"] = 0.25
    opt.step()
    assert p.data.tolist() == [0.75]


def test_repr_lists_hyper_parameters():
    text = repr(Adam([nn.Parameter([1.0])], lr=0.5))
    assert text.startswith("Adam (") and "lr: 0.5" in text and "betas: (0.9, 0.999)" in text


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: gs.optim.SGD(ps, lr=0.1),
        lambda ps: gs.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda ps: gs.optim.Adam(ps, lr=0.1),
        lambda ps: gs.optim.Adam(ps, lr=0.1, weight_decay=0.1),
    ],
    ids=["sgd", "sgd-nesterov-wd", "adam", "adam-wd"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_scalar_parameter_trains_like_a_one_element_vector(make, dtype):
    # Adam crashed on a 0-d parameter: NumPy returns a scalar, not an array, for 0-d
    # operands, and its in-place update had nowhere to write
    runs = []
    for shape in ((), (1,)):
        p = gs.nn.Parameter(np.full(shape, 2.0, dtype=dtype))
        opt = make([p])
        for _ in range(4):
            opt.zero_grad()
            (p * p * 0.5 + p).sum().backward()
            opt.step()
        assert p.data.shape == shape and p.data.dtype == dtype
        assert all(
            isinstance(v, np.ndarray) and v.shape == shape
            for st in opt.state.values()
            for v in st.values()
            if not isinstance(v, int)
        )
        runs.append(p.numpy().reshape(-1))
    np.testing.assert_array_equal(runs[0], runs[1])
