"""Lean programs: what a traced step computes twice, it computes once, and only where
that gives the same bits (each replay is compared with the eager step, bit for bit)."""

from __future__ import annotations

import ast
import collections

import numpy as np

import gradsight as gs
from gradsight.tracing import codegen
from gradsight.tracing.recorder import Op, Var

F = gs.nn.functional


def _computations(source: str) -> collections.Counter:
    """How often each computation occurs in the program's ``step``: the right-hand side
    of ``name = <call or operator>``, of ``name op= value`` and of an ufunc call writing
    into a buffer (``np.multiply(a, b, out)``), its operands named with the version they
    hold (the program reuses arrays: ``t5`` written again reads ``t5'``). Views such as
    ``W.T`` are left out (they compute nothing), and so are fresh buffers such as relu's
    ``np.full(shape, 0.0)`` (each is written into, so two are two)."""
    tree = ast.parse(source)
    step = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "step")
    seen: collections.Counter = collections.Counter()
    writes: collections.Counter = collections.Counter()

    def text(node) -> str:  # the expression, its names marked with their version
        node = ast.parse(ast.unparse(node), mode="eval").body
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and writes[name.id] > 1:
                name.id += "'" * (writes[name.id] - 1)
        return ast.unparse(node)

    def written(name: str) -> None:
        writes[name] += 1

    def visit(stmts) -> None:
        for st in stmts:
            if isinstance(st, (ast.With, ast.If)):
                visit(st.body)
                visit(getattr(st, "orelse", []))
            elif isinstance(st, ast.Assign) and isinstance(st.value, (ast.BinOp, ast.Call)):
                what = text(st.value)
                if not what.startswith(("np.full(", "np.zeros_like(")):
                    seen[what] += 1
                for target in st.targets:
                    if isinstance(target, ast.Name):
                        written(target.id)
            elif isinstance(st, ast.Assign):
                for target in st.targets:
                    if isinstance(target, ast.Name):
                        written(target.id)
            elif isinstance(st, ast.AugAssign) and isinstance(st.target, ast.Name):
                seen[text(ast.BinOp(st.target, st.op, st.value))] += 1
                written(st.target.id)
            elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call):
                call = st.value
                ufunc = getattr(np, ast.unparse(call.func).removeprefix("np."), None)
                nin = getattr(ufunc, "nin", None)
                if nin is not None and len(call.args) == nin + 1:  # the last is the output
                    seen[text(ast.Call(call.func, call.args[:nin], []))] += 1
                    if isinstance(call.args[-1], ast.Name):
                        written(call.args[-1].id)

    visit(step.body)
    return seen


def _twice(source: str) -> list:
    return [expr for expr, n in _computations(source).items() if n > 1]


def _same(a, b) -> bool:
    return a.tobytes() == b.tobytes() and a.shape == b.shape and a.dtype == b.dtype


def _regression_net(seed: int):
    gs.manual_seed(seed)
    net = gs.nn.MLP([3, 8, 8, 1], activation="relu")
    return net, gs.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)


def test_mse_loss_backward_reuses_the_difference_its_forward_made():
    # F.mse_loss's backward computes prediction - target again: one subtraction is enough
    def make():
        net, opt = _regression_net(1)

        def train_step(x, y):
            opt.zero_grad()
            loss = F.mse_loss(net(x), y)
            loss.backward()
            opt.step()
            return loss

        return net, train_step

    (eager_net, eager), (net, step) = make(), make()
    traced = gs.trace(step)
    rng = np.random.default_rng(3)
    for _ in range(5):
        x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
        got = traced(gs.tensor(x), gs.tensor(y))
        want = eager(gs.tensor(x), gs.tensor(y))
        assert _same(got.data, want.data)
    assert traced.replays >= 3  # (traced twice: without, then with the momentum buffers)
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert _same(p.data, q.data) and _same(p.grad.data, q.grad.data)
    source = traced.source
    assert _twice(source) == [], _twice(source)
    subtractions = [e for e in _computations(source) if e.endswith(" - y")]
    assert len(subtractions) == 1, subtractions


def test_a_metric_that_repeats_the_loss_arithmetic_shares_it():
    # the user computes pred - y for the loss and again for a mean absolute error
    def make():
        net, opt = _regression_net(2)

        def train_step(x, y):
            opt.zero_grad()
            pred = net(x)
            loss = ((pred - y) ** 2).sum() / (2 * len(x))
            mae = (pred - y).abs().mean()
            loss.backward()
            opt.step()
            return loss, mae

        return train_step

    eager, step = make(), make()
    traced = gs.trace(step)
    rng = np.random.default_rng(4)
    for _ in range(4):
        x, y = gs.tensor(rng.normal(size=(10, 3))), gs.tensor(rng.normal(size=(10, 1)))
        for got, want in zip(traced(x, y), eager(x, y)):
            assert _same(got.data, want.data)
    assert _twice(traced.source) == [], _twice(traced.source)


def test_the_product_rule_of_a_square_adds_one_product_to_itself():
    # d * d: both factors get the same gradient; it is computed once
    def make():
        gs.manual_seed(5)
        w = gs.nn.Parameter(gs.randn(4, 2).data)

        def step(x):
            w.grad = None
            d = x @ w
            loss = (d * d).sum()
            loss.backward()
            return loss

        return w, step

    (w_eager, eager), (w, step) = make(), make()
    traced = gs.trace(step)
    rng = np.random.default_rng(5)
    for _ in range(4):
        x = gs.tensor(rng.normal(size=(3, 4)))
        assert _same(traced(x).data, eager(x).data)
        assert _same(w.grad.data, w_eager.grad.data)
    counts = _computations(traced.source)
    assert _twice(traced.source) == [], counts
    assert any(a == b for a, b in (e.split(" + ") for e in counts if " + " in e)), counts


def _var(shape=(3,)):
    return Var(0, np.zeros(shape))


def _sub(a, b, out=None):
    if out is None:
        r = _var()
        return Op("ufunc", np.subtract, "__call__", (a, b), {}, (r,)), r
    return Op("ufunc", np.subtract, "__call__", (a, b), {"out": (out,)}, (), inplace=True), None


def test_the_same_call_twice_on_unchanged_operands_is_shared():
    a, b = _var(), _var()
    first, r1 = _sub(a, b)
    second, r2 = _sub(a, b)
    use = Op("ufunc", np.multiply, "__call__", (r2, 2.0), {}, (_var(),))
    ops = codegen.share_common([first, second, use], [])
    assert len(ops) == 2
    assert ops[1].args[0] is r1  # the use reads the first result


def test_a_write_between_two_equal_calls_keeps_both():
    # a - b, then a -= b in place, then a - b: the second sees another a
    a, b = _var(), _var()
    first, r1 = _sub(a, b)
    write, _ = _sub(a, b, out=a)
    second, r2 = _sub(a, b)
    ops = codegen.share_common([first, write, second], [])
    assert [op.outs for op in ops] == [(r1,), (), (r2,)]
    # through a view: v = a[0:2] written in place also changes a
    first, r1 = _sub(a, b)
    view = _var((2,))
    take = Op("method", None, "__getitem__", (a, slice(0, 2)), {}, (view,))
    write = Op("ufunc", np.negative, "__call__", (view,), {"out": (view,)}, (), inplace=True)
    second, r2 = _sub(a, b)
    ops = codegen.share_common([first, take, write, second], [])
    assert len(ops) == 4 and ops[3].outs == (r2,)


def test_results_written_later_or_returned_are_not_shared():
    a, b = _var(), _var()
    first, r1 = _sub(a, b)
    second, r2 = _sub(a, b)
    grow = Op("ufunc", np.add, "__call__", (r2, 1.0), {"out": (r2,)}, (), inplace=True)
    assert len(codegen.share_common([first, second, grow], [])) == 3
    first, r1 = _sub(a, b)
    second, r2 = _sub(a, b)
    assert len(codegen.share_common([first, second], [(("ret", 0), r2)])) == 2
    # numbers by type and bits: x - 0.0 and x - (-0.0) are two computations
    plus = Op("ufunc", np.subtract, "__call__", (a, 0.0), {}, (_var(),))
    minus = Op("ufunc", np.subtract, "__call__", (a, -0.0), {}, (_var(),))
    assert len(codegen.share_common([plus, minus], [])) == 2


def test_a_step_that_writes_its_argument_between_two_equal_products_keeps_both():
    # x * 2 before and after x.add_(1) (no_grad): two different products
    def step(x):
        before = x * 2.0
        with gs.no_grad():
            x.add_(1.0)
        after = x * 2.0
        return before + after

    traced = gs.trace(step)
    for k in range(4):
        data = np.arange(3.0) + k
        x_traced, x_eager = gs.tensor(data.copy()), gs.tensor(data.copy())
        assert _same(traced(x_traced).data, step(x_eager).data)
        assert _same(x_traced.data, x_eager.data)
    counts = _computations(traced.source)
    # the program writes the argument's new array apart (x_new), so the products differ
    # in their operand; the eager values above are what proves the two were kept apart
    assert counts["x * 2.0"] == 1 and counts["x_new * 2.0"] == 1, traced.source


def test_after_a_write_the_next_equal_calls_share_the_call_made_after_it():
    a, b = _var(), _var()
    first, r1 = _sub(a, b)
    write, _ = _sub(a, b, out=a)
    second, r2 = _sub(a, b)
    third, r3 = _sub(a, b)
    use = Op("ufunc", np.multiply, "__call__", (r3, r1), {}, (_var(),))
    ops = codegen.share_common([first, write, second, third, use], [])
    assert [op.outs for op in ops[:3]] == [(r1,), (), (r2,)]
    assert ops[3].args == (r2, r1)  # the third is the second; the first stays itself


def _constant_only(source: str) -> list:
    """Statements of ``step`` whose operands are all constants (c0, 1.0, ...)."""
    tree = ast.parse(source)
    step = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "step")
    found = []
    for node in ast.walk(step):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.BinOp, ast.Call)):
            names = [n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)]
            operands = [n for n in names if n != "np"]
            if all(n[0] == "c" and n[1:].isdigit() for n in operands):
                found.append(ast.unparse(node))
    return found


def test_arithmetic_on_untraced_tensors_enters_the_program_as_one_constant():
    # a per-feature scale the step builds from literals each call: computed while
    # tracing, not replayed
    def make():
        w = gs.nn.Parameter(np.linspace(-1.0, 1.0, 3))
        opt = gs.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            scale = gs.tensor([2.0, 3.0, 4.0]) * gs.tensor(0.5) + 1.0
            loss = ((x * w * scale) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        return w, step

    (w_eager, eager), (w, step) = make(), make()
    traced = gs.trace(step)
    for k in range(4):
        x = np.arange(3.0) * (k + 1) - 1.5
        assert _same(traced(gs.tensor(x)).data, eager(gs.tensor(x)).data)
        assert _same(w.data, w_eager.data)
    source = traced.source
    assert _constant_only(source) == [], _constant_only(source)
    ns: dict = {}
    exec(source.split("\n\n\ndef step")[0], ns)  # the module's constants
    assert any(isinstance(v, np.ndarray) and v.tolist() == [2.0, 2.5, 3.0] for v in ns.values()), (
        source
    )
