"""The two vocabularies the VJP rules are written in (the ``F`` argument).

ARRAY runs rules on ndarrays: an ordinary backward records nothing.
TENSOR runs the same rules on Tensors with grad mode on, so the backward pass
is itself a graph (create_graph=True, higher-order gradients).
Operators (+ - * / @, indexing, .T, .sum) already work on both types; these
are the functions the rules need beyond them.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from gradsight._core.tensor import Tensor

from . import api, declare


def _data(x):
    return x.data if isinstance(x, Tensor) else x


# the ops' names (F.exp, F.reshape, ...) come from their declarations (``rules=``)
_RULES = declare.rules()

ARRAY = SimpleNamespace(
    records=False,  # rules may take array-only shortcuts (in-place work on their own results)
    data=lambda x: x,
    mT=lambda a: np.swapaxes(a, -1, -2),
    **{name: pair[0] for name, pair in _RULES.items()},
)

TENSOR = SimpleNamespace(
    records=True,
    data=_data,
    mT=lambda a: api.transpose(a, *range(a.ndim - 2), a.ndim - 1, a.ndim - 2),
    **{name: pair[1] for name, pair in _RULES.items()},
)
