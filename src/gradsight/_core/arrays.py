"""Array helpers that work on ndarrays and on other array types alike.

gradsight's arrays are ndarrays, but the engine, the ops and the optimizers
also run on arrays of other types that take part in NumPy's dispatch
(``__array_function__`` and ``__array_ufunc__``, NEP 13/18): gs.trace runs a
step on such arrays to record it. These helpers keep NumPy's meaning for
both: an ndarray takes the fast path (``x.__class__ is ndarray``), any other
array is handled through NumPy functions it dispatches, never converted with
``np.asarray`` (which would read its values).
"""

from __future__ import annotations

import numpy as np

ndarray = np.ndarray
_generic = np.generic


def is_duck_array(x) -> bool:
    """Whether ``x`` is an array of another type that takes part in NumPy's dispatch:
    not an ndarray (nor a subclass: a masked array or a memmap is converted as
    before), a NumPy scalar, a Python number or a list."""
    return not isinstance(x, (ndarray, _generic)) and hasattr(type(x), "__array_function__")


def as_result(x):
    """An op's result as an array: np.asarray (a NumPy scalar becomes a 0-d array),
    except another dispatching array type, which stays what it is."""
    if is_duck_array(x):
        return x
    return np.asarray(x)


def owned_copy(x, dtype=None):
    """``np.array(x, dtype=dtype)``: a new array the caller owns (a NumPy scalar
    gives a 0-d array), for another dispatching array type too."""
    if x.__class__ is ndarray or not is_duck_array(x):
        return np.array(x, dtype=dtype)
    out = np.copy(x)  # (dispatched: 0-d for a scalar, as np.array)
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = out.astype(dtype)
    return out
