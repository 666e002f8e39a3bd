"""Module, Parameter, Linear, Sequential and MLP: registration, traversal, state."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 3)
        self.act = nn.Tanh()
        self.scale = nn.Parameter(np.ones(1))
        self.fc2 = nn.Linear(3, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_parameter_is_a_leaf_tensor_requiring_grad():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, gs.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter([1, 2])


def test_registration_order_and_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    # PyTorch's order: a module's own parameters, then each sub-module's
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [p for p in net.parameters()] == [p for _, p in net.named_parameters()]
    assert list(net.children()) == [net.fc1, net.act, net.fc2]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(net.modules())[0] is net


def test_nested_names_through_mlp_and_sequential():
    mlp = nn.MLP([2, 4, 4, 1], activation="relu", output_activation="sigmoid")
    names = [n for n, _ in mlp.named_parameters()]
    assert names == [f"layers.{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")]
    types = [type(m).__name__ for m in mlp.layers]
    assert types == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Sigmoid"]


def test_shared_parameters_and_modules_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.Tanh(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.modules())) == 3


def test_reassigning_and_deleting_attributes_updates_registration():
    net = Net()
    net.fc1 = nn.Linear(2, 3, bias=False)
    assert "fc1.bias" not in dict(net.named_parameters())
    del net.scale
    assert "scale" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="parameter 'weight'"):
        net.fc2.weight = np.zeros((1, 3))
    net.fc2.bias = None  # an empty slot, like bias=False
    assert "fc2.bias" not in dict(net.named_parameters())


def test_assigning_before_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_forward_missing_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_train_eval_and_zero_grad():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(np.ones((4, 2))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_reads_like_pytorch():
    text = repr(nn.MLP([2, 4, 1], activation=nn.LeakyReLU(0.2)))
    assert text == (
        "MLP(\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "    (1): LeakyReLU(negative_slope=0.2)\n"
        "    (2): Linear(in_features=4, out_features=1, bias=True)\n"
        "  )\n"
        ")"
    )


def test_state_dict_is_an_ordered_copy():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == [n for n, _ in net.named_parameters()]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["scale"][0] = 42.0
    assert net.scale.data[0] == 1.0


def test_load_state_dict_round_trip_keeps_parameter_objects():
    a, b = Net(), Net()
    weight = b.fc1.weight
    b.load_state_dict(a.state_dict())
    assert b.fc1.weight is weight  # optimizers holding it stay valid
    x = np.random.default_rng(0).standard_normal((5, 2))
    assert np.array_equal(a(x).data, b(x).data)


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    bad = dict(before)
    del bad["fc1.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["fc1.weight"] = np.zeros((3, 3))
    bad["fc2.weight"] = before["fc2.weight"].astype(np.float32)
    bad["scale"] = np.array([7.0])  # valid on its own: must not be assigned either
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    for part in ("'fc1.bias'", "'extra.weight'", "(3, 3)", "float32", "nothing was changed"):
        assert part in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
    after = net.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_load_state_dict_non_strict_reports_keys_but_still_checks_shapes():
    net = Net()
    sd = {"scale": np.array([3.0]), "unknown": np.zeros(2)}
    result = net.load_state_dict(sd, strict=False)
    assert result.unexpected_keys == ["unknown"]
    assert "fc1.weight" in result.missing_keys
    assert net.scale.data[0] == 3.0
    with pytest.raises(nn.StateDictError, match="shape"):
        net.load_state_dict({"scale": np.zeros(2)}, strict=False)


def test_linear_shapes_dtype_and_errors():
    lin = nn.Linear(3, 2, dtype="float32")
    assert lin.weight.shape == (2, 3) and lin.bias.shape == (2,)
    assert lin.weight.dtype == np.float32
    assert lin(np.ones((4, 3), np.float32)).shape == (4, 2)
    assert lin(np.ones(3, np.float32)).shape == (2,)
    assert lin(np.ones((5, 4, 3), np.float32)).shape == (5, 4, 2)
    with pytest.raises(ValueError, match=r"Linear\(in_features=3\).*\(4, 5\)"):
        lin(np.ones((4, 5)))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)


def test_linear_default_init_bounds_and_seed():
    gs.manual_seed(0)
    a = nn.Linear(16, 200)
    gs.manual_seed(0)
    b = nn.Linear(16, 200)
    assert np.array_equal(a.weight.data, b.weight.data)
    bound = 1 / np.sqrt(16)
    for p in (a.weight, a.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound  # spread over the whole interval
    assert abs(a.weight.data.mean()) < 0.02 and a.weight.data.std() == pytest.approx(
        bound / np.sqrt(3), rel=0.05
    )


def test_sequential_indexing():
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.Tanh) and seq[-1] is seq[2]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    assert head(np.ones((1, 2))).shape == (1, 3)
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Tanh(), lambda x: x)
    named = nn.Sequential({"hidden": nn.Linear(2, 2), "act": nn.ReLU()})
    assert [n for n, _ in named.named_parameters()] == ["hidden.weight", "hidden.bias"]


def test_mlp_validation_and_activation_choices():
    with pytest.raises(ValueError, match="at least two"):
        nn.MLP([3])
    with pytest.raises(ValueError, match="at least two"):
        nn.MLP([3, 0, 1])
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([2, 2], activation="swish")
    for spec in ("tanh", nn.Tanh, nn.Tanh()):
        mlp = nn.MLP([2, 3, 1], activation=spec)
        assert isinstance(mlp.layers[1], nn.Tanh)
    assert len(nn.MLP([2, 3, 1]).layers) == 3  # no output activation by default


def test_activation_modules_match_functions():
    x = gs.tensor(np.linspace(-3, 3, 13))
    F = nn.functional
    pairs = [
        (nn.Sigmoid(), F.sigmoid(x)),
        (nn.Tanh(), F.tanh(x)),
        (nn.ReLU(), F.relu(x)),
        (nn.LeakyReLU(0.1), np.where(x.data > 0, x.data, 0.1 * x.data)),
        (nn.Softmax(0), np.exp(x.data) / np.exp(x.data).sum()),
        (nn.Identity(), x.data),
    ]
    for module, expected in pairs:
        np.testing.assert_allclose(np.asarray(module(x).data), np.asarray(expected), rtol=1e-12)
    assert np.allclose(F.sigmoid(x).data, 1 / (1 + np.exp(-x.data)))


def test_leaky_relu_gradient_at_zero_is_the_slope():
    x = gs.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    nn.functional.leaky_relu(x, 0.25).sum().backward()
    assert x.grad.tolist() == [0.25, 0.25, 1.0]
