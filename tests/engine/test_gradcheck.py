"""gs.gradcheck itself: it passes correct gradients, and catches wrong ones built
on purpose as custom primitives (so the op tests that rely on it can fail)."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.node import Primitive, apply, apply1

from .oracles import assert_projection_close


def leaf(values):
    return gs.tensor(values, dtype="float64", requires_grad=True)


def square_with_rule(rule, name="square"):
    """x**2 with the given VJP rule (correct: 2 g x)."""
    prim = Primitive(name, np.square, (rule,))
    return lambda x: apply1(prim, x)


square = square_with_rule(lambda F, g, out, x: 2 * g * x)
half_grad = square_with_rule(lambda F, g, out, x: g * x, "half_grad")
ignores_g = square_with_rule(lambda F, g, out, x: 2 * x + 0 * g, "ignores_g")
reversed_grad = square_with_rule(lambda F, g, out, x: (2 * g * x)[::-1], "reversed")


def scaled_grad(factor):
    return square_with_rule(lambda F, g, out, x: 2 * g * x * factor, "scaled")


X = [1.0, -2.0, 3.0]


# ---------------------------------------------------------------- passes
def test_correct_custom_primitive_passes():
    assert gs.gradcheck(square, [leaf(X)]) is True
    assert gs.gradcheck(lambda x: square(x).sum(), [leaf(X)]) is True


def test_passes_with_several_inputs_outputs_and_constants():
    def fn(a, k, b):
        return (a * b).exp() * k, (a @ b.T).tanh()

    a, b = leaf(np.linspace(-1, 1, 6).reshape(2, 3)), leaf(np.linspace(0, 1, 6).reshape(2, 3))
    k = gs.tensor(np.array([1.0, 2.0, 3.0]))  # no grad: used as a constant
    assert gs.gradcheck(fn, [a, k, b]) is True
    assert gs.gradcheck(lambda a, n: a * n, [a, 3.0]) is True  # non-Tensor inputs pass through


def test_leaves_grad_untouched():
    x = leaf(X)
    gs.gradcheck(lambda t: (t * t).sum(), [x])
    assert x.grad is None


def test_single_tensor_as_inputs():
    assert gs.gradcheck(lambda t: t.exp(), leaf(X)) is True


# ---------------------------------------------------------------- catches
@pytest.mark.parametrize(
    "fn",
    [half_grad, ignores_g, reversed_grad, lambda x: half_grad(x).sum()],
    ids=["half gradient", "ignores incoming gradient", "reversed layout", "behind sum"],
)
def test_wrong_primitive_is_detected(fn):
    with pytest.raises(gs.GradcheckError):
        gs.gradcheck(fn, [leaf(X)])
    assert gs.gradcheck(fn, [leaf(X)], raise_exception=False) is False


def test_wrong_gradient_inside_a_larger_graph():
    def fn(x, w):
        return (half_grad(x @ w) + 1.0).log().mean(axis=0)

    x, w = leaf(np.linspace(0.1, 1.0, 6).reshape(2, 3)), leaf(np.eye(3) + 0.5)
    with pytest.raises(gs.GradcheckError) as info:
        gs.gradcheck(fn, [x, w])
    report = str(info.value)
    assert report.count("| NO") == 2  # both inputs sit behind the wrong rule


def test_wrong_gradient_for_one_input_only():
    wrong_mul = Primitive(
        "wrong_mul",
        np.multiply,
        (
            lambda F, g, out, x, y: g * y,
            lambda F, g, out, x, y: g * x * 1.1,
        ),
    )
    with pytest.raises(gs.GradcheckError) as info:
        gs.gradcheck(lambda a, b: apply(wrong_mul, (a, b)), [leaf(X), leaf([2.0, 2.0, 2.0])])
    report_lines = str(info.value).splitlines()
    rows = [line for line in report_lines if line[:1].isdigit()]
    assert rows[0].rstrip().endswith("yes") and rows[1].rstrip().endswith("NO")


def test_error_in_second_output_is_detected():
    with pytest.raises(gs.GradcheckError):
        gs.gradcheck(lambda x: (square(x), half_grad(x)), [leaf(X)])


def test_tolerances_follow_atol_plus_rtol_times_numerical():
    """|analytical - numerical| <= atol + rtol * |numerical| (defaults 1e-5, 1e-3)."""
    assert gs.gradcheck(scaled_grad(1 + 5e-4), [leaf(X)]) is True
    assert gs.gradcheck(scaled_grad(1 + 2e-3), [leaf(X)], raise_exception=False) is False
    assert gs.gradcheck(scaled_grad(1 + 2e-3), [leaf(X)], rtol=1e-2) is True
    tiny = [1e-4, -2e-4]  # gradients ~1e-4: an absolute error of 1e-5 is within atol
    assert gs.gradcheck(square_with_rule(lambda F, g, out, x: 2 * g * x + 5e-6), [leaf(tiny)])
    assert not gs.gradcheck(
        square_with_rule(lambda F, g, out, x: 2 * g * x + 5e-6),
        [leaf(tiny)],
        atol=1e-6,
        raise_exception=False,
    )


def test_eps_is_used_for_the_finite_differences():
    """A large eps biases the central difference of x**3 by eps**2, which gradcheck sees."""
    cube = lambda x: x**3
    assert gs.gradcheck(cube, [leaf(X)]) is True
    assert gs.gradcheck(cube, [leaf(X)], eps=0.1, raise_exception=False) is False


# ---------------------------------------------------------------- the second oracle
def test_projection_oracle_passes_correct_and_catches_wrong():
    rng = np.random.default_rng(0)
    x = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
    assert_projection_close(square, [x], rng)
    assert_projection_close(lambda t: (t @ t.T).logsumexp(axis=1), [x], rng)
    for wrong in (half_grad, scaled_grad(1 + 2e-3), reversed_grad):
        with pytest.raises(AssertionError, match="analytic"):
            assert_projection_close(wrong, [x], rng)


# ---------------------------------------------------------------- empty tensors
def test_backward_through_an_empty_selection_gives_zeros():
    x = leaf(X)
    (x[3:] * 2).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "fn, x",
    [
        (lambda t: t[3:], X),
        (lambda t: t[np.zeros(3, dtype=bool)], X),
        (lambda t: t * 2, np.ones((0, 3))),
    ],
    ids=["empty slice", "all-false mask", "empty input"],
)
def test_gradcheck_with_empty_tensors(fn, x):
    assert gs.gradcheck(fn, [leaf(x)]) is True
