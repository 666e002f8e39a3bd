"""gs.nn.to_torch / from_torch / load_torch_state_dict: same outputs, gradients and
training trajectories as the gradsight model (float64, 1e-12), and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = dict(rtol=1e-12, atol=1e-12)


def _models():
    """gradsight models covering every layer the bridge translates (3 inputs)."""
    gs.manual_seed(0)
    return {
        "mlp-sigmoid": nn.MLP([3, 5, 2], activation="sigmoid", output_activation="sigmoid"),
        "mlp-tanh-softmax": nn.MLP([3, 6, 4, 3], activation="tanh", output_activation="softmax"),
        "sequential": nn.Sequential(
            nn.Linear(3, 4),
            nn.ReLU(),
            nn.Linear(4, 4, bias=False),
            nn.LeakyReLU(0.2),
            nn.Identity(),
            nn.Linear(4, 2),
            nn.Softmax(axis=1),
        ),
        "named": nn.Sequential(
            {"hidden": nn.Linear(3, 4), "act": nn.Tanh(), "out": nn.Linear(4, 1)}
        ),
        "gelu-softplus-softmin": nn.Sequential(
            nn.Linear(3, 5),
            nn.GELU(),
            nn.Linear(5, 5),
            nn.GELU(approximate="tanh"),
            nn.Linear(5, 4),
            nn.Softplus(beta=2.0, threshold=1.5),
            nn.Linear(4, 3),
            nn.Softmin(axis=1),
        ),
    }


def _x(n=7, d=3, seed=1):
    return np.random.default_rng(seed).standard_normal((n, d))


def _outputs_and_grads(gs_model, t_model, x, w):
    """Forward both on x; backward sum(out * w); return (gs out, torch out, gs grads, t grads)."""
    out = gs_model(gs.tensor(x))
    (out * w).sum().backward()
    tout = t_model(torch.from_numpy(x))
    (tout * torch.from_numpy(w)).sum().backward()
    g = {k: p.grad.numpy() for k, p in gs_model.named_parameters()}
    tg = {k: p.grad.numpy() for k, p in t_model.named_parameters()}
    return out.numpy(), tout.detach().numpy(), g, tg


@pytest.mark.parametrize("name", list(_models()))
def test_exported_module_has_same_weights_outputs_and_gradients(name):
    model = _models()[name]
    exported = nn.to_torch(model)
    assert isinstance(exported, torch.nn.Module)
    state, tstate = model.state_dict(), exported.state_dict()
    assert list(tstate) == list(state)
    for k in state:
        assert tstate[k].dtype == torch.float64
        np.testing.assert_array_equal(tstate[k].numpy(), state[k], err_msg=k)
    x = _x()
    w = np.random.default_rng(2).standard_normal(model(gs.tensor(x)).shape)
    out, tout, g, tg = _outputs_and_grads(model, exported, x, w)
    np.testing.assert_allclose(tout, out, **TOL)
    assert list(tg) == list(g)
    for k in g:
        np.testing.assert_allclose(tg[k], g[k], **TOL, err_msg=k)


@pytest.mark.parametrize("name", list(_models()))
def test_imported_module_has_same_weights_outputs_and_gradients(name):
    exported = nn.to_torch(_models()[name])
    with torch.no_grad():  # new weights, so nothing is shared with the gradsight original
        for p in exported.parameters():
            p.copy_(torch.randn_like(p))
    back = nn.from_torch(exported)
    assert isinstance(back, nn.Module)
    assert list(back.state_dict()) == list(exported.state_dict())
    x = _x(seed=3)
    w = np.random.default_rng(4).standard_normal(exported(torch.from_numpy(x)).shape)
    out, tout, g, tg = _outputs_and_grads(back, exported, x, w)
    np.testing.assert_allclose(out, tout, **TOL)
    for k in tg:
        np.testing.assert_allclose(g[k], tg[k], **TOL, err_msg=k)


def test_export_keeps_float32_and_the_train_eval_mode():
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float32)).eval()
    exported = nn.to_torch(model)
    assert exported[0].weight.dtype == torch.float32 and not exported.training
    back = nn.from_torch(exported)
    assert back[0].weight.dtype == np.float32 and not back.training


LOSSES = [
    (nn.MSELoss, lambda n: np.random.default_rng(5).standard_normal((n, 2)), 2, None),
    (nn.BCELoss, lambda n: np.random.default_rng(5).integers(0, 2, (n, 2)) * 1.0, 2, "sigmoid"),
    (nn.BCEWithLogitsLoss, lambda n: np.random.default_rng(5).random((n, 2)), 2, None),
    (nn.CrossEntropyLoss, lambda n: np.random.default_rng(5).integers(0, 3, n), 3, None),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss_cls, target, n_out, out_act", LOSSES, ids=lambda v: str(v)[:20])
def test_losses_translate_with_same_value_and_gradients(
    loss_cls, target, n_out, out_act, reduction
):
    gs.manual_seed(1)
    model = nn.MLP([3, 4, n_out], activation="tanh", output_activation=out_act)
    loss_fn = loss_cls(reduction=reduction)
    t_model, t_loss = nn.to_torch(model), nn.to_torch(loss_fn)
    back = nn.from_torch(t_loss)
    assert type(back) is loss_cls and back.reduction == t_loss.reduction == reduction
    x, y = _x(), target(7)
    loss = loss_fn(model(gs.tensor(x)), y)
    loss.backward()
    t_l = t_loss(t_model(torch.from_numpy(x)), torch.from_numpy(y))
    t_l.backward()
    np.testing.assert_allclose(t_l.item(), loss.item(), **TOL)
    for (k, p), tp in zip(model.named_parameters(), t_model.parameters(), strict=True):
        np.testing.assert_allclose(tp.grad.numpy(), p.grad.numpy(), **TOL, err_msg=k)


OPTIMISERS = {
    "sgd-momentum": (gs.optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "sgd-nesterov-wd": (
        gs.optim.SGD,
        torch.optim.SGD,
        dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3),
    ),
    "adam": (gs.optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=1e-4)),
}


@pytest.mark.parametrize("opt_name", list(OPTIMISERS))
def test_100_training_steps_end_at_the_same_parameters(opt_name):
    gs_opt, t_opt, settings = OPTIMISERS[opt_name]
    gs.manual_seed(2)
    model = nn.MLP([3, 8, 3], activation="tanh")
    exported = nn.to_torch(model)
    x, y = _x(32), np.random.default_rng(6).integers(0, 3, 32)
    opt, topt = gs_opt(model.parameters(), **settings), t_opt(exported.parameters(), **settings)
    loss_fn, t_loss = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for step in range(100):
        rows = np.arange(step % 4, 32, 4)  # a different mini-batch each step
        opt.zero_grad()
        loss_fn(model(gs.tensor(x[rows])), y[rows]).backward()
        opt.step()
        topt.zero_grad()
        t_loss(exported(xt[rows]), yt[rows]).backward()
        topt.step()
    start = nn.to_torch(_fresh_mlp()).state_dict()
    for k, v in exported.state_dict().items():
        assert not np.allclose(v.numpy(), start[k].numpy())  # training moved every parameter
        np.testing.assert_allclose(v.numpy(), model.state_dict()[k], **TOL, err_msg=k)


def _fresh_mlp():
    gs.manual_seed(2)
    return nn.MLP([3, 8, 3], activation="tanh")


def test_load_torch_state_dict_from_a_weights_only_file(tmp_path):
    t_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    path = tmp_path / "model.pt"
    torch.save(t_model.state_dict(), path)  # float32, as PyTorch makes them
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))  # float64
    assert nn.load_torch_state_dict(model, path) is model
    for k, v in t_model.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k], v.numpy().astype(np.float64))


# ---------------------------------------------------------------- bad input
class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


def test_export_names_the_layer_without_a_pytorch_counterpart():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Tanh(), Doubler()))
    with pytest.raises(TypeError, match=r"layer '1\.1' is a .*Doubler, which has no PyTorch"):
        nn.to_torch(model)


def test_export_refuses_a_subclass_with_its_own_forward():
    class MyLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    with pytest.raises(TypeError, match=r"the model is a .*MyLinear, which has no PyTorch"):
        nn.to_torch(MyLinear(2, 2))


def test_import_names_the_unsupported_torch_layer():
    t_model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Dropout(0.1))
    )
    with pytest.raises(TypeError, match=r"layer '1\.1' is a torch\.nn\..*Dropout, which has no"):
        nn.from_torch(t_model)


def test_import_names_loss_settings_gradsight_lacks():
    with pytest.raises(TypeError, match="sets weight"):
        nn.from_torch(torch.nn.CrossEntropyLoss(weight=torch.ones(3)))


@pytest.mark.parametrize(
    "loss_fn",
    [
        nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.2),
        nn.CrossEntropyLoss("sum", label_smoothing=0.5),
        nn.NLLLoss(ignore_index=2),
        nn.NLLLoss("none"),
    ],
    ids=repr,
)
def test_class_losses_translate_with_their_settings(loss_fn):
    t_loss = nn.to_torch(loss_fn)
    back = nn.from_torch(t_loss)
    assert type(back) is type(loss_fn) and repr(back) == repr(loss_fn)
    assert t_loss.ignore_index == loss_fn.ignore_index
    assert getattr(t_loss, "label_smoothing", 0.0) == getattr(loss_fn, "label_smoothing", 0.0)
    x = np.random.default_rng(2).standard_normal((6, 3))
    target = np.array([0, 1, 2, 1, 1, 0])
    z = gs.tensor(x, requires_grad=True)
    tz = torch.tensor(x, requires_grad=True)
    loss, t_l = loss_fn(z, target), t_loss(tz, torch.from_numpy(target))
    np.testing.assert_allclose(loss.numpy(), t_l.detach().numpy(), **TOL)
    loss.sum().backward()
    t_l.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), tz.grad.numpy(), **TOL)


def test_import_of_a_softmin_without_dim_is_refused():
    with pytest.raises(TypeError, match="Softmin without dim"):
        nn.from_torch(torch.nn.Sequential(torch.nn.Softmin()))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda sd: sd.pop("2.bias"), r"missing key\(s\) '2\.bias'$"),
        (lambda sd: sd.update(extra=torch.zeros(1)), r"unexpected key\(s\) 'extra'$"),
        (lambda sd: sd.update({"0.weight": torch.zeros(3, 4)}), r"'0\.weight' has shape \(3, 4\)"),
    ],
)
def test_state_dict_problems_are_one_line_and_change_nothing(change, message):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    before = model.state_dict()
    sd = nn.to_torch(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))).state_dict()
    change(sd)
    with pytest.raises(nn.StateDictError, match=message) as info:
        nn.load_torch_state_dict(model, sd)
    assert "\n" not in str(info.value)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_an_unreadable_state_dict_file_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"not a checkpoint")
    model = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(ValueError, match=r"cannot read a state_dict from '.*junk\.pt': ") as info:
        nn.load_torch_state_dict(model, bad)
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"no such state_dict file: '.*absent\.pt'"):
        nn.load_torch_state_dict(model, tmp_path / "absent.pt")
