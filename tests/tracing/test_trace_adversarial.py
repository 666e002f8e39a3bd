"""gs.trace against steps written the way users write them, each compared bit for bit
with the same step run eagerly on a twin model: a replay must give what the eager
step gives, retrace, or refuse. Each test names a behaviour that was wrong."""

from __future__ import annotations

import collections
import copy
import enum
import functools
import pickle

import numpy as np
import pytest

import gradsight as gs

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


def _twins(dtype=np.float64, **sgd):
    """Two identical (MLP, SGD) pairs."""
    pairs = []
    for _ in range(2):
        gs.manual_seed(0)
        net = gs.nn.MLP([3, 5, 2])
        for p in net.parameters():
            p.data = p.data.astype(dtype)
        pairs.append((net, gs.optim.SGD(net.parameters(), lr=0.1, **sgd)))
    return pairs


def _assert_same(pairs) -> None:
    (a, opt_a), (b, opt_b) = pairs
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad.data, q.grad.data)
    for sa, sb in zip(opt_a.state.values(), opt_b.state.values()):
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k])


def _data(n=6, dtype=np.float64):
    rng = np.random.default_rng(1)
    xs = [gs.tensor(rng.standard_normal((4, 3)).astype(dtype)) for _ in range(n)]
    ys = [gs.tensor(rng.standard_normal((4, 2)).astype(dtype)) for _ in range(n)]
    return xs, ys


def _mse_step(net, opt, out=lambda loss, pred: loss):
    def step(x, y):
        opt.zero_grad()
        pred = net(x)
        loss = gs.nn.functional.mse_loss(pred, y)
        loss.backward()
        opt.step()
        return out(loss, pred)

    return step


def test_list_argument_changed_in_place_is_not_replayed_stale():
    # a list argument was guarded by id() only: labels changed in place (or a new list
    # that got the freed one's id) replayed the labels baked in at trace time
    pairs = _twins(momentum=0.9)

    def make(net, opt):
        def step(x, labels):
            opt.zero_grad()
            loss = gs.nn.functional.cross_entropy(net(x), labels)
            loss.backward()
            opt.step()
            return loss

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    xs, _ = _data()
    labels = [0, 1, 0, 1]
    for i, new in enumerate([[0, 1, 0, 1], [1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1]]):
        labels[:] = new
        np.testing.assert_array_equal(eager(xs[i], labels).data, traced(xs[i], labels).data)
        _assert_same(pairs)
    assert traced.replays >= 1  # equal lists still replay


def test_list_of_tensors_argument_refilled_in_place_is_not_replayed_stale():
    # the tensors inside a list argument became state of the program; the list was
    # guarded by id(), so refilling it with the next batch replayed the first batch
    pairs = _twins()

    def make(net, opt):
        def step(batch):
            x, y = batch
            return _mse_step(net, opt)(x, y)

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    xs, ys = _data()
    batch = [None, None]
    for i in range(4):
        batch[:] = [xs[i], ys[i]]
        np.testing.assert_array_equal(eager(batch).data, traced(batch).data)
        _assert_same(pairs)


def test_numpy_scalar_argument_is_guarded_by_value():
    # np.float32 is not a Python float: it was guarded by id(), which a new scalar can
    # reuse once the old one is freed
    pairs = _twins()

    def make(net, opt):
        def step(x, y, scale):
            opt.zero_grad()
            loss = gs.nn.functional.mse_loss(net(x) * scale, y)
            loss.backward()
            opt.step()
            return loss

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    xs, ys = _data()
    for i in range(5):
        a = eager(xs[i], ys[i], np.float32(1.0 + i))
        b = traced(xs[i], ys[i], np.float32(1.0 + i))  # a temporary: freed after the call
        np.testing.assert_array_equal(a.data, b.data)
        _assert_same(pairs)
    assert traced(xs[5], ys[5], np.float32(5.0)) is not None and traced.replays == 1


def test_the_same_tensor_for_two_arguments_then_two_tensors():
    # the same Tensor given twice was wrapped twice during tracing (a traced array inside
    # a traced array): the program was garbage, and a replay with two tensors was wrong
    pairs = _twins()

    def make(net, opt):
        def step(x, y, z):
            opt.zero_grad()
            pred = net(x)
            loss = gs.nn.functional.mse_loss(pred, y) + (z * pred).sum()
            loss.backward()
            opt.step()
            return loss

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    xs, ys = _data()
    for i in range(6):
        z = ys[i] if i % 3 != 2 else ys[i - 1]
        np.testing.assert_array_equal(eager(xs[i], ys[i], z).data, traced(xs[i], ys[i], z).data)
        _assert_same(pairs)
    assert traced.replays >= 2


def test_returning_a_namedtuple_replays():
    # the replay rebuilt a namedtuple as Out([loss, pred]): a TypeError on every replay
    Out = collections.namedtuple("Out", "loss pred")
    pairs = _twins()
    eager = _mse_step(*pairs[0], out=Out)
    traced = gs.trace(_mse_step(*pairs[1], out=Out))
    xs, ys = _data()
    for i in range(4):
        a, b = eager(xs[i], ys[i]), traced(xs[i], ys[i])
        assert type(b) is Out
        np.testing.assert_array_equal(a.loss.data, b.loss.data)
        np.testing.assert_array_equal(a.pred.data, b.pred.data)
    assert traced.replays >= 2


class _Phase(enum.Enum):
    TRAIN = 1


@pytest.mark.parametrize("key", [_Phase.TRAIN, float("inf")])
def test_returning_a_dict_with_any_hashable_key_replays(key):
    # dict keys were written into the replay's code with repr(): an enum key was a
    # SyntaxError, float("inf") a NameError
    pairs = _twins()
    eager = _mse_step(*pairs[0], out=lambda loss, pred: {key: loss})
    traced = gs.trace(_mse_step(*pairs[1], out=lambda loss, pred: {key: loss}))
    xs, ys = _data()
    for i in range(4):
        a, b = eager(xs[i], ys[i]), traced(xs[i], ys[i])
        assert list(b) == [key]
        np.testing.assert_array_equal(a[key].data, b[key].data)
    assert traced.replays >= 2


@pytest.mark.parametrize("names", [["w²", "x₁"], ["ﬁ", "fi"], ["ℌ", "H"]])
def test_unicode_attribute_names_make_valid_source(names):
    # "w²" kept its superscript (not valid in an identifier: SyntaxError) and "ﬁ", "fi"
    # stayed two names that Python reads as one (NFKC): a duplicate argument
    class Net(gs.nn.Module):
        def __init__(self):
            super().__init__()
            for k, name in enumerate(names):
                setattr(self, name, gs.nn.Parameter(np.full(3, 0.5 + k)))

        def forward(self, x):
            return sum((p * x).sum() for p in self.parameters())

    def make():
        net = Net()
        opt = gs.optim.SGD(net.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = net(x)
            loss.backward()
            opt.step()
            return loss

        return net, step

    (eager_net, eager), (net, step) = make(), make()
    traced = gs.trace(step)
    for i in range(3):
        x = gs.tensor(np.full(3, 1.0 + i))
        np.testing.assert_array_equal(eager(x).data, traced(x).data)
    assert traced.replays == 1
    compile(traced.source, "<source>", "exec")
    for p, q in zip(eager_net.parameters(), net.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_optimizer_hyper_parameter_of_another_type_retraces():
    # the guard compared lr by value only: 0.1 and np.float64(0.1) (a NumPy schedule's
    # first value) are equal, but a float32 model updates in float64 with the latter
    pairs = _twins(np.float32, momentum=0.9)
    eager, traced = _mse_step(*pairs[0]), gs.trace(_mse_step(*pairs[1]))
    xs, ys = _data(dtype=np.float32)
    for i in range(5):
        for _, opt in pairs:
            for group in opt.param_groups:
                group["lr"] = 0.1 if i < 2 else np.float64(0.1)
                group["momentum"] = 0.9 if i < 2 else np.float64(0.9)
        np.testing.assert_array_equal(eager(xs[i], ys[i]).data, traced(xs[i], ys[i]).data)
        _assert_same(pairs)
    assert traced.replays >= 2


SCALE = np.float32(1.0)


def test_numpy_scalar_global_the_step_reads_is_guarded():
    # only Python numbers read from globals were guarded: a NumPy scalar baked in at
    # trace time stayed in every replay
    global SCALE
    pairs = _twins()

    def make(net, opt):
        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.mse_loss(net(x) * SCALE, y)
            loss.backward()
            opt.step()
            return loss

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    xs, ys = _data()
    try:
        for i in range(5):
            SCALE = np.float32(1.0 + (i > 2))
            np.testing.assert_array_equal(eager(xs[i], ys[i]).data, traced(xs[i], ys[i]).data)
            _assert_same(pairs)
    finally:
        SCALE = np.float32(1.0)
    assert traced.replays >= 2


def _column_sums_twins(first, rng):
    """Eager and traced f(x, y) = sum(w * (first(x) + y).sum(axis=0)), each with its own w:
    ``first(x) + y`` may be written into first's result, and the column sums add in
    that array's memory order."""
    w = rng.standard_normal(100)

    def make():
        wt = gs.tensor(w, requires_grad=True)

        def f(x, y):
            return (wt * (first(x) + y).sum(axis=0)).sum()

        return f

    return make(), gs.trace(make())


def test_transposed_intermediate_keeps_the_eager_layout():
    # ``t + y`` was written into t (its operand, dead there) even when t was a transposed
    # (Fortran-order) array: the result took t's layout, not the C order NumPy gives the
    # eager result, and the sum over axis 0 then added in another order (other bits)
    rng = np.random.default_rng(0)
    eager, traced = _column_sums_twins(lambda x: gs.tensor(x).T * 2.0, rng)
    for _ in range(4):
        x, y = rng.standard_normal((100, 100)), rng.standard_normal((100, 100))
        assert eager(x, y).data.tobytes() == traced(x, y).data.tobytes()
    assert traced.replays == 3


def test_argument_layout_change_retraces():
    # the argument guard checked shape and dtype only: a Fortran-order batch replayed a
    # program whose in-place rewrites assumed the traced (C-order) layout
    rng = np.random.default_rng(0)
    eager, traced = _column_sums_twins(lambda x: x * 2.0, rng)
    for i in range(4):
        x, y = rng.standard_normal((100, 100)), rng.standard_normal((100, 100))
        if i % 2:
            x = np.asfortranarray(x)
        assert eager(x, y).data.tobytes() == traced(x, y).data.tobytes()
    assert traced.traces == 2 and traced.replays == 2


def test_traced_step_called_inside_a_traced_step_is_inlined():
    # a traced function called while another step was being traced traced itself inside
    # that trace (traced arrays wrapped twice): a TypeError
    pairs = _twins()

    def make(net, opt, inner):
        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.mse_loss(inner(x), y)
            loss.backward()
            opt.step()
            return loss

        return step

    eager = make(*pairs[0], lambda x: pairs[0][0](x) * 1.0)
    inner = gs.trace(lambda x: pairs[1][0](x) * 1.0)
    traced = gs.trace(make(*pairs[1], inner))
    xs, ys = _data()
    inner(xs[5])  # traced on its own first: it has a program, which takes traced arrays
    for i in range(4):
        np.testing.assert_array_equal(eager(xs[i], ys[i]).data, traced(xs[i], ys[i]).data)
        _assert_same(pairs)
    assert traced.replays >= 2


def test_constant_returned_values_are_new_objects_on_every_replay():
    # a Tensor or array the step made from Python values was returned as the very object
    # of the tracing call on every replay: a caller's `n += 1` on one call's result
    # changed what every later call returned
    pairs = _twins()

    def make(net, opt):
        def step(x, y):
            loss = _mse_step(net, opt)(x, y)
            return loss, gs.tensor(float(len(x))), np.zeros(2)

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    xs, ys = _data()
    for i in range(4):
        for out in eager(xs[i], ys[i]), traced(xs[i], ys[i]):
            np.testing.assert_array_equal(out[1].data, 4.0)
            np.testing.assert_array_equal(out[2], [0.0, 0.0])
            n, z = out[1], out[2]
            n += 1.0
            z += 1.0
    assert traced.replays >= 2


def test_empty_batch_program_writes_nan_as_python_that_runs():
    # the mean over an empty batch put the Python float nan into the program as the
    # bare name `nan` (and np.float64(inf) as `np.float64(inf)`): a NameError on replay
    pairs = _twins()
    eager, traced = _mse_step(*pairs[0]), gs.trace(_mse_step(*pairs[1]))
    with np.errstate(all="ignore"):
        for _ in range(3):
            x, y = gs.zeros(0, 3), gs.zeros(0, 2)
            np.testing.assert_array_equal(eager(x, y).data, traced(x, y).data)
            _assert_same(pairs)
    assert traced.replays == 1
    assert "float('nan')" in traced.source
    exec(compile(traced.source, "<source>", "exec"), {})  # its constants evaluate


CONFIG = {"scale": 1.0}


class _Tempered(gs.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = gs.nn.Linear(3, 2)
        self.temperature = 1.0

    def forward(self, x):
        return self.lin(x) / self.temperature


class _Trainer:
    def __init__(self):
        gs.manual_seed(0)
        self.net = _Tempered()
        self.opt = gs.optim.SGD(self.net.parameters(), lr=0.1)
        self.scale = 1.0
        self.cfg = {"scale": 1.0}

    def step(self, x, y):
        self.opt.zero_grad()
        loss = gs.nn.functional.mse_loss(self.net(x) * self.scale * self.cfg["scale"], y)
        loss.backward()
        self.opt.step()
        return loss

    def global_step(self, x, y):
        self.opt.zero_grad()
        loss = gs.nn.functional.mse_loss(self.net(x) * CONFIG["scale"], y)
        loss.backward()
        self.opt.step()
        return loss


@pytest.mark.parametrize(
    ("method", "where"),
    [
        ("step", "self.scale"),
        ("step", "self.cfg['scale']"),
        ("step", "module.temperature"),
        ("global_step", "CONFIG['scale']"),
    ],
)
def test_numbers_read_through_attributes_and_dict_entries_are_guarded(method, where):
    # only numbers in closure cells and globals were guarded: self.scale, a config dict's
    # entry and a module's attribute read in its forward were baked into every replay
    a, b = _Trainer(), _Trainer()
    eager, traced = getattr(a, method), gs.trace(getattr(b, method))
    xs, ys = _data()

    def set_to(v):
        for t in a, b:
            if where == "self.scale":
                t.scale = v
            elif where == "self.cfg['scale']":
                t.cfg["scale"] = v
            elif where == "module.temperature":
                t.net.temperature = v
        if where == "CONFIG['scale']":
            CONFIG["scale"] = v

    try:
        for i in range(5):
            set_to(1.0 + (i > 2))
            np.testing.assert_array_equal(eager(xs[i], ys[i]).data, traced(xs[i], ys[i]).data)
    finally:
        CONFIG["scale"] = 1.0
    assert traced.traces == 3 and traced.replays == 2


SHIFT = 0.0


def _partial_step(net, opt, x, y):
    opt.zero_grad()
    loss = gs.nn.functional.mse_loss(net(x) + SHIFT, y)
    loss.backward()
    opt.step()
    return loss


def test_functools_partial_step_finds_its_bound_model_and_guards_what_it_reads():
    # a partial(train_step, model, opt) was searched as an opaque object: its model was
    # not found (refused), and the globals its function reads were not guarded
    global SHIFT
    pairs = _twins(momentum=0.9)
    eager = functools.partial(_partial_step, *pairs[0])
    traced = gs.trace(functools.partial(_partial_step, *pairs[1]))
    xs, ys = _data()
    try:
        for i in range(5):
            SHIFT = 0.5 * (i > 2)
            np.testing.assert_array_equal(eager(xs[i], ys[i]).data, traced(xs[i], ys[i]).data)
            _assert_same(pairs)
    finally:
        SHIFT = 0.0
    assert traced.traces == 3 and traced.replays == 2


@pytest.mark.parametrize(
    "optimizer",
    [
        (gs.optim.SGD, {"momentum": 0.9}),
        (gs.optim.SGD, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
        (gs.optim.Adam, {}),
        (gs.optim.Adam, {"weight_decay": 0.1}),
    ],
    ids=["sgd-momentum", "sgd-nesterov-wd", "adam", "adam-wd"],
)
def test_scalar_parameter_trains_like_eager(optimizer):
    # a ufunc on 0-d arrays returns a NumPy scalar, which the eager engine turns back
    # into a 0-d array; the trace kept the scalar: a scalar parameter's gradient and
    # momentum buffer became np.float64, and the retrace crashed in SGD's in-place
    # momentum update (out= needs an array)
    def make():
        gs.manual_seed(0)
        lin, scale = gs.nn.Linear(3, 2), gs.nn.Parameter(np.array(1.5))
        params = [*lin.parameters(), scale]
        opt = optimizer[0](params, lr=0.1, **optimizer[1])

        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.mse_loss(lin(x) * scale, y)
            loss.backward()
            opt.step()
            return loss

        return scale, opt, step

    (s1, o1, eager), (s2, o2, step) = make(), make()
    traced = gs.trace(step)
    xs, ys = _data()
    for i in range(5):
        a, b = eager(xs[i], ys[i]), traced(xs[i], ys[i])
        assert type(b.data) is type(a.data) is np.ndarray
        np.testing.assert_array_equal(a.data, b.data)
        for t, u in (s1, s2), (s1.grad, s2.grad):
            assert type(u.data) is type(t.data) is np.ndarray
            np.testing.assert_array_equal(t.data, u.data)
        for key, value in o1.state[s1].items():
            assert type(o2.state[s2][key]) is type(value)
            np.testing.assert_array_equal(o2.state[s2][key], value)
    assert traced.replays >= 3


def test_held_scalar_parameter_stays_an_array_on_replay():
    # a 0-d parameter whose array the caller holds is updated out of place; on 0-d
    # arrays that gives a NumPy scalar, which the replay stored as the parameter's
    # .data (the eager update copies the array and writes into the copy)
    def make():
        gs.manual_seed(0)
        lin, scale = gs.nn.Linear(3, 2), gs.nn.Parameter(np.array(1.5))
        opt = gs.optim.SGD([*lin.parameters(), scale], lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.mse_loss(lin(x) * scale, y)
            loss.backward()
            opt.step()
            return loss

        return scale, step

    (s1, eager), (s2, step) = make(), make()
    traced = gs.trace(step)
    xs, ys = _data()
    held = []
    for i in range(5):
        held.append((s1.data, s2.data))  # the caller keeps the old values
        eager(xs[i], ys[i])
        traced(xs[i], ys[i])
        assert type(s2.data) is type(s1.data) is np.ndarray
        np.testing.assert_array_equal(s1.data, s2.data)
    with gs.no_grad():
        s2.mul_(2.0)  # an in-place write needs an array
    assert traced.replays >= 3


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_step_raising_after_the_update_leaves_no_traced_arrays_behind(optimizer):
    # a step that raised after opt.step() on its tracing call left traced arrays (Sym,
    # holding the whole recording) in the optimizer state it had just created
    pairs = []
    for _ in range(2):
        gs.manual_seed(0)
        net = gs.nn.MLP([3, 5, 2])
        if optimizer == "sgd":
            pairs.append((net, gs.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)))
        else:
            pairs.append((net, gs.optim.Adam(net.parameters(), lr=0.01)))

    def make(net, opt):
        def step(x, y, fail):
            loss = _mse_step(net, opt)(x, y)
            if fail:
                raise KeyError("after the update")
            return loss

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    xs, ys = _data()
    for f in eager, traced:
        with pytest.raises(KeyError):
            f(xs[0], ys[0], True)
    (_, opt_a), (_, opt_b) = pairs
    for sa, sb in zip(opt_a.state.values(), opt_b.state.values()):
        assert {k: type(v) for k, v in sa.items()} == {k: type(v) for k, v in sb.items()}
    _assert_same(pairs)
    for i in range(1, 4):
        a, b = eager(xs[i], ys[i], False), traced(xs[i], ys[i], False)
        np.testing.assert_array_equal(a.data, b.data)
        _assert_same(pairs)


def test_tensor_the_step_keeps_pickles_and_copies_as_its_values():
    # a tensor the step stored outside itself (a log) keeps its traced array after the
    # tracing call; pickling it failed (the traced array holds the recording: "cannot
    # pickle code objects") and a deep copy copied the recording
    pairs = _twins()
    log = []
    keep = lambda loss, pred: log.append(pred.detach()) or loss  # noqa: E731
    traced = gs.trace(_mse_step(*pairs[1], out=keep))
    xs, ys = _data()
    traced(xs[0], ys[0])
    expected = pairs[0][0](xs[0]).data
    for copied in pickle.loads(pickle.dumps(log[0])), copy.deepcopy(log[0]):
        assert type(copied.data) is np.ndarray
        np.testing.assert_array_equal(copied.data, expected)


@pytest.mark.parametrize("fresh", [False, True])
def test_numpy_arrays_in_a_batch_argument_are_inputs_not_constants(fresh):
    # NumPy arrays inside a tuple or dict argument were baked into the program as
    # constants: buffers refilled in place replayed the first batch (and new arrays
    # retraced on every call)
    pairs = _twins()

    def make(net, opt):
        def step(batch):
            return _mse_step(net, opt)(gs.tensor(batch["x"]), gs.tensor(batch["y"][1]))

        return step

    eager, traced = make(*pairs[0]), gs.trace(make(*pairs[1]))
    rng = np.random.default_rng(0)
    batch = {"x": np.zeros((4, 3)), "y": (None, np.zeros((4, 2)))}
    for _ in range(5):
        if fresh:
            batch = {"x": rng.standard_normal((4, 3)), "y": (None, rng.standard_normal((4, 2)))}
        else:
            batch["x"][...] = rng.standard_normal((4, 3))
            batch["y"][1][...] = rng.standard_normal((4, 2))
        np.testing.assert_array_equal(eager(batch).data, traced(batch).data)
        _assert_same(pairs)
    assert traced.traces == 2 and traced.replays == 3


def test_argmax_and_argmin_inside_the_step_are_recorded_not_refused():
    # argmax made its 0-d or integer result an array with np.asarray, which a trace
    # refuses as a value read: a step logging its predictions could not be traced
    gs.manual_seed(0)
    net = gs.nn.Linear(3, 4)

    def step(x):
        out = net(x)
        return out.sum(), out.argmax(axis=1), gs.argmin(out, axis=0), out.argmax()

    traced = gs.trace(step)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = gs.tensor(rng.standard_normal((6, 3)))
        for want, got in zip(step(x), traced(x)):
            assert type(got.data) is np.ndarray and got.data.shape == want.data.shape
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert traced.traces == 1 and traced.replays == 4
