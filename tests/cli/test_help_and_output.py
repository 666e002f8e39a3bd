"""--help states every default; predictions print with sensible precision (``--digits``)."""

from __future__ import annotations

import argparse
import csv
import io

import numpy as np

from gradsight.cli import build_parser

from .conftest import assert_bad_input


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_with_a_default_states_it():
    for name, parser in subcommands().items():
        for action in parser._actions:
            d = action.default
            if not action.option_strings or d is None or d is argparse.SUPPRESS:
                continue
            if isinstance(d, bool):
                continue
            assert "default" in (action.help or ""), f"{name} {action.option_strings[0]}"


def test_train_help_shows_the_defaults(cli):
    res = cli("train", "--help")
    assert res.rc == 0, res.err
    text = " ".join(res.out.split())  # argparse wraps lines
    for shown in (
        "--activation {tanh,sigmoid,relu,leaky_relu} default: tanh",
        "--optimizer {adam,sgd} default: adam",
        "--epochs EPOCHS default: 100",
        "--batch-size BATCH_SIZE default: 32",
        "the (stratified) split and the shuffling (default 0)",
        "16,16 (the default)",
    ):
        assert shown in text, shown


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_predictions_have_six_significant_digits_unless_asked(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (40, 2))
    y = 80_000 + 5_000 * X[:, 0] - 3_000 * X[:, 1] + rng.normal(0, 10, 40)
    rows = "".join(f"{a!r},{b!r},{t!r}\n" for (a, b), t in zip(X.tolist(), y.tolist()))
    (tmp_path / "h.csv").write_text("a,b,price\n" + rows)
    args = ("--target", "price", "--task", "regress", "--epochs", "3", "-q")
    assert cli("train", "h.csv", *args, "--save", "m.npz").rc == 0
    short = cli("predict", "m.npz", "h.csv")
    exact = cli("predict", "m.npz", "h.csv", "--digits", "17")
    assert short.rc == 0 and exact.rc == 0, short.err + exact.err
    shown = [r[0] for r in read(short.out)[1:]]
    full = [float(r[0]) for r in read(exact.out)[1:]]
    assert shown == [f"{v:.6g}" for v in full]  # %.6g of the exact value
    assert all(len(s.replace(".", "").replace("-", "").lstrip("0")) <= 6 for s in shown)
    assert any(len(r[0]) > 12 for r in read(exact.out)[1:])  # 17 digits are really there
    three = [r[0] for r in read(cli("predict", "m.npz", "h.csv", "--digits", "3").out)[1:]]
    assert three == [f"{v:.3g}" for v in full]


def test_bad_digits_is_one_line(cli, tmp_path):
    assert_bad_input(cli("predict", "m.npz", "xor", "--digits", "18"), "--digits", "1 to 17", "18")
    assert_bad_input(cli("predict", "m.npz", "xor", "--digits", "x"), "--digits", "'x'")


def test_top_level_help_says_check_also_checks_your_own_code(cli):
    res = cli("--help")
    assert res.rc == 0, res.err
    text = " ".join(res.out.split())
    check_line = text.split(" check ", 1)[1].split(" bench ")[0]
    assert "the article's network" in check_line and "your own NumPy" in check_line
    assert "(--file)" in check_line  # the option that does it
    assert "your own NumPy backward code" in text  # the description says it too


def quiet_help(parser: argparse.ArgumentParser) -> str:
    return next(a.help for a in parser._actions if "--quiet" in a.option_strings)


def test_quiet_promises_progress_bars_only_where_there_are_some():
    for name, parser in subcommands().items():
        said = quiet_help(parser)
        if name in ("demo", "train", "predict"):  # they draw bars or per-epoch lines
            assert said == "no progress bars or per-epoch lines", name
        else:
            assert "progress bars" not in said and "changes nothing" in said, name


def test_check_quiet_indeed_changes_nothing(cli):
    loud, quiet = cli("check", "--sizes", "2,3,1"), cli("check", "--sizes", "2,3,1", "-q")
    assert loud.rc == quiet.rc == 0, loud.err + quiet.err
    assert (quiet.out, quiet.err) == (loud.out, loud.err)
    assert "accepted for uniformity; check shows no progress" in cli("check", "--help").out
