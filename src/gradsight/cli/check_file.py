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
        raise CliError(f"--file '{p}': running it raised {type(err).__name__}: {err}") from None
    missing = [n for n in REQUIRED if not callable(getattr(module, n, None))]
    if missing:
        raise CliError(
            f"--file '{p}' does not define {', '.join(missing)}: it needs forward(params, "
            "*data), backward(params, *data), init_params() and make_data()"
        )
    return module


def _call(p: Path, what: str, fn, *args):
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - the user's code
        raise CliError(f"--file '{p}': {what} raised {type(err).__name__}: {err}") from None


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
    except (TypeError, ValueError) as err:
        raise CliError(f"--file '{p}': {one_line(err)}") from None
    except Exception as err:  # noqa: BLE001 - raised inside the user's forward or backward
        raise CliError(f"--file '{p}': forward/backward raised {type(err).__name__}: "
                       f"{one_line(err)}") from None  # fmt: skip
    print(f"{p}: forward and backward checked (hand, autograd, central finite differences)")
    print(report.to_markdown() if args.markdown else report.to_text())
    sys.stdout.flush()
    return 0 if report.ok else EXIT_MISMATCH
