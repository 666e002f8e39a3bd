"""Calls that cannot dispatch to a Tensor say what to write instead.

An ndarray method (``X.dot(W)`` with X an array) and a NumPy function given a
Python list of Tensors (``np.sum([t1, t2])``) never reach the Tensor's
protocols: NumPy only asks each Tensor for its values, which would cut the
graph. The refusal names the idiom and its recorded spelling.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


def _refusal(call) -> str:
    with pytest.raises(TypeError) as info:
        call()
    return str(info.value)


def test_an_ndarray_dot_method_with_a_tensor_argument_says_write_matmul():
    X = np.ones((2, 3))
    W = gs.tensor(np.ones((3, 2)), requires_grad=True)
    msg = _refusal(lambda: X.dot(W))
    assert "An ndarray method such as X.dot(W)? write X @ W or np.dot(X, W)" in msg
    (X @ W).sum().backward()  # the spelling it suggests is recorded
    np.testing.assert_array_equal(W.grad.data, np.full((3, 2), 2.0))


def test_a_list_of_tensors_given_to_np_sum_says_use_gs_sum_or_stack():
    t1 = gs.tensor([1.0, 2.0], requires_grad=True)
    t2 = gs.tensor([3.0, 4.0], requires_grad=True)
    for call in (lambda: np.sum([t1, t2]), lambda: np.mean([t1, t2], axis=0)):
        assert "A list of Tensors? use gs.sum(list) or np.stack" in _refusal(call)
    gs.sum([t1, t2]).backward()  # the suggestions record
    np.testing.assert_array_equal(t1.grad.data, [1.0, 1.0])


def test_a_plain_conversion_keeps_the_general_advice():
    t = gs.tensor([1.0, 2.0], requires_grad=True)
    msg = _refusal(lambda: np.asarray(t))
    assert "np.asarray/np.array" in msg and "t.detach().numpy()" in msg
    assert "ndarray method" not in msg and "list of Tensors" not in msg
