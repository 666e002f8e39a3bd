"""The examples run and reach their stated results (digits with fewer epochs in CI).

``GRADSIGHT_DIGITS_EPOCHS`` sets the digits run's epochs (default 10; the
script's own default is 30).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_reaches_mse_below_001(capsys):
    result = _load("xor").main(["--quiet"])
    assert result["final_loss"] < 0.01
    assert result["reached_epoch"] is not None
    assert [round(v) for v in result["outputs"]] == [0, 1, 1, 0]
    out = capsys.readouterr().out
    assert f"final MSE {result['final_loss']:.6f}" in out


def test_xor_script_exit_status_and_output():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "xor.py"), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "final MSE" in run.stdout and "loss < 0.01 first at epoch" in run.stdout


def test_moons_reaches_95_percent_test_accuracy(capsys):
    result = _load("moons").main(["--quiet"])
    assert result["test_accuracy"] >= 0.95
    assert f"test accuracy {result['test_accuracy']:.1%}" in capsys.readouterr().out


def test_digits_reaches_95_percent_test_accuracy(capsys):
    pytest.importorskip("sklearn")
    epochs = os.environ.get("GRADSIGHT_DIGITS_EPOCHS", "10")
    result = _load("digits").main(["--quiet", "--epochs", epochs])
    assert result["test_accuracy"] >= 0.95
    assert f"test accuracy {result['test_accuracy']:.1%}" in capsys.readouterr().out


def test_digits_without_sklearn_skips_with_a_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert _load("digits").main(["--quiet"]) is None
    assert "needs scikit-learn" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["xor", "moons", "digits"])
def test_plot_option_writes_a_png(tmp_path, name):
    pytest.importorskip("matplotlib")
    if name == "digits":
        pytest.importorskip("sklearn")
    path = tmp_path / f"{name}.png"
    _load(name).main(["--quiet", "--epochs", "3", "--plot", str(path)])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_optional_extras_missing_fall_back(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    path = tmp_path / "curve.png"
    result = _load("moons").main(["--epochs", "2", "--plot", str(path)])  # progress bar on
    assert 0 <= result["test_accuracy"] <= 1 and len(result["losses"]) == 2
    assert not path.exists()
    assert "needs matplotlib" in capsys.readouterr().err
