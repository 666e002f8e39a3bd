"""The command itself: help, version, exit codes, the bench hook, atomic writes."""

from __future__ import annotations

import shutil

import pytest

from gradsight.cli import errors, main

from .conftest import SRC, assert_bad_input, run_cli

COMMANDS = ("demo", "train", "predict", "graph", "check", "bench")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_subcommand(cli, command):
    res = cli(command, "--help")
    assert res.rc == 0, res.err
    assert res.out.startswith(f"usage: gradsight {command}")
    assert "--debug" in res.out and res.err == ""


def test_top_level_help_lists_commands_and_exit_codes(cli):
    res = cli("--help")
    assert res.rc == 0
    for command in COMMANDS:
        assert command in res.out
    assert "exit codes: 0 success, 1 check found a mismatch, 2 bad input" in res.out


def test_version_and_no_command(cli):
    res = cli("--version")
    assert res.rc == 0 and res.out.strip() == "gradsight 0.1.0"
    res = cli()
    assert res.rc == 2 and res.out.startswith("usage: gradsight")


def test_global_flags_before_the_command(cli):
    res = cli("--quiet", "train", "xor", "--epochs", "3")
    assert res.rc == 0, res.err
    assert not any(line.startswith("epoch") for line in res.out.splitlines())
    res = cli("--debug", "train", "nope.csv", "--target", "y")
    assert res.rc == 2 and "Traceback" in res.err


def test_bench_passes_arguments_on(cli, tmp_path):
    fake = tmp_path / "benchmarks"
    fake.mkdir()
    (fake / "__main__.py").write_text("import sys\nprint('ARGS', sys.argv[1:])\nsys.exit(4)\n")
    res = cli("bench", "--quick", "--only", "xor")
    assert res.rc == 4  # the suite's own exit code
    assert "ARGS ['--quick', '--only', 'xor']" in res.out


def test_bench_outside_a_checkout(tmp_path):
    shutil.copytree(SRC / "gradsight", tmp_path / "pkg" / "gradsight")
    work = tmp_path / "work"
    work.mkdir()
    res = run_cli("bench", cwd=work, env={"PYTHONPATH": str(tmp_path / "pkg")})
    assert_bad_input(res, "benchmarks", "./run bench")


def test_internal_errors_are_one_line_exit_3(monkeypatch, capsys):
    from gradsight.cli import check

    def boom(*a, **k):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(check, "problem", boom)
    assert main(["check"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("gradsight: error: internal error: RuntimeError: something broke")
    assert "--debug" in err[0]
    assert main(["check", "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_write_atomic_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old content")

    def half_then_crash(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        errors.write_atomic_with(target, half_then_crash)
    assert target.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # temp file removed
    errors.write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_keyboard_interrupt_exit_130(monkeypatch, capsys):
    from gradsight.cli import check

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(check, "problem", interrupt)
    assert main(["check"]) == 130
    assert capsys.readouterr().err.strip() == "gradsight: interrupted"


def run_in_terminal(args: list[str], cwd) -> str:
    """Run the command on a pseudo-terminal (80 columns) and return what it showed."""
    pty = pytest.importorskip("pty")
    import fcntl
    import os
    import struct
    import sys
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 24 x 80, then the command
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.chdir(cwd)
        os.environ["PYTHONPATH"] = str(SRC)
        os.execv(sys.executable, [sys.executable, "-m", "gradsight", *args])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal(tmp_path):
    pytest.importorskip("tqdm")
    rows = "".join(f"{i % 13},{(i * 7) % 11},{i % 2}\n" for i in range(3000))
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows)
    shown = run_in_terminal(["train", "d.csv", "--target", "y", "--epochs", "20"], tmp_path)
    assert "train:" in shown and "row/s" in shown  # tqdm's bar: rows per second
    assert "read:" in shown and "B/s" in shown  # reading: bytes of the file
    assert "final: train loss" in shown
    shown = run_in_terminal(["train", "moons", "--epochs", "40", "--quiet"], tmp_path)
    assert "row/s" not in shown and "final: train loss" in shown
