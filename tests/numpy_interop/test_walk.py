"""Every public NumPy callable, given a Tensor that requires grad, records or raises.

The walk calls each public ``np.*`` and ``np.linalg.*`` callable with a few
argument patterns (a tensor; two tensors; a tensor and an int; a list of
tensors). Whatever it does, it must not hand back NumPy data computed from
the tensor's values (an ndarray or NumPy scalar), which would be the graph
cut silently: it returns a Tensor, raises, or returns something that carries
no values (a shape, a dtype, a bool about types).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import gradsight as gs

# They write or read files, print, or open the help system: not array maths.
SKIP = {
    "save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt",
    "fromfile", "fromregex", "memmap", "info", "show_config", "show_runtime", "test",
    "lookfor", "source", "who", "get_include", "DataSource",
}  # fmt: skip


# Their result does not depend on the values, or is piecewise constant (gradient 0
# wherever it exists): a constant Tensor is right.
CONSTANT = {
    "np.zeros_like", "np.ones_like", "np.full_like", "np.empty_like", "np.sign",
    "np.floor_divide",
}  # fmt: skip


def _public(module, prefix):
    for name in sorted(dir(module)):
        if name.startswith("_") or name in SKIP:
            continue
        obj = getattr(module, name)
        if callable(obj) and not isinstance(obj, type(os)):
            yield f"{prefix}.{name}", obj


CALLABLES = dict([*_public(np, "np"), *_public(np.linalg, "np.linalg")])


def _leaks(result) -> bool:
    """True when ``result`` holds NumPy data (an ndarray or a NumPy number)."""
    if isinstance(result, (np.str_, np.bytes_)):  # text, e.g. np.str_(t) prints it
        return False
    if isinstance(result, (np.ndarray, np.generic)):
        return True
    if isinstance(result, (list, tuple)):
        return any(_leaks(r) for r in result)
    return False


def _patterns():
    t = gs.tensor([[0.5, 1.5], [2.0, 0.25]], requires_grad=True)
    return t, [(t,), (t, t), (t, 1), ([t, t],)]


def test_the_walk_covers_numpy():
    assert len(CALLABLES) > 400  # the namespace, not a handful


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_numpy_callable_records_or_raises(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything that writes, writes here
    fn = CALLABLES[name]
    t, patterns = _patterns()
    for args in patterns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = fn(*args)
            except Exception:  # noqa: BLE001 - raising is one of the two allowed outcomes
                continue
        assert not _leaks(result), f"{name}{tuple(type(a).__name__ for a in args)} -> {result!r}"
        if isinstance(result, gs.Tensor) and result.dtype.kind == "f" and name not in CONSTANT:
            assert result.requires_grad, f"{name} returned a float Tensor outside the graph"
