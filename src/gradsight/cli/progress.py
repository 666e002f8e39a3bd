"""Progress: tqdm bars on a terminal (when tqdm is installed), plain lines otherwise.

``Progress`` follows training: a bar counting rows (rows per second) and a
result line on stdout every ``every`` epochs. ``ByteBar`` follows reading a
file (bytes of its size). Both are silent with ``--quiet``; on a terminal the
bars go to stderr, and they never show when stderr is not a terminal.
"""

from __future__ import annotations

import sys


def _tqdm(**kw):
    """A tqdm bar on stderr that shows only on a terminal, or None without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(file=sys.stderr, disable=None, leave=False, dynamic_ncols=True, **kw)


class Progress:
    """``step(rows)`` per batch, ``update(epoch, line, postfix)`` per epoch, ``close()``."""

    def __init__(
        self,
        total: int,
        desc: str,
        quiet: bool = False,
        every: int | None = None,
        rows: int = 0,
    ):
        self.total = total
        self.quiet = quiet
        self.every = every or max(1, total // 10)
        self._bar = None
        self._pending = 0
        if not quiet:
            self._bar = _tqdm(total=total * rows, desc=desc, unit="row", unit_scale=True)

    def step(self, rows: int) -> None:
        """Count ``rows`` trained on; the bar is redrawn at most every 1024 rows."""
        self._pending += rows
        if self._pending >= 1024 and self._bar is not None:
            self._bar.update(self._pending)
            self._pending = 0

    def update(self, epoch: int, line: str, postfix: str = "") -> None:
        """Report epoch ``epoch`` (1-based); ``line`` is printed on logging epochs."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(postfix or line, refresh=False)
        if epoch == 1 or epoch % self.every == 0 or epoch == self.total:
            self.write(line)

    def write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class ByteBar:
    """Reading progress: call the bar with each count of bytes read; ``close()``."""

    def __init__(self, total: int, desc: str, quiet: bool = False):
        self._bar = None if quiet else _tqdm(total=total, desc=desc, unit="B", unit_scale=True)

    def __call__(self, n: int) -> None:
        if self._bar is not None and n:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
