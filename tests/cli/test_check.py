"""``gradsight check``: hand-derived (gs.reference) vs autograd gradients; exit 1 on mismatch."""

from __future__ import annotations

import re

from .conftest import assert_bad_input


def rows(out: str) -> dict:
    """Parameter -> 'ok' / 'MISMATCH' from the printed table."""
    found = re.findall(
        r"^([WbVc])\s+\([\d, ]*\)\s+\S+\s+\S+\s+\([\d, ]*\)\s+(ok|MISMATCH)$", out, re.M
    )
    return dict(found)


def test_article_network_agrees(cli):
    res = cli("check")
    assert res.rc == 0, res.err
    assert "network 2-4-1" in res.out and "data: XOR" in res.out
    assert rows(res.out) == {"W": "ok", "b": "ok", "V": "ok", "c": "ok"}
    assert "OK: all 4 gradients agree" in res.out


def test_other_sizes_and_activations_agree(cli):
    for args in (
        ["--sizes", "3,5,2", "--batch", "7", "--activation", "tanh"],
        [
            "--sizes",
            "4,8,3",
            "--batch",
            "16",
            "--activation",
            "relu",
            "--output-activation",
            "identity",
            "--seed",
            "9",
        ],
    ):
        res = cli("check", *args)
        assert res.rc == 0, res.out + res.err
        assert set(rows(res.out).values()) == {"ok"}


def test_a_broken_gradient_exits_1_and_is_named(cli):
    res = cli("check", "--break", "b", "--sizes", "3,5,2", "--batch", "6")
    assert res.rc == 1, res.err
    assert rows(res.out) == {"W": "ok", "b": "MISMATCH", "V": "ok", "c": "ok"}
    assert "MISMATCH: b" in res.out


def test_markdown_table(cli):
    res = cli("check", "--markdown")
    assert res.rc == 0
    assert "| parameter |" in res.out and re.search(r"^\| V \| \(1, 4\) \|", res.out, re.M)


def test_sizes_must_be_three(cli):
    assert_bad_input(cli("check", "--sizes", "2,3,4,1"), "--sizes 2,3,4,1", "exactly 3 sizes")
