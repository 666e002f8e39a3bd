"""gs.reference: the article's network by hand, its formulas as printed, and its listing.

- ``network``: the corrected hand-derived 2-layer network in plain NumPy (no
  autograd), with the article's layout W (hidden, input), V (output, hidden):
  ``forward``, ``loss``, ``backward``, ``momentum_step``, ``train``.
- ``as_written``: sections 3.1.2, 3.2.1 and 3.2.2 transcribed literally, to
  show where they disagree with autograd (see docs/article.md).
- ``listing``: the section 4 listing verbatim, and a faithful fixed version.

>>> from gradsight import reference as ref
>>> p = ref.init_params(2, 4, 1)
>>> fw = ref.forward(p, X)
>>> grads = ref.backward(p, fw, T)      # {"W": (4, 2), "b": (4,), "V": (1, 4), "c": (1,)}
"""

from __future__ import annotations

from . import as_written, listing, network
from .network import (
    ACTIVATIONS,
    MLP_NAMES,
    PARAM_NAMES,
    Activation,
    Forward,
    activation,
    backward,
    forward,
    hidden_error,
    init_params,
    loss,
    momentum_step,
    output_delta,
    train,
)

__all__ = [
    "ACTIVATIONS",
    "MLP_NAMES",
    "PARAM_NAMES",
    "Activation",
    "Forward",
    "activation",
    "as_written",
    "backward",
    "forward",
    "hidden_error",
    "init_params",
    "listing",
    "loss",
    "momentum_step",
    "network",
    "output_delta",
    "train",
]
