"""gs.trace: replays equal the eager step, the source runs alone, guards retrace, refusals."""

from __future__ import annotations

import warnings
import weakref

import numpy as np
import pytest

import gradsight as gs
from gradsight import reference

# generated code must not lean on what NumPy deprecates (a positional out= for maximum did)
pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = np.array([[0.0], [1.0], [1.0], [0.0]])


class ArticleNet(gs.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = gs.nn.Linear(2, 4)
        self.output = gs.nn.Linear(4, 1)

    def forward(self, x):
        return self.output(self.hidden(x).sigmoid()).sigmoid()


def article_loss(y, target):
    d = y - target
    return (d * d).sum() * (0.5 / len(target))


def make(seed=0, optimizer="sgd"):
    gs.manual_seed(seed)
    net = ArticleNet()
    if optimizer == "sgd":
        opt = gs.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    else:
        opt = gs.optim.Adam(net.parameters(), lr=0.01)

    def step(x, y):
        opt.zero_grad()
        loss = article_loss(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return net, opt, step


def states(net):
    return [p.data.copy() for p in net.parameters()]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_1000_steps_equal_eager_bit_for_bit(optimizer):
    # the replay makes the same NumPy calls on the same operands in the same order
    net_e, opt_e, step_e = make(optimizer=optimizer)
    net_t, opt_t, step_t = make(optimizer=optimizer)
    traced = gs.trace(step_t)
    x, y = gs.tensor(X), gs.tensor(T)
    for _ in range(1000):
        le = step_e(x, y)
        lt = traced(x, y)
    assert traced.replays >= 990
    assert lt.item() == le.item()
    for a, b in zip(states(net_e), states(net_t)):
        np.testing.assert_array_equal(a, b)
    for pe, pt in zip(net_e.parameters(), net_t.parameters()):
        np.testing.assert_array_equal(pe.grad.numpy(), pt.grad.numpy())
    for pe, pt in zip(net_e.parameters(), net_t.parameters()):
        for key, value in opt_e.state[pe].items():
            np.testing.assert_array_equal(value, opt_t.state[pt][key])


def test_float32_cross_entropy_mlp_equals_eager():
    rng = np.random.default_rng(1)
    x = gs.tensor(rng.standard_normal((16, 8)), dtype="float32")
    labels = gs.tensor(rng.integers(0, 3, 16))
    runs = []
    for traced in (False, True):
        gs.manual_seed(3)
        net = gs.nn.MLP([8, 12, 3], activation="relu", dtype="float32")
        opt = gs.optim.SGD(net.parameters(), lr=0.1)

        def step(x, t, net=net, opt=opt):
            opt.zero_grad()
            loss = gs.nn.functional.cross_entropy(net(x), t)
            loss.backward()
            opt.step()
            return loss

        run = gs.trace(step) if traced else step
        losses = [run(x, labels).item() for _ in range(50)]
        runs.append((losses, states(net)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_source_runs_standalone_and_matches_hand_gradients():
    net, opt, step = make()
    named = dict(zip("WbVc", net.parameters()))
    traced = gs.trace(step, names=named)
    x, y = gs.tensor(X), gs.tensor(T)
    traced(x, y)
    traced(x, y)  # the second trace has momentum buffers: the steady-state program
    params = {k: p.data.copy() for k, p in named.items()}
    bufs = {k: opt.state[p]["momentum_buffer"].copy() for k, p in named.items()}
    source = traced.source
    assert "import numpy as np" in source
    assert "import gradsight" not in source and "gs." not in source.replace("gs.trace", "")
    namespace: dict = {}
    exec(compile(source, "backprop.py", "exec"), namespace)
    fn = namespace["step"]
    import inspect

    # the arrays by name; own= (the replay's flags) keeps its default: new arrays
    wanted = [p.name for p in inspect.signature(fn).parameters.values() if p.default is p.empty]
    given = {"x": X, "y": T}
    given.update({k: v for k, v in params.items()})
    given.update({f"{k}_momentum_buffer": v.copy() for k, v in bufs.items()})
    outs = fn(**{k: given[k] for k in wanted})
    hand = reference.backward(params, reference.forward(params, X), T)
    out_names = [line.split(":")[0].strip() for line in _returns(source)]
    got = dict(zip(out_names, outs))
    for k in "WbVc":
        np.testing.assert_allclose(got[f"{k}_grad"], hand[k], rtol=0, atol=1e-12)
        expected = params[k] - 0.5 * (0.9 * bufs[k] + hand[k])
        np.testing.assert_allclose(got[f"{k}_new"], expected, rtol=0, atol=1e-12)


def _returns(source):
    doc = source.split('"""')[1]
    return doc.split("and returns, in order:\n")[1].strip().splitlines()


def test_source_is_readable_straight_line_code():
    net, opt, step = make()
    traced = gs.trace(step, names=dict(zip("WbVc", net.parameters())))
    traced(gs.tensor(X), gs.tensor(T))
    src = traced.source
    assert "# forward" in src and "# backward of sigmoid" in src and "# update: SGD.step" in src
    assert "W_grad = " in src and "V_new = np.subtract(V, " in src
    # the update in place where the replay owns the array, a new one otherwise (the default)
    assert "if own[2]:  # the tensor's array is ours: update in place" in src
    for word in ("for ", "while ", "lambda"):
        assert word not in src.split("def step")[1]


# ------------------------------------------------------------------ guards
def test_input_shape_change_retraces_and_matches_eager():
    net, opt, step = make()
    net2, opt2, step2 = make()
    traced = gs.trace(step)
    for rows in (4, 4, 3, 3, 4):
        a = traced(gs.tensor(X[:rows]), gs.tensor(T[:rows])).item()
        b = step2(gs.tensor(X[:rows]), gs.tensor(T[:rows])).item()
        assert a == b
    # 4 rows (no momentum yet), 4 rows (momentum), 3 rows; then replays of both
    assert traced.traces == 3
    assert traced.replays == 2


def test_dtype_change_retraces():
    net, opt, step = make()
    traced = gs.trace(step)
    traced(gs.tensor(X), gs.tensor(T))
    traced(gs.tensor(X), gs.tensor(T))
    n = traced.traces
    traced(gs.tensor(X, dtype="float32"), gs.tensor(T))
    assert traced.traces == n + 1
    assert "argument 0 changed" in traced.last_retrace_reason


def test_replaced_parameter_is_used_not_the_stale_one():
    net, opt, step = make()
    traced = gs.trace(step)
    x, y = gs.tensor(X), gs.tensor(T)
    traced(x, y)
    traced(x, y)
    # a new Parameter in the module: the recorded program read the old one
    net.output.weight = gs.nn.Parameter(np.zeros((1, 4)))
    opt.param_groups[0]["params"][2] = net.output.weight
    n = traced.traces
    traced(x, y)
    assert traced.traces == n + 1
    assert net.output.weight.grad is not None


def test_hyper_parameter_change_retraces_with_the_new_value():
    net_e, opt_e, step_e = make()
    net_t, opt_t, step_t = make()
    traced = gs.trace(step_t)
    x, y = gs.tensor(X), gs.tensor(T)
    for i in range(6):
        if i == 3:
            opt_e.param_groups[0]["lr"] = 0.1
            opt_t.param_groups[0]["lr"] = 0.1
        step_e(x, y)
        traced(x, y)
    assert "hyper-parameters" in traced.last_retrace_reason
    for a, b in zip(states(net_e), states(net_t)):
        np.testing.assert_array_equal(a, b)


def test_grad_mode_change_retraces():
    net, opt, step = make()
    traced = gs.trace(step)
    x, y = gs.tensor(X), gs.tensor(T)
    traced(x, y)
    traced(x, y)
    with gs.no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        traced(x, y)  # retraced: the eager step fails the same way
    assert "grad mode" in traced.last_retrace_reason


def test_hook_registered_after_tracing_is_not_skipped():
    net, opt, step = make()
    traced = gs.trace(step)
    x, y = gs.tensor(X), gs.tensor(T)
    traced(x, y)
    traced(x, y)
    net.hidden.weight.register_hook(lambda g: g * 0)
    with pytest.raises(gs.TraceError, match="hook"):
        traced(x, y)


def test_retrace_limit_warns_then_runs_eagerly():
    net, opt, step = make()
    net2, opt2, step2 = make()
    opt.param_groups[0]["momentum"] = opt2.param_groups[0]["momentum"] = 0.0
    traced = gs.trace(step, max_traces=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(6):
            lr = 0.1 + 0.01 * i  # a new hyper-parameter every call
            opt.param_groups[0]["lr"] = opt2.param_groups[0]["lr"] = lr
            assert (
                traced(gs.tensor(X), gs.tensor(T)).item()
                == step2(gs.tensor(X), gs.tensor(T)).item()
            )
    assert traced.traces == 3
    assert traced.gave_up
    assert sum("traced 3 times" in str(w.message) for w in caught) == 1


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "read",
    [
        lambda loss: bool(loss < 1),
        lambda loss: float(loss),
        lambda loss: loss.item(),
        lambda loss: loss.numpy(),
        lambda loss: np.asarray(loss.data),
    ],
    ids=["bool", "float", "item", "numpy", "asarray"],
)
def test_reading_a_value_during_tracing_is_refused(read):
    net, opt, step = make()

    def bad(x, y):
        loss = article_loss(net(x), y)
        read(loss)
        loss.backward()
        return loss

    with pytest.raises(gs.TraceError, match="reads the value of a traced array"):
        gs.trace(bad)(gs.tensor(X), gs.tensor(T))
    # nothing is left holding traced arrays
    for p in net.parameters():
        assert isinstance(p.data, np.ndarray)


def test_value_read_after_the_update_is_refused_even_when_allowed():
    net, opt, step = make()
    seen = []

    def logged(x, y):
        loss = step(x, y)
        seen.append(float(loss))  # a replay could not re-check it: the update came first
        return loss

    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(gs.TraceError, match="after the step wrote into its state"):
        gs.trace(logged, allow_value_reads=True)(gs.tensor(X), gs.tensor(T))
    for p, b in zip(net.parameters(), before):  # the update was put back
        assert p.data.tobytes() == b.tobytes()


def test_a_draw_from_gradsights_generator_other_than_rand_is_refused():
    net, opt, step = make()

    def noisy(x, y):
        noise = gs.nn.init.normal_(gs.empty(*x.shape))  # not gs.randn: frozen
        loss = article_loss(net(x + noise), y)
        loss.backward()
        return loss

    gs.manual_seed(3)
    with pytest.raises(gs.TraceError, match="draws from gradsight's generator"):
        gs.trace(noisy)(gs.tensor(X), gs.tensor(T))
    after_refusal = gs.creation.generator().bit_generator.state
    gs.manual_seed(3)
    assert after_refusal == gs.creation.generator().bit_generator.state  # put back


def test_anomaly_mode_is_refused():
    net, opt, step = make()
    with gs.autograd.detect_anomaly(), pytest.raises(gs.TraceError, match="detect_anomaly"):
        gs.trace(step)(gs.tensor(X), gs.tensor(T))


def test_hook_during_tracing_is_refused():
    net, opt, step = make()
    net.hidden.weight.register_hook(lambda g: g)
    with pytest.raises(gs.TraceError, match="hook"):
        gs.trace(step)(gs.tensor(X), gs.tensor(T))


def test_generator_function_is_refused():
    def gen(x):
        yield x

    with pytest.raises(TypeError, match="generator"):
        gs.trace(gen)


def test_step_that_does_nothing_traceable_is_refused():
    def nothing(x):
        return 3

    with pytest.raises(gs.TraceError, match="nothing to replay"):
        gs.trace(nothing)(gs.tensor(X))


def test_not_callable_is_refused():
    with pytest.raises(TypeError, match="callable"):
        gs.trace(3)


def test_pure_function_returning_gradients():
    w = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def grads(x):
        (g,) = gs.autograd.grad((w * x).sum() * (w * x).sum(), [w])
        return g

    traced = gs.trace(grads)
    for i in range(3):
        x = gs.tensor([1.0, -1.0, 0.5 * i])
        expected = 2 * (w.data * x.data).sum() * x.data
        np.testing.assert_allclose(traced(x).numpy(), expected, rtol=1e-15)
    assert traced.replays == 2


def test_library_input_check_is_rechecked_on_replay():
    gs.manual_seed(0)
    net = gs.nn.Linear(3, 4)

    def step(x, t):
        loss = gs.nn.functional.cross_entropy(net(x), t)
        loss.backward()
        return loss

    traced = gs.trace(step)
    x = gs.tensor(np.ones((2, 3)))
    traced(x, gs.tensor([0, 1]))
    traced(x, gs.tensor([2, 3]))  # traced again: the gradients are there now
    # out of range: the replay's re-check fails before anything is written, so the call
    # runs eagerly and raises the eager step's own error
    with pytest.raises(ValueError, match="7"):
        traced(x, gs.tensor([0, 7]))
    assert traced.eager_calls == 1 and traced.traces == 2 and traced.replays == 0
    traced(x, gs.tensor([3, 0]))  # valid again: replayed
    assert traced.replays == 1


def test_fast_path_branch_that_goes_the_other_way_runs_eagerly():
    # pow's rule takes a fast path when no base is zero; a replay whose data has a zero
    # must not reuse the traced branch
    w = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def grads(x):
        (g,) = gs.autograd.grad((x**w).sum(), [w])
        return g

    traced = gs.trace(grads)
    for values in ([1.0, 2.0, 3.0], [0.5, 1.5, 2.5], [0.0, 2.0, 3.0], [4.0, 1.0, 2.0]):
        x = gs.tensor(values)
        expected = grads(gs.tensor(values)).numpy()
        np.testing.assert_array_equal(traced(x).numpy(), expected)
    assert traced.traces == 1 and traced.replays == 2 and traced.eager_calls == 1


def test_replay_updates_parameters_in_place_unless_their_array_is_held():
    gs.manual_seed(0)
    net = gs.nn.Linear(3, 2)
    opt = gs.optim.SGD(net.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = net(x).sum()
        loss.backward()
        opt.step()
        return loss

    traced = gs.trace(step)
    x = gs.tensor(np.ones((4, 3)))
    for _ in range(3):
        traced(x)
    first = weakref.ref(net.weight.data)  # no strong reference: the tensor stays sole holder
    traced(x)
    assert net.weight.data is first()  # written in place, as the eager update would
    assert not net.weight.data.flags.writeable
    held = net.weight.numpy()
    kept = held.copy()
    traced(x)
    np.testing.assert_array_equal(held, kept)  # copy-on-write: a held array never changes
    assert net.weight.data is not held


# ------------------------------------------------------------------ memory
def _wide_step(rows=64, width=256):
    gs.manual_seed(0)
    net = gs.nn.MLP([width, width, width], activation="relu")
    opt = gs.optim.SGD(net.parameters(), lr=0.01)
    x = gs.tensor(np.random.default_rng(0).standard_normal((rows, width)))

    def step():
        opt.zero_grad()
        loss = (net(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return net, step


def _peak_bytes(fn) -> int:
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_tracing_updates_parameters_in_place_like_the_eager_step():
    net, step = _wide_step()
    traced = gs.trace(step)
    first = weakref.ref(net.layers[0].weight.data)
    traced()  # the tracing call: the tensor alone holds the array, so it is written in place
    assert net.layers[0].weight.data is first()
    held = net.layers[2].weight.numpy()
    kept = held.copy()
    traced()  # a retrace (gradients now present): the held array is copied, never written
    np.testing.assert_array_equal(held, kept)
    assert net.layers[2].weight.data is not held
    assert traced.traces == 2


def test_tracing_frees_what_the_step_drops():
    net, _ = _wide_step()
    w = net.layers[0].weight
    opt = gs.optim.SGD(net.parameters(), lr=0.01)
    x = gs.tensor(np.ones((4, 256)))
    (net(x) ** 2).mean().backward()
    old = weakref.ref(w.grad.data)
    freed = []

    def step():
        opt.zero_grad()
        freed.append(old() is None)  # the old gradient is gone once zero_grad drops it
        loss = (net(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    gs.trace(step)()
    assert freed == [True]


def test_tracing_and_replay_peak_memory_stay_within_the_eager_step():
    _, eager = _wide_step()
    eager()
    eager_peak = _peak_bytes(eager)
    net, step = _wide_step()
    traced = gs.trace(step, verify=False)  # (a verified replay runs the eager step too)
    trace_peak = _peak_bytes(traced)  # first trace (no gradients yet)
    retrace_peak = _peak_bytes(traced)  # second trace (gradients present, dropped by zero_grad)
    replay_peak = _peak_bytes(traced)
    assert traced.traces == 2 and traced.replays == 1
    one_weight = 256 * 256 * 8
    # recording costs Python objects, never a kept gradient; the tracing call copies
    # each array it updates in place before the first write (the parameters here), to
    # put it back if the trace is refused
    written = sum(p.data.nbytes for p in net.parameters())
    assert trace_peak < eager_peak + one_weight + written
    assert retrace_peak < eager_peak + one_weight + written
    assert replay_peak <= eager_peak  # replaced gradients are dropped before the program runs


def _gradient_heavy_step(loss: str):
    """A step whose memory is its gradients: a 512x512 float64 weight (2 MiB), a batch of 2."""
    gs.manual_seed(0)
    net = gs.nn.Linear(512, 512)
    opt = gs.optim.SGD(net.parameters(), lr=0.01)
    x = gs.tensor(np.random.default_rng(0).standard_normal((2, 512)))
    F = gs.nn.functional

    def step():
        opt.zero_grad()
        out = net(x)
        # cross_entropy checks its labels: a replay check that can send the call back
        value = F.cross_entropy(out, np.array([3, 7])) if loss == "ce" else F.mse_loss(out, x)
        value.backward()
        opt.step()
        return value

    return net, step


def _peak_of_second_call(fn) -> int:
    """Peak traced memory of fn's second of two calls, above what the first left: the
    first call's allocations (the gradients the second replaces) are tracked, so
    holding them while new ones are made shows in the peak."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        fn()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_replay_frees_the_replaced_gradients_before_making_new_ones(loss):
    _, eager = _gradient_heavy_step(loss)
    eager_peak = _peak_of_second_call(eager)
    net, step = _gradient_heavy_step(loss)
    traced = gs.trace(step, verify=False)  # the replay itself (not run beside the eager step)
    traced()  # traced: no gradients yet
    replay_peak = _peak_of_second_call(traced)  # traced again (gradients there), replayed
    assert traced.traces == 2 and traced.replays == 1
    # holding the old 2 MiB gradient while the new one is made would exceed the eager peak
    assert replay_peak <= eager_peak


def test_gradients_replaced_after_a_check_are_put_back_when_the_check_fails():
    # no zero_grad: the step replaces .grad after cross_entropy's label check, so an
    # eager call that fails the check leaves the previous gradient in place
    gs.manual_seed(0)
    net = gs.nn.Linear(3, 4)

    def step(x, t):
        loss = gs.nn.functional.cross_entropy(net(x), t)
        (g,) = gs.autograd.grad(loss, [net.weight])
        net.weight.grad = g
        return loss

    traced = gs.trace(step)
    x = gs.tensor(np.ones((2, 3)))
    for labels in ([0, 1], [2, 3], [1, 1]):
        traced(x, gs.tensor(labels))
    assert traced.replays >= 1
    before = net.weight.grad
    with pytest.raises(ValueError, match="7"):
        traced(x, gs.tensor([0, 7]))
    assert net.weight.grad is before


def test_accumulating_step_reads_gradients_and_retraces_on_their_presence():
    runs = []
    for traced in (False, True):
        net, opt, _ = make()

        def step(x, y, net=net, opt=opt):
            loss = article_loss(net(x), y)
            loss.backward()  # no zero_grad: gradients accumulate
            opt.step()
            return loss

        run = gs.trace(step) if traced else step
        for i in range(6):
            if i == 3:
                opt.zero_grad()  # outside the step: the next call starts without gradients
            run(gs.tensor(X), gs.tensor(T))
        runs.append([p.grad.numpy().copy() for p in net.parameters()] + states(net))
        if traced:  # traces: no state, then gradients + momentum, then momentum only
            assert run.traces == 3 and run.replays == 3
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


LEARNING_RATE = 0.5


def _manual_step(net, params):
    def step(x, y):
        for p in params:
            p.grad = None
        loss = article_loss(net(x), y)
        loss.backward()
        with gs.no_grad():
            for p in params:
                p.sub_(LEARNING_RATE * p.grad)  # a global Python number, read every call
        return loss

    return step


def test_manual_update_under_no_grad_replays_bit_for_bit():
    runs = []
    for traced in (False, True):
        net, _, _ = make()
        step = _manual_step(net, list(net.parameters()))  # the update tutorials teach
        run = gs.trace(step) if traced else step
        losses = [run(gs.tensor(X), gs.tensor(T)).item() for _ in range(100)]
        if traced:
            assert run.replays >= 98
        runs.append((losses, states(net)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("how", ["add_", "assign", "ndarray"])
def test_step_that_changes_its_argument_changes_it_on_every_replay(how):
    w = gs.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        w.grad = None
        if how == "add_":
            with gs.no_grad():
                x.add_(1.0)
        elif how == "assign":
            x.data = x.data * 2.0 + 1.0
        else:
            x += 1.0  # a NumPy array argument, written in place
        loss = (w * x).sum()
        loss.backward()
        return loss

    runs = []
    for traced in (False, True):
        x = np.zeros(2) if how == "ndarray" else gs.tensor([0.0, 0.0])
        run = gs.trace(step) if traced else step
        losses = [run(x).item() for _ in range(5)]
        runs.append((losses, np.array(x if how == "ndarray" else x.numpy())))
        if traced:
            assert run.replays >= 3
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def _eager_and_traced_agree(drive, reason: str) -> None:
    """``drive(wrap)`` makes a fresh net, runs its steps through ``wrap`` (the step
    itself, then gs.trace) and returns (net, run): both runs end in the same
    state, and the traced one retraced for ``reason``."""
    runs = []
    for wrap in (lambda step: step, gs.trace):
        net, run = drive(wrap)
        runs.append(states(net))
    assert reason in run.last_retrace_reason
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_freezing_a_parameter_retraces():
    def drive(wrap):
        net, opt, step = make()
        run = wrap(step)
        for i in range(6):
            if i == 3:
                net.hidden.weight.requires_grad = False  # freeze a layer mid-training
            run(gs.tensor(X), gs.tensor(T))
        return net, run

    _eager_and_traced_agree(drive, "requires_grad")


def test_python_numbers_the_step_reads_are_guarded():
    def drive(wrap):
        global LEARNING_RATE
        net, _, _ = make()
        run = wrap(_manual_step(net, list(net.parameters())))
        try:
            for i in range(6):
                LEARNING_RATE = 0.5 if i < 3 else 0.05  # a schedule through a global
                run(gs.tensor(X), gs.tensor(T))
        finally:
            LEARNING_RATE = 0.5
        return net, run

    _eager_and_traced_agree(drive, "LEARNING_RATE")


def test_switching_train_and_eval_mode_retraces():
    class Halved(gs.nn.Module):  # a forward that branches on the mode, as dropout would
        def forward(self, h):
            return h * 0.5 if self.training else h

    runs = []
    for traced in (False, True):
        net, opt, _ = make()
        extra = Halved()

        def step(x, y, net=net, opt=opt, extra=extra):
            opt.zero_grad()
            loss = article_loss(extra(net(x)), y)
            loss.backward()
            opt.step()
            return loss

        run = gs.trace(step) if traced else step
        losses = []
        for i in range(6):
            extra.train(i < 3)
            losses.append(run(gs.tensor(X), gs.tensor(T)).item())
        runs.append((losses, states(net)))
        if traced:
            assert "eval mode" in run.last_retrace_reason
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def _mlp_run(traced, loss_fn, optimizer, dtype, batches, output=None, zero_grad=True):
    gs.manual_seed(4)
    net = gs.nn.MLP([2, 4, 1], activation="relu", output_activation=output, dtype=dtype)
    opt = optimizer(net.parameters())

    def step(x, y):
        if zero_grad:
            opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    run = gs.trace(step) if traced else step
    rng = np.random.default_rng(0)
    losses = []
    for rows in batches:
        x = gs.tensor(rng.standard_normal((rows, 2)).astype(dtype))
        y = gs.tensor(rng.integers(0, 2, (rows, 1)).astype(dtype))
        losses.append(run(x, y).item())
    return losses, states(net)


def _assert_same(a, b):
    assert a[0] == b[0]
    for u, v in zip(a[1], b[1]):
        np.testing.assert_array_equal(u, v)


def test_binary_cross_entropy_step_traces_and_replays():
    # its input checks and clamped log once read a traced array (np.asarray in gs.where)
    # and met a Tensor inside a traced operator
    args = (gs.nn.functional.binary_cross_entropy, lambda ps: gs.optim.SGD(ps, lr=0.1))
    kw = dict(dtype="float64", batches=[3, 3, 3, 3], output="sigmoid")
    _assert_same(_mlp_run(False, *args, **kw), _mlp_run(True, *args, **kw))


def test_float32_adam_with_retraces_equals_eager_bit_for_bit():
    # Adam's step size comes from its step count, a Python int eagerly: a float32
    # update must see it as a Python number (weak), not as a float64 array
    args = (gs.nn.functional.mse_loss, lambda ps: gs.optim.Adam(ps, lr=0.01, weight_decay=0.01))
    kw = dict(dtype="float32", batches=[1, 2, 1, 2, 2, 1], zero_grad=False)
    _assert_same(_mlp_run(False, *args, **kw), _mlp_run(True, *args, **kw))
