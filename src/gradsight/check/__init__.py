"""gs.check: compare your hand-written gradients with autograd's, number by number.

>>> report = gs.check.compare_gradients({"W": dW, "b": db}, model)   # or a name -> array dict
>>> print(report)             # a table: max abs/rel error and worst index per parameter
>>> report.ok, report.mismatched_names

``backprop(forward, backward, params, *data)`` checks unchanged NumPy code:
your forward as written, your hand backward, autograd and finite differences.
``layer(obj, x, dout=None)`` and ``layers([l1, l2], x, loss)`` check layer
classes with ``forward(x)`` / ``backward(dout)`` that keep their gradients on
the object. ``autograd_gradients(loss_fn, params)`` gives the autograd side for a model
written as a function of named arrays. See docs/check.md.
"""

from __future__ import annotations

from .backprop import backprop
from .compare import GradientReport, GradientRow, autograd_gradients, compare_gradients
from .layers import layer, layers
from .report import BackpropReport, BackpropRow

__all__ = [
    "BackpropReport",
    "BackpropRow",
    "GradientReport",
    "GradientRow",
    "autograd_gradients",
    "backprop",
    "compare_gradients",
    "layer",
    "layers",
]
