"""Does the sweep bite? Plant one bug at a time in a copy of the VJP rules and run tests/ops.

    python -m tests.ops.mutants            # every mutant (about 2 minutes each)
    python -m tests.ops.mutants sign       # the ones whose key contains "sign"

Each mutant edits one line of a *copy* of src/gradsight in a temporary folder
(the checkout is never touched) and runs tests/ops against that copy. The
report lists, per mutant, which checks failed and on which ops; a mutant that
no check catches is a hole in the sweep. Not collected by pytest (no test_
prefix): it is a tool for changing the sweep, not part of the suite.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MUTANTS = {
    "sign: sub's rule for its second input returns +g": (
        "ops/elementwise.py",
        "        lambda F, g, out, x, y: -g,\n",
        "        lambda F, g, out, x, y: g,\n",
    ),
    "swapped axis: transpose's rule re-applies the permutation instead of inverting it": (
        "ops/shape.py",
        "tuple(np.argsort(axes))",
        "tuple(axes)",
    ),
    "missing un-broadcast: sum_to's batch fast path takes row 0 instead of the sum": (
        "ops/_util.py",
        "        return _add_reduce(a, axis=0)\n",
        "        return a[0]\n",
    ),
    "dropped accumulation: index_add assigns instead of adding repeated indices": (
        "ops/_util.py",
        "        np.add.at(z, index, g)\n",
        "        z[index] = g\n",
    ),
    "float32 downcast: exp's rule rounds its gradient to float32": (
        "ops/elementwise.py",
        "(lambda F, g, out, x: g * out,))",
        "(lambda F, g, out, x: F.astype(g * out, np.float32),))",
    ),
}

_FAILED = re.compile(r"^FAILED tests/ops/(\w+)\.py::(\w+)(?:\[([^\]]*)\])?")


def run_mutant(key: str, path: str, old: str, new: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "gradsight"
        shutil.copytree(ROOT / "src" / "gradsight", src)
        target = src / path
        text = target.read_text()
        if text.count(old) != 1:
            return f"## {key}\n  cannot plant: the line is not found once in {path}\n"
        target.write_text(text.replace(old, new))
        env = dict(os.environ, PYTHONPATH=tmp)
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "tests/ops",
            "-q",
            "--tb=no",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
        ]
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True).stdout
    caught = collections.defaultdict(set)
    for line in out.splitlines():
        m = _FAILED.match(line)
        if m:
            module, test, params = m.groups()
            caught[f"{module}::{test}"].add((params or "").split("-")[0] or "-")
    summary = [line for line in out.splitlines() if " passed" in line or " failed" in line]
    lines = [f"## {key}", f"  {summary[-1] if summary else 'no summary'}"]
    if not caught:
        lines.append("  NOT CAUGHT")
    for test, ops in sorted(caught.items()):
        lines.append(f"  {test}: {', '.join(sorted(ops))}")
    return "\n".join(lines) + "\n"


def main(argv: list) -> int:
    chosen = {k: v for k, v in MUTANTS.items() if not argv or any(a in k for a in argv)}
    for key, (path, old, new) in chosen.items():
        print(run_mutant(key, path, old, new), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
