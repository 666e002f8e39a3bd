"""gs.trace on the ways people write and call steps: keywords, tensors made inside
the step, the functional transforms. Every replay is compared with the eager
function on the same new values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


def _twin_steps():
    """The same manual-update step on two identical models: (eager, traced, models)."""
    gs.manual_seed(3)
    a = gs.nn.MLP([3, 4, 2])
    b = gs.nn.MLP([3, 4, 2])
    b.load_state_dict(a.state_dict())

    def make(model):
        def step(x, y, lr=0.1, scale=1.0):
            model.zero_grad()
            loss = gs.nn.functional.mse_loss(model(x) * scale, y)
            loss.backward()
            with gs.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
            return loss

        return step

    return make(a), gs.trace(make(b)), (a, b)


def _same_state(models) -> bool:
    a, b = models
    return all(np.array_equal(p.numpy(), q.numpy()) for p, q in zip(a.parameters(), b.parameters()))


def test_keyword_arguments_replay_like_positional_ones():
    eager, traced, models = _twin_steps()
    rng = np.random.default_rng(0)
    for i in range(8):
        x, y = gs.tensor(rng.standard_normal((5, 3))), gs.tensor(rng.standard_normal((5, 2)))
        args, kwargs = [
            ((x, y), {}),
            ((), {"x": x, "y": y}),
            ((x,), {"y": y, "lr": 0.05}),
            ((x, y), {"scale": 2.0}),  # lr's default filled in before scale
        ][i % 4]
        assert float(traced(*args, **kwargs)) == float(eager(*args, **kwargs))
        assert _same_state(models)
    # the second round replays the first round's programs: keywords bound to positions
    assert traced.replays >= 3, traced


def test_keyword_only_parameter_is_a_clear_type_error():
    def step(x, *, y):
        return (x * y).sum()

    traced = gs.trace(step)
    with pytest.raises(TypeError, match=r"by position.*'y' only by keyword"):
        traced(gs.tensor([1.0]), y=gs.tensor([2.0]))


def test_unknown_keyword_is_the_type_error_the_step_would_raise():
    _, traced, _ = _twin_steps()
    with pytest.raises(TypeError, match="lerning_rate"):
        traced(gs.tensor(np.ones((5, 3))), gs.tensor(np.ones((5, 2))), lerning_rate=0.1)
    assert traced.traces == 0


def _cube(v):
    return (v**3).sum()


INSIDE_THE_STEP = {
    "gs.tensor copy": lambda x: gs.tensor(x) * 2,
    "gs.tensor cast": lambda x: gs.tensor(x, dtype="float32") * 2,
    "zeros_like": lambda x: gs.zeros_like(x) + x,
    "ones_like": lambda x: gs.ones_like(x) * x,
    "grad": lambda x: gs.grad(_cube)(x),
    "value_and_grad": lambda x: gs.value_and_grad(_cube)(x)[1],
    "jacobian": lambda x: gs.jacobian(lambda v: v.tanh() * v)(x),
    "hessian": lambda x: gs.hessian(_cube)(x),
    "grad of grad": lambda x: gs.grad(lambda v: gs.grad(_cube)(v).sum())(x),
}


@pytest.mark.parametrize("as_array", [False, True], ids=["tensor", "ndarray"])
@pytest.mark.parametrize("name", list(INSIDE_THE_STEP))
def test_tensors_made_inside_the_step_are_recorded_copies_not_value_reads(name, as_array):
    # these converted the traced array with np.array and were refused as value reads
    fn = INSIDE_THE_STEP[name]
    traced = gs.trace(fn)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = rng.standard_normal(3)
        x = x if as_array else gs.tensor(x)
        got, want = traced(x), fn(x)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert (traced.traces, traced.replays) == (1, 3)


# ---------------------------------------------------------------- where the state lives
F = gs.nn.functional


def _data(seed=0, n=6):
    rng = np.random.default_rng(seed)
    return [
        (gs.tensor(rng.standard_normal((5, 3))), gs.tensor(rng.standard_normal((5, 2))))
        for _ in range(n)
    ]


def train_step(model, opt, x, y):
    """The usual step; the tests below differ in where model and opt are read from."""
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss


class Trainer:
    """A training loop object of the kind people write: the step is a method."""

    def __init__(self, seed=0):
        gs.manual_seed(seed)
        self.model = gs.nn.MLP([3, 4, 2])
        self.opt = gs.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)

    def plain(self, x, y):
        return train_step(self.model, self.opt, x, y)

    @gs.trace
    def step(self, x, y):
        return self.plain(x, y)


def _params(trainer):
    return [p.numpy() for p in trainer.model.parameters()]


def _assert_same(a, b):
    for p, q in zip(_params(a), _params(b)):
        np.testing.assert_array_equal(p, q)


def test_traced_method_is_traced_per_instance_and_equals_eager():
    a, b, eager = Trainer(0), Trainer(1), Trainer(0)
    for x, y in _data():
        assert float(a.step(x, y)) == float(eager.plain(x, y))
        b.step(x, y)
    _assert_same(a, eager)
    assert a.step is a.step and a.step is not b.step  # one traced step per trainer
    assert a.step.replays >= 3 and type(a).step.traces == 0
    assert not any(np.array_equal(p, q) for p, q in zip(_params(a), _params(b)))


def test_traced_bound_method_finds_the_model_and_optimizer_on_self():
    t, eager = Trainer(0), Trainer(0)
    traced = gs.trace(t.plain)  # was refused: the gradients' tensors were not found
    for x, y in _data():
        assert float(traced(x, y)) == float(eager.plain(x, y))
    _assert_same(t, eager)
    assert traced.replays >= 3


def test_copied_or_pickled_trainer_gets_an_untraced_step_of_its_own():
    import copy
    import pickle

    a = Trainer(0)
    data = _data()
    for x, y in data[:3]:
        a.step(x, y)
    for b in (copy.deepcopy(a), pickle.loads(pickle.dumps(a))):  # noqa: S301 - our own bytes
        assert b.step.step.__self__ is b and b.step.traces == 0
        twin = copy.deepcopy(a)
        for x, y in data[3:]:
            assert float(b.step(x, y)) == float(twin.plain(x, y))
        _assert_same(b, twin)


def test_traced_method_on_a_class_without_dict_is_a_clear_type_error():
    class Slotted:
        __slots__ = ()

        @gs.trace
        def step(self, x):
            return x * 2

    with pytest.raises(TypeError, match=r"needs instances with a __dict__.*gs.trace\(obj.method\)"):
        Slotted().step(gs.tensor([1.0]))


def test_rebinding_the_model_and_optimizer_the_step_reads_retraces():
    # the replay updated the old model: the new one silently stayed untrained
    ns = {"F": F}
    exec(  # a step reading its model and optimizer from module globals, as scripts do
        "def step(x, y):\n"
        "    opt.zero_grad()\n"
        "    loss = F.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "    return loss\n",
        ns,
    )
    a, b = Trainer(0), Trainer(1)
    traced = gs.trace(ns["step"])
    data = _data()
    ns.update(model=a.model, opt=a.opt)
    for x, y in data[:3]:
        traced(x, y)
    ns.update(model=b.model, opt=b.opt)
    eager = Trainer(1)
    reasons = []
    for x, y in data[3:]:
        assert float(traced(x, y)) == float(eager.plain(x, y))
        reasons.append(traced.last_retrace_reason)
    _assert_same(b, eager)
    assert reasons[0] == "opt the step reads was replaced"  # the first name the step reads


def test_replacing_self_model_retraces():
    t = Trainer(0)
    data = _data()
    for x, y in data[:3]:
        t.step(x, y)
    fresh = Trainer(5)
    t.model, t.opt = fresh.model, fresh.opt
    eager = Trainer(5)
    for x, y in data[3:]:
        assert float(t.step(x, y)) == float(eager.plain(x, y))
    _assert_same(t, eager)


def test_replacing_a_model_in_a_list_the_step_reads_retraces():
    a, b, eager = Trainer(0), Trainer(2), Trainer(2)
    models, opts = [a.model], [a.opt]

    def step(x, y):
        return train_step(models[0], opts[0], x, y)

    traced = gs.trace(step)
    data = _data()
    for x, y in data[:3]:
        traced(x, y)
    models[0], opts[0] = b.model, b.opt
    for x, y in data[3:]:
        assert float(traced(x, y)) == float(eager.plain(x, y))
    _assert_same(b, eager)


def test_module_keeping_its_optimizer_as_an_attribute_traces():
    class SelfTraining(gs.nn.Module):
        def __init__(self):
            super().__init__()
            gs.manual_seed(0)
            self.net = gs.nn.MLP([3, 4, 2])
            self.opt = gs.optim.Adam(self.net.parameters(), lr=0.01)

        def forward(self, x, y):
            return train_step(self.net, self.opt, x, y)

    m, eager = SelfTraining(), SelfTraining()
    traced = gs.trace(m)
    for x, y in _data():
        assert float(traced(x, y)) == float(eager(x, y))
    for p, q in zip(m.net.parameters(), eager.net.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert traced.replays >= 3


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_discovery_cannot_reach_is_refused_not_replayed_without_its_state(optimizer):
    # two levels down: the momentum buffers were made inside the program (SGD's momentum
    # silently restarted on every replay; Adam's replay crashed with UnboundLocalError)
    gs.manual_seed(0)
    model = gs.nn.MLP([3, 4, 2])
    if optimizer == "sgd":
        opt = gs.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = gs.optim.Adam(model.parameters(), lr=0.01)
    hidden = {"deep": {"opt": opt}}

    def step(x, y):
        o = hidden["deep"]["opt"]
        return train_step(model, o, x, y)

    traced = gs.trace(step)
    x, y = _data(n=1)[0]
    with pytest.raises(gs.TraceError, match=rf"{type(opt).__name__}.step\(\) on an optimizer"):
        traced(x, y)
    # nothing traced leaked into the user's objects: the eager step still runs
    assert not opt.state and all(type(p.data) is np.ndarray for p in model.parameters())
    assert all(type(p.grad.data) is np.ndarray for p in model.parameters())
    step(x, y)
    assert opt.state


def test_rebinding_a_global_data_tensor_the_step_reads_retraces():
    # the replay kept reading the old tensor: 6.0 where the eager step gives 60.0
    ns = {}
    exec("def f():\n    return (X * 2).sum()\n", ns)
    ns["X"] = gs.tensor([1.0, 2.0])
    traced = gs.trace(ns["f"])
    assert float(traced()) == float(traced()) == 6.0
    ns["X"] = gs.tensor([10.0, 20.0])
    assert float(traced()) == float(ns["f"]()) == 60.0
    assert traced.last_retrace_reason == "X the step reads was replaced"


def test_models_in_a_dict_with_any_keys_are_guarded():
    import enum

    class Role(enum.Enum):
        STUDENT = 1

    a, b, eager = Trainer(0), Trainer(4), Trainer(4)
    nets = {Role.STUDENT: a.model, ("opt", 0): a.opt}

    def step(x, y):
        return train_step(nets[Role.STUDENT], nets["opt", 0], x, y)

    traced = gs.trace(step)
    data = _data()
    for x, y in data[:3]:
        traced(x, y)
    nets[Role.STUDENT], nets["opt", 0] = b.model, b.opt
    for x, y in data[3:]:
        assert float(traced(x, y)) == float(eager.plain(x, y))
    _assert_same(b, eager)


def test_objects_whose_getattr_raises_are_not_searched():
    class Proxy:
        __slots__ = ()

        def __getattr__(self, name):
            raise RuntimeError(f"no {name} here")

    proxy = Proxy()
    w = gs.tensor([1.0, 2.0], requires_grad=True)

    def step():
        proxy  # noqa: B018 - read by the step, searched by discovery
        return gs.autograd.grad((w * w).sum(), [w])[0]

    traced = gs.trace(step)
    for _ in range(3):
        np.testing.assert_array_equal(traced().numpy(), [2.0, 4.0])


def test_argument_names_the_generated_code_uses_get_a_suffix_not_a_clash():
    # `own` was the replay's own parameter (SyntaxError: duplicate argument), `np` would
    # shadow NumPy and `float` the type written in `astype(float)`
    def make():
        gs.manual_seed(0)
        net = gs.nn.Linear(3, 4)
        opt = gs.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

        def step(np, own, held, RETRACE, float, slice, input):
            opt.zero_grad()
            h = net(np * own + held * RETRACE + float + slice[:, ::-1] - input)
            loss = gs.nn.functional.cross_entropy(h.astype(float_type), gs.tensor([1, 2]))
            loss.backward()
            opt.step()
            return loss

        return net, step

    float_type = float
    (eager_net, eager), (traced_net, step) = make(), make()
    traced = gs.trace(step)
    for i in range(5):
        args = [gs.tensor(np.full((2, 3), 0.1 * (i + k))) for k in range(7)]
        assert float(traced(*args)) == float(eager(*args))
    assert traced.replays == 3
    np.testing.assert_array_equal(traced_net.weight.numpy(), eager_net.weight.numpy())
    assert "def step(np_2, own_2, held_2, RETRACE_2, float_2, slice_2, input," in traced.source
