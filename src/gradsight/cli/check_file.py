"""``gradsight check --file my_net.py``: check a user's NumPy backprop, unchanged.

The file defines ``forward(params, *data) -> loss`` and ``backward(params,
*data) -> {name: gradient}`` in plain NumPy, and two factories:
``init_params() -> {name: array}`` and ``make_data() -> tuple of arrays``
(or one array). The report is gs.check.backprop's. Exit 0 when every
gradient agrees three ways, 1 on a mismatch, 2 when the file is unusable.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from .errors import EXIT_MISMATCH, CliError, input_file, one_line

REQUIRED = ("forward", "backward", "init_params", "make_data")


def load(path: str):
    """The user's module, executed from ``path``; CliError on anything unusable."""
    p = input_file(path, "--file")
    if p.suffix != ".py":
        raise CliError(f"--file '{p}': expected a Python file (.py)")
    spec = importlib.util.spec_from_file_location(f"gradsight_user_{abs(hash(p))}", p)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise CliError(f"--file '{p}': syntax error on line {err.lineno}: {err.msg}") from None
    except Exception as err:  # noqa: BLE001 - the user's code: any error is a bad file
        raise user_error(p, "running it", err) from err
    missing = [n for n in REQUIRED if not callable(getattr(module, n, None))]
    if missing:
        raise CliError(
            f"--file '{p}' does not define {', '.join(missing)}: it needs forward(params, "
            "*data), backward(params, *data), init_params() and make_data()"
        )
    return module


def where_in_user_file(p: Path, err: BaseException) -> str:
    """``"net.py, line 12, in backward"``: the innermost frame of the user's file, or ""."""
    target = p.resolve()
    frames = [f for f in traceback.extract_tb(err.__traceback__) if _same_file(f.filename, target)]
    if not frames:
        return ""
    f = frames[-1]
    return f"{p.name}, line {f.lineno}, in {f.name}"


def _same_file(name: str, target: Path) -> bool:
    try:
        return Path(name).resolve() == target
    except (OSError, ValueError):
        return False


def user_error(p: Path, what: str, err: BaseException) -> CliError:
    """A CliError for an error raised in the user's code, naming where in their file.

    Raised ``from err``, so ``--debug`` prints the user's frames (the cause's traceback).
    """
    where = where_in_user_file(p, err)
    at = f" (at {where})" if where else ""
    return CliError(f"--file '{p}': {what} raised {type(err).__name__}: {one_line(err)}{at}")


def _call(p: Path, what: str, fn, *args):
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - the user's code
        raise user_error(p, what, err) from err


def run_file(args) -> int:
    """Load, check and print; the exit code."""
    import gradsight as gs

    module = load(args.file)
    p = Path(args.file)
    params = _call(p, "init_params()", module.init_params)
    data = _call(p, "make_data()", module.make_data)
    data = data if isinstance(data, tuple) else (data,)
    try:
        report = gs.check.backprop(
            module.forward, module.backward, params, *data, atol=args.atol, rtol=args.rtol
        )
    except Exception as err:  # noqa: BLE001 - gs.check's refusal, or the user's code raising
        where = where_in_user_file(p, err)
        if not where and isinstance(err, (TypeError, ValueError)):
            raise CliError(f"--file '{p}': {one_line(err)}") from err
        function = where.rsplit(" in ", 1)[-1] if where else "forward/backward"
        raise user_error(p, function, err) from err
    print(
        f"{p}: forward and backward checked (hand, autograd, central finite differences); "
        f"atol {args.atol:g}, rtol {args.rtol:g}"
    )
    print(report.to_markdown() if args.markdown else report.to_text())
    sys.stdout.flush()
    return 0 if report.ok else EXIT_MISMATCH
