"""The demo's backprop.py (gs.trace of the article's step) and its place in report.md."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from tests.cli.conftest import run_cli

from gradsight import reference

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = np.array([[0.0], [1.0], [1.0], [0.0]])


def test_demo_backprop_py_runs_alone_and_gives_the_hand_gradients(tmp_path):
    res = run_cli("demo", "--out", "out", "--epochs", "3", cwd=tmp_path)
    assert res.rc == 0, res.err
    path = tmp_path / "out" / "backprop.py"
    source = path.read_text()
    # NumPy only: it imports nothing else, and runs in a bare interpreter without gradsight
    assert re.findall(r"^(?:import|from) .*$", source, re.M) == ["import numpy as np"]
    check = f"import runpy; ns = runpy.run_path({str(path)!r}); assert callable(ns['step'])"
    done = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ns: dict = {}
    exec(compile(source, str(path), "exec"), ns)
    params = reference.init_params(2, 4, 1, seed=5)
    buffers = {k: np.full_like(v, 0.01) for k, v in params.items()}
    given = {"x": X, **params, **{f"{k}_momentum_buffer": b.copy() for k, b in buffers.items()}}
    # the arrays by name; the replay's options (own=) keep their defaults: new arrays
    params_ = inspect.signature(ns["step"]).parameters.values()
    wanted = [p.name for p in params_ if p.default is inspect.Parameter.empty]
    assert [p.name for p in params_ if p.name not in wanted] == ["own"]
    outs = ns["step"](**{k: given[k] for k in wanted})
    names = [
        line.split(":")[0].strip()
        for line in source.split('"""')[1].split("and returns, in order:\n")[1].strip().splitlines()
    ]
    got = dict(zip(names, outs))
    hand = reference.backward(params, reference.forward(params, X), T)
    for k in "WbVc":
        np.testing.assert_allclose(got[f"{k}_grad"], hand[k], rtol=0, atol=1e-12)
        expected = params[k] - 0.5 * (0.9 * buffers[k] + hand[k])
        np.testing.assert_allclose(got[f"{k}_new"], expected, rtol=0, atol=1e-12)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "backprop.py (generated)" in report and "the article's listing (fixed)" in report
    assert "hidden_layer_delta" in report and "W_grad = " in report


def test_docs_trace_page_shows_the_program_the_demo_writes(tmp_path):
    res = run_cli("demo", "--out", "out", "--epochs", "3", cwd=tmp_path)
    assert res.rc == 0, res.err
    generated = (tmp_path / "out" / "backprop.py").read_text()
    generated = generated[generated.index("def step(") :].strip()
    page = (Path(__file__).parents[2] / "docs" / "trace.md").read_text()
    shown = page[page.index("def step(W, b, V, c") :]
    assert shown[: shown.index("```")].strip() == generated
