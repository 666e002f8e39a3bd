"""``gradsight check --file``: a user's NumPy forward/backward; exit 1 mismatch, 2 bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import assert_bad_input

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "check_numpy_backprop.py"

GOOD = """\
import numpy as np

def forward(params, x):
    return np.sum(np.tanh(params["w"] * x))

def backward(params, x):
    return {"w": x * (1 - np.tanh(params["w"] * x) ** 2)}

def init_params():
    return {"w": np.array([0.5, -1.0])}

def make_data():
    return np.array([1.0, 2.0])
"""


def test_planted_bug_exits_1_and_names_the_layer(cli):
    res = cli("check", "--file", EXAMPLE)
    assert res.rc == 1, res.err
    assert "your gradient for Z1 differs from dL/dZ1" in res.out
    assert "everything after it (Z2, H1) agrees" in res.out


def test_correct_file_exits_0(cli, tmp_path):
    (tmp_path / "net.py").write_text(GOOD)
    res = cli("check", "--file", "net.py")
    assert res.rc == 0, res.err + res.out
    assert "OK: all 1 gradients agree three ways" in res.out


def test_markdown_table(cli, tmp_path):
    (tmp_path / "net.py").write_text(GOOD)
    res = cli("check", "--file", "net.py", "--markdown")
    assert res.rc == 0 and "| w | parameter |" in res.out


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("missing.py", None, ["--file not found"]),
        ("net.txt", "x = 1\n", ["expected a Python file"]),
        ("net.py", "def forward(:\n", ["syntax error on line 1"]),
        ("net.py", "raise RuntimeError('boom')\n", ["RuntimeError: boom"]),
        ("net.py", "def forward(p): pass\n", ["does not define backward, init_params, make_data"]),
        ("net.py", GOOD.replace('return {"w": np.array([0.5, -1.0])}', "1 / 0"),
         ["init_params() raised ZeroDivisionError"]),
        ("net.py", GOOD.replace("np.sum(np.tanh", "(np.tanh"), ["scalar loss"]),
        ("net.py", GOOD.replace("[0.5, -1.0]", "[1, 2]"), ["dtype int64"]),
        ("net.py", GOOD.replace("return np.array([1.0, 2.0])", "return np.array([np.nan, 1.0])"),
         ["contains nan"]),
        ("net.py", GOOD.replace("np.sum(np.tanh(params", "float(np.sum(np.tanh(params").replace(
            "* x))\n\ndef backward", "* x)))\n\ndef backward"), ["does not depend on params"]),
    ],
)  # fmt: skip
def test_bad_files_exit_2_with_one_line(cli, tmp_path, name, text, fragments):
    if text is not None:
        (tmp_path / name).write_text(text)
    assert_bad_input(cli("check", "--file", name), *fragments)


def test_break_cannot_go_with_file(cli, tmp_path):
    (tmp_path / "net.py").write_text(GOOD)
    assert_bad_input(cli("check", "--file", "net.py", "--break", "W"), "--break")


def test_the_old_demo_still_works(cli):
    res = cli("check", "--break", "V")
    assert res.rc == 1 and "MISMATCH: V" in res.out


SHAPE_BUG = GOOD.replace(
    'return np.sum(np.tanh(params["w"] * x))',
    'return np.sum(np.tanh(params["w"] @ np.ones((3, 2))))',
)
RAISES = GOOD.replace(
    'return {"w": x * (1 - np.tanh(params["w"] * x) ** 2)}',
    'raise ValueError("oops")',
)


@pytest.mark.parametrize(
    ("text", "line", "function", "message"),
    [(SHAPE_BUG, 4, "forward", "size 3 is different from 2"), (RAISES, 7, "backward", "oops")],
)
def test_an_error_in_the_users_code_names_file_function_and_line(
    cli, tmp_path, text, line, function, message
):
    (tmp_path / "net.py").write_text(text)
    line_shown = assert_bad_input(cli("check", "--file", "net.py"), message)
    assert f"(at net.py, line {line}, in {function})" in line_shown
    assert f"{function} raised" in line_shown


def test_debug_shows_the_users_frames(cli, tmp_path):
    (tmp_path / "net.py").write_text(RAISES)
    res = cli("check", "--file", "net.py", "--debug")
    assert res.rc == 2
    assert 'net.py", line 7, in backward' in res.err and 'raise ValueError("oops")' in res.err


def test_file_mode_uses_the_api_tolerances_and_says_them(cli, tmp_path):
    (tmp_path / "net.py").write_text(GOOD)
    res = cli("check", "--file", "net.py")
    assert "atol 1e-08, rtol 1e-05" in res.out and "(atol=1e-08, rtol=1e-05" in res.out
    article = cli("check")
    assert "atol 1e-10, rtol 1e-07" in article.out.splitlines()[0]
