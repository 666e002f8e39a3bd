"""Per-epoch reporting: a tqdm bar on a terminal when tqdm is installed, and
result lines on stdout every ``every`` epochs (both off with ``--quiet``)."""

from __future__ import annotations

import sys


class Progress:
    """``update(epoch, line, postfix)`` once per epoch; ``close()`` at the end."""

    def __init__(self, total: int, desc: str, quiet: bool = False, every: int | None = None):
        self.total = total
        self.quiet = quiet
        self.every = every or max(1, total // 10)
        self._bar = None
        if not quiet:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                # disable=None: the bar shows only when stderr is a terminal
                self._bar = tqdm(
                    total=total,
                    desc=desc,
                    unit="epoch",
                    file=sys.stderr,
                    disable=None,
                    leave=False,
                    dynamic_ncols=True,
                )

    def update(self, epoch: int, line: str, postfix: str = "") -> None:
        """Report epoch ``epoch`` (1-based); ``line`` is printed on logging epochs."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(postfix or line, refresh=False)
            self._bar.update(1)
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
