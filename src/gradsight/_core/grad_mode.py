"""Thread-local autograd switches: grad mode and anomaly detection.

Each thread starts with grad mode on and anomaly detection off; a context
entered in one thread never changes another thread's state.

Every op asks "should I record?", so that question has a fast answer:
``plain.on`` is True while *every* thread is in the default state (recording,
no anomaly detection), and then no thread-local lookup is needed. A thread
leaving the default state turns it off for all until it comes back; the
others then read their own ``mode``, which is still correct, only slower.

``plain.on`` may be False when it could be True (that only costs time), but
it is never True while some thread is off the default state: the count of
such threads and the flag change together under one lock, and a thread
counts itself off *before* it turns recording off (and back on before it
counts itself back), so an interruption between the two steps can only
leave the fast path off.
"""

from __future__ import annotations

import functools
import threading


class _Mode(threading.local):
    """This thread's switches, as attributes (``mode.enabled``, ``mode.anomaly``).

    ``__init__`` runs once in each thread, on its first use, so both switches
    are in the thread's own ``__dict__``: the grad-mode contexts read and write
    that dict directly, one thread-local lookup per enter or exit.
    """

    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False


class _Plain:
    __slots__ = ("on",)


mode = _Mode()
plain = _Plain()
plain.on = True
_lock = threading.Lock()
_acquire = _lock.acquire
_release = _lock.release
_off_default = [0]  # threads not in the default state


def set_mode(enabled: bool, anomaly: bool) -> None:
    """Set this thread's switches; every change goes through here or the
    grad-mode contexts below, which follow the same counting rule."""
    enabled, anomaly = bool(enabled), bool(anomaly)
    state = mode.__dict__
    was_default = state["enabled"] and not state["anomaly"]
    now_default = enabled and not anomaly
    if was_default and not now_default:
        _count_default(False)
    state["enabled"] = enabled
    state["anomaly"] = anomaly
    if now_default and not was_default:
        _count_default(True)


def _count_default(now_default: bool) -> None:
    """This thread entered (True) or left (False) the default state: update ``plain``."""
    _acquire()
    n = _off_default[0] + (-1 if now_default else 1)
    _off_default[0] = n
    plain.on = n == 0
    _release()


def _set_enabled(enabled: bool) -> bool:
    """Set this thread's grad mode (a bool), anomaly mode unchanged; returns the
    previous one. The decorators' path; the contexts write the same steps out."""
    state = mode.__dict__
    saved = state["enabled"]
    if saved is not enabled:
        if state["anomaly"]:  # off the default state either way: nothing to count
            state["enabled"] = enabled
        elif enabled:
            state["enabled"] = True
            _count_default(True)
        else:
            _count_default(False)
            state["enabled"] = False
    return saved


def is_grad_enabled() -> bool:
    """True when operations are being recorded for backward in this thread."""
    return mode.enabled


_new = object.__new__


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit.

    Subclasses write ``__enter__`` out for their own target (the manual update
    ``with no_grad(): p.sub_(...)`` runs it once per parameter); ``__exit__``
    puts back the mode found on entry, in the thread that exits.
    """

    __slots__ = ("_saved",)
    _target = True

    def __new__(cls, func=None):
        """``@no_grad()`` and ``@no_grad`` both decorate; ``with no_grad():`` is a context."""
        self = _new(cls)
        return self if func is None else self(func)

    def __exit__(self, exc_type, exc, tb) -> None:
        saved = self._saved
        state = mode.__dict__
        if state["enabled"] is not saved:  # _set_enabled(saved), written out
            if state["anomaly"]:
                state["enabled"] = saved
            elif saved:  # back to the default state: recording on, then counted
                state["enabled"] = True
                _acquire()
                n = _off_default[0] - 1
                _off_default[0] = n
                plain.on = n == 0
                _release()
            else:
                _count_default(False)
                state["enabled"] = False

    def __call__(self, fn):
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            saved = _set_enabled(target)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_enabled(saved)

        return wrapper


class no_grad(_SetGradMode):
    """Disable graph recording (like torch.no_grad); usable as a decorator."""

    __slots__ = ()
    _target = False

    def __enter__(self) -> None:
        state = mode.__dict__
        self._saved = saved = state["enabled"]
        if saved:
            if not state["anomaly"]:  # leaving the default state: counted, then off
                _acquire()
                _off_default[0] += 1
                plain.on = False
                _release()
            state["enabled"] = False


class enable_grad(_SetGradMode):
    """Re-enable graph recording inside a no_grad block."""

    __slots__ = ()
    _target = True

    def __enter__(self) -> None:
        self._saved = _set_enabled(True)


class detect_anomaly:
    """Record where each op was created and fail fast on nan/inf in backward.

    Inside this context every recorded op keeps a short stack summary; when a
    backward rule produces a non-finite gradient, the RuntimeError names the op
    and the line of user code that created it. Slow: debug only.
    """

    def __enter__(self) -> None:
        self._saved = mode.anomaly
        set_mode(mode.enabled, True)

    def __exit__(self, *exc) -> None:
        set_mode(mode.enabled, self._saved)
