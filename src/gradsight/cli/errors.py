"""Errors the command line reports as one line, and safe (atomic) output.

Exit codes: 0 success, 1 a check found a mismatch, 2 bad input or usage,
3 an unexpected internal error (a bug; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class CliError(Exception):
    """Bad input or usage: reported as ``gradsight: error: <message>``, exit code 2."""


def one_line(message: object) -> str:
    """Collapse a message onto one line (multi-line library errors included)."""
    parts = [line.strip() for line in str(message).splitlines() if line.strip()]
    return " | ".join(parts) if parts else "(no message)"


def short(value: str, limit: int = 60) -> str:
    """``repr`` of user text, truncated so an error stays readable."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def input_file(path: str | os.PathLike, what: str = "file") -> Path:
    """The path of an existing, readable regular file, or a CliError saying why not."""
    p = Path(path)
    if not p.exists():
        raise CliError(f"{what} not found: '{p}'")
    if p.is_dir():
        raise CliError(f"{what} '{p}' is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise CliError(f"{what} '{p}' is not readable (permission denied)")
    return p


def _probe_dir(d: Path, what: str, shown: Path) -> None:
    """Create a file in ``d`` and remove it: the only sure test that ``d`` is writable."""
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".gradsight-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise CliError(f"cannot write {what} '{shown}': {err.strerror or err}") from None


def output_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) if needed and prove it writable, or raise CliError."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CliError(
            f"cannot use '{p}' as the output directory: it exists and is not a directory"
        )
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"cannot create the output directory '{p}': {err.strerror or err}") from None
    _probe_dir(p, "to the output directory", p)
    return p


def output_file(path: str | os.PathLike) -> Path:
    """Check, before any work is done, that ``path`` can be written; return it."""
    p = Path(path)
    if p.is_dir():
        raise CliError(f"cannot write '{p}': it is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise CliError(f"cannot write '{p}': the directory '{parent}' does not exist")
    _probe_dir(parent, "to", p)
    return p


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` all at once: a temp file in the same directory,
    then ``os.replace``, so readers never see a half-written file."""
    return write_atomic_with(path, lambda tmp: Path(tmp).write_bytes(_bytes(data)))


def write_atomic_with(path: str | os.PathLike, writer: Callable[[str], object]) -> Path:
    """Call ``writer(temp_path)`` and move the result onto ``path`` atomically.

    The temp file keeps ``path``'s suffix (some writers insist on it). On any
    error the temp file is removed and ``path`` is left as it was.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=f".tmp{p.suffix}")
    except OSError as err:
        raise CliError(f"cannot write '{p}': {err.strerror or err}") from None
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data
