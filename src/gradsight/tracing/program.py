"""A recorded trace as a program: one module (``traced.source``), which is both what
users read and, compiled, the function the replay runs (buffers reused and freed,
parameters updated in place where ``own`` allows, all written in the text)."""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from . import codegen
from .recorder import _DEFAULT_ERR, Const, Op, Var


class Program:
    """A compiled trace: ``fn(*inputs) -> outputs`` and the source it came from."""

    def __init__(self, source: str, fn, inputs: list, outputs: list, template, consts: dict):
        self.source = source
        self.fn = fn
        self.inputs = inputs  # ("arg", i) | ("slot", slot)
        self.outputs = outputs  # ("slot", slot) | ("ret", k)
        self.template = template
        self.consts = consts


def _arg_names(step, n):
    try:
        names = [
            p.name
            for p in inspect.signature(step).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"arg{i}" for i in range(n)]


def _build(rec, inputs, outputs, template, step) -> Program:
    namer = codegen.Namer()
    names = {}
    ops, outputs = _unwrite_parameters(rec.ops, inputs, outputs)
    ops = codegen.share_common(_fold_constants(ops, outputs), outputs)
    ops = codegen.fuse_copies(codegen.live_ops(ops, outputs))
    used = {id(x) for op in ops for x in codegen._syms_in((op.args, op.kwargs))}
    used |= {id(v) for _, v in outputs}
    # unread state is not passed in; a draw is, read or not: it advances the generator
    inputs = [(k, s) for k, s in inputs if id(s) in used or k[0] == "draw"]
    for _, s in inputs:
        names[id(s)] = namer.reserve(s.name or "x")
    consts = {}
    for c in rec.consts:
        c.name = namer.reserve(f"c{c.index}")
        names[id(c)] = c.name
        consts[c.name] = c.value
    out_names = []
    for (kind, ref), v in outputs:
        if isinstance(v, Var) and id(v) not in names:
            if kind == "slot":
                label = ref.name + "_new" if ref.kind == "data" else ref.name
            elif kind == "arggrad":
                label = _arg_names(step, ref + 1)[ref] + "_grad"
            elif kind == "argdata":
                label = _arg_names(step, ref + 1)[ref] + "_new"
            else:
                label = "result" if ref == 0 else f"result{ref}"
            names[id(v)] = namer.reserve(label)
        out_names.append(v)
    # the rewrites that give the eager step's bits with fewer arrays and calls (see
    # docs/trace.md, "The replay"): each shows in the module's text
    errstates: dict = {}  # np.errstate settings -> the module's name for them
    keep = {id(s) for _, s in inputs} | {id(v) for _, v in outputs}
    rewritten, fills = codegen.constant_fills(ops, keep)
    for k, z in enumerate(fills):
        z.name = namer.reserve(f"filled{k}" if z.value.any() else f"zeros{k}")
        names[id(z)] = z.name
    before_reuse = rewritten
    rewritten, alias = codegen.reuse_dead_operands(rewritten, keep)
    layout_args = _layout_args(before_reuse, rewritten, inputs)
    rewritten, ownable = _updates_in_place(rewritten, inputs, outputs)
    rewritten, releases = _checks_that_retrace(rewritten, inputs)
    scalars: dict = {}

    def hoist(x) -> str:  # a NumPy scalar as a constant of the module (made once)
        key = (type(x), x.tobytes())
        if key not in scalars:
            scalars[key] = (namer.reserve(f"s{len(scalars)}"), x)
        return scalars[key][0]

    writer = codegen.Writer(namer, dict(names), alias, hoist)
    kept = {names[id(s)] for _, s in inputs} | {
        writer.name(v) for _, v in outputs if isinstance(v, (Var, Const))
    }
    kept |= {c.name for c in rec.consts} | {z.name for z in fills}
    kept |= {name for name, _ in scalars.values()}
    lines = codegen.body(
        rewritten,
        writer,
        errstate=lambda e: errstates.setdefault(e, namer.reserve(_errstate_name(e))),
        dels=codegen.last_uses(rewritten, writer, kept),
    )
    params = [names[id(s)] for _, s in inputs]
    used_consts = sorted(
        {c.name for c in _consts_in(rewritten) if c.name in consts}
        | {writer.name(v) for v in out_names if isinstance(v, Const)}
    )
    rets = ", ".join(writer.value(v) if v is not None else "None" for v in out_names)
    ret_line = f"    return ({rets},)" if len(out_names) == 1 else f"    return ({rets})"
    if ownable:  # called alone: every parameter gets a new array (see _updates_in_place)
        flags = ", ".join(["False"] * len(ownable))
        params.append(f"own=({flags},)" if len(ownable) == 1 else f"own=({flags})")
    if releases:
        params.append("held=NOTHING_HELD")
    func = [f"def step({', '.join(params)}):"] + lines + ["", ret_line]
    written = {
        id(t) for op in ops if op.inplace and op.kind != "check" for t in codegen._targets(op)
    }
    updated = [s for _, s in inputs if id(s) in written]
    values = {k: consts[k] for k in used_consts}
    values.update({z.name: z.value for z in fills})
    values.update(dict(scalars.values()))
    extras = _Extras(errstates, bool(releases), _uses_retrace(rewritten), bool(ownable))
    source = _module_source(
        "\n".join(func) + "\n", values, inputs, outputs, names, step, updated, extras
    )
    # what runs is this text: compiled and run as a module, its placeholders set
    namespace: dict = {"__name__": "gs_trace_program"}
    filename = f"<gs.trace of {getattr(step, '__qualname__', 'step')}>"
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    namespace.update({k: v for k, v in values.items() if namespace.get(k) is None})
    consts = dict(consts, **values)  # every value the module holds, by its name there
    program = Program(
        source, namespace["step"], [k for k, _ in inputs], [k for k, _ in outputs], template, consts
    )
    program.retrace = namespace.get("RETRACE")  # what step() returns when a check fails
    # input positions the program writes into (optimizer state updated in place)
    program.updated_inputs = [i for i, (_, s) in enumerate(inputs) if id(s) in written]
    program.ownable = ownable  # input positions the replay may update in place (own=...)
    program.releases_held = releases  # held=: emptied once no check can send the call back
    program.layout_args = layout_args  # arguments whose strides the replay checks
    # outputs that are always ndarrays (not None, not a NumPy scalar): written back inline
    program.array_outputs = {
        k
        for k, (_, v) in enumerate(outputs)
        if isinstance(v, Var) and v.is_array and v.shape != () and v.fresh
    }
    return program


def _uses_retrace(ops: list) -> bool:
    return any(op.kind == "check" and op.kwargs.get("retrace") for op in ops)


def _errstate_name(errs: tuple) -> str:
    """A name for a set of np.errstate settings: ``ignore_divide_invalid_over``."""
    actions: dict = {}
    for key, value in errs:
        if dict(_DEFAULT_ERR).get(key) != value:
            actions.setdefault(value, []).append(key)
    return "_and_".join(f"{value}_{'_'.join(keys)}" for value, keys in actions.items())


def _layout_args(ops: list, reused: list, inputs: list) -> set:
    """Positions of the arguments whose layout (strides) a rewrite of the program
    relies on. ``t2 = t1 + y`` written into a dead ``t1`` gives the result t1's
    layout, and NumPy gives a new array one that follows its operands' (a transposed
    t1 with a C-order y: C order); reuse_dead_operands checked they agree on the
    traced layouts, which follow the arguments' through elementwise ops. matmul,
    ``copy()`` and fills make C-order arrays, so an MLP's rewrites depend on none.
    ``ops`` and ``reused`` (the ops after reuse_dead_operands) correspond one to one."""
    dep = {id(v): {k[1]} for k, v in inputs if k[0] == "arg"}
    found: set = set()
    for op, new in zip(ops, reused):
        d = set().union(*(dep.get(id(x), ()) for x in codegen._syms_in((op.args, op.kwargs))))
        if getattr(new, "reused", False):
            found |= d
        if d and not _c_order_result(op):
            for o in op.outs:
                dep[id(o)] = d
    return found


def _c_order_result(op: Op) -> bool:
    """Whether ``op`` makes a new C-order array whatever its operands' layouts."""
    if op.kind == "ufunc":
        return op.fn is np.matmul and op.method == "__call__" and not op.inplace
    if op.kind == "method":
        return op.method == "copy" and len(op.args) == 1 and not op.kwargs
    return op.kind == "func" and op.method == "full"


def _checks_that_retrace(ops: list, inputs: list) -> tuple[list, bool]:
    """Mark the checks (``bool`` of a traced value inside gradsight: an input check, a
    fast path taken or not) that come before any write into the program's inputs: when
    one goes the other way, the replay returns RETRACE and the call runs the step
    eagerly (the right error, or the other branch). A check after a write still
    raises: running the step then would apply the write twice.

    The last of those checks also empties ``held``, the gradients the replay dropped
    and keeps only to put back if the call is sent back: from there on nothing can
    send it back, so they are freed before the program makes the new ones, as
    zero_grad() frees them in the eager step. Returns (ops, whether one releases)."""
    targets = {id(v) for _, v in inputs}
    out = []
    last = None
    written = False
    for op in ops:
        if op.kind == "check":
            kwargs = dict(op.kwargs, retrace=not written)
            op = Op("check", None, op.method, op.args, kwargs, (), op.context, (), True)
            if not written:
                last = len(out)
        elif op.kind == "update" or (
            op.inplace and any(id(t) in targets for t in codegen._targets(op))
        ):
            written = True
        out.append(op)
    if last is not None:
        op = out[last]
        kwargs = dict(op.kwargs, release=True)
        out[last] = Op("check", None, op.method, op.args, kwargs, (), op.context, (), True)
    return out, last is not None


def _is_false(x) -> bool:
    return x is False or (isinstance(x, np.bool_) and not x)


def _fold_constants(ops: list, outputs: list) -> list:
    """Checks that cannot fail and operations that change nothing, taken out (dead code
    after them goes with live_ops): ``m = False & t`` is all False, so ``np.any(m)`` is
    False and a check expecting False always passes (pow's zero-base mask for a
    constant exponent); ``t = x ** 1`` is x, bit for bit (IEEE pow(x, 1) == x, NaN and
    signed zeros included): later ops read x, unless t is an output or either is
    written in place."""
    false: set = set()  # ids of Vars known to hold only False
    renamed: dict = {}
    written = {
        id(t) for op in ops if op.inplace and op.kind != "check" for t in codegen._targets(op)
    }
    returned = {id(v) for _, v in outputs if isinstance(v, Var)}
    out = []
    for op in ops:
        if renamed:
            op = codegen.renamed_op(op, renamed)
        if op.kind == "ufunc" and op.method == "__call__" and not op.inplace and not op.kwargs:
            if op.fn in (np.bitwise_and, np.logical_and) and any(_is_false(a) for a in op.args):
                false.update(id(o) for o in op.outs)
            elif (
                op.fn is np.power
                and len(op.args) == 2
                and isinstance(op.args[0], Var)
                and op.args[1].__class__ in (int, float)
                and op.args[1] == 1
                and op.args[0].dtype is not None
                and op.args[0].dtype.kind == "f"
                and op.outs[0].dtype == op.args[0].dtype
                and not op.args[0].weak
                and op.args[0].is_array
                and op.outs[0].is_array
                and not {id(op.args[0]), id(op.outs[0])} & (written | returned)
            ):
                renamed[id(op.outs[0])] = op.args[0]
                continue
        elif (
            op.kind in ("func", "method")
            and op.method == "any"
            and not op.kwargs
            and len(op.args) == 1
            and id(op.args[0]) in false
        ):
            false.update(id(o) for o in op.outs)
        elif op.kind == "check" and id(op.args[0]) in false and op.kwargs.get("expected") is False:
            continue  # cannot go the other way
        out.append(op)
    return out


def _unwrite_parameters(ops: list, inputs: list, outputs: list) -> tuple[list, list]:
    """The trace updates a parameter's array in place when the eager step would (its
    tensor alone holds it), so a trace costs no more memory than an eager step. The
    program must not assume that ownership: from the first write on, a written
    parameter ``p`` becomes a new variable ``p_new``, the write made out of place
    (``p_new = p - u``, or ``p_new = p.copy()`` then the write). The replay turns it
    back into an in-place update when the array is the tensor's alone
    (_updates_in_place)."""
    params = {id(v) for (kind, ref), v in inputs if kind == "slot" and ref.kind == "data"}
    renamed: dict = {}
    out_ops = []
    for op in ops:
        if renamed:
            op = codegen.renamed_op(op, renamed)
        target = _param_written(op, params) if op.inplace and op.kind != "check" else None
        if target is None:
            out_ops.append(op)
            continue
        params.discard(id(target))
        new = _like(target)
        renamed[id(target)] = new
        out = op.kwargs.get("out")
        if (
            op.kind == "ufunc"
            and op.method == "__call__"
            and codegen.keeps_dtype(op, target)
            and len(op.args) == 2
            and op.args[0] is target
            and op.args[1] is not target
            and set(op.kwargs) == {"out"}
            and len(out) == 1
        ):
            fused = Op("ufunc", op.fn, "__call__", op.args, {}, (new,), op.context, op.errstate)
            fused.update_of = target
            out_ops.append(fused)
            continue
        out_ops.append(Op("method", None, "copy", (target,), {}, (new,), op.context))
        out_ops.append(codegen.renamed_op(op, renamed))
    outputs = [(k, renamed.get(id(v), v)) for k, v in outputs]
    return out_ops, outputs


def _param_written(op: Op, params: set):
    return next((t for t in codegen._targets(op) if id(t) in params), None)


def _like(var: Var) -> Var:
    new = Var.__new__(Var)
    for attr in Var.__slots__:
        setattr(new, attr, getattr(var, attr))
    new.name = ""
    new.fresh = True
    return new


def _updates_in_place(ops: list, inputs: list, outputs: list = ()) -> tuple[list, list]:
    """Parameter updates ``p_new = p - u`` (a fused copy-on-write) that may write into
    p's array when the tensor is its only holder, as the eager update does.

    A parameter whose array (or a view of it: ``net.weight.detach()``, ``w[0]``,
    ``b.reshape(-1)``) is among the program's outputs is never updated in place: in
    the eager step that snapshot holds the array when the update comes, so the update
    makes a new one and the snapshot keeps the values from before it.

    Returns the ops with those updates as kind "update" (kwargs own=k: the k-th flag
    of the program's ``own`` argument) and the input positions the flags are for.
    """
    position = {
        id(v): i
        for i, ((kind, ref), v) in enumerate(inputs)
        if kind == "slot" and ref.kind == "data"
    }
    returned = {id(v) for _, v in outputs if isinstance(v, Var)}
    for base_id in list(position):
        if _aliases(ops, base_id) & returned:
            del position[base_id]
    last = {}
    for i, op in enumerate(ops):
        for x in codegen._syms_in((op.args, op.kwargs)):
            last[id(x)] = i
    ownable = []
    out = []
    for i, op in enumerate(ops):
        base = getattr(op, "update_of", None)
        if base is not None and id(base) in position and last.get(id(base)) == i:
            out.append(
                Op(
                    "update",
                    op.fn,
                    "__call__",
                    op.args,
                    {"own": len(ownable)},
                    op.outs,
                    op.context,
                    op.errstate,
                )
            )
            ownable.append(position[id(base)])
            continue
        out.append(op)
    return out, ownable


def _aliases(ops: list, base_id: int) -> set:
    """ids of ``base_id`` and of every value an op may have made as a view of it (any
    method or function but the copying ones; ufunc results are new arrays)."""
    found = {base_id}
    for op in ops:
        if op.kind == "ufunc" or op.kind == "check" or op.kind == "update":
            continue
        if op.kind == "method" and op.method in codegen._COPYING:
            continue
        if any(id(x) in found for x in codegen._syms_in(op.args)):
            found.update(id(o) for o in op.outs)
    return found


def _consts_in(ops):
    for op in ops:
        yield from _walk_consts((op.args, op.kwargs))


def _walk_consts(x):
    if isinstance(x, Const):
        yield x
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _walk_consts(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _walk_consts(v)


class _Extras(NamedTuple):
    """What the module needs beside its constants: np.errstate settings and their names,
    whether step() takes ``held``, returns RETRACE, takes ``own``."""

    errstates: dict
    held: bool
    retrace: bool
    own: bool


_ERRSTATE_CLASS = """
class Errstate:
    # `with np.errstate(**settings)`, built once and entered on every call. NumPy keeps
    # the settings in a context variable: entering sets it to the value built here, where
    # np.errstate would build it again each time (about four times the cost)

    def __init__(self, **settings):
        self.settings = settings
        config = getattr(getattr(np, "_core", None), "_ufunc_config", None)
        self.var = getattr(config, "_extobj_contextvar", None)  # (NumPy's, not public)
        if self.var is not None:
            with np.errstate(**settings):
                self.value = self.var.get()

    def __enter__(self):
        if self.var is None:  # a NumPy without it: np.errstate itself
            self.cm = np.errstate(**self.settings)
            self.cm.__enter__()
        else:
            self.token = self.var.set(self.value)

    def __exit__(self, *exc):
        if self.var is None:
            self.cm.__exit__(*exc)
        else:
            self.var.reset(self.token)
"""


def _module_source(function, values, inputs, outputs, names, step, updated, extras) -> str:
    """``function`` (``def step``) as a module: a docstring naming its inputs, its
    outputs and the inputs it writes into (``updated``: optimizer state updated in
    place, as the eager step updates it; parameters only where ``own`` says so), then
    the values it reads (``values``: constants written out, or placeholders), the
    np.errstate settings it runs calls under, and the function."""
    title = getattr(step, "__qualname__", "step")
    ins = [f"    {names[id(s)]}: {_role(k)} {tuple(s.shape)} {s.dtype}" for k, s in inputs]
    outs = [
        f"    {names.get(id(v), 'None')}: "
        + ("new " if k[0] == "slot" and k[1].kind == "data" else "")
        + _role(k)
        for k, v in outputs
    ]
    doc = [
        f"The program gs.trace recorded for {title}: forward, backward and update as NumPy.",
        "",
        "Generated by gradsight; runs on its own (it imports NumPy only). step() takes:",
        *ins,
        "and returns, in order:",
        *outs,
        *(
            ["and updates in place (writes the new values into the arrays it is given):"]
            + [f"    {names[id(u)]}" for u in updated]
            if updated
            else []
        ),
        "",
        "The NumPy calls of the eager step, in its order. A result may go into the array",
        "of an intermediate that is not needed any more (np.exp(t2, t2), t3 *= t2: the same",
        "call, one array fewer), and del drops an intermediate at its last use, as the eager",
        "step frees it.",
    ]
    if extras.own:
        doc += [
            "",
            "own: one flag per parameter update. gs.trace passes True where the tensor alone",
            "holds the array, and step() then writes the new values into it, as the eager",
            "optimizer does; the default (False) makes new arrays.",
        ]
    if extras.held:
        doc += [
            "",
            "held: the gradients gs.trace dropped before the call (zero_grad), kept until no",
            "check can send the call back to the eager step; step() empties it then.",
        ]
    if extras.retrace:
        doc += [
            "",
            "step() returns RETRACE when a check the step made on the values (an input",
            "check, a branch) goes the other way now, before it writes anything: then run",
            "the step itself.",
        ]
    # names come from the user (dict keys, gs.trace(names=...)): a backslash or a
    # triple quote in one must not end the docstring or start an escape
    text = "\n".join(doc).replace("\\", "\\\\").replace('"', '\\"')
    head = ['"""' + text, '"""', "", "import numpy as np", ""]
    for name, v in values.items():
        written = _written_out(v)
        if written is not None:
            head.append(f"{name} = {written}")
        else:
            what = f"a {v.shape} {v.dtype} array" if isinstance(v, np.ndarray) else repr(v)
            head.append(
                f"{name} = None  # {what} recorded at trace time: set {name} before calling step()"
            )
    if extras.retrace:
        head.append("RETRACE = object()  # what step() returns when a check goes the other way")
    if extras.held:
        head.append("NOTHING_HELD = []  # held's default: no gradients to let go")
    if extras.errstates:
        head += ["", "", _ERRSTATE_CLASS.strip("\n"), "", ""]
        for errs, name in extras.errstates.items():
            head.append(f"{name} = Errstate({codegen.errstate_args(errs)})")
    return "\n".join(head) + "\n\n\n" + function


def _written_out(v: np.ndarray) -> str | None:
    """``v`` as a Python expression that makes it again, bit for bit and in its layout
    (``np.full`` for one repeated value, a literal for a small array), or None (a
    placeholder the user sets from ``Program.consts``). The layout matters: a sum over
    a Fortran-order constant adds in another order than over a C-order copy. The
    expression is evaluated and compared, so what cannot be written exactly (signed
    zeros among zeros, a NaN's sign and payload, long doubles) is never written.
    A NumPy scalar is written as one (``np.float64(0.5)``)."""
    if isinstance(v, np.generic):
        expr = f"np.{type(v).__name__}({codegen.literal(v.item())})"
        try:
            again = eval(expr, {"np": np})  # noqa: S307 - an expression written just above
        except Exception:  # noqa: BLE001 - a value with no literal form: a placeholder then
            return None
        return expr if type(again) is type(v) and again.tobytes() == v.tobytes() else None
    if not isinstance(v, np.ndarray) or not (v.flags.c_contiguous or v.flags.f_contiguous):
        return None
    if v.dtype.hasobject:  # Python objects: no literal is the same objects
        return None
    order = ", order='F'" if v.ndim > 1 and not v.flags.c_contiguous else ""
    dtype = f"np.{v.dtype.name}" if hasattr(np, v.dtype.name) else f"np.dtype({v.dtype.str!r})"
    flat = v.ravel(order="K")
    if v.size == 0:
        expr = f"np.empty({v.shape!r}, dtype={dtype}{order})"
    elif not flat.view(np.uint8).any():  # all bits zero: from calloc, pages only read stay free
        expr = f"np.zeros({v.shape!r}, dtype={dtype}{order})"
    elif v.size > 1 and (flat.view(np.uint8).reshape(v.size, -1) == flat[:1].view(np.uint8)).all():
        expr = f"np.full({v.shape!r}, {codegen.literal(flat[0].item())}, dtype={dtype}{order})"
    elif v.size <= codegen.INLINE_CONST_SIZE:
        expr = f"np.array({_nested(v.tolist())}, dtype={dtype}{order})"
    else:
        return None
    try:
        again = eval(expr, {"np": np})  # noqa: S307 - an expression written just above
    except Exception:  # noqa: BLE001 - a value with no literal form: a placeholder then
        return None
    same = (
        isinstance(again, np.ndarray)
        and again.dtype == v.dtype
        and again.shape == v.shape
        and again.strides == v.strides
        and again.tobytes(order="A") == v.tobytes(order="A")
    )
    return expr if same else None


def _nested(x) -> str:
    """A nested list of numbers as Python source (NaN as float('nan'))."""
    if isinstance(x, list):
        return "[" + ", ".join(_nested(v) for v in x) + "]"
    return codegen.literal(x)


def _role(kind) -> str:
    what, ref = kind
    if what == "arg":
        return f"argument {ref}"
    if what == "ret":
        return f"returned value {ref}"
    if what == "arggrad":
        return f"gradient of argument {ref}"
    if what == "argitem":
        return f"argument {ref[0]}" + "".join(f"[{k!r}]" for k in ref[1:])
    if what == "argdata":
        return f"new array of argument {ref}"
    if what == "draw":
        kind, shape, dtype = ref
        call = {"random": "gs.rand", "standard_normal": "gs.randn"}.get(kind, kind)
        dims = ", ".join(map(str, shape))
        cast = f", dtype={dtype.name}" if dtype is not None else ""
        return f"a fresh draw of {call}({dims}{cast}) on each call, as"
    if what == "held":
        return f"array read from {ref[1] if isinstance(ref[1], str) else 'a closure'}"
    return (
        {"data": "", "grad": "gradient ", "state": "optimizer state "}.get(ref.kind, "") + ref.name
        if what == "slot"
        else str(kind)
    )
