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

from . import _util, api


def _data(x):
    return x.data if isinstance(x, Tensor) else x


ARRAY = SimpleNamespace(
    records=False,  # rules may take array-only shortcuts (in-place work on their own results)
    data=lambda x: x,
    exp=_util.exp_quiet,
    log=np.log,
    reshape=lambda a, shape: a.reshape(shape),
    transpose=lambda a, axes: a.transpose(axes),
    mT=lambda a: np.swapaxes(a, -1, -2),
    broadcast_to=_util.expand,
    sum_to=_util.sum_to,
    where=np.where,
    index_add=_util.index_add,
    astype=lambda a, dtype: a.astype(dtype),
    softmax=_util.softmax,
    sigmoid=_util.sigmoid,
)

TENSOR = SimpleNamespace(
    records=True,
    data=_data,
    exp=api.exp,
    log=api.log,
    reshape=api.reshape,
    transpose=lambda a, axes: api.transpose(a, *(axes or ())),
    mT=lambda a: api.transpose(a, *range(a.ndim - 2), a.ndim - 1, a.ndim - 2),
    broadcast_to=api.broadcast_to,
    sum_to=api.sum_to,
    where=api.where,
    index_add=api.index_add,
    astype=api.astype,
    softmax=api.softmax,
    sigmoid=api.sigmoid,
)
