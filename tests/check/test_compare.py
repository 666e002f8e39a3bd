"""gs.check.compare_gradients: manual gradients vs autograd, row by row."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import reference as ref
from gradsight.check import GradientReport, autograd_gradients, compare_gradients

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = np.array([[0.0], [1.0], [1.0], [0.0]])


def _xor_model_after_backward(params):
    model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
    model.load_state_dict({ref.MLP_NAMES[k]: v for k, v in params.items()})
    Y = model(gs.tensor(X))
    (0.5 * gs.nn.functional.mse_loss(Y, gs.tensor(T), reduction="sum") / len(X)).backward()
    return model


def _manual_with_sign_error_in_V(params):
    """The corrected backward, except dL/dV = -delta_out^T H (a wrong sign in V's formula)."""
    fw = ref.forward(params, X)
    grads = ref.backward(params, fw, T)
    grads["V"] = -(ref.output_delta(fw, T).T @ fw.H)
    return {ref.MLP_NAMES[k]: v for k, v in grads.items()}


def test_correct_manual_gradients_are_ok_against_a_module():
    p = ref.init_params(2, 4, 1, seed=0)
    manual = {ref.MLP_NAMES[k]: v for k, v in ref.backward(p, ref.forward(p, X), T).items()}
    report = compare_gradients(manual, _xor_model_after_backward(p), atol=1e-12, rtol=0)
    assert report.ok and report.mismatched_names == ()
    assert [r.name for r in report.rows] == list(ref.MLP_NAMES.values())
    assert all(r.max_abs_error <= 1e-12 for r in report.rows)


def test_wrong_sign_in_one_weight_formula_is_reported_with_worst_index():
    p = ref.init_params(2, 4, 1, seed=0)
    model = _xor_model_after_backward(p)
    report = compare_gradients(_manual_with_sign_error_in_V(p), model)
    assert not report.ok
    assert report.mismatched_names == ("layers.2.weight",)
    row = report["layers.2.weight"]
    auto_V = dict(model.named_parameters())["layers.2.weight"].grad.numpy()
    # manual = -auto: the error is 2|auto|, largest where |auto| is largest
    assert row.worst_index == np.unravel_index(np.argmax(np.abs(auto_V)), auto_V.shape)
    assert row.max_abs_error == pytest.approx(2 * np.abs(auto_V).max(), rel=1e-12)
    assert row.max_rel_error == pytest.approx(2.0, rel=1e-12)
    assert all(r.ok for r in report.rows if r.name != "layers.2.weight")


def test_wrong_sign_in_one_element_is_found_at_its_index():
    p = ref.init_params(2, 4, 1, seed=0)
    fw = ref.forward(p, X)
    grads = ref.backward(p, fw, T)
    auto = {k: v.copy() for k, v in grads.items()}
    grads["W"][2, 1] = -grads["W"][2, 1]
    report = compare_gradients(grads, auto)
    assert report.mismatched_names == ("W",)
    assert report["W"].worst_index == (2, 1) and not report["W"].ok


def test_text_and_markdown_tables():
    p = ref.init_params(2, 4, 1, seed=0)
    report = compare_gradients(_manual_with_sign_error_in_V(p), _xor_model_after_backward(p))
    text = report.to_text()
    assert str(report) == text
    lines = text.splitlines()
    assert lines[0].startswith("gradient check: 3 of 4 parameters ok")
    assert "mismatched: layers.2.weight" in lines[0]
    assert len(lines) == 2 + 1 + 4  # summary, header, rule, one line per parameter
    bad_line = next(line for line in lines if line.startswith("layers.2.weight"))
    assert "MISMATCH" in bad_line and str(report["layers.2.weight"].worst_index) in bad_line
    md = report.to_markdown().splitlines()
    table = [line for line in md if line.startswith("|")]
    assert len(table) == 2 + 4 and all(line.count(" | ") == 5 for line in table[2:])
    assert "MISMATCH" in table[2 + 2]


def test_markdown_and_text_show_hostile_names_literally():
    name = "a|b<script>*x*\nz"
    report = compare_gradients({name: [1.0]}, {name: [2.0]})
    md = report.to_markdown()
    assert "<script>" not in md and "&lt;script&gt;" in md
    row = [line for line in md.splitlines() if "script" in line and line.startswith("|")][0]
    assert row.count(" | ") == 5  # the | in the name did not open a column
    assert "\\*x\\*" in row
    text_rows = report.to_text().splitlines()
    assert len(text_rows) == 4 and text_rows[-1].startswith("a|b<script>*x*\\nz ")


def test_mismatched_names_raise_listing_them():
    with pytest.raises(ValueError, match=r"missing from manual \['b'\].*not in autograd \['B'\]"):
        compare_gradients({"W": [1.0], "B": [1.0]}, {"W": [1.0], "b": [1.0]})


def test_mismatched_shapes_raise_listing_them():
    with pytest.raises(ValueError, match=r"'W': manual \(2, 3\) vs autograd \(3, 2\).*'c': manual"):
        compare_gradients(
            {"W": np.zeros((2, 3)), "b": np.zeros(2), "c": np.zeros(1)},
            {"W": np.zeros((3, 2)), "b": np.zeros(2), "c": np.zeros(())},
        )


def test_tolerance_is_atol_plus_rtol_times_auto():
    auto = {"w": np.array([10.0, 0.0])}
    inside = {"w": np.array([10.0 + 0.75, 0.25])}  # 0.25 + 0.05 * 10 = 0.75
    outside = {"w": np.array([10.0 + 0.76, 0.25])}
    assert compare_gradients(inside, auto, atol=0.25, rtol=0.05).ok
    report = compare_gradients(outside, auto, atol=0.25, rtol=0.05)
    assert not report.ok and report["w"].worst_index == (0,)
    assert report["w"].max_rel_error == pytest.approx(0.76 / 10.0)  # relative to max |auto|


def test_rel_error_is_relative_to_the_tensors_scale_not_each_entry():
    """A zero entry of the true gradient does not make a correct gradient's error infinite."""
    auto = {"w": np.array([0.0, 2.0, -4.0])}
    report = compare_gradients({"w": np.array([1e-17, 2.0, -4.0 + 4e-15])}, auto)
    assert report.ok and report["w"].max_rel_error == pytest.approx(1e-15)
    zero = compare_gradients({"w": np.array([0.0, 1e-3])}, {"w": np.zeros(2)})
    assert zero["w"].max_rel_error == np.inf  # only when all of autograd's tensor is 0
    assert compare_gradients(auto, auto)["w"].max_rel_error == 0.0


def test_nan_is_never_ok_and_is_the_worst_index():
    report = compare_gradients({"w": [[1.0, np.nan], [3.0, 4.5]]}, {"w": [[1.0, 2.0], [3.0, 4.0]]})
    assert not report.ok and report["w"].worst_index == (0, 1)
    assert np.isnan(report["w"].max_abs_error)


def test_tensors_lists_and_empty_or_scalar_gradients():
    report = compare_gradients(
        {"a": gs.tensor([1.0, 2.0]), "e": np.zeros((0, 3)), "s": 2.0},
        {"a": [1.0, 2.0], "e": np.zeros((0, 3)), "s": gs.tensor(2.0)},
    )
    assert report.ok and report["e"].worst_index == () and report["s"].worst_index == ()


def test_bad_values_raise_type_errors_naming_the_parameter():
    with pytest.raises(TypeError, match="manual gradient for 'w' is None"):
        compare_gradients({"w": None}, {"w": [1.0]})
    with pytest.raises(TypeError, match="'w' must be real numbers"):
        compare_gradients({"w": ["x"]}, {"w": [1.0]})
    with pytest.raises(TypeError, match="mapping"):
        compare_gradients([1.0], {"w": [1.0]})
    with pytest.raises(TypeError, match="gs.nn.Module"):
        compare_gradients({"w": [1.0]}, [1.0])


@pytest.mark.parametrize("atol, rtol", [(-1.0, 0.0), (0.0, float("nan")), (True, 0.0)])
def test_bad_tolerances_raise(atol, rtol):
    with pytest.raises(ValueError, match="tol"):
        compare_gradients({"w": [1.0]}, {"w": [1.0]}, atol=atol, rtol=rtol)


def test_module_without_gradients_raises_naming_them():
    model = gs.nn.Linear(2, 3)
    with pytest.raises(ValueError, match=r"\['weight', 'bias'\].*backward"):
        compare_gradients({"weight": np.zeros((3, 2)), "bias": np.zeros(3)}, model)


def test_autograd_gradients_helper_matches_reference():
    p = ref.init_params(2, 4, 1, seed=5)

    def loss(q):
        h = gs.linear(gs.tensor(X), q["W"], q["b"]).sigmoid()
        y = gs.linear(h, q["V"], q["c"]).sigmoid()
        return 0.5 * ((y - gs.tensor(T)) ** 2).sum() / len(X)

    auto = autograd_gradients(loss, p)
    report = compare_gradients(ref.backward(p, ref.forward(p, X), T), auto, atol=1e-12, rtol=0)
    assert isinstance(report, GradientReport) and report.ok, report


def test_autograd_gradients_unused_parameter_gets_zeros_and_non_scalar_raises():
    auto = autograd_gradients(lambda q: (q["a"] * 3.0).sum(), {"a": [1.0, 2.0], "unused": [[5.0]]})
    assert np.array_equal(auto["a"], [3.0, 3.0]) and np.array_equal(auto["unused"], [[0.0]])
    with pytest.raises(ValueError, match=r"single-element Tensor, got \(2,\)"):
        autograd_gradients(lambda q: q["a"] * 3.0, {"a": [1.0, 2.0]})


def test_report_repr_and_lookup():
    report = compare_gradients({"w": [1.0], "v": [0.0]}, {"w": [1.0], "v": [1.0]})
    assert repr(report) == str(report)  # a notebook cell shows the table
    assert repr(report).splitlines()[-1].split()[-1] == "MISMATCH"
    page = report._repr_html_()
    assert page.count('<tr class="mismatch"') == 1 and page.count("<tr") == 3
    assert "<td>v</td>" in page.split('class="mismatch"')[1].split("</tr>")[0]
    with pytest.raises(KeyError):
        report["nope"]
