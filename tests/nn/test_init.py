"""nn.init: in place, seeded, the right bounds and spreads, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn

init = nn.init


def _param(*shape, dtype="float64"):
    return nn.Parameter(np.zeros(shape, dtype))


def test_functions_write_in_place_and_return_the_tensor():
    p = _param(3, 4)
    assert init.ones_(p) is p and np.all(p.data == 1)
    assert init.zeros_(p) is p and np.all(p.data == 0)
    assert init.constant_(p, 2.5) is p and np.all(p.data == 2.5)
    assert p.grad_fn is None and p.requires_grad  # still a leaf parameter


def test_seeded_draws_are_reproducible():
    gs.manual_seed(123)
    a = init.normal_(_param(50))
    gs.manual_seed(123)
    b = init.normal_(_param(50))
    assert np.array_equal(a.data, b.data)


def test_dtype_is_kept():
    p = init.xavier_uniform_(_param(30, 20, dtype="float32"))
    assert p.dtype == np.float32


@pytest.mark.parametrize(
    "fn, std",
    [
        (lambda p: init.uniform_(p, -2.0, 2.0), 4 / math.sqrt(12)),
        (lambda p: init.normal_(p, 0.0, 0.3), 0.3),
        (init.xavier_uniform_, math.sqrt(2 / (200 + 300))),
        (init.xavier_normal_, math.sqrt(2 / (200 + 300))),
        (lambda p: init.kaiming_uniform_(p, nonlinearity="relu"), math.sqrt(2 / 300)),
        (
            lambda p: init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu"),
            math.sqrt(2 / 200),
        ),
    ],
)
def test_spread_matches_the_formula(fn, std):
    gs.manual_seed(0)
    p = fn(_param(200, 300))  # fan_in 300, fan_out 200: 60,000 draws
    assert abs(p.data.mean()) < 5 * std / math.sqrt(p.size)  # five standard errors
    assert p.data.std() == pytest.approx(std, rel=0.02)


def test_uniform_bounds():
    gs.manual_seed(1)
    p = init.xavier_uniform_(_param(40, 60), gain=2.0)
    bound = 2.0 * math.sqrt(6 / 100)
    assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.98 * bound


def test_fans_of_higher_rank_weights():
    gs.manual_seed(2)
    p = init.kaiming_normal_(_param(16, 8, 5, 5))  # fan_in = 8 * 25
    assert p.data.std() == pytest.approx(
        init.calculate_gain("leaky_relu", 0) / math.sqrt(200), rel=0.05
    )


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_uniform_(_param(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(gs.tensor([1, 2]))
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(_param(2), 1.0, 0.0)
