"""Ways to make tensors: from data, filled, ranges and random draws."""

from __future__ import annotations

import numpy as np

from ._core import policy as _policy
from ._core.tensor import Tensor, as_array, check_grad_dtype, new_tensor

_generator = np.random.default_rng()
_handlers = _policy.HANDLERS


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    if requires_grad:
        check_grad_dtype(arr.dtype)
    arr.flags.writeable = False
    return new_tensor(arr, None, bool(requires_grad))


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"a shape needs non-negative integers, got {shape!r}")
    return tuple(int(n) for n in shape)


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (like torch.tensor)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (no copy).

    The tensor sees a read-only view: writes made later through ``array``
    itself show in the tensor and are not tracked by autograd.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an np.ndarray, got {type(array).__name__}")
    view = as_array(array, copy=False).view()
    return _make(view, False)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape(shape), dtype=dtype), requires_grad)


def empty(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_shape(shape), dtype=dtype), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else tuple(shape))
    return _make(np.full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros_like(as_array(t, copy=False), dtype=dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones_like(as_array(t, copy=False), dtype=dtype), requires_grad)


def arange(*args, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.arange(*args, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtype), requires_grad)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator used by randn, rand and nn.init."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator() -> np.random.Generator:
    """The global NumPy Generator (re-created by manual_seed)."""
    return _generator


def draw(kind: str, shape: tuple, dtype=None) -> np.ndarray:
    """A fresh array of ``shape`` from the global generator, as randn and rand draw it:
    ``kind`` is the Generator method ("standard_normal" or "random", uniform on
    [0, 1)), drawn in float64 and cast to ``dtype`` when one is given. A replay of a
    traced step draws its gs.rand/gs.randn arrays with this same function."""
    arr = getattr(_generator, kind)(shape)
    return arr.astype(dtype, copy=False) if dtype else arr


def _drawn(kind: str, shape: tuple, dtype):
    if _handlers:  # a tool running the step (gs.trace makes the draw a program input)
        return _handlers[-1].draw(kind, shape, dtype)
    return draw(kind, shape, dtype)


def randn(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator (see manual_seed)."""
    return _make(_drawn("standard_normal", _shape(shape), dtype), requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Samples uniform on [0, 1) from the global generator (see manual_seed)."""
    return _make(_drawn("random", _shape(shape), dtype), requires_grad)
