"""``./run``: usage and exit codes, and a first set-up that says what it does while pip's
chatter (warnings, deprecation boxes) goes to .venv/pip.log, shown only when pip fails.

The set-up is exercised with stand-ins for python, pip and dot, so the test needs no
network and installs nothing; the real first run is checked by hand (see the report).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/usr/bin/env bash
# stands in for python3: `-m venv DIR` makes DIR/bin/{python,gradsight}
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    cp "$0.venv-python" "$3/bin/python"
    printf '#!/usr/bin/env bash\\necho "gradsight stub: $*"\\n' > "$3/bin/gradsight"
    chmod +x "$3/bin/python" "$3/bin/gradsight"
fi
"""

VENV_PYTHON = """#!/usr/bin/env bash
# stands in for .venv/bin/python -m pip install ...: noisy, fails when PIP_FAIL is set
echo "WARNING: pip noise on stdout"
echo "  BuildBackendWarning: project.license as a TOML table is deprecated" >&2
if [ -n "${PIP_FAIL:-}" ]; then echo "ERROR: boom, no such package" >&2; exit 1; fi
"""


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def sandbox(tmp_path):
    """A directory holding ./run and pyproject.toml, and a PATH with fake python and dot."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copy(ROOT / "run", work / "run")
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    fakes = tmp_path / "bin"
    fakes.mkdir()
    executable(fakes / "python-fake", FAKE_PYTHON)
    executable(fakes / "python-fake.venv-python", VENV_PYTHON)
    executable(fakes / "dot", "#!/bin/sh\nexit 0\n")  # so no apt-get is attempted

    def run(*args, **env):
        full = {
            **os.environ,
            "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}",
            "PYTHON": str(fakes / "python-fake"),
            **env,
        }
        return subprocess.run(
            ["bash", "run", *args], cwd=work, env=full, capture_output=True, text=True, timeout=60
        )

    run.work = work
    return run


def test_help_exits_0_with_usage(sandbox):
    for flag in ("--help", "-h", "help"):
        res = sandbox(flag)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("usage: ./run demo") and "./run test" in res.stdout
    for args, said in (((), ""), (("fly",), "run: unknown command 'fly'")):
        res = sandbox(*args)
        assert res.returncode == 2 and "usage: ./run demo" in res.stderr
        assert said in res.stderr and res.stdout == ""


def test_first_demo_says_what_it_does_and_hides_pips_output(sandbox):
    res = sandbox("demo", "--epochs", "3")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "run: creating the virtual environment .venv"
    assert lines[1].startswith("run: installing gradsight and its extras [examples] into .venv")
    assert lines[2].startswith("run: set up; '.venv/bin/gradsight' is the command")
    assert lines[3] == "gradsight stub: demo --epochs 3"
    assert "noise" not in res.stdout + res.stderr and "deprecated" not in res.stderr
    log = (sandbox.work / ".venv" / "pip.log").read_text()
    assert "pip noise" in log and "deprecated" in log  # kept, for when something fails
    again = sandbox("demo")  # set up already: straight to the command
    assert again.stdout.splitlines() == ["gradsight stub: demo"] and again.stderr == ""


def test_a_failing_pip_shows_its_output_and_stops(sandbox):
    res = sandbox("demo", PIP_FAIL="1")
    assert res.returncode != 0
    assert "ERROR: boom, no such package" in res.stderr
    assert "failed (full log: .venv/pip.log)" in res.stderr
    assert "gradsight stub" not in res.stdout


def test_license_is_an_spdx_string_for_a_setuptools_that_reads_it():
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib is Python 3.11+)
    assert re.findall(r"^license\s*=\s*(.*)$", text, re.M) == ['"MIT"']  # PEP 639, not a table
    requires = re.search(r"^requires\s*=\s*\[([^\]]*)\]", text, re.M).group(1)
    assert '"setuptools>=77"' in requires  # the first setuptools that accepts the string form


def test_readme_says_how_to_get_gradsight_on_path(sandbox):
    quick = (ROOT / "README.md").read_text().split("## Quick start\n", 1)[1].split("\n## ")[0]
    assert "source .venv/bin/activate" in quick and ".venv/bin/gradsight" in quick
    sandbox("demo")  # what the README promises is what ./run makes
    assert os.access(sandbox.work / ".venv" / "bin" / "gradsight", os.X_OK)
    assert (sandbox.work / ".venv" / "bin" / "python").exists()
