"""gs.optim: SGD (momentum, dampening, weight decay, Nesterov) and Adam.

>>> opt = gs.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
>>> opt.zero_grad(); loss.backward(); opt.step()
"""

from __future__ import annotations

from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Adam", "Optimizer", "SGD"]
