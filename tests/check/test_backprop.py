"""gs.check.backprop and gs.testing on unchanged NumPy code: three ways, localised."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import gradsight as gs

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "check_numpy_backprop.py"


def _example(bug: bool):
    spec = importlib.util.spec_from_file_location("check_numpy_backprop", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.BUG = bug
    return mod


def _run(mod, **kw):
    return gs.check.backprop(mod.forward, mod.backward, mod.init_params(), *mod.make_data(), **kw)


def test_correct_backprop_agrees_three_ways():
    mod = _example(bug=False)
    report = _run(mod)
    assert report.ok, report
    assert [r.name for r in report.rows] == ["Z2", "H1", "Z1", "W1", "b1", "W2", "b2"]
    for row in report.rows:
        assert row.max_abs_error < 1e-12, row
        if row.kind == "parameter":  # finite differences: an independent witness
            assert row.fd_abs_error < 1e-6 and abs(row.fd - row.auto) < 1e-6, row
    assert "OK: all 7 gradients agree three ways" in str(report)


def test_planted_bug_is_localised_to_its_intermediate():
    report = _run(_example(bug=True))
    assert not report.ok
    first = report.first_divergence
    assert first is not None and first.name == "Z1"
    assert report["Z2"].ok and report["H1"].ok  # after Z1, walking from the loss: fine
    assert set(report.mismatched_names) == {"Z1", "W1", "b1"}
    # the hand value at the worst index is (1 - H) where autograd has (1 - H**2) times dH
    mod = _example(bug=True)
    params, (X, T) = mod.init_params(), mod.make_data()
    H1 = np.tanh(X @ params["W1"] + params["b1"])
    dH1 = mod.backward(params, X, T)["H1"]
    i = first.worst_index
    assert first.hand == pytest.approx(dH1[i] * (1 - H1[i]))
    assert first.auto == pytest.approx(dH1[i] * (1 - H1[i] ** 2))
    text = report.verdict()
    assert f"your gradient for Z1 differs from dL/dZ1 at index {i}" in text
    assert "everything after it (Z2, H1) agrees" in text


def test_finite_differences_disagree_when_autograd_cannot_see_the_function():
    """A forward that is not smooth at the point: the FD column flags it."""

    def forward(p):
        return np.sum(np.clip(p["w"], 0.0, 1.0))

    def backward(p):
        return {"w": np.ones(2)}  # clip passes the gradient at its bounds (as autograd)

    report = gs.check.backprop(forward, backward, {"w": np.array([0.0, 0.5])}, fd_eps=1e-3)
    assert report["w"].ok and not report["w"].fd_ok and not report.ok  # FD sees 1/2 at 0
    assert "finite differences differ for w" in report.verdict()


def test_parameter_mismatch_without_intermediates():
    def forward(p, x):
        return np.sum(np.tanh(p["w"] * x))

    def backward(p, x):
        return {"w": x * (1 - np.tanh(p["w"] * x))}  # wrong: tanh' = 1 - tanh^2

    report = gs.check.backprop(
        forward, backward, {"w": np.array([0.5, -1.0])}, np.array([1.0, 2.0])
    )
    assert report.mismatched_names == ("w",) and report.first_divergence is None


# ------------------------------------------------------------ bad input, each with a test
def _fwd(p, x):
    return np.sum(np.tanh(p["w"] * x))


def _bwd(p, x):
    return {"w": x * (1 - np.tanh(p["w"] * x) ** 2)}


W = {"w": np.array([0.5, -1.0])}
X = np.array([1.0, 2.0])


def test_forward_returning_a_non_scalar_is_refused():
    with pytest.raises(ValueError, match=r"scalar loss, got shape \(2,\)"):
        gs.check.backprop(lambda p, x: np.tanh(p["w"] * x), _bwd, W, X)


def test_forward_returning_a_float_cut_from_the_graph_says_so():
    with pytest.raises(ValueError, match="does not depend on params.*np.asarray"):
        gs.check.backprop(lambda p, x: float(np.sum(p["w"] * x)), _bwd, W, X)


def test_forward_calling_np_asarray_on_params_is_refused_by_name():
    with pytest.raises(TypeError, match="np.asarray/np.array on a Tensor that requires grad"):
        gs.check.backprop(lambda p, x: np.sum(np.asarray(p["w"]) * x), _bwd, W, X)


def test_backward_with_missing_extra_and_wrong_shaped_keys_is_reported():
    def backward(p, x):
        return {"w": np.zeros(3), "typo": np.zeros(2)}

    def forward(p, x):
        return np.sum(p["w"] * x) + np.sum(p["v"])

    report = gs.check.backprop(forward, backward, {"w": W["w"], "v": np.ones(2)}, X)
    assert not report.ok
    assert report["w"].problem == "shape (3,) != (2,)"
    assert report["v"].problem == "missing from backward"
    assert report.extra == ["typo"]
    text = str(report)
    assert "shape (3,) != (2,)" in text and "missing from backward" in text
    assert "backward returned 'typo'" in text


def test_integer_params_are_refused():
    with pytest.raises(TypeError, match=r"params\['w'\] has dtype int64"):
        gs.check.backprop(_fwd, _bwd, {"w": np.array([1, 2])}, X)


def test_forward_writing_into_params_in_place_is_refused():
    def forward(p, x):
        w = p["w"]
        w *= 2.0
        return np.sum(w * x)

    with pytest.raises(ValueError, match="writes into a parameter in place"):
        gs.check.backprop(forward, _bwd, {"w": W["w"].copy()}, X)


def test_data_with_nan_is_refused():
    with pytest.raises(ValueError, match=r"data\[0\] contains nan \(first at index \(1,\)\)"):
        gs.check.backprop(_fwd, _bwd, W, np.array([1.0, np.nan]))


def test_backward_returning_no_dict_is_refused():
    with pytest.raises(TypeError, match="backward must return a dict"):
        gs.check.backprop(_fwd, lambda p, x: [1.0, 2.0], W, X)


def test_users_arrays_are_left_untouched():
    w = W["w"].copy()
    gs.check.backprop(_fwd, _bwd, {"w": w}, X)
    np.testing.assert_array_equal(w, W["w"])


# ------------------------------------------------------------ gs.testing
def test_assert_gradients_close_passes_and_returns_the_report():
    report = gs.testing.assert_gradients_close(_fwd, _bwd, W, X)
    assert report.ok


def test_assert_gradients_close_fails_with_the_report_table():
    mod = _example(bug=True)
    with pytest.raises(AssertionError) as info:
        gs.testing.assert_gradients_close(mod.forward, mod.backward, mod.init_params(),
                                          *mod.make_data())  # fmt: skip
    message = str(info.value)
    assert "finite diff" in message and "MISMATCH" in message
    assert "your gradient for Z1 differs" in message


def test_example_script_exit_codes():
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(EXAMPLE.parents[1] / "src"))
    bug = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env)
    assert bug.returncode == 1 and "your gradient for Z1 differs" in bug.stdout
    ok = subprocess.run(
        [sys.executable, str(EXAMPLE), "--fixed"], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0 and "OK: all 7 gradients agree" in ok.stdout
