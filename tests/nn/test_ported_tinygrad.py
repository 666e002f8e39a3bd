"""tinygrad's own cases for these nn functions (test/backend/test_ops.py), ported.

tinygrad's ``helper_test_op`` draws float32 inputs uniformly in [low, high]
(seed 0), runs the function in PyTorch and in tinygrad, and compares the
forward values and the gradients of ``out.sum()`` with respect to every input.
``_check`` does the same with gradsight in place of tinygrad, in float32 with
tinygrad's tolerances and again in float64 with tight ones. Where gradsight
differs on purpose the case says so (probability targets must lie in [0, 1];
there are no class weights).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight.nn import functional as F
from gradsight.ops import special

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
tF = torch.nn.functional


def _inputs(shapes, low, high, dtype):
    rng = np.random.default_rng(0)
    return [rng.uniform(low, high, size=s).astype(dtype) for s in shapes]


def _check(shapes, torch_fn, gs_fn, low=-2.0, high=2.0, vals=None, grad_atol=1e-4, atol=1e-6):
    """Forward and d(sum out)/d inputs of gs_fn against torch_fn, float32 and float64."""
    for dtype, tol, gtol in (
        (np.float32, dict(atol=atol, rtol=1e-3), dict(atol=grad_atol, rtol=1e-3)),
        (np.float64, dict(atol=1e-12, rtol=1e-10), dict(atol=1e-12, rtol=1e-10)),
    ):
        arrays = [np.asarray(v, dtype) for v in vals] if vals else _inputs(shapes, low, high, dtype)
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        xs = [gs.tensor(a, requires_grad=True) for a in arrays]
        t_out, g_out = torch_fn(*ts), gs_fn(*xs)
        assert g_out.dtype == dtype, f"result dtype {g_out.dtype}"
        np.testing.assert_allclose(g_out.numpy(), t_out.detach().numpy(), **tol)
        t_grads = torch.autograd.grad(t_out.sum(), ts)
        g_grads = gs.autograd.grad(g_out.sum(), xs)
        for i, (g, t) in enumerate(zip(g_grads, t_grads)):
            np.testing.assert_allclose(g.numpy(), t.numpy(), **gtol, err_msg=f"input {i}")


# ---------------------------------------------------------------- activations
def test_softplus():
    _check([(45, 65)], tF.softplus, F.softplus, grad_atol=1e-6)
    for beta in (3, 1 / 3):
        _check(
            [(45, 65)],
            lambda t, b=beta: tF.softplus(t, beta=b),
            lambda x, b=beta: F.softplus(x, beta=b),
            grad_atol=1e-6,
        )
    _check([(45, 65)], tF.softplus, F.softplus, grad_atol=1e-6, low=300, high=400)
    _check([(45, 65)], tF.softplus, F.softplus, grad_atol=1e-6, low=-400, high=-300)
    _check([()], tF.softplus, F.softplus, grad_atol=1e-6)


def test_erf():
    _check([(45, 65)], torch.erf, special.erf)
    _check([(45, 65)], torch.erf, special.erf, low=300, high=400)
    _check([(45, 65)], torch.erf, special.erf, low=-400, high=-300)
    _check([()], torch.erf, special.erf)


@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu(approximate):
    _check(
        [(45, 65)],
        lambda t: tF.gelu(t, approximate=approximate),
        lambda x: F.gelu(x, approximate=approximate),
    )


@pytest.mark.parametrize("approximate", ["tanh", "none"])
@pytest.mark.parametrize("low, high", [(300, 400), (-400, -300)])
def test_gelu_extreme(approximate, low, high):
    _check(
        [(45, 65)],
        lambda t: tF.gelu(t, approximate=approximate),
        lambda x: F.gelu(x, approximate=approximate),
        low=low,
        high=high,
    )


def test_softmin():
    _check(
        [(45, 65)],
        torch.nn.Softmin(dim=1),
        lambda x: F.softmin(x, axis=1),
        atol=1e-7,
        grad_atol=1e-7,
    )


# ---------------------------------------------------------------- binary cross-entropy
def test_binary_crossentropy_with_logits_gives_the_target_a_gradient():
    """tinygrad differentiates the target too (y.clip(0, 1) requires grad). gradsight's
    BCE on probabilities refuses a target that requires grad (as PyTorch did until
    recently), so the cases that cross the two forms take y.clip(0, 1) detached on both
    sides; BCE-with-logits against itself keeps the target's gradient."""
    clip = lambda y: y.clip(0, 1)  # noqa: E731 - the same spelling in torch and gradsight
    _check(
        [(32, 10), (32, 10)],
        lambda x, y: tF.binary_cross_entropy_with_logits(x, clip(y)),
        lambda x, y: F.binary_cross_entropy_with_logits(x, clip(y)),
    )
    _check(
        [(32, 10), (32, 10)],
        lambda x, y: tF.binary_cross_entropy_with_logits(x, clip(y).detach()) + 0 * y.sum(),
        lambda x, y: F.binary_cross_entropy(x.sigmoid(), clip(y).detach()) + 0 * y.sum(),
    )
    _check(
        [(32, 10), (32, 10)],
        lambda x, y: tF.binary_cross_entropy(x.sigmoid(), clip(y).detach()) + 0 * y.sum(),
        lambda x, y: F.binary_cross_entropy_with_logits(x, clip(y).detach()) + 0 * y.sum(),
    )


@pytest.mark.parametrize("r", ["mean", "sum", "none"])
def test_binary_crossentropy_reductions(r):
    _check(
        [(32, 10), (32, 10)],
        lambda x, y: tF.binary_cross_entropy_with_logits(x, y.clip(0, 1), reduction=r),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y.clip(0, 1), reduction=r),
    )


# ---------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("shape", [(32,), (32, 10), (32, 4, 4, 4)])
def test_cross_entropy_class_probabilities(shape):
    """tinygrad's targets are raw uniform draws; gradsight requires probabilities in
    [0, 1], so both sides take softmax(y) over the class axis: still a target that
    requires grad, now a distribution."""
    axis = 0 if len(shape) == 1 else 1
    _check(
        [shape, shape],
        lambda x, y: tF.cross_entropy(x, y.softmax(axis)),
        lambda x, y: F.cross_entropy(x, y.softmax(axis)),
    )


def test_cross_entropy_class_indices():
    classes = np.random.default_rng(1).integers(0, 10, 32)
    _check(
        [(32, 10)],
        lambda x: tF.cross_entropy(x, torch.from_numpy(classes)),
        lambda x: F.cross_entropy(x, classes),
    )
    x, y = gs.zeros(32, 10), gs.zeros(32, 1)
    with pytest.raises(TypeError, match=r"integer class indices.*\(32, 10\)"):
        F.cross_entropy(x, y)


@pytest.mark.parametrize("r", ["mean", "sum", "none"])
def test_cross_entropy_reductions(r):
    _check(
        [(32, 10), (32, 10)],
        lambda x, y: tF.cross_entropy(x, y.softmax(1), reduction=r),
        lambda x, y: F.cross_entropy(x, y.softmax(1), reduction=r),
    )


def test_cross_entropy_reduction_typo_is_refused():
    with pytest.raises(ValueError, match="got 'typo'"):
        F.cross_entropy(gs.zeros(32, 10), gs.zeros(32, 10), reduction="typo")


@pytest.mark.parametrize("ls", [0.0, 0.3, 0.7, 1.0])
def test_cross_entropy_smoothing(ls):
    _check(
        [(32, 10), (32, 10)],
        lambda x, y: tF.cross_entropy(x, y.softmax(1), label_smoothing=ls),
        lambda x, y: F.cross_entropy(x, y.softmax(1), label_smoothing=ls),
    )
    classes = np.random.default_rng(2).integers(0, 10, 32)
    _check(
        [(32, 10)],
        lambda x: tF.cross_entropy(x, torch.from_numpy(classes), label_smoothing=ls),
        lambda x: F.cross_entropy(x, classes, label_smoothing=ls),
    )


def test_sparse_categorical_crossentropy():
    """tinygrad's sparse_categorical_crossentropy is PyTorch's CrossEntropyLoss with
    integer classes; the batched case takes the class axis second, as PyTorch does."""
    classes = np.random.default_rng(3).integers(0, 10, 12)
    t_classes = torch.from_numpy(classes)
    _check(
        [(12, 10)],
        lambda x: torch.nn.CrossEntropyLoss()(x, t_classes),
        lambda x: gs.nn.CrossEntropyLoss()(x, classes),
    )
    settings = dict(ignore_index=int(classes[0]), label_smoothing=0.3)
    _check(
        [(12, 10)],
        lambda x: torch.nn.CrossEntropyLoss(reduction="mean", **settings)(x, t_classes),
        lambda x: gs.nn.CrossEntropyLoss(reduction="mean", **settings)(x, classes),
    )
    batch = np.random.default_rng(4).integers(0, 10, (3, 12))
    _check(
        [(3, 12, 10)],
        lambda x: torch.nn.CrossEntropyLoss()(x.permute(0, 2, 1), torch.from_numpy(batch)),
        lambda x: gs.nn.CrossEntropyLoss()(x.transpose(0, 2, 1), batch),
    )


@pytest.mark.parametrize("r", ["mean", "sum", "none"])
def test_sparse_categorical_crossentropy_reductions(r):
    classes = np.random.default_rng(5).integers(0, 10, 12)
    _check(
        [(12, 10)],
        lambda x: torch.nn.CrossEntropyLoss(reduction=r)(x, torch.from_numpy(classes)),
        lambda x: gs.nn.CrossEntropyLoss(reduction=r)(x, classes),
    )


@pytest.mark.parametrize("i", [-1, 0, 3])
def test_sparse_categorical_crossentropy_ignore_index(i):
    classes = np.array([0, 1, 2, 3] * 3)
    _check(
        [(12, 10)],
        lambda x: torch.nn.CrossEntropyLoss(ignore_index=i)(x, torch.from_numpy(classes)),
        lambda x: gs.nn.CrossEntropyLoss(ignore_index=i)(x, classes),
    )


@pytest.mark.parametrize("s", [0.3, 0.9])
def test_sparse_categorical_crossentropy_label_smoothing(s):
    classes = np.random.default_rng(6).integers(0, 10, 12)
    _check(
        [(12, 10)],
        lambda x: torch.nn.CrossEntropyLoss(label_smoothing=s)(x, torch.from_numpy(classes)),
        lambda x: gs.nn.CrossEntropyLoss(label_smoothing=s)(x, classes),
    )


# ---------------------------------------------------------------- nll_loss
def test_nll_loss():
    target = np.random.default_rng(7).integers(0, 10, 32)
    _check(
        [(32, 10)],
        lambda x: tF.nll_loss(tF.log_softmax(x, dim=1), torch.from_numpy(target)),
        lambda x: F.nll_loss(x.log_softmax(axis=1), target),
    )


def test_nll_loss_3d():
    target = np.random.default_rng(8).integers(0, 10, (32, 3, 3, 3))
    _check(
        [(32, 10, 3, 3, 3)],
        lambda x: tF.nll_loss(tF.log_softmax(x, dim=1), torch.from_numpy(target)),
        lambda x: F.nll_loss(x.log_softmax(axis=1), target),
    )


@pytest.mark.parametrize("r", ["mean", "sum", "none"])
def test_nll_loss_reductions(r):
    target = np.random.default_rng(9).integers(0, 10, 32)
    _check(
        [(32, 10)],
        lambda x: tF.nll_loss(tF.log_softmax(x, dim=1), torch.from_numpy(target), reduction=r),
        lambda x: F.nll_loss(x.log_softmax(axis=1), target, reduction=r),
    )
    with pytest.raises(ValueError, match="got 'typo'"):
        F.nll_loss(gs.zeros(32, 10), target, reduction="typo")


def test_nll_loss_ignore_index():
    logits = [[2.0, 0.5, -1.0], [1.5, 2.5, -0.5], [0.0, -2.0, 1.0]]
    target = [0, 1, 2]
    _check(
        None,
        lambda x: tF.nll_loss(tF.log_softmax(x, dim=1), torch.tensor(target), ignore_index=1),
        lambda x: F.nll_loss(x.log_softmax(), np.array(target), ignore_index=1),
        vals=[logits],
    )


def test_nll_loss_class_weights_are_not_there():
    """tinygrad's test_nll_loss_weight and _3d_weight have no counterpart: gradsight's
    losses take no class weights (the signature has no ``weight``)."""
    with pytest.raises(TypeError):
        F.nll_loss(gs.zeros(2, 3), np.array([0, 1]), weight=np.ones(3))
