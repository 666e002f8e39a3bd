"""gs.testing: gradient assertions for your own pytest suites.

    def test_my_backprop():
        gs.testing.assert_gradients_close(forward, backward, params, X, T)

fails with gs.check.backprop's report table (hand, autograd, finite
differences per parameter, and the first intermediate where hand and
autograd part ways) as the assertion message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .check.backprop import BackpropReport, backprop

__all__ = ["assert_gradients_close"]


def assert_gradients_close(
    forward: Callable,
    backward: Callable,
    params: Mapping,
    *data,
    atol: float = 1e-8,
    rtol: float = 1e-5,
    fd_eps: float = 1e-6,
    finite_differences: bool = True,
) -> BackpropReport:
    """Assert that ``backward``'s gradients match ``forward``'s, three ways.

    Same arguments as ``gs.check.backprop``. Returns the report when every
    gradient agrees; raises AssertionError whose message is the report table.
    """
    report = backprop(
        forward, backward, params, *data,
        atol=atol, rtol=rtol, fd_eps=fd_eps, finite_differences=finite_differences,
    )  # fmt: skip
    if not report.ok:
        raise AssertionError("hand-written gradients disagree\n" + report.to_text())
    return report
