"""Thread-local autograd switches: grad mode and anomaly detection.

Each thread starts with grad mode on and anomaly detection off; a context
entered in one thread never changes another thread's state.

Every op asks "should I record?", so that question has a fast answer:
``plain.on`` is True while *every* thread is in the default state (recording,
no anomaly detection), and then no thread-local lookup is needed. A thread
leaving the default state turns it off for all until it comes back; the
others then read their own ``mode``, which is still correct, only slower.
"""

from __future__ import annotations

import functools
import threading


class _Mode(threading.local):
    enabled = True  # class defaults are what every new thread sees
    anomaly = False


class _Plain:
    __slots__ = ("on",)


mode = _Mode()
plain = _Plain()
plain.on = True
_lock = threading.Lock()
_off_default = [0]  # threads not in the default state


def set_mode(enabled: bool, anomaly: bool) -> None:
    """Set this thread's switches; the only way they change."""
    enabled, anomaly = bool(enabled), bool(anomaly)
    m = mode  # one thread-local lookup per attribute below, not two
    was_default = m.enabled and not m.anomaly
    m.enabled = enabled
    m.anomaly = anomaly
    now_default = enabled and not anomaly
    if was_default != now_default:
        _count_default(now_default)


def _count_default(now_default: bool) -> None:
    """This thread entered (True) or left (False) the default state: update ``plain``."""
    _lock.acquire()
    n = _off_default[0] + (-1 if now_default else 1)
    _off_default[0] = n
    plain.on = n == 0
    _lock.release()


def _set_enabled(enabled: bool) -> bool:
    """Set this thread's grad mode, anomaly mode unchanged; returns the previous one.

    set_mode for the grad-mode contexts, which run around every manual update
    (``with no_grad(): p.sub_(...)``): one read of each switch, no argument checks.
    """
    m = mode
    saved = m.enabled
    if saved is not enabled:
        m.enabled = enabled
        if not m.anomaly:  # the default state is (enabled, no anomaly)
            _count_default(enabled)
    return saved


def is_grad_enabled() -> bool:
    """True when operations are being recorded for backward in this thread."""
    return mode.enabled


_new = object.__new__


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit."""

    _target = True

    def __new__(cls, func=None):
        """``@no_grad()`` and ``@no_grad`` both decorate; ``with no_grad():`` is a context."""
        self = _new(cls)
        return self if func is None else self(func)

    def __enter__(self) -> None:
        self._saved = _set_enabled(self._target)

    def __exit__(self, *exc) -> None:
        _set_enabled(self._saved)

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

    _target = False


class enable_grad(_SetGradMode):
    """Re-enable graph recording inside a no_grad block."""

    _target = True


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
