"""gelu, softplus and softmin (and the erf/erfc under gelu): closed forms, the
precision that matters, regimes and conventions, bad arguments, and the Modules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn
from gradsight.ops import special

F = nn.functional
SQRT2 = math.sqrt(2.0)


def _phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x):  # noqa: N802 - the normal CDF's usual name
    return np.array([0.5 * math.erfc(-v / SQRT2) for v in np.ravel(x)]).reshape(np.shape(x))


def _second_derivative(fn, x):
    """d^2/dx^2 of an elementwise fn, by differentiating the gradient again."""
    t = gs.tensor(x, requires_grad=True)
    (g,) = gs.autograd.grad(fn(t).sum(), (t,), create_graph=True)
    (h,) = gs.autograd.grad(g.sum(), (t,))
    return g.numpy(), h.numpy()


# ---------------------------------------------------------------- erf and erfc
def test_erf_and_erfc_agree_with_the_c_library_to_a_few_ulp():
    """Against math.erf / math.erfc (the C library's), relative 4e-15 (about 20 ulp;
    the rational approximations measure 4 and 6 ulp at worst on this grid)."""
    x = np.concatenate([np.linspace(-6, 6, 4001), np.linspace(-27, 27, 541), [0.46875, 4.0]])
    want_erf = np.array([math.erf(v) for v in x])
    want_erfc = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(special.erf_array(x), want_erf, rtol=4e-15, atol=1e-300)
    np.testing.assert_allclose(special.erfc_array(x), want_erfc, rtol=4e-15, atol=1e-300)


def test_erfc_is_relatively_accurate_in_its_tail_where_one_minus_erf_is_zero():
    x = np.linspace(6.0, 26.0, 81)
    want = np.array([math.erfc(v) for v in x])
    assert np.all(1.0 - special.erf_array(x) == 0.0)  # the cancellation erfc avoids
    np.testing.assert_allclose(special.erfc_array(x), want, rtol=4e-14)
    np.testing.assert_allclose(special.erfc_array(-x), 2.0 - want, rtol=1e-15)


def test_erf_special_values_without_warnings():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0, 1e300, 5e-324])
    with np.errstate(all="raise"):
        e, c = special.erf_array(x), special.erfc_array(x)
    np.testing.assert_array_equal(e, [0.0, -0.0, 1.0, -1.0, np.nan, 1.0, -1.0, 1.0, e[-1]])
    assert np.signbit(e[1]) and e[-1] > 0
    np.testing.assert_array_equal(c, [1.0, 1.0, 0.0, 2.0, np.nan, 0.0, 2.0, 0.0, 1.0])


def test_erf_keeps_float32_and_rounds_the_float64_value_once():
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32) * 3
    got = special.erf_array(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, special.erf_array(x.astype(np.float64)).astype(np.float32))


# ---------------------------------------------------------------- gelu
def test_gelu_is_x_phi_with_gradient_phi_plus_x_density_and_second_derivative():
    x = np.linspace(-5, 5, 41)
    np.testing.assert_allclose(F.gelu(gs.tensor(x)).numpy(), x * _Phi(x), rtol=1e-14, atol=1e-300)
    g, h = _second_derivative(F.gelu, x)
    np.testing.assert_allclose(g, _Phi(x) + x * _phi(x), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(h, _phi(x) * (2 - x * x), rtol=1e-12, atol=1e-16)


def test_exact_gelu_is_relatively_accurate_for_negative_inputs():
    """x Phi(x) is tiny for x << 0; written as x/2 erfc(-x/sqrt 2) it keeps its relative
    precision (1 + erf(x/sqrt 2) would cancel to 0 from about x = -8.4 on). The bound is the
    argument's own rounding, amplified by erfc's slope: about 2 (x^2/2) 1.1e-16."""
    x = -np.linspace(3.0, 37.0, 69)
    want = x * _Phi(x)
    got = F.gelu(gs.tensor(x)).numpy()
    nonzero = want != 0
    assert nonzero.sum() >= 60
    np.testing.assert_allclose(got[nonzero], want[nonzero], rtol=2e-13)


def test_tanh_gelu_is_pytorchs_formula():
    x = np.linspace(-6, 6, 49)
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    want = 0.5 * x * (1 + np.tanh(u))
    np.testing.assert_allclose(F.gelu(gs.tensor(x), "tanh").numpy(), want, rtol=1e-13, atol=1e-15)
    g, _ = _second_derivative(lambda a: F.gelu(a, approximate="tanh"), x)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
    s = 1 / (1 + np.exp(-2 * u))  # (1 + tanh u)/2 without its cancellation for x < 0
    want_g = s + x * 2 * s * (1 - s) * du  # d/dx of x (1 + tanh u)/2, (1 - tanh^2)/2 = 2s(1-s)
    np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=1e-15)


def test_gelu_refuses_an_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(gs.tensor([1.0]), approximate="erf")
    with pytest.raises(ValueError, match="got 'fast'"):
        nn.GELU("fast")


# ---------------------------------------------------------------- softplus
def test_softplus_regimes_follow_pytorchs_threshold():
    beta, threshold = 2.0, 3.0
    x = np.array([-2.0, 0.0, 1.0, 1.5, 1.5000001, 4.0])  # beta x: -4, 0, 2, 3, >3, 8
    out = F.softplus(gs.tensor(x), beta, threshold).numpy()
    soft = np.log1p(np.exp(beta * x)) / beta
    np.testing.assert_allclose(out[:4], soft[:4], rtol=1e-15)  # beta x == threshold: the log
    assert out[4] == x[4] and out[5] == x[5]  # above it: x itself, exactly
    g, h = _second_derivative(lambda a: F.softplus(a, beta, threshold), x)
    s = 1 / (1 + np.exp(-beta * x))
    np.testing.assert_allclose(g, np.where(beta * x > threshold, 1.0, s), rtol=1e-15)
    np.testing.assert_allclose(h, np.where(beta * x > threshold, 0.0, beta * s * (1 - s)))


def test_softplus_is_finite_and_quiet_for_any_magnitude():
    x = np.array([-1e308, -800.0, -40.0, 0.0, 40.0, 800.0, 1e308])
    t = gs.tensor(x, requires_grad=True)
    with np.errstate(all="raise"):
        out = F.softplus(t, 1.0, np.inf)  # never linear: the stable form everywhere
        out.sum().backward()
    assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(t.grad.numpy()))
    np.testing.assert_array_equal(out.numpy()[[0, 1, -2, -1]], [0.0, 0.0, 800.0, 1e308])
    np.testing.assert_array_equal(t.grad.numpy()[[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "beta, threshold, error, message",
    [
        (0.0, 20.0, ValueError, "beta must be positive and finite, got 0.0"),
        (-1.0, 20.0, ValueError, "beta must be positive"),
        (np.inf, 20.0, ValueError, "got inf"),
        ("2", 20.0, TypeError, "beta must be a number, got '2'"),
        (1.0, np.nan, ValueError, "threshold must not be nan"),
        (1.0, None, TypeError, "threshold must be a number, got None"),
    ],
)
def test_softplus_refuses_bad_settings_in_the_function_and_the_module(
    beta, threshold, error, message
):
    with pytest.raises(error, match=message):
        F.softplus(gs.tensor([1.0]), beta, threshold)
    with pytest.raises(error, match=message):
        nn.Softplus(beta, threshold)


# ---------------------------------------------------------------- softmin
def test_softmin_is_softmax_of_minus_x_and_masks_plus_inf():
    x = np.random.default_rng(1).standard_normal((3, 4)) * 5
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(
            F.softmin(gs.tensor(x), axis).numpy(), gs.softmax(gs.tensor(-x), axis).numpy()
        )
    out = F.softmin(gs.tensor([np.inf, 1.0, 0.0])).numpy()
    np.testing.assert_allclose(out, [0.0, 1 / (1 + math.e), math.e / (1 + math.e)], rtol=1e-15)


# ---------------------------------------------------------------- the Modules
def test_activation_modules_call_their_functions_and_print_their_settings():
    x = gs.tensor(np.linspace(-3, 3, 12).reshape(3, 4))
    cases = [
        (nn.GELU(), F.gelu(x), "GELU(approximate='none')"),
        (nn.GELU(approximate="tanh"), F.gelu(x, "tanh"), "GELU(approximate='tanh')"),
        (
            nn.Softplus(beta=2, threshold=1),
            F.softplus(x, 2, 1),
            "Softplus(beta=2.0, threshold=1.0)",
        ),
        (nn.Softmin(axis=0), F.softmin(x, 0), "Softmin(axis=0)"),
    ]
    for module, want, text in cases:
        np.testing.assert_array_equal(module(x).numpy(), want.numpy())
        assert repr(module) == text
        assert list(module.parameters()) == []


def test_mlp_takes_the_new_activations_by_name():
    gs.manual_seed(0)
    model = nn.MLP([3, 5, 2], activation="gelu", output_activation="softmin")
    assert [type(m).__name__ for m in model.layers] == ["Linear", "GELU", "Linear", "Softmin"]
    out = model(gs.tensor(np.ones((4, 3))))
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0)
    assert type(nn.MLP([2, 2, 1], activation="softplus").layers[1]) is nn.Softplus


def test_at_the_threshold_softplus_second_derivative_is_sigmoids_where_pytorchs_is_0():
    """docs/nn.md's one difference: PyTorch takes x for beta x > threshold, and so does
    gradsight, but PyTorch's double backward masks with beta x < threshold."""
    torch = pytest.importorskip("torch")
    x = np.array([10.0])  # beta x == threshold
    _, h = _second_derivative(lambda a: F.softplus(a, 2.0, 20.0), x)
    s, one_minus_s = 1 / (1 + np.exp(-20.0)), 1 / (1 + np.exp(20.0))
    # sigmoid's rule forms out - out * out: 1 - s to about 1e-7 relative at s = 1 - 2e-9
    np.testing.assert_allclose(h, 2.0 * s * one_minus_s, rtol=1e-6)
    t = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(
        torch.nn.functional.softplus(t, 2.0, 20.0).sum(), t, create_graph=True
    )
    (th,) = torch.autograd.grad(g.sum(), t)
    assert th.item() == 0.0 and h[0] > 0
