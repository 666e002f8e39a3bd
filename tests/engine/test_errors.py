"""Bad input: each raises early, with the right type and a message naming the
offending shapes or values."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradsight as gs
from gradsight._core.node import Primitive, apply1


def leaf(values, dtype=None):
    return gs.tensor(values, dtype=dtype, requires_grad=True)


def shapes_in(*shapes):
    """A regex that finds each shape, in order, written as Python prints tuples."""
    return ".*".join(re.escape(str(s)) for s in shapes)


# ---------------------------------------------------------------- shape mismatches at forward
@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((2, 3), (4, 5)), ((3,), (2, 3)), ((2, 3), (2,)), ((5, 2, 3), (4, 3, 2)), ((3,), (4,))],
)
def test_matmul_mismatch_names_both_shapes(a_shape, b_shape):
    a, b = leaf(np.ones(a_shape)), leaf(np.ones(b_shape))
    with pytest.raises(ValueError, match=shapes_in(a_shape, b_shape)):
        a @ b
    with pytest.raises(ValueError, match=shapes_in(a_shape, b_shape)):
        gs.matmul(a, b.data)


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: a**b,
        gs.maximum,
        gs.minimum,
        lambda a, b: gs.where(True, a, b),
    ],
    ids=["+", "-", "*", "/", "**", "maximum", "minimum", "where"],
)
def test_broadcast_mismatch_names_both_shapes(op):
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((4,)))
    with pytest.raises(ValueError, match=shapes_in((2, 3), (4,))):
        op(a, b)


def test_broadcast_mismatch_with_ndarray_operand():
    with pytest.raises(ValueError, match=shapes_in((2, 3), (3, 2))):
        leaf(np.ones((2, 3))) * np.ones((3, 2))


def test_concatenate_and_stack_mismatch():
    a, b = gs.tensor(np.ones((2, 3))), gs.tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match=shapes_in((2, 3), (2, 2))):
        gs.concatenate([a, b], axis=0)
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(2, 3\)|\(2, 3\).*\(2, 2\)"):
        gs.stack([a, b])


def test_reshape_to_wrong_size():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, ?2\)"):
        gs.tensor(np.ones((2, 3))).reshape(4, 2)


def test_axis_out_of_range():
    x = gs.tensor(np.ones((2, 3)))
    for fn in (lambda: x.sum(axis=2), lambda: x.softmax(axis=3), lambda: x.max(axis=-3)):
        with pytest.raises(ValueError, match=r"axis -?\d+ is out of bounds.*\(2, 3\)|\(2, 3\)"):
            fn()


def test_index_out_of_range():
    x = gs.tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match=r"index 5 .*size 2"):
        x[5]
    with pytest.raises(IndexError, match=r"index 3 "):
        x[np.array([0, 3])]


def test_squeeze_non_unit_axis_names_the_shape():
    with pytest.raises(ValueError, match=re.escape("(2, 3)")):
        gs.tensor(np.ones((2, 3))).squeeze(0)


# ---------------------------------------------------------------- dtypes and data
@pytest.mark.parametrize(
    "make",
    [
        lambda: gs.tensor([1, 2], requires_grad=True),
        lambda: gs.Tensor([1, 2], requires_grad=True),
        lambda: gs.tensor([True, False], requires_grad=True),
        lambda: gs.tensor([1.0], dtype="int32", requires_grad=True),
        lambda: gs.zeros(2, dtype=int, requires_grad=True),
        lambda: gs.ones(2, dtype=bool, requires_grad=True),
        lambda: gs.arange(3, requires_grad=True),
        lambda: gs.tensor([1, 2]).requires_grad_(),
    ],
    ids=[
        "int",
        "Tensor int",
        "bool",
        "dtype=int32",
        "zeros int",
        "ones bool",
        "arange",
        "requires_grad_",
    ],
)
def test_requires_grad_on_int_or_bool_is_a_type_error(make):
    with pytest.raises(TypeError, match=r"floating.*dtype (int|bool)"):
        make()


@pytest.mark.parametrize(
    "data, fragment",
    [
        ([[1.0, 2.0], [3.0]], "ragged"),
        ([1.0, [2.0, 3.0]], "ragged"),
        ([object()], "dtype object"),
        ({"a": 1.0}, "dict data of dtype object"),
        (None, "NoneType"),
        (["a", "b"], "dtype <U1"),
    ],
    ids=["ragged rows", "ragged nesting", "objects", "dict", "None", "strings"],
)
def test_object_or_ragged_data_is_a_type_error(data, fragment):
    with pytest.raises(TypeError, match=re.escape(fragment)):
        gs.tensor(data)


def test_unsupported_operand_dtype_names_the_operands():
    with pytest.raises(TypeError, match=r"add.*\(2,\)"):
        leaf([1.0, 2.0]) + np.array(["a", "b"])


def test_ragged_operand_is_a_type_error():
    with pytest.raises(TypeError, match="ragged"):
        leaf(np.ones((2, 2))) + [[1.0, 2.0], [3.0]]


def test_object_operand_is_a_type_error():
    with pytest.raises(TypeError, match="object"):
        leaf([1.0]) * np.array([object()])


# ---------------------------------------------------------------- backward misuse
def test_backward_on_non_scalar_without_gradient():
    y = leaf(np.ones((2, 3))) * 2
    with pytest.raises(RuntimeError, match=r"single-element.*\(2, 3\)"):
        y.backward()


@pytest.mark.parametrize("bad", [np.ones(3), np.ones((3, 2)), np.ones((1, 2, 3)), 1.0])
def test_backward_gradient_of_wrong_shape(bad):
    x = leaf(np.ones((2, 3)))
    y = x * 2
    with pytest.raises(ValueError, match=shapes_in(np.shape(bad), (2, 3))):
        y.backward(bad)
    assert x.grad is None


def test_backward_on_tensor_not_requiring_grad():
    with pytest.raises(RuntimeError, match=r"\(2,\).*does not require grad"):
        gs.tensor([1.0, 2.0]).backward(np.ones(2))
    with pytest.raises(RuntimeError, match=r"\(\).*does not require grad"):
        (gs.tensor([1.0, 2.0]) * 2).sum().backward()
    with gs.no_grad():
        y = (leaf([1.0]) * 2).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_autograd_grad_input_misuse():
    x = leaf([1.0, 2.0])
    unused = leaf([1.0])
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(1,\)\) was not used.*allow_unused"):
        gs.autograd.grad((x * 2).sum(), [x, unused])
    with pytest.raises(RuntimeError, match=r"input 0 \(shape \(1,\)\) does not require grad"):
        gs.autograd.grad((x * 2).sum(), [gs.tensor([1.0])])
    assert gs.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


def test_grad_needs_a_one_element_output():
    with pytest.raises(ValueError, match=r"one-element.*\(3,\)"):
        gs.grad(lambda x: x * 2)(np.ones(3))


# ---------------------------------------------------------------- conversions
def test_item_on_many_elements():
    with pytest.raises(ValueError, match=r"exactly one element.*\(2, 3\)"):
        gs.tensor(np.ones((2, 3))).item()
    assert gs.tensor([[4.0]]).item() == 4.0


def test_bool_of_multi_element_tensor():
    t = gs.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(2,\) is ambiguous"):
        bool(t)
    with pytest.raises(ValueError, match=re.escape("(2,)")):
        if t:
            pass
    assert bool(gs.tensor([3.0])) and not bool(gs.tensor(0.0))


def test_len_of_0d_tensor():
    with pytest.raises(TypeError, match="0-d"):
        len(gs.tensor(1.0))


# ---------------------------------------------------------------- gradcheck
def test_gradcheck_on_float32_tells_to_use_float64():
    x = leaf([1.0, 2.0], dtype="float32")
    with pytest.raises(TypeError, match=r"input 0.*float32.*float64"):
        gs.gradcheck(lambda t: t * 2, [x])


def test_gradcheck_float32_in_second_input():
    x, y = leaf([1.0]), leaf([1.0], dtype="float32")
    with pytest.raises(TypeError, match=r"input 1 .*float32.*float64"):
        gs.gradcheck(lambda a, b: a * b, [x, y])


def test_gradcheck_without_differentiable_inputs():
    with pytest.raises(ValueError, match="requires_grad"):
        gs.gradcheck(lambda t: t * 2, [gs.tensor([1.0])])


_half_grad_square = Primitive(
    "half_grad_square",
    np.square,
    (lambda F, g, out, x: g * x,),  # true rule: 2 g x
)


def test_gradcheck_failure_message_is_a_readable_table():
    x = leaf([1.0, 2.0, 3.0])
    y = leaf([4.0, 5.0])  # correct: enters through an ordinary op

    def fn(a, b):
        return apply1(_half_grad_square, a).sum() + (b * b).sum()

    with pytest.raises(gs.GradcheckError) as info:
        gs.gradcheck(fn, [x, y])
    message = str(info.value)
    lines = message.splitlines()
    header = next(line for line in lines if "max abs error" in line)
    for column in ("input", "max abs error", "max rel error", "worst"):
        assert column in header
    rows = {line.split("|")[0].strip(): line for line in lines if re.match(r"^\d+\s+\|", line)}
    assert set(rows) == {"0", "1"}
    # input 0: analytic x vs numeric 2x; the largest error |3 - 6| = 3 at output (), input (2,)
    cells = [c.strip() for c in rows["0"].split("|")]
    assert cells[1] == "(3,)"
    assert float(cells[2]) == pytest.approx(3.0, rel=1e-6)
    assert float(cells[3]) == pytest.approx(0.5, rel=1e-6)
    assert "(2,)" in cells[4]
    assert cells[-1] == "NO"
    assert [c.strip() for c in rows["1"].split("|")][-1] == "yes"
    assert re.search(r"analytical 3 vs numerical 6", message)
    assert "eps=1e-06" in message and "atol=1e-05" in message and "rtol=0.001" in message


# ---------------------------------------------------------------- broken rules and anomalies
def test_rule_returning_a_non_array_is_named():
    bad = Primitive("bad_rule", np.negative, (lambda F, g, out, x: 1.0,))
    with pytest.raises(RuntimeError, match=r"BadRuleBackward.*input 0.*float"):
        apply1(bad, leaf([1.0, 2.0])).sum().backward()


def test_rule_returning_a_wrong_shape_is_named():
    bad = Primitive("bad_shape", np.negative, (lambda F, g, out, x: np.ones(2),))
    with pytest.raises(RuntimeError, match=r"BadShapeBackward.*input 0.*\(2,\).*\(3,\)"):
        apply1(bad, leaf([1.0, 2.0, 3.0])).sum().backward()


def test_detect_anomaly_names_the_op_and_the_user_line():
    x = leaf([0.0, 4.0])
    with gs.autograd.detect_anomaly():
        y = x.sqrt().sum()  # d sqrt / dx = inf at 0
        with pytest.raises(RuntimeError, match=r"SqrtBackward.*test_errors\.py:\d+"):
            with np.errstate(divide="ignore"):
                y.backward()
