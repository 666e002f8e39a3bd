"""Run the ``gradsight`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_cli(
    *args, cwd, extra_path: list[Path] = (), env: dict | None = None, timeout: float = 120
) -> Result:
    """``python -m gradsight ARGS`` with PYTHONPATH=src (plus ``extra_path`` first);
    ``env`` entries override the inherited environment."""
    given = env or {}
    env = {**os.environ, **given}
    if "PYTHONPATH" not in given:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, extra_path), str(SRC)])
    env["MPLBACKEND"] = "Agg"
    env.setdefault("MPLCONFIGDIR", str(Path(cwd) / ".mplconfig"))
    proc = subprocess.run(
        [sys.executable, "-m", "gradsight", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_bad_input(res: Result, *fragments: str) -> str:
    """Exit code 2, exactly one stderr line 'gradsight: error: ...' containing every fragment."""
    assert res.rc == 2, f"exit code {res.rc}\nstdout: {res.out}\nstderr: {res.err}"
    assert len(res.err_lines) == 1, f"expected one error line, got:\n{res.err}"
    line = res.err_lines[0]
    assert line.startswith("gradsight: error: "), line
    assert "Traceback" not in res.err
    for f in fragments:
        assert f in line, f"{f!r} not in {line!r}"
    return line


@pytest.fixture
def cli(tmp_path):
    """``cli(*args)`` runs the command in a fresh temporary directory."""

    def call(*args, **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli(*args, **kw)

    return call


@pytest.fixture
def blocker(tmp_path):
    """``blocker('matplotlib', 'tqdm')``: a path entry where importing them fails."""

    def make(*names: str) -> Path:
        d = tmp_path / "blocked"
        d.mkdir(exist_ok=True)
        for name in names:
            (d / f"{name}.py").write_text(f"raise ImportError('{name} is blocked for this test')\n")
        return d

    return make
