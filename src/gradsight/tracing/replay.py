"""The replay: one generated function that checks the guards, runs the program
and writes its results back, with no loop over slots and no per-call objects
beyond the Tensors it returns.

``replay(args)`` returns ``MISS`` when a guard fails (the caller then looks
for another program or retraces); otherwise what the step would return.
Guards are guards.Guard.checks inlined: they compare against values captured at
trace time, held in the generated function's globals (``K0``, ``K1`` ...) and
read as globals at call time.
"""

from __future__ import annotations

import sys

import numpy as np

from gradsight import creation
from gradsight._core.tensor import Tensor, new_tensor

from .guards import DataSlot, GradSlot, GuardCode, guard_lines

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


class _Gen(GuardCode):
    """The replay's namespace (guards.GuardCode) and its lines."""

    def __init__(self):
        super().__init__()
        self.ns.update(
            {
                "MISS": MISS,
                "new_tensor": new_tensor,
                "_frozen_tensor": _frozen_tensor,
                "_frozen_array": _frozen_array,
                "getrefcount": sys.getrefcount,
                "Tensor": Tensor,
                "_new": object.__new__,
            }
        )
        self.lines = []


HOLDS = object()  # what a guards-only function returns when every guard holds


def compile_replay(program, guard, fn_name: str = "replay", guards_only: bool = False):
    """The replay function of ``program`` under ``guard`` (see the module docstring).
    With ``guards_only``, a function that checks the same guards and returns HOLDS
    (or MISS) without running anything: gs.trace(verify=...) runs the program itself.
    The guards are ``guard.checks(program)`` inlined: the same code Guard.why_not runs
    to say which one failed."""
    g = _Gen()
    g.ns["HOLDS"] = HOLDS
    g.ns["PROGRAM"] = program.fn
    g.lines.append(f"def {fn_name}(args):")
    g.lines += guard_lines(guard.checks(program, g), lambda n: "MISS", "return MISS")
    if guards_only:
        g.lines.append("    return HOLDS")
        return _compiled(g, fn_name)
    read = {id(ref) for _, ref in program.inputs}
    names = []
    for n, (kind, ref) in enumerate(program.inputs):
        names.append(f"held{n}" if kind == "held" else _read_input(g, kind, ref))
    owns = []
    for k, pos in enumerate(getattr(program, "ownable", ())):
        # the rule of tensor._private_array: only the tensor (and these two names) hold it
        g.lines.append(f"    i{k} = {names[pos]}")
        g.lines.append(f"    o{k} = i{k}.base is None and getrefcount(i{k}) <= 3")
        names[pos] = f"i{k}"
        owns.append(f"o{k}")
    if owns:
        names.append(f"({', '.join(owns)},)")  # own=, positional (the program's order)
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
        names.append("held")  # held=, positional: after own= as in the program's signature
    g.lines += [f"    {t}.grad = None" for t in dropped]
    g.ns["RETRACE"] = program.retrace
    # gs.rand draws, put back when a recorded check sends the call to the eager step
    # (which draws them again); a program without such checks never does
    draws = program.retrace is not None and any(kind == "draw" for kind, _ in program.inputs)
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
    if program.outputs:  # (one unpacking: each result read once)
        g.lines.append(f"    {''.join(f'r{k}, ' for k in range(len(program.outputs)))}= outs")
    fresh = (
        set()
        if hold
        else {
            id(ref.t)
            for _, ref in program.outputs
            if isinstance(ref, GradSlot) and id(ref) not in read
        }
    )
    for k, (kind, ref) in enumerate(program.outputs):
        if kind == "ret":
            rets.append(f"r{k}")
        else:
            _write_output(g, kind, ref, f"r{k}", k in arrays, fresh)
    if program.template[0] == "tensor":  # the common return: one Tensor, built inline
        r = rets[program.template[1]]
        g.lines.append(f"    if {r}.__class__ is not np.ndarray: {r} = np.asarray({r})")
        g.lines.append(f"    {r}.setflags(False)")
        g.lines += _new_tensor_lines("_t", r)
        g.lines.append("    return _t")
    else:
        g.lines.append(f"    return {_rebuild(g, program.template, rets)}")
    return _compiled(g, fn_name)


def _compiled(g: _Gen, fn_name: str):
    return g.compiled("\n".join(g.lines) + "\n", fn_name, "<gs.trace replay>")


def _read_input(g: _Gen, kind, ref) -> str:
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


def _new_tensor_lines(name: str, v: str, indent: str = "    ") -> list:
    """new_tensor(v, None, False) as statements: the same object, without the call."""
    return [
        f"{indent}{name} = _new(Tensor)",
        f"{indent}{name}.data = {v}",
        f"{indent}{name}.grad_fn = None",
        f"{indent}{name}.requires_grad = False",
    ]


def _write_output(g: _Gen, kind, ref, v: str, is_array: bool = False, fresh=()) -> None:
    """Write result ``v`` back to ``ref``. ``fresh``: ids of the tensors whose .grad
    the replay set to None before the program ran (nothing can have set it since)."""
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
        if id(ref.t) in fresh:
            g.lines += _new_tensor_lines("_t", v)
            g.lines.append(f"    {t}.grad = _t")
        else:
            g.lines.append(f"    if (old := {t}.grad) is None:")
            g.lines += _new_tensor_lines("_t", v, "        ")
            g.lines.append(f"        {t}.grad = _t")
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
