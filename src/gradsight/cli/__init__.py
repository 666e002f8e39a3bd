"""The ``gradsight`` command: ``gradsight demo | train | predict | graph | check | bench``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``. Errors are one line on stderr (``gradsight: error: ...``);
``--debug`` shows the traceback instead.

Exit codes: 0 success, 1 ``check`` found a mismatch, 2 bad input or usage,
3 an unexpected internal error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from .errors import EXIT_BAD_INPUT, EXIT_INTERNAL, CliError, one_line
from .options import show_defaults

__all__ = ["main", "build_parser"]

EPILOG = """\
exit codes: 0 success, 1 check found a mismatch, 2 bad input or usage,
3 unexpected internal error (please report it; --debug shows the traceback)

Start with:  gradsight demo      (the article's XOR network, end to end)
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become one-line CliErrors (exit code 2)."""

    def error(self, message: str):
        command = self.prog.removeprefix("gradsight").strip()
        where = f"{command}: " if command else ""
        raise CliError(f"{where}{message} (see '{self.prog} --help')")


# the commands that show progress (bars, per-epoch lines) and so have something to quiet
SHOWS_PROGRESS = ("demo", "train", "predict")


def _common(default, quiet_help: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks on errors"
    )
    p.add_argument("-q", "--quiet", action="store_true", default=default, help=quiet_help)
    return p


def _quiet_help(command: str) -> str:
    if command in SHOWS_PROGRESS:
        return "no progress bars or per-epoch lines"
    # accepted everywhere, so `gradsight -q COMMAND` and `COMMAND -q` both work
    return f"accepted for uniformity; {command} shows no progress, so it changes nothing"


def build_parser() -> argparse.ArgumentParser:
    from . import bench, check, demo, graph, predict, train

    parser = _Parser(
        prog="gradsight",
        description="See and check backpropagation: the article's network end to end, "
        "training on your own CSV data, computation graphs, and gradient checks of the "
        "article's network or of your own NumPy backward code.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(False, "no progress bars or per-epoch lines (demo, train, predict)")],
    )
    parser.add_argument("--version", action="version", version=f"gradsight {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # SUPPRESS: a subcommand's --debug/--quiet must not reset one given before it
    for module in (demo, train, predict, graph, check, bench):
        command = module.__name__.rpartition(".")[2]
        module.add_parser(sub, [_common(argparse.SUPPRESS, _quiet_help(command))])
    show_defaults(parser)  # every --help states each option's default
    return parser


def _version() -> str:
    from gradsight import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        head, passed_on = _split_bench(argv)
        args = parser.parse_args(head)
        if passed_on is not None:
            args.args = passed_on
        if args.command is None:
            parser.print_help()
            return EXIT_BAD_INPUT
        return int(args.run(args) or 0)
    except CliError as err:
        if debug:
            traceback.print_exc()
        _error(one_line(err))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("gradsight: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gradsight predict ... | head`
        _silence_stdout()
        return 0
    except Exception as err:  # a bug: one line, the traceback only with --debug
        if debug:
            traceback.print_exc()
        _error(
            f"internal error: {type(err).__name__}: {one_line(err)} "
            "(this is a bug; rerun with --debug for the traceback and please report it)"
        )
        return EXIT_INTERNAL


def _split_bench(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``gradsight [opts] bench ARGS...``: ARGS go to the benchmark suite untouched
    (argparse would claim options like --quick); ``bench --help`` stays ours."""
    for i, word in enumerate(argv):
        if not word.startswith("-"):
            rest = argv[i + 1 :]
            if word != "bench" or rest in (["-h"], ["--help"]):
                break
            return argv[: i + 1], rest
    return argv, None


def _error(message: str) -> None:
    print(f"gradsight: error: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
