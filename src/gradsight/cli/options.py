"""Argument types shared by the subcommands: each names the bad text it refuses."""

from __future__ import annotations

import argparse
import math

MAX_WIDTH = 100_000  # one layer's size
MAX_PARAMS = 50_000_000  # a model the command line will build (about 400 MB in float64)


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: {text.strip()!r} is not an integer") from None


def positive_int(text: str) -> int:
    n = _int(text, "expected a positive integer")
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def seed(text: str) -> int:
    n = _int(text, "expected a seed (a non-negative integer)")
    if n < 0:
        raise argparse.ArgumentTypeError(f"a seed must be a non-negative integer, got {n}")
    return n


def _float(text: str, what: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"{what}: {text!r} is not a finite number")
    return x


def positive_float(text: str) -> float:
    x = _float(text, "expected a positive number")
    if x <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return x


def significant_digits(text: str) -> int:
    """--digits: 1 to 17 significant digits (17 round-trips any float64)."""
    n = _int(text, "expected a number of significant digits (1 to 17)")
    if not 1 <= n <= 17:
        raise argparse.ArgumentTypeError(f"significant digits must be 1 to 17, got {n}")
    return n


def non_negative_float(text: str) -> float:
    x = _float(text, "expected a number >= 0")
    if x < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return x


def unit_interval(text: str) -> float:
    """A number in [0, 1): momentum, validation fraction."""
    x = _float(text, "expected a number in [0, 1)")
    if not 0 <= x < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return x


def sizes_list(text: str, minimum: int, example: str) -> list[int]:
    """'16,16' -> [16, 16]: positive integers, at least ``minimum`` of them."""
    words = [w.strip() for w in text.split(",")] if text.strip() else []
    how = f"expected comma-separated positive integers like {example}"
    if len(words) < minimum:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {how}, at least {minimum} of them" if minimum else f"{text!r}: {how}"
        )
    sizes = []
    for w in words:
        if not w.isdigit():  # refuses '', '-3', '2.5', '1e3', 'a'
            raise argparse.ArgumentTypeError(f"{text!r}: {how}; {w!r} is not a positive integer")
        n = int(w)
        if not 1 <= n <= MAX_WIDTH:
            raise argparse.ArgumentTypeError(
                f"{text!r}: layer size {n} is out of range (1 to {MAX_WIDTH:,})"
            )
        sizes.append(n)
    return sizes


def hidden_layers(text: str) -> list[int]:
    """``--layers`` of every command: hidden sizes only ('16,16'); 'none' or '0' for
    no hidden layer. Input and output sizes are never part of it."""
    if text.strip().lower() in ("none", "0"):
        return []
    return sizes_list(text, 1, "16,16 (hidden sizes only; 'none' for no hidden layer)")


def layers_hint(sizes: list[int]) -> str:
    """A note when --layers looks like it listed the input and output sizes too.

    ``sizes`` is what was built (inputs, hidden..., outputs). When the hidden
    sizes start with the input size and end with the output size, the user
    probably meant all sizes: say what --layers means and what to type.
    """
    hidden = sizes[1:-1]
    if len(hidden) < 2 or hidden[0] != sizes[0] or hidden[-1] != sizes[-1]:
        return ""
    meant = hidden[1:-1]
    fix = ",".join(map(str, meant)) if meant else "none"
    shape = "-".join(map(str, [sizes[0], *meant, sizes[-1]]))
    return f" (--layers lists hidden sizes only; for a {shape} network use --layers {fix})"


def layer_size(text: str) -> int:
    """One layer's width (--inputs, --outputs): a positive integer up to MAX_WIDTH."""
    n = _int(text, "expected a layer size (a positive integer)")
    if not 1 <= n <= MAX_WIDTH:
        raise argparse.ArgumentTypeError(f"layer size {n} is out of range (1 to {MAX_WIDTH:,})")
    return n


def all_layers(text: str) -> list[int]:
    """``--sizes`` of check, with the input and output sizes: '2,4,1'."""
    return sizes_list(text, 2, "2,4,1 (inputs, hidden..., outputs)")


def parameter_count(sizes: list[int]) -> int:
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def check_model_size(
    sizes: list[int], where: str = "", fix: str = "; use smaller --layers"
) -> None:
    """Refuse a model too large to build by mistake (e.g. a typo like 16000,16000)."""
    from .errors import CliError

    n = parameter_count(sizes)
    if n > MAX_PARAMS:
        raise CliError(
            f"{where}a {'-'.join(map(str, sizes))} network has {n:,} parameters, more than the "
            f"command line's limit of {MAX_PARAMS:,}{fix}"
        )


def names(text: str) -> list[str]:
    """'id,name' -> ['id', 'name'] (column names, or positions counted from 1)."""
    out = [w.strip() for w in text.split(",") if w.strip()]
    if not out:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected comma-separated column names or positions counted from 1 "
            "(a column without a name: its position, like 1 for the first column)"
        )
    return out


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append ``(default: X)`` to the help of every option (of ``parser`` and its
    subcommands) that has a default its help does not already state.

    Flags (store_true) and options without a default are left as they are;
    a list default reads like the command line: ``16,16``.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                show_defaults(sub)
            continue
        default = action.default
        if (
            not action.option_strings
            or action.help == argparse.SUPPRESS
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or "default" in (action.help or "").lower()
        ):
            continue
        if isinstance(default, (list, tuple)):
            shown = ",".join(map(str, default)) or "none"
        else:
            shown = str(default)
        shown = shown.replace("%", "%%")  # argparse expands %(...)s in help text
        action.help = f"{action.help} (default: {shown})" if action.help else f"default: {shown}"
