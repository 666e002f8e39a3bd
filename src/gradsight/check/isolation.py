"""Running the user's forward more than once without its runs touching each other.

The plain forward and the hand backward run on the user's own objects (so a
backward reading state that forward left on ``self`` or on node objects reads
plain arrays, exactly as without gs.check). Every other run (the Tensor
forward, finite differences) runs on deep copies of what forward can reach:
its data arguments, the object of a bound method, a closure's cells and the
module-level objects it names; copies taken before anything ran, so each run
starts from the same state. NumPy's global random state is saved and put back
before each run, so a forward drawing a dropout mask draws the same one every
time; a ``np.random.Generator`` kept on an object is copied with it.
"""

from __future__ import annotations

import copy
import types

import numpy as np

__all__ = ["Snapshot", "same_random_state"]

_PLAIN = (int, float, complex, bool, str, bytes, type(None), np.ndarray, np.generic)


def _stateful(value) -> bool:
    """Whether a run could change ``value`` in a way the next run would see."""
    if isinstance(value, _PLAIN):
        return False
    if isinstance(value, (tuple, frozenset)):
        return any(_stateful(v) for v in value)
    return not isinstance(
        value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
    )


class Snapshot:
    """Pristine deep copies of forward's reachable state, handed out fresh per run."""

    def __init__(self, forward, data: tuple):
        self.forward, self.data = forward, data
        self._func, self._self = _split(forward)
        func = self._func
        code = getattr(func, "__code__", None)
        self._cells = getattr(func, "__closure__", None) or ()
        glob = getattr(func, "__globals__", {})
        self._globals = {
            n: glob[n] for n in (code.co_names if code else ()) if n in glob and _stateful(glob[n])
        }
        self.stateful = bool(
            (self._self is not None and _stateful(self._self))
            or any(_stateful(c.cell_contents) for c in self._cells if _filled(c))
            or self._globals
            or any(_stateful(d) for d in data)
        )
        self._pristine = self._copy_all() if self.stateful else None

    def _copy_all(self):
        parts = (self._self, [c.cell_contents if _filled(c) else None for c in self._cells],
                 self._globals, self.data)  # fmt: skip
        try:
            return copy.deepcopy(parts)  # one memo: objects shared stay shared
        except Exception as err:  # noqa: BLE001 - any object may refuse to be copied
            raise TypeError(
                f"gs.check runs forward on copies of the objects it uses, and copying one "
                f"failed ({type(err).__name__}: {err}); make it copyable (copy.deepcopy)"
            ) from err

    def fresh(self):
        """(forward, data) on new copies of the pristine state (the originals when stateless)."""
        if not self.stateful:
            return self.forward, self.data
        obj, cells, glob, data = copy.deepcopy(self._pristine)
        func = self._func
        if isinstance(func, types.FunctionType) and (self._cells or glob):
            new_globals = dict(func.__globals__)
            new_globals.update(glob)
            closure = tuple(types.CellType(c) for c in cells) if self._cells else None
            clone = types.FunctionType(
                func.__code__, new_globals, func.__name__, func.__defaults__, closure
            )
            clone.__kwdefaults__ = func.__kwdefaults__
            func = clone
        if self._self is not None and isinstance(func, types.FunctionType):
            return types.MethodType(func, obj), data
        return func, data


def _split(forward) -> tuple:
    """(function, the object it is bound to or None) for a function, method or callable object."""
    if isinstance(forward, types.MethodType):
        return forward.__func__, forward.__self__
    if isinstance(forward, (types.FunctionType, types.BuiltinFunctionType)):
        return forward, None
    call = type(forward).__call__ if callable(forward) else None
    if isinstance(call, types.FunctionType):  # an object with __call__: its state is copied
        return call, forward
    return forward, None


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


class same_random_state:  # noqa: N801 - used like a function in a with statement
    """``with same_random_state(state):`` runs the block from NumPy's global ``state``."""

    def __init__(self, state):
        self.state = state

    def __enter__(self):
        np.random.set_state(self.state)
        return self

    def __exit__(self, *exc):
        return False
