"""nll_loss, cross_entropy's ignore_index / label_smoothing / probability targets, and
BCE-with-logits with a target that requires grad: PyTorch's semantics checked by
closed forms and identities, gradcheck, bad input, the Modules, and a training loop
written as users write it."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn

F = nn.functional


def _logits(shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def _log_softmax(z, axis=1):
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


# ---------------------------------------------------------------- nll_loss
def test_nll_loss_picks_minus_the_target_log_probability_and_averages_over_kept_targets():
    lp = _log_softmax(_logits((4, 3)))
    t = np.array([2, 0, 1, 0])
    picked = -lp[np.arange(4), t]
    x = gs.tensor(lp)
    np.testing.assert_array_equal(F.nll_loss(x, t, reduction="none").numpy(), picked)
    np.testing.assert_allclose(F.nll_loss(x, t, reduction="sum").item(), picked.sum(), rtol=1e-15)
    np.testing.assert_allclose(F.nll_loss(x, t).item(), picked.mean(), rtol=1e-15)
    kept = t != 0
    np.testing.assert_allclose(F.nll_loss(x, t, 0).item(), picked[kept].mean(), rtol=1e-15)
    np.testing.assert_array_equal(F.nll_loss(x, t, 0, "none").numpy(), np.where(kept, picked, 0))


def test_nll_loss_gradient_is_minus_one_over_the_kept_count_at_each_kept_target():
    t = np.array([2, -100, 1, 1, -100])
    x = gs.tensor(_logits((5, 3)), requires_grad=True)
    F.nll_loss(x, t).backward()
    want = np.zeros((5, 3))
    want[[0, 2, 3], [2, 1, 1]] = -1 / 3
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_all_targets_ignored_gives_pytorchs_nan_mean_and_zero_gradients_quietly():
    x = gs.tensor(_logits((3, 4)), requires_grad=True)
    t = np.array([1, 1, 1])
    with np.errstate(all="raise"):
        mean = F.cross_entropy(x, t, ignore_index=1)
        total = F.nll_loss(x, t, 1, "sum")
        (mean + total).backward()
    assert np.isnan(mean.item()) and total.item() == 0.0
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: F.nll_loss(x, [0, 1, 2], "sum"), TypeError, r"got 'sum' .*pass reduction="),
        (lambda x: F.nll_loss(x, np.array([0.0, 1.0, 2.0])), TypeError, "integer class indices"),
        (lambda x: F.nll_loss(x, [0, 5, 1]), ValueError, r"target\[1\] = 5 .*\[0, 4\)"),
        (
            lambda x: F.nll_loss(x, [0, 1, -1], 3),
            ValueError,
            r"target\[2\] = -1 .*ignore_index \(3\)",
        ),
        (lambda x: F.nll_loss(x, [0, 1]), ValueError, r"target shape \(2,\).*expected \(3,\)"),
        (lambda x: F.nll_loss(x, [0, 1, 2], reduction="avg"), ValueError, "got 'avg'"),
        (lambda x: F.nll_loss(x[:0], np.zeros(0, int)), ValueError, "empty batch"),
        (lambda x: F.nll_loss(x.sum(), 0), ValueError, r"class axis.*got shape \(\)"),
    ],
)
def test_nll_loss_refuses_bad_input_naming_it(call, error, message):
    with pytest.raises(error, match=message):
        call(gs.tensor(np.zeros((3, 4))))


def test_a_bad_target_deep_in_a_k_dimensional_batch_is_named_by_its_full_index():
    t = np.zeros((2, 3, 2), int)
    t[1, 2, 0] = 7
    with pytest.raises(ValueError, match=r"target\[1, 2, 0\] = 7 is not a class index in \[0, 4\)"):
        F.cross_entropy(gs.zeros(2, 4, 3, 2), t)


# ---------------------------------------------------------------- cross_entropy
def test_label_smoothing_equals_the_smoothed_probability_target():
    z = _logits((6, 5), 1)
    t = np.array([0, 4, 4, 2, 1, 3])
    for eps in (0.1, 0.5, 1.0):
        soft = (1 - eps) * np.eye(5)[t] + eps / 5
        a = gs.tensor(z, requires_grad=True)
        b = gs.tensor(z, requires_grad=True)
        la, lb = F.cross_entropy(a, t, label_smoothing=eps), F.cross_entropy(b, soft)
        np.testing.assert_allclose(la.item(), lb.item(), rtol=1e-14)
        la.backward()
        lb.backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-16)
    uniform = -_log_softmax(z).mean(axis=1).mean()  # eps = 1: every class weighs 1/C
    np.testing.assert_allclose(
        F.cross_entropy(gs.tensor(z), t, label_smoothing=1.0).item(), uniform
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_ignored_targets_drop_out_of_the_mean_as_if_never_in_the_batch(smoothing):
    z = _logits((6, 4), 2)
    t = np.array([3, 0, 3, 1, 2, 3])
    kept = t != 3
    whole = gs.tensor(z, requires_grad=True)
    part = gs.tensor(z[kept], requires_grad=True)
    lw = F.cross_entropy(whole, t, ignore_index=3, label_smoothing=smoothing)
    lp = F.cross_entropy(part, t[kept], label_smoothing=smoothing)
    np.testing.assert_allclose(lw.item(), lp.item(), rtol=1e-14)
    lw.backward()
    lp.backward()
    np.testing.assert_allclose(whole.grad.numpy()[kept], part.grad.numpy(), rtol=1e-13)
    assert not whole.grad.numpy()[~kept].any()


def test_the_fused_node_and_the_composite_give_the_same_loss_and_gradient():
    """(N, C) integer targets take the fused node; the same logits as (N, C, 1) take the
    composite (log_softmax, a select, the mean): they agree to rounding."""
    z = _logits((5, 4), 3, 3.0)
    t = np.array([1, 0, 3, 3, 2])
    a = gs.tensor(z, requires_grad=True)
    b = gs.tensor(z[:, :, None], requires_grad=True)
    la, lb = F.cross_entropy(a, t), F.cross_entropy(b, t[:, None])
    assert la.grad_fn.name == "CrossEntropyBackward" and lb.grad_fn.name != la.grad_fn.name
    np.testing.assert_allclose(la.item(), lb.item(), rtol=1e-15)
    la.backward()
    lb.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy()[:, :, 0], rtol=1e-13, atol=1e-17)


def test_a_class_masked_with_minus_inf_stays_finite_when_targets_are_ignored():
    """The composite selects the target's log-probability; multiplying by a one-hot
    mask instead would turn the masked class's -inf into nan."""
    z = _logits((4, 3), 4)
    z[:, 2] = -np.inf  # an action that is not allowed
    x = gs.tensor(z, requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 1, -100, 0]))
    loss.backward()
    assert np.isfinite(loss.item())
    assert np.all(np.isfinite(x.grad.numpy())) and not x.grad.numpy()[:, 2].any()


def test_probability_targets_get_the_gradient_minus_log_softmax():
    z = _logits((4, 3), 5)
    p = np.exp(_logits((4, 3), 6))
    p /= p.sum(axis=1, keepdims=True)
    x, y = gs.tensor(z, requires_grad=True), gs.tensor(p, requires_grad=True)
    F.cross_entropy(x, y, label_smoothing=0.3).backward()
    np.testing.assert_allclose(y.grad.numpy(), -0.7 * _log_softmax(z) / 4, rtol=1e-14)
    q = 0.7 * p + 0.1
    np.testing.assert_allclose(x.grad.numpy(), (np.exp(_log_softmax(z)) - q) / 4, rtol=1e-13)


def test_probability_targets_may_come_from_a_network():
    """Distillation: the target is a teacher's softmax. Left attached, the teacher is
    trained too; gradcheck on both sides."""
    teacher = gs.tensor(_logits((3, 4), 7), requires_grad=True)
    student = gs.tensor(_logits((3, 4), 8), requires_grad=True)
    assert gs.gradcheck(lambda s, t: F.cross_entropy(s, (t / 2.0).softmax(1)), (student, teacher))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x, p: F.cross_entropy(x, p, ignore_index=0), ValueError, "not to class-prob"),
        (lambda x, p: F.cross_entropy(x, p * 2), ValueError, r"target\[0, 0\] = "),
        (lambda x, p: F.cross_entropy(x, p[:, :1]), TypeError, r"input's shape \(2, 3\)"),
        (lambda x, p: F.cross_entropy(x, p, label_smoothing=1.5), ValueError, "in \\[0, 1\\]"),
        (lambda x, p: F.cross_entropy(x, p, label_smoothing="0.1"), TypeError, "a number"),
        (lambda x, p: F.cross_entropy(x, [0, 1], ignore_index=1.0), TypeError, "an integer"),
    ],
)
def test_cross_entropy_refuses_bad_settings_naming_them(call, error, message):
    with pytest.raises(error, match=message):
        call(gs.zeros(2, 3), np.full((2, 3), 0.6))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_new_loss_forms_pass_gradcheck(reduction):
    z = gs.tensor(_logits((4, 3, 2), 9), requires_grad=True)
    t = np.array([[0, 2], [1, -100], [2, 2], [0, 1]])
    p = gs.tensor(np.full((4, 3, 2), 1 / 3), requires_grad=True)
    r = reduction
    assert gs.gradcheck(lambda a: F.cross_entropy(a, t, r, label_smoothing=0.25), (z,))
    assert gs.gradcheck(lambda a: F.nll_loss(a.log_softmax(1), t, reduction=r), (z,))
    assert gs.gradcheck(lambda a, b: F.cross_entropy(a, b, r, label_smoothing=0.1), (z, p))


# ---------------------------------------------------------------- BCE with logits
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_target_gradient_is_minus_x_over_n(reduction):
    z = _logits((3, 4), 10, 3.0)
    y = np.random.default_rng(11).random((3, 4))
    x, t = gs.tensor(z, requires_grad=True), gs.tensor(y, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction)
    fused = F.binary_cross_entropy_with_logits(gs.tensor(z), y, reduction)
    np.testing.assert_allclose(loss.numpy(), fused.numpy(), rtol=1e-14)
    loss.backward(gradient=np.ones(loss.shape))
    scale = 1 / 12 if reduction == "mean" else 1.0
    np.testing.assert_allclose(t.grad.numpy(), -z * scale, rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), (1 / (1 + np.exp(-z)) - y) * scale, rtol=1e-13)
    assert gs.gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction),
        (gs.tensor(z, requires_grad=True), gs.tensor(y, requires_grad=True)),
    )


def test_bce_with_logits_target_path_is_stable_for_huge_logits():
    x = gs.tensor([-1e4, 1e4, -800.0, 800.0], requires_grad=True)
    y = gs.tensor([0.0, 1.0, 0.5, 0.5], requires_grad=True)
    with np.errstate(all="raise"):
        loss = F.binary_cross_entropy_with_logits(x, y, "sum")
        loss.backward()
    np.testing.assert_allclose(loss.item(), 800.0)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, -0.5, 0.5])
    np.testing.assert_array_equal(y.grad.numpy(), [1e4, -1e4, 800.0, -800.0])


# ---------------------------------------------------------------- Modules
def test_loss_modules_keep_and_print_their_settings_and_check_them_when_built():
    ce = nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
    assert repr(ce) == "CrossEntropyLoss(reduction='mean', ignore_index=0, label_smoothing=0.1)"
    assert repr(nn.NLLLoss("sum")) == "NLLLoss(reduction='sum')"
    assert repr(nn.NLLLoss(ignore_index=3)) == "NLLLoss(reduction='mean', ignore_index=3)"
    x, t = gs.tensor(_logits((4, 3), 12)), np.array([0, 1, 2, 1])
    want = F.cross_entropy(x, t, ignore_index=0, label_smoothing=0.1)
    assert ce(x, t).item() == want.item()
    assert nn.NLLLoss(ignore_index=1)(x, t).item() == F.nll_loss(x, t, 1).item()
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        nn.NLLLoss(ignore_index="pad")


# ---------------------------------------------------------------- code users write
class Config:
    vocab = 6  # tags
    features = 5
    hidden = 8
    pad = -100
    smoothing = 0.1
    lr = 0.05
    steps = 15


def _padded_batch(seed=0):
    """Sentences of 2-5 tokens padded to 5: features (N, T, D) and tags (N, T)."""
    rng = np.random.default_rng(seed)
    lengths = [5, 2, 4, 3]
    x = rng.standard_normal((4, 5, Config.features))
    tags = rng.integers(0, Config.vocab, (4, 5))
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
        tags[i, n:] = Config.pad
    return x, tags


class Tagger(nn.Module):
    """A per-token classifier: logits (N, T, C), handed to the loss as (N, C, T)."""

    def __init__(self, cfg):
        super().__init__()
        self.net = nn.MLP([cfg.features, cfg.hidden, cfg.vocab], activation="gelu")

    def forward(self, x):
        return self.net(x).transpose(0, 2, 1)


def test_a_padded_sequence_tagger_trains_like_pytorch():
    torch = pytest.importorskip("torch")
    cfg = Config()
    gs.manual_seed(0)
    model = Tagger(cfg)
    t_net = nn.to_torch(model.net)
    loss_fn = nn.CrossEntropyLoss(ignore_index=cfg.pad, label_smoothing=cfg.smoothing)
    t_loss = nn.to_torch(loss_fn)
    opt = gs.optim.Adam(model.parameters(), lr=cfg.lr)
    t_opt = torch.optim.Adam(t_net.parameters(), lr=cfg.lr)
    x, tags = _padded_batch()
    losses, t_losses = [], []
    for _ in range(cfg.steps):
        opt.zero_grad()
        loss = loss_fn(model(x), tags)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        t_opt.zero_grad()
        t_l = t_loss(t_net(torch.from_numpy(x)).permute(0, 2, 1), torch.from_numpy(tags))
        t_l.backward()
        t_opt.step()
        t_losses.append(t_l.item())
    np.testing.assert_allclose(losses, t_losses, rtol=1e-10)
    assert losses[-1] < losses[0]
    for (name, p), tp in zip(model.net.named_parameters(), t_net.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, err_msg=name)


@pytest.mark.parametrize("activation", ["gelu", "gelu-tanh", "softplus", "softmin"])
def test_steps_with_the_new_functions_trace_and_replay_as_they_run_eagerly(activation):
    """Batches with and without padding alternate: the traced step records the
    targets' checks and the class selects, and replays them on new targets."""
    act = {
        "gelu": F.gelu,
        "gelu-tanh": lambda h: F.gelu(h, "tanh"),
        "softplus": lambda h: F.softplus(h, 2.0, 1.0),
        "softmin": F.softmin,
    }[activation]
    x = gs.tensor(_logits((6, 2, 4), 13))
    batches = [
        np.array([[0, 3], [2, -100], [0, 0], [1, 1], [3, -100], [-100, -100]]),
        np.array([[0, 3], [2, 2], [0, 0], [1, 1], [3, 3], [0, 1]]),
    ]
    runs = []
    for traced in (False, True):
        gs.manual_seed(3)
        lin = nn.Linear(4, 5)
        opt = gs.optim.SGD(lin.parameters(), lr=0.1)

        def step(x, t, lin=lin, opt=opt):
            opt.zero_grad()
            logits = act(lin(x)).transpose(0, 2, 1)  # (N, C, T)
            loss = F.cross_entropy(logits, t, label_smoothing=0.1)
            loss = loss + F.nll_loss(F.log_softmax(logits, 1), t)
            loss.backward()
            opt.step()
            return loss

        run = gs.trace(step) if traced else step
        losses = [run(x, batches[i % 2]).item() for i in range(6)]
        runs.append((losses, lin.weight.numpy().copy()))
    assert run.replays >= 2
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_the_mean_over_an_empty_batch_is_refused_for_either_kind_of_target():
    for target in (np.zeros((0, 3)), np.zeros(0, int)):
        with pytest.raises(ValueError, match=r"empty batch \(N = 0, target shape \(0,"):
            F.cross_entropy(gs.zeros(0, 3), target)
        assert F.cross_entropy(gs.zeros(0, 3), target, "sum").item() == 0.0
