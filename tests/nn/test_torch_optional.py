"""torch stays optional: importing gradsight never imports it, and without it the
bridge's functions fail with one line naming the package (runs with or without torch)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_importing_gradsight_never_imports_torch():
    res = _run(
        """
        import sys
        import gradsight, gradsight.cli, gradsight.nn.torch_bridge
        m = gradsight.nn.MLP([2, 3, 1])
        assert "torch" not in sys.modules, sorted(k for k in sys.modules if "torch" in k)
        print("ok")
        """
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


@pytest.mark.parametrize("call", ["to_torch(m)", "from_torch(m)", "load_torch_state_dict(m, {})"])
def test_without_torch_the_error_is_one_line_naming_the_package(call):
    res = _run(
        f"""
        import sys
        sys.modules["torch"] = None  # as if torch were not installed: import torch fails
        import gradsight as gs
        m = gs.nn.MLP([2, 3, 1])
        try:
            gs.nn.{call}
        except ImportError as err:
            print(type(err).__name__ + ": " + str(err))
        """
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and "the package 'torch' is not installed" in lines[0], res.stdout
