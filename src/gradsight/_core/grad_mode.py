"""Thread-local autograd switches: grad mode and anomaly detection.

Each thread starts with grad mode on and anomaly detection off; a context
entered in one thread never changes another thread's state.
"""

from __future__ import annotations

import functools
import threading


class _Mode(threading.local):
    enabled = True  # class defaults are what every new thread sees
    anomaly = False


mode = _Mode()


def is_grad_enabled() -> bool:
    """True when operations are being recorded for backward in this thread."""
    return mode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit."""

    _target = True

    def __new__(cls, func=None):
        """``@no_grad()`` and ``@no_grad`` both decorate; ``with no_grad():`` is a context."""
        self = super().__new__(cls)
        return self if func is None else self(func)

    def __enter__(self) -> None:
        self._saved = mode.enabled
        mode.enabled = self._target

    def __exit__(self, *exc) -> None:
        mode.enabled = self._saved

    def __call__(self, fn):
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            saved = mode.enabled
            mode.enabled = target
            try:
                return fn(*args, **kwargs)
            finally:
                mode.enabled = saved

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
        mode.anomaly = True

    def __exit__(self, *exc) -> None:
        mode.anomaly = self._saved
