"""The HTML reprs Jupyter shows, checked without a kernel (tests/notebook/test_in_a_kernel.py
runs them in one)."""

from __future__ import annotations

import html
import re

import numpy as np

import gradsight as gs

W = gs.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
STEP = lambda x: (W * x).sum()  # a lambda at module level: its name is "<lambda>"


def test_a_traced_step_shows_nothing_traced_yet_then_its_program_escaped():
    traced = gs.trace(STEP)
    before = traced._repr_html_()
    assert before == (
        "<p><code>&lt;gs.trace of &lt;lambda&gt;: 0 trace(s), 0 replay(s)&gt;</code>"
        ": nothing traced yet; call the traced step once</p>"
    )
    traced(gs.tensor(np.ones(3)))
    after = traced._repr_html_()
    head, program = re.fullmatch(r"<p><code>(.*)</code></p><pre>(.*)</pre>", after, re.S).groups()
    assert html.unescape(head) == repr(traced) == "<gs.trace of <lambda>: 1 trace(s), 0 replay(s)>"
    assert html.unescape(program) == traced.source
    assert "<" not in head + program
