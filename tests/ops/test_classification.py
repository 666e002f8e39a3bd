"""Every public callable of np, np.linalg and np.lib.stride_tricks is classified
(gradsight/ops/classify.py): recorded, no gradient (passes through) or refused with
a reason; and each class behaves as it says on a tensor that requires grad."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import gradsight as gs
from gradsight.ops import classify

DOCS = pathlib.Path(__file__).parents[2] / "docs" / "engine.md"


def test_no_numpy_callable_is_unclassified():
    missing = sorted(n for n, (kind, _) in classify.classification().items() if kind is None)
    assert not missing, (
        f"NumPy callables in no class: {missing}. Declare an op for each (ops/declare.py), or "
        "list it in classify.py's NO_GRADIENT or REFUSED with the reason"
    )


def test_the_hand_kept_lists_name_nothing_a_declaration_records():
    """When an op gets declared, its name leaves the lists (one class per callable)."""
    table = classify.classification()
    stale = sorted(
        n
        for n in {**classify.NO_GRADIENT, **classify.REFUSED}
        if n in table and table[n][1].startswith("gs op")
    )
    assert not stale, f"listed in classify.py although a declaration records them: {stale}"


def test_the_docs_classification_table_is_the_generated_one():
    text = DOCS.read_text()
    begin = text.index("\n", text.index("<!-- numpy-classes:begin")) + 1
    end = text.index("<!-- numpy-classes:end -->")
    assert text[begin:end] == classify.markdown(), (
        "docs/engine.md's NumPy classification is stale: run "
        "`python -m gradsight.ops --docs docs/engine.md`"
    )


@pytest.mark.parametrize(
    "call, name, reason",
    [
        (lambda t: np.linalg.eigh(t), "np.linalg.eigh", "decompositions"),
        (lambda t: np.median(t), "np.median", "statistics"),
        (lambda t: np.angle(t), "np.angle", "complex numbers"),
        (lambda t: np.delete(t, 0), "np.delete", "rearranging"),
        (lambda t: np.nanstd(t), "np.nanstd", "NaN-ignoring"),
        (lambda t: np.copysign(t, t), "np.copysign", "elementwise"),
    ],
)
def test_a_refused_function_says_its_name_and_why(call, name, reason):
    t = gs.tensor(np.eye(2) + 0.5, requires_grad=True)
    with pytest.raises(TypeError) as info:
        call(t)
    assert name in str(info.value) and reason in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda t: np.argsort(t, axis=None),
        lambda t: np.floor_divide(t, 0.5),
        lambda t: np.searchsorted(np.array([0.0, 1.0]), t.ravel()),
        lambda t: np.signbit(t - 1),
        lambda t: np.any(t > 1),
    ],
)
def test_a_function_without_gradient_passes_through_on_the_values(call):
    values = np.array([[1.5, 0.25], [0.5, 1.75]])
    t = gs.tensor(values, requires_grad=True)
    out = call(t)
    np.testing.assert_array_equal(getattr(out, "data", out), call(values))
    assert not getattr(out, "requires_grad", False)


def test_every_recorded_callable_returns_a_tensor_in_the_graph():
    """The recorded class is read off the declarations: spot-check that it records."""
    table = classify.classification()
    t = gs.tensor([0.25, 0.5], requires_grad=True)
    for name in ("np.arctan", "np.logaddexp", "np.lib.stride_tricks.sliding_window_view"):
        assert table[name][0] == "recorded"
    assert np.arctan(t).requires_grad
    assert np.lib.stride_tricks.sliding_window_view(t, 2).requires_grad
