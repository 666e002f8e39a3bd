"""The replay: one generated function that checks the guards, runs the program
and writes its results back, with no loop over slots and no per-call objects
beyond the Tensors it returns.

``replay(args)`` returns ``MISS`` when a guard fails (the caller then looks
for another program or retraces); otherwise what the step would return.
Guards compare against values captured at trace time, held in the generated
function's globals (``K0``, ``K1`` ...) and read as globals at call time.
"""

from __future__ import annotations

import sys

import numpy as np

from gradsight import creation
from gradsight._core.grad_mode import mode, plain
from gradsight._core.tensor import Tensor, new_tensor

from .guards import (
    _MISSING,
    DataSlot,
    GradSlot,
    StateSlot,
    _hyper,
    frozen,
    read_holder,
    same_scalar,
)
from .program import RETRACE

MISS = object()
BRANCH = object()  # a check inside the program went the other way: run this call eagerly


def _frozen_array(v) -> np.ndarray:
    """A returned or stored value as a read-only array (0-d results become arrays)."""
    if v.__class__ is not np.ndarray:
        v = np.asarray(v)
    v.setflags(False)
    return v


def _frozen_tensor(v):
    """A returned or stored array as a read-only Tensor."""
    return new_tensor(_frozen_array(v), None, False)


class _Gen:
    def __init__(self):
        self.ns = {
            "MISS": MISS,
            "Tensor": Tensor,
            "new_tensor": new_tensor,
            "_frozen_tensor": _frozen_tensor,
            "_frozen_array": _frozen_array,
            "mode": mode,
            "plain": plain,
            "np": np,
            "getrefcount": sys.getrefcount,
        }
        self.lines = []
        self.count = 0

    def const(self, value) -> str:
        name = f"K{self.count}"
        self.count += 1
        self.ns[name] = value
        return name

    def miss_unless(self, cond: str) -> None:
        self.lines.append(f"    if not ({cond}): return MISS")


def _shape_dtype(g: _Gen, expr: str, value) -> str:
    return f"{expr}.shape == {g.const(value.shape)} and {expr}.dtype == {g.const(value.dtype)}"


HOLDS = object()  # what a guards-only function returns when every guard holds


def compile_replay(program, guard, fn_name: str = "replay", guards_only: bool = False):
    """The replay function of ``program`` under ``guard`` (see the module docstring).
    With ``guards_only``, a function that checks the same guards and returns HOLDS
    (or MISS) without running anything: gs.trace(verify=...) runs the program itself."""
    g = _Gen()
    g.ns["HOLDS"] = HOLDS
    g.ns["PROGRAM"] = program.fn
    g.lines.append(f"def {fn_name}(args):")
    g.miss_unless(f"len(args) == {len(guard.args)}")
    # plain.on: every thread records and none detects anomalies (one read, no thread-local)
    if guard.grad_enabled:
        g.miss_unless("plain.on or (mode.enabled and not mode.anomaly)")
    else:
        g.miss_unless("not plain.on and not mode.enabled and not mode.anomaly")
    for i, sig in enumerate(guard.args):
        _guard_arg(g, i, sig)
    for i, j, same in guard.aliases:  # the same tensor twice, or two tensors, as traced
        g.miss_unless(f"a{i} is {'' if same else 'not '}a{j}")
    for i in sorted(getattr(program, "layout_args", ())):  # see program._layout_args
        arr = f"(a{i}.data if a{i}.__class__ is not np.ndarray else a{i})"
        g.miss_unless(f"{arr}.strides == {g.const(guard.args[i][-1])}")
    read = {id(ref) for _, ref in program.inputs}
    _guard_state(g, guard, read)
    if guards_only:
        g.lines.append("    return HOLDS")
        return _compiled(g, fn_name)
    names = []
    for kind, ref in program.inputs:
        names.append(_read_input(g, kind, ref))
    owns = []
    for k, pos in enumerate(getattr(program, "ownable", ())):
        # the rule of tensor._private_array: only the tensor (and these two names) hold it
        g.lines.append(f"    i{k} = {names[pos]}")
        g.lines.append(f"    o{k} = i{k}.base is None and getrefcount(i{k}) <= 3")
        names[pos] = f"i{k}"
        owns.append(f"o{k}")
    if owns:
        names.append(f"own=({', '.join(owns)},)")
    # Gradients the step replaces without reading them (zero_grad) are dropped before
    # the program runs, as the eager step drops them, so old and new never coexist.
    # A program whose checks can send the call back to the eager step gets them in
    # ``held`` (to put back then), and empties it once its last such check has passed.
    dropped = [
        g.const(ref.t)
        for _, ref in program.outputs
        if isinstance(ref, GradSlot) and id(ref) not in read
    ]
    hold = bool(dropped) and getattr(program, "releases_held", False)
    if hold:
        g.lines.append(f"    held = [{', '.join(f'{t}.grad' for t in dropped)}]")
        names.append("held=held")
    g.lines += [f"    {t}.grad = None" for t in dropped]
    g.ns["RETRACE"] = RETRACE
    # gs.rand draws, put back when a recorded check sends the call to the eager step
    # (which draws them again); a program without such checks never does
    draws = any(kind == "draw" for kind, _ in program.inputs) and "RETRACE" in getattr(
        program, "replay_source", "RETRACE"
    )
    if draws:
        g.ns["generator"] = creation.generator
        g.lines.append("    drawn_from = generator().bit_generator.state")
    g.lines.append(f"    outs = PROGRAM({', '.join(names)})")
    g.ns["BRANCH"] = BRANCH
    g.lines.append("    if outs is RETRACE:  # a recorded check went the other way")
    if draws:
        g.lines.append("        generator().bit_generator.state = drawn_from")
    if hold:
        g.lines += [f"        {t}.grad = held[{k}]" for k, t in enumerate(dropped)]
    g.lines.append("        return BRANCH")
    rets = []
    arrays = getattr(program, "array_outputs", ())
    for k, (kind, ref) in enumerate(program.outputs):
        if kind == "ret":
            rets.append(f"outs[{k}]")
        else:
            _write_output(g, kind, ref, f"outs[{k}]", k in arrays)
    g.lines.append(f"    return {_rebuild(g, program.template, rets)}")
    return _compiled(g, fn_name)


def _compiled(g: _Gen, fn_name: str):
    source = "\n".join(g.lines) + "\n"
    exec(compile(source, "<gs.trace replay>", "exec"), g.ns)  # noqa: S102 - generated here
    fn = g.ns[fn_name]
    fn.source = source
    return fn


def _guard_arg(g: _Gen, i: int, sig) -> None:
    a = f"a{i}"
    g.lines.append(f"    {a} = args[{i}]")
    kind = sig[0]
    if kind == "tensor":
        _, shape, dtype, rg, leaf, gsig, _ = sig
        g.miss_unless(
            f"isinstance({a}, Tensor) and {a}.data.shape == {g.const(shape)} and "
            f"{a}.data.dtype == {g.const(dtype)} and {a}.requires_grad is {rg}"
        )
        g.miss_unless(f"({a}.grad_fn is None) is {leaf}")
        if gsig is None:
            g.miss_unless(f"{a}.grad is None")
        else:
            g.miss_unless(
                f"{a}.grad is not None and {a}.grad.data.shape == {g.const(gsig[0])} and "
                f"{a}.grad.data.dtype == {g.const(gsig[1])}"
            )
        if rg:
            g.miss_unless(f"{a}._hooks is None")
    elif kind == "array":
        _, shape, dtype, _ = sig
        g.miss_unless(
            f"{a}.__class__ is np.ndarray and {a}.shape == {g.const(shape)} and "
            f"{a}.dtype == {g.const(dtype)}"
        )
    elif kind == "value":
        _, typ, value = sig
        g.miss_unless(f"{a}.__class__ is {g.const(typ)} and {a} == {g.const(value)}")
    elif kind == "struct":  # a list, tuple or dict: by contents (see guards.frozen)
        g.ns["frozen"] = frozen
        g.miss_unless(f"frozen({a}) == {g.const(sig[1])}")
    else:
        g.miss_unless(f"{a} is {g.const(sig[1])}")


def _guard_state(g: _Gen, guard, read: set) -> None:
    for slot, sig in guard.slots:
        if isinstance(slot, DataSlot):
            t = g.const(slot.t)
            g.miss_unless(
                f"{t}.data.shape == {g.const(sig[0])} and {t}.data.dtype == {g.const(sig[1])}"
            )
            g.miss_unless(f"{t}._hooks is None and {t}.grad_fn is None")
        elif isinstance(slot, GradSlot):
            t = g.const(slot.t)
            if sig is None:
                g.miss_unless(f"{t}.grad is None")
            elif id(slot) not in read:  # replaced unread (zero_grad): only its presence counts
                g.miss_unless(f"{t}.grad is not None")
            else:
                g.miss_unless(
                    f"{t}.grad is not None and {t}.grad.data.shape == {g.const(sig[0])} and "
                    f"{t}.grad.data.dtype == {g.const(sig[1])}"
                )
    for mod, flag in guard.training:
        g.miss_unless(f"{g.const(mod.__dict__)}.get('training') is {flag}")
    for t, rg in guard.requires:
        g.miss_unless(f"{g.const(t)}.requires_grad is {rg}")
    if guard.scalars:
        g.ns["read_holder"] = read_holder
        g.ns["same_scalar"] = same_scalar
    for container, key, v in guard.scalars:
        g.miss_unless(f"same_scalar(read_holder({g.const(container)}, {key!r}), {g.const(v)})")
    for container, key, v in guard.holders:  # the same model / optimizer where the step reads it
        if key is None:
            g.ns["read_holder"] = read_holder
            g.miss_unless(f"read_holder({g.const(container)}, None) is {g.const(v)}")
        elif isinstance(container, list):
            c = g.const(container)
            if v is _MISSING:
                g.miss_unless(f"len({c}) == {key}")
            else:
                g.miss_unless(f"len({c}) > {key} and {c}[{key}] is {g.const(v)}")
        else:  # a dict: globals, an object's __dict__, or the user's (any hashable key)
            k = repr(key) if isinstance(key, str) else g.const(key)
            g.miss_unless(f"{g.const(container)}.get({k}) is {g.const(v)}")
    for d, k, v in guard.structure:
        g.miss_unless(f"{g.const(d)}.get({k!r}) is {g.const(v)}")
    for opt, hyper, keys in guard.hyper:
        o = g.const(opt)
        g.miss_unless(f"len({o}.param_groups) == {len(hyper)}")
        for gi, (ids, settings) in enumerate(hyper):
            grp = f"{o}.param_groups[{gi}]"
            params = g.const(list(opt.param_groups[gi]["params"]))
            g.miss_unless(f"len({grp}['params']) == {len(ids)}")
            for j in range(len(ids)):
                g.miss_unless(f"{grp}['params'][{j}] is {params}[{j}]")
            # by type too (np.float64(0.1) == 0.1, but a float32 update with it differs),
            # all in one condition: the group read once, each setting once
            g.lines.append(f"    h = {grp}")
            same = [_same_value(g, f"(v := h[{key!r}])", v) for key, v in settings.items()]
            if same:
                g.miss_unless(" and ".join(same))
        g.miss_unless(f"len({o}.state) == {len(keys)}")
        for p_id, names in keys:
            p = g.const(next(p for p in opt.state if id(p) == p_id))
            g.miss_unless(f"tuple({o}.state.get({p}, ())) == {names!r}")
    for slot, sig in guard.slots:
        if isinstance(slot, StateSlot) and sig is not None:
            st = f"{g.const(slot.opt)}.state[{g.const(slot.p)}][{slot.key!r}]"
            if isinstance(sig, tuple):
                g.miss_unless(
                    f"{st}.__class__ is np.ndarray and {st}.shape == {g.const(sig[0])} and "
                    f"{st}.dtype == {g.const(sig[1])}"
                )
            else:
                g.miss_unless(f"{st}.__class__ is {g.const(sig)}")
    _ = _hyper  # the guard's own notion of hyper-parameters (guards.py) is what is compiled


def _same_value(g: _Gen, read: str, value) -> str:
    """``read`` (which assigns ``v``) has ``value``'s type and value (elementwise for a
    tuple such as betas)."""
    if value.__class__ is tuple:
        parts = [f"{read}.__class__ is tuple and len(v) == {len(value)}"]
        parts += [_same_scalar(g, f"v[{k}]", x) for k, x in enumerate(value)]
        return " and ".join(parts)
    return f"{read} == {g.const(value)} and v.__class__ is {g.const(value.__class__)}"


def _same_scalar(g: _Gen, expr: str, value) -> str:
    return f"{expr} == {g.const(value)} and {expr}.__class__ is {g.const(value.__class__)}"


def _read_input(g: _Gen, kind, ref) -> str:
    if kind == "held":  # an array the step reads from a closure cell, a global, an entry
        container, key, shape, dtype, strides = ref
        g.ns["read_holder"] = read_holder
        name = f"h{g.count}"
        g.count += 1
        k = repr(key) if key is None or key.__class__ in (str, int) else g.const(key)
        g.lines.append(f"    {name} = read_holder({g.const(container)}, {k})")
        g.miss_unless(
            f"{name}.__class__ is np.ndarray and {name}.shape == {g.const(shape)} and "
            f"{name}.dtype == {g.const(dtype)} and {name}.strides == {g.const(strides)}"
        )
        return name
    if kind == "draw":  # gs.rand/gs.randn in the step: a fresh draw, as the eager step's
        g.ns["draw"] = creation.draw
        draw_kind, shape, dtype = ref
        return f"draw({draw_kind!r}, {shape!r}, {g.const(dtype)})"
    if kind == "arg":
        return f"a{ref}.data if a{ref}.__class__ is not np.ndarray else a{ref}"
    if kind == "arggrad":
        return f"a{ref}.grad.data"
    if kind == "argitem":  # an array in a list, tuple or dict argument: ref is its path
        return f"a{ref[0]}" + "".join(f"[{_key(g, k)}]" for k in ref[1:])
    if isinstance(ref, DataSlot):
        return f"{g.const(ref.t)}.data"
    if isinstance(ref, GradSlot):
        return f"{g.const(ref.t)}.grad.data"
    return f"{g.const(ref.opt)}.state[{g.const(ref.p)}][{ref.key!r}]"


def _write_output(g: _Gen, kind, ref, v: str, is_array: bool = False) -> None:
    if kind == "argdata":  # the step changed an argument tensor's array (x.add_(1))
        g.lines.append(f"    a{ref}.data = _frozen_array({v})")
    elif kind == "arggrad":
        g.lines.append(f"    a{ref}.grad = None if {v} is None else _frozen_tensor({v})")
    elif isinstance(ref, DataSlot) and is_array:
        g.lines.append(f"    {v}.setflags(False)")
        g.lines.append(f"    {g.const(ref.t)}.data = {v}")
    elif isinstance(ref, DataSlot):  # 0-d: an update out of place gives a NumPy scalar
        g.lines.append(f"    {g.const(ref.t)}.data = _frozen_array({v})")
    elif isinstance(ref, GradSlot) and is_array:  # always an ndarray: built inline
        # (a gradient that exists is updated in its .grad object, as the engine does)
        t = g.const(ref.t)
        g.lines.append(f"    {v}.setflags(False)")
        g.lines.append(f"    if (old := {t}.grad) is None: {t}.grad = new_tensor({v}, None, False)")
        g.lines.append(f"    else: old.data = {v}")
    elif isinstance(ref, GradSlot):
        g.ns["_put_grad"] = ref.put.__func__
        value = f"None if {v} is None else _frozen_array({v})"
        g.lines.append(f"    _put_grad({g.const(ref)}, {value})")
    else:
        g.lines.append(f"    {g.const(ref)}.put({v})")


def _rebuild(g: _Gen, template, rets) -> str:
    kind = template[0]
    if kind == "tensor":
        return f"_frozen_tensor({rets[template[1]]})"
    if kind == "const":
        return g.const(template[1])
    if kind == "const_tensor":  # a new Tensor per call over its own copy, as the step makes
        # (in-place writes reach a tensor's memory: a caller's `n += 1` must not reach K)
        return f"new_tensor(_frozen_array({g.const(template[1])}.copy()), None, {template[2]})"
    if kind == "const_array":
        return f"{g.const(template[1])}.copy()"
    if kind == "seq":
        items = ", ".join(_rebuild(g, t, rets) for t in template[2])
        if template[1] is tuple:
            return f"({items},)" if len(template[2]) == 1 else f"({items})"
        if template[1] is list:
            return f"[{items}]"
        if hasattr(template[1], "_make"):  # a namedtuple takes its fields one by one
            return f"{g.const(template[1])}._make([{items}])"
        return f"{g.const(template[1])}([{items}])"
    # keys as constants: repr() of an enum or float("inf") is not Python that evaluates
    items = ", ".join(f"{_key(g, k)}: {_rebuild(g, t, rets)}" for k, t in template[1])
    return "{" + items + "}"


def _key(g: _Gen, key) -> str:
    return repr(key) if key.__class__ in (str, int) else g.const(key)
