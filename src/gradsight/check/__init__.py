"""gs.check: compare your hand-written gradients with autograd's, number by number.

>>> report = gs.check.compare_gradients({"W": dW, "b": db}, model)   # or a name -> array dict
>>> print(report)             # a table: max abs/rel error and worst index per parameter
>>> report.ok, report.mismatched_names

``autograd_gradients(loss_fn, params)`` gives the autograd side for a model
written as a function of named arrays. See docs/check.md.
"""

from __future__ import annotations

from .compare import GradientReport, GradientRow, autograd_gradients, compare_gradients

__all__ = ["GradientReport", "GradientRow", "autograd_gradients", "compare_gradients"]
