"""One declaration per op: the single source of every op table.

``declare(...)`` records one op: its name, the function users call, its
primitive (forward and VJP rules, side by side) and a slot for its JVP rule,
where it has kinks or ties and which convention it takes there, the NumPy
functions and ufuncs it implements, its Tensor methods, its name in the rules'
namespace and its label in traces. Everything else is generated from ``OPS``:

- the primitive table: ``primitives()``, each with ``label_of(prim)``;
- NumPy's dispatch table: ``numpy_table()`` (NEP 13/18, numpy_protocol.py);
- the Tensor methods: ``methods()`` (the fast factories of _core/node.py,
  ``unary_method`` and ``binary_method``, for the hot operators);
- the namespace the VJP rules are written in: ``rules()`` (namespaces.py);
- the ``gs`` namespace: ``exports()``;
- the docs' op table: ``markdown()`` (``python -m gradsight.ops`` prints it).

Declarations live next to the functions they declare (api.py,
numpy_ops.py, and one module per family of ops).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gradsight._core.node import Primitive, apply1, apply2, binary_method, unary_method

from . import jvp as _jvp

GRADIENT_KINDS = ("rule", "composite", "none")


@dataclass(eq=False)
class Op:
    """One op, as declared (see the module docstring)."""

    name: str
    function: Callable
    prim: Primitive | None = None
    gradient: str = "rule"  # "rule": a primitive; "composite": of other ops; "none": constant
    numpy: dict = field(default_factory=dict)  # NumPy callable -> implementation
    methods: dict = field(default_factory=dict)  # Tensor attribute -> implementation
    kinks: str = ""  # where it is not smooth or ties, and the gradient there
    exports: tuple = ()  # names in the gs namespace
    rules: tuple | None = None  # (array function, Tensor function) in the rules' namespace
    label: str = ""  # the backward's label in traces
    jvp: Callable | None = None  # forward-mode rule (ops/jvp.py), also set on the primitive
    family: str = ""  # the module that declares it, for the docs table

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OPS: dict[str, Op] = {}
_BY_PRIM: dict = {}


def _as_dict(spec, default) -> dict:
    """``spec`` (None, one key, a tuple of keys or a dict) as a dict of key -> value."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return dict(spec)
    if isinstance(spec, (tuple, list)):
        return dict.fromkeys(spec, default)
    return {spec: default}


def declare(
    name: str,
    function: Callable,
    prim: Primitive | None = None,
    *,
    numpy=None,
    methods=None,
    kinks: str = "",
    export=True,
    rules=None,
    label: str | None = None,
    jvp: Callable | None = None,
    gradient: str | None = None,
) -> Callable:
    """Declare one op and return ``function`` (so ``exp = declare("exp", exp, ...)`` reads well).

    ``numpy``: a NumPy callable, a tuple of them (each implemented by ``function``)
    or a dict {callable: implementation} for those whose keywords need an adapter;
    a key (ufunc, method), e.g. (np.maximum, "accumulate"), declares a ufunc method
    called as ``impl(x, axis)``.
    ``methods``: a Tensor attribute name, a tuple of names (bound to ``function``)
    or a dict {name: implementation}. ``export``: True (gs.<name>), False, or the
    tuple of names in gs. ``rules``: the array function the VJP rules call as
    ``F.<name>`` (the Tensor side is ``function``), or a pair (array, Tensor).
    """
    if name in OPS:
        raise ValueError(f"op {name!r} is declared twice")
    if gradient is None:
        gradient = "rule" if prim is not None else "composite"
    if gradient not in GRADIENT_KINDS:
        raise ValueError(f"{name}: gradient must be one of {GRADIENT_KINDS}, got {gradient!r}")
    if export is True:
        exports = (name,)
    elif export is False:
        exports = ()
    else:
        exports = (export,) if isinstance(export, str) else tuple(export)
    if rules is not None and not isinstance(rules, tuple):
        rules = (rules, function)
    op = Op(
        name=name,
        function=function,
        prim=prim,
        gradient=gradient,
        numpy=_as_dict(numpy, function),
        methods=_as_dict(methods, function),
        kinks=kinks,
        exports=exports,
        rules=rules,
        label=label or (prim.name if prim is not None else name),
        jvp=jvp,
        family=getattr(function, "__module__", "") or "",
    )
    OPS[name] = op
    if prim is not None:
        _BY_PRIM.setdefault(prim, op)
        if jvp is not None:
            prim.jvp = jvp  # what forward mode reads from a node: one attribute
    return function


def declare_primitive(prim: Primitive, *, label: str | None = None, jvp=None, kinks: str = ""):
    """A primitive that is not an op of its own (the VJP of another op: sum_to, index_add),
    declared so that it has a label and a JVP slot like the others."""
    return declare(prim.name, prim.forward, prim, export=False, label=label, jvp=jvp, kinks=kinks)


# ---------------------------------------------------------------- families: op and declaration
def unary(
    name: str,
    forward,
    vjp,
    *,
    doc: str,
    module: str,
    method: str | None = None,
    numpy="same name",
    kinks: str = "",
    rules: bool = False,
    label: str | None = None,
    jvp=None,
    export=True,
):
    """A one-input elementwise op, declared: its primitive (``forward``, ``vjp``), the
    function ``gs.<name>(x)``, NumPy's ufunc of the same name (or ``numpy``), the Tensor
    method ``method`` (the fast factory), ``F.<name>`` for other rules when ``rules``.
    Returns the function."""
    from .api import as_tensor

    prim = Primitive(name, forward, (vjp,))
    if jvp is None:  # elementwise: the Jacobian is diagonal, the VJP is the JVP
        jvp = _jvp.elementwise(prim.vjps)

    def function(x):
        return apply1(prim, as_tensor(x))

    _name_it(function, name, doc, module)
    if numpy == "same name":
        import numpy as np

        numpy = getattr(np, name)
    declare(
        name,
        function,
        prim,
        numpy=numpy,
        methods={method: unary_method(prim)} if method else None,
        kinks=kinks,
        rules=(forward, function) if rules else None,
        label=label,
        jvp=jvp,
        export=export,
    )
    return function


def binary(
    name: str,
    forward,
    vjps,
    *,
    doc: str,
    module: str,
    dunder: str | None = None,
    numpy="same name",
    kinks: str = "",
    label: str | None = None,
    jvp=None,
    export=True,
):
    """A two-input elementwise op, declared: ``gs.<name>(a, b)`` (broadcasting; either
    side may be a scalar or an array), NumPy's ufunc, and ``Tensor.__<dunder>__`` with
    its reflected form when ``dunder`` is given. Returns the function."""
    prim = Primitive(name, forward, tuple(vjps))
    if jvp is None:  # elementwise: the Jacobian is diagonal, the VJP is the JVP
        jvp = _jvp.elementwise(prim.vjps)

    def function(a, b):
        return apply2(prim, a, b)

    _name_it(function, name, doc, module)
    if numpy == "same name":
        import numpy as np

        numpy = getattr(np, name)
    methods = None
    if dunder:
        methods = {
            f"__{dunder}__": binary_method(prim),
            f"__r{dunder}__": binary_method(prim, reflected=True),
        }
    declare(
        name,
        function,
        prim,
        numpy=numpy,
        methods=methods,
        kinks=kinks,
        label=label,
        jvp=jvp,
        export=export,
    )
    return function


def _name_it(function, name: str, doc: str, module: str) -> None:
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    function.__module__ = module


# ---------------------------------------------------------------- generated tables
def primitives() -> list:
    """Every declared primitive, once, in declaration order."""
    seen = {}
    for op in OPS.values():
        if op.prim is not None:
            seen.setdefault(op.prim, None)
    return list(seen)


def op_of(prim) -> Op | None:
    """The op that declares ``prim`` (None for a user's custom primitive)."""
    return _BY_PRIM.get(prim)


def label_of(prim) -> str:
    """The label of ``prim``'s backward in traces: its declaration's, else its name.

    This is the seam for gs.trace: ``node.prim`` -> a label, for every primitive,
    whatever module defines it (a custom one gets its own name)."""
    op = _BY_PRIM.get(prim)
    return op.label if op is not None else getattr(prim, "name", repr(prim))


def numpy_table() -> dict:
    """NumPy callable -> the implementation NEP 13/18 dispatch calls."""
    table = {}
    for op in OPS.values():
        for fn, impl in op.numpy.items():
            if fn in table and table[fn] is not impl:
                raise ValueError(f"{fn!r} is implemented by two ops (the second: {op.name})")
            table[fn] = impl
    return table


def methods() -> dict:
    """Tensor attribute -> implementation."""
    table = {}
    for op in OPS.values():
        for name, impl in op.methods.items():
            if name in table:
                raise ValueError(f"Tensor.{name} is declared by two ops (the second: {op.name})")
            table[name] = impl
    return table


def rules() -> dict:
    """Name -> (array function, Tensor function) for the rules' namespace F."""
    return {op.name: op.rules for op in OPS.values() if op.rules is not None}


def exports() -> dict:
    """Name in gs -> function."""
    table = {}
    for op in OPS.values():
        for name in op.exports:
            if name in table and table[name] is not op.function:
                raise ValueError(f"gs.{name} is exported by two ops (the second: {op.name})")
            table[name] = op.function
    return table


def _np_names(op: Op) -> str:
    names = []
    for fn in op.numpy:
        if isinstance(fn, tuple):  # (ufunc, method): np.maximum.accumulate
            names.append(f"np.{fn[0].__name__}.{fn[1]}")
            continue
        module = getattr(fn, "__module__", None) or "numpy"
        name = getattr(fn, "__name__", repr(fn))
        prefix = "np.linalg." if module.startswith("numpy.linalg") else "np."
        if module.startswith("numpy.lib.stride_tricks") or module.startswith(
            "numpy.lib._stride_tricks"
        ):
            prefix = "np.lib.stride_tricks."
        names.append(prefix + name)
    return " ".join(f"`{n}`" for n in sorted(set(names)))


def markdown() -> str:
    """The docs' op table: one row per declared op that users reach."""
    rows = [
        "| op | gs | Tensor | NumPy | gradient | at kinks and ties |",
        "|---|---|---|---|---|---|",
    ]
    for op in sorted(OPS.values(), key=lambda o: o.name):
        if not (op.exports or op.methods or op.numpy):
            continue  # an internal primitive (the VJP of another op)
        gs_names = " ".join(f"`{n}`" for n in op.exports)
        meths = " ".join(f"`{m}`" for m in sorted(op.methods))
        kinks = op.kinks.replace("|", "\\|")
        rows.append(
            f"| {op.name} | {gs_names} | {meths} | {_np_names(op)} | {op.gradient} | {kinks} |"
        )
    counts = {k: sum(1 for o in OPS.values() if o.gradient == k) for k in GRADIENT_KINDS}
    summary = (
        f"{len(OPS)} declared ops: {counts['rule']} with a gradient rule, "
        f"{counts['composite']} composed of other ops, {counts['none']} without a gradient."
    )
    return summary + "\n\n" + "\n".join(rows) + "\n"
