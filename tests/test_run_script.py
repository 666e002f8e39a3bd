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
import sys
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
# stands in for .venv/bin/python -m pip install ...: noisy, fails when PIP_FAIL is set;
# every call is written down in calls.log beside it (with CI's value)
echo "CI=${CI:-} $*" >> "$(dirname "$0")/calls.log"
echo "WARNING: pip noise on stdout"
echo "  BuildBackendWarning: project.license as a TOML table is deprecated" >&2
if [ -n "${PIP_FAIL:-}" ]; then echo "ERROR: boom, no such package" >&2; exit 1; fi
"""


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


FAKE_APT_GET = """#!/usr/bin/env bash
# stands in for apt-get: records its arguments; APT_FAIL=100 fails like a held dpkg lock
echo "$*" >> "$APT_LOG"
if [ -n "${APT_FAIL:-}" ]; then
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend (held by another apt-get)" >&2
    exit "$APT_FAIL"
fi
for package in "$@"; do  # an installed package puts its program on PATH
    case $package in
        chromium) printf '#!/bin/sh\n' > "$APT_BIN/chromium"; chmod +x "$APT_BIN/chromium" ;;
        graphviz) printf '#!/bin/sh\n' > "$APT_BIN/dot"; chmod +x "$APT_BIN/dot" ;;
    esac
done
"""

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def system_without_a_browser(tmp_path_factory):
    """A directory of links to the system's programs, less any browser, dot and apt-get:
    a PATH made of it (and the fakes) is a machine where Chromium is not installed."""
    links = tmp_path_factory.mktemp("system-bin")
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            if name in BROWSERS or name in ("dot", "apt-get", "id") or (links / name).exists():
                continue
            (links / name).symlink_to(os.path.join(directory, name))
    return links


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

    def run(*args, _script="run", **env):
        full = {
            **os.environ,
            "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}",
            "PYTHON": str(fakes / "python-fake"),
            **env,
        }
        return subprocess.run(
            ["bash", _script, *args], cwd=work, env=full, capture_output=True, text=True, timeout=60
        )

    run.work = work
    run.fakes = fakes
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


def test_the_build_backend_reads_the_metadata_without_deprecation_warnings(tmp_path):
    """The real setuptools builds the metadata pip builds on install: no warning boxes."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} predates the license string form")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    code = (
        "import sys; from setuptools import build_meta as b; "
        "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))"
    )
    out = tmp_path / "meta"
    out.mkdir()
    res = subprocess.run(
        [sys.executable, "-W", "always", "-c", code, str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "deprecated" not in res.stderr.lower() and "Warning" not in res.stderr, res.stderr
    metadata = (out / res.stdout.split()[-1] / "METADATA").read_text()
    assert "License-Expression: MIT" in metadata


# ------------------------------------------------------------------ system packages
@pytest.fixture
def as_root(sandbox, system_without_a_browser, tmp_path):
    """./run as root on a machine with apt-get but no Chromium (Graphviz is there)."""
    root_bin = tmp_path / "root-bin"
    root_bin.mkdir()
    executable(root_bin / "id", "#!/bin/sh\necho 0\n")
    executable(root_bin / "apt-get", FAKE_APT_GET)
    executable(root_bin / "dot", "#!/bin/sh\nexit 0\n")
    apt_log = tmp_path / "apt.log"

    def run(*args, _script="run", **env):
        path = os.pathsep.join([str(root_bin), str(sandbox.fakes), str(system_without_a_browser)])
        env = {"PATH": path, "APT_LOG": str(apt_log), "APT_BIN": str(root_bin), "CI": "", **env}
        return sandbox(*args, _script=_script, **env)

    run.uninstall_chromium = lambda: (root_bin / "chromium").unlink()
    run.apt_calls = lambda: apt_log.read_text().splitlines() if apt_log.exists() else []
    run.python_calls = lambda: (sandbox.work / ".venv" / "bin" / "calls.log").read_text()
    run.work = sandbox.work
    return run


def test_the_sandbox_has_no_browser(as_root):
    res = as_root("test", "tests/x")
    assert res.returncode == 0, res.stderr
    assert "run: installing chromium (for 'chromium')" in res.stdout  # so it was missing


def test_apt_get_waits_for_another_apt_gets_lock(as_root):
    res = as_root("test", "tests/x", APT_LOCK_TIMEOUT="30")
    assert res.returncode == 0, res.stderr
    calls = as_root.apt_calls()
    assert calls[0] == "-o DPkg::Lock::Timeout=30 update -qq"
    assert calls[1] == "-o DPkg::Lock::Timeout=30 install -y -qq chromium"
    assert "browser tests" not in res.stderr  # it was installed
    assert (as_root("test", "tests/x").returncode, as_root.apt_calls()[2:]) == (0, [])
    as_root.uninstall_chromium()  # missing again: the default wait is ten minutes
    as_root("test", "tests/x")
    assert as_root.apt_calls()[2:] == [
        "-o DPkg::Lock::Timeout=600 update -qq",
        "-o DPkg::Lock::Timeout=600 install -y -qq chromium",
    ]


def test_without_chromium_outside_ci_the_browser_tests_are_skipped_with_a_note(as_root):
    res = as_root("test", "tests/x", APT_FAIL="100")  # the lock stayed held past the wait
    assert res.returncode == 0, res.stderr
    assert "run: apt-get update failed; trying the install anyway" in res.stderr
    assert (
        "run: Chromium could not be installed: the browser tests (tests/viz) will be skipped"
        in res.stderr
    )
    assert "CI= -m pytest tests/x" in as_root.python_calls()  # and the suite ran


def test_without_chromium_under_ci_run_test_fails(as_root):
    res = as_root("test", "tests/x", APT_FAIL="100", CI="true")
    assert res.returncode == 1
    assert "Chromium could not be installed; under CI (CI=true) the browser tests must run" in (
        res.stderr
    )
    assert not (as_root.work / ".venv").exists()  # stopped before anything else


def test_ci_script_runs_the_readme_command_with_ci_set(as_root):
    (as_root.work / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", as_root.work / ".ci" / "run")
    res = as_root(_script=".ci/run", APT_FAIL="100")  # CI unset: .ci/run sets it
    assert res.returncode == 1 and "under CI (CI=true)" in res.stderr
    res = as_root(_script=".ci/run")  # with Chromium installed: the whole suite
    assert res.returncode == 0, res.stderr
    assert as_root.python_calls().splitlines()[-1] == "CI=true -m pytest"


# ------------------------------------------------------------------ per-extra markers
def installs(calls: str) -> list[str]:
    return [
        c.split(" -m pip install ", 1)[1] for c in calls.splitlines() if " -m pip install " in c
    ]


def test_each_extra_is_installed_once_whichever_command_asks(as_root):
    assert as_root("test", "tests/x").returncode == 0
    first = installs(as_root.python_calls())
    assert any(c.endswith("-e .[test,examples,dev,bench,notebook]") for c in first), first
    assert any("torch==2.13.0" in c for c in first)
    bench = as_root("bench", "--quick")  # test, examples and bench are installed already
    assert bench.returncode == 0, bench.stderr
    assert "installing" not in bench.stdout
    demo = as_root("demo")
    assert "installing" not in demo.stdout
    assert installs(as_root.python_calls()) == first  # nothing installed again


def test_a_new_extra_alone_is_installed(as_root):
    assert as_root("demo").returncode == 0  # examples only, no torch
    demo = installs(as_root.python_calls())
    assert any(c.endswith("-e .[examples]") for c in demo) and not any("torch" in c for c in demo)
    res = as_root("bench")
    assert "run: installing gradsight and its extras [test,bench] into .venv" in res.stdout
    assert "torch" in res.stdout


def test_a_changed_pyproject_installs_everything_again(as_root):
    as_root("demo")
    with open(as_root.work / "pyproject.toml", "a") as f:
        f.write("# a new line: a new checksum\n")
    res = as_root("demo")
    assert "run: installing gradsight and its extras [examples]" in res.stdout
