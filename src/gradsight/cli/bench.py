"""``gradsight bench``: run the benchmark suite of a source checkout (``python -m benchmarks``).

The benchmarks are not installed with the package; they live next to ``src/``
in a clone of the repository (``./run bench`` sets up their extra packages).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .errors import CliError


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "bench",
        parents=parents,
        help="run the benchmarks of a source checkout (python -m benchmarks)",
        description="Run the benchmark suite (python -m benchmarks) of the gradsight "
        "source checkout found in the current directory or above the installed package. "
        "Arguments after 'bench' go to the suite, e.g. 'gradsight bench --quick'.",
    )
    p.add_argument("args", nargs="*", metavar="ARGS", help="passed on to python -m benchmarks")
    p.set_defaults(run=run)


def find_checkout() -> Path | None:
    """The directory holding ``benchmarks/__main__.py``: the working directory, or
    the repository an editable install points into (src/gradsight/cli -> root)."""
    here = Path(__file__).resolve()
    for root in (Path.cwd(), here.parents[3] if len(here.parents) > 3 else None):
        if root is not None and (root / "benchmarks" / "__main__.py").is_file():
            return root
    return None


def run(args) -> int:
    root = find_checkout()
    if root is None:
        raise CliError(
            "the benchmarks live in the source repository, not in the installed package: "
            "run './run bench' (or 'gradsight bench') from a clone of gradsight"
        )
    cmd = [sys.executable, "-m", "benchmarks", *args.args]
    return subprocess.call(cmd, cwd=root)
