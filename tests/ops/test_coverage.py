"""No op without samples: every declared op is covered by a registry entry.

The list of ops comes from their declarations (gradsight/ops/declare.py): each
op's gs names and Tensor methods, and the functions of ``gs.nn.functional``.
The objects users reach are read too (the callables of ``gs``, the attributes
of ``Tensor``): anything there that is neither declared nor named in NOT_OPS
with the reason fails, so an op cannot skip its declaration or the sweep.
"""

from __future__ import annotations

import inspect
import pathlib
import subprocess
import sys

import gradsight as gs
from gradsight.nn import functional as gsF
from gradsight.ops import declare

from .registry import REGISTRY

DOCS = pathlib.Path(__file__).parents[2] / "docs" / "engine.md"

NOT_OPS = {
    # gs: creation, transforms, modes, files and submodules
    **dict.fromkeys(
        "gs." + n
        for n in (
            "tensor Tensor from_numpy zeros ones full empty zeros_like ones_like arange eye "
            "randn rand manual_seed grad value_and_grad jacobian hessian jvp jacfwd hvp "
            "elementwise_grad gradcheck "
            "GradcheckError no_grad enable_grad is_grad_enabled save load trace TraceError"
        ).split()
    ),
    # Tensor: conversion, autograd plumbing, Python protocols
    **dict.fromkeys(
        "Tensor." + n
        for n in (
            "numpy item tolist detach requires_grad_ register_hook retain_grad backward "
            "__init__ __repr__ __array__ __array_ufunc__ __bool__ __float__ __int__ __index__ "
            "__len__ __hash__ __getstate__ data grad grad_fn requires_grad is_leaf shape ndim "
            "dtype size "
            "_acc _hooks _view"
        ).split()
    ),
    "Tensor.__iter__": "yields t[i]: covered by the getitem entry",
    "Tensor.__array_function__": "NEP 18 dispatch (covered by every NumPy-named entry)",
}
# in-place writes: bound by gradsight.ops itself, not declared (they record no op)
_INPLACE = [
    f"Tensor.{n}"
    for n in (
        "__setitem__ __iadd__ __isub__ __imul__ __itruediv__ add_ sub_ mul_ div_ zero_ fill_ copy_"
    ).split()
]


def declared_ops() -> set:
    """gs.<name> and Tensor.<name> of every declared op."""
    names = set()
    for op in declare.OPS.values():
        names.update(f"gs.{n}" for n in op.exports)
        names.update(f"Tensor.{n}" for n in op.methods)
    return names


def reachable() -> set:
    """What users reach: gs's callables, Tensor's attributes, F's functions."""
    names = set()
    for n, v in vars(gs).items():
        if not n.startswith("_") and callable(v) and not inspect.ismodule(v):
            names.add(f"gs.{n}")
    for n in vars(gs.Tensor):
        if n in ("__module__", "__doc__", "__slots__", "__dict__", "__weakref__"):
            continue
        names.add(f"Tensor.{n}")
    for n, v in vars(gsF).items():
        if not n.startswith("_") and inspect.isfunction(v) and v.__module__ == gsF.__name__:
            names.add(f"F.{n}")
    return names


def covered() -> set:
    return {name for info in REGISTRY for name in info.covers}


def public_ops() -> set:
    """The declared ops and the functions of gs.nn.functional."""
    return declared_ops() | {n for n in reachable() if n.startswith("F.")}


def test_every_declared_op_has_a_registry_entry():
    missing = sorted(public_ops() - covered())
    assert not missing, f"declared ops without a registry entry (tests/ops/registry.py): {missing}"


def test_every_op_users_reach_is_declared():
    """A function exported or a method bound by hand, past the declarations, fails here."""
    stray = sorted(reachable() - public_ops() - set(NOT_OPS) - set(_INPLACE))
    assert not stray, f"ops users reach that no declaration names (ops/declare.py): {stray}"


def test_the_in_place_methods_have_registry_entries():
    missing = sorted(set(_INPLACE) - covered())
    assert not missing, missing


def test_every_declared_numpy_callable_dispatches_to_its_implementation():
    from gradsight.ops import numpy_protocol

    table = declare.numpy_table()
    assert table and numpy_protocol.IMPLEMENTATIONS == table


def test_the_docs_op_table_is_the_generated_one():
    text = DOCS.read_text()
    begin = text.index("<!-- ops-table:begin")
    begin = text.index("\n", begin) + 1
    end = text.index("<!-- ops-table:end -->")
    assert text[begin:end] == declare.markdown(), (
        "docs/engine.md's op table is stale: replace it with `python -m gradsight.ops --markdown`"
    )


def test_python_m_gradsight_ops_prints_every_op():
    out = subprocess.run(
        [sys.executable, "-m", "gradsight.ops"], capture_output=True, text=True, check=True
    ).stdout
    assert {line.split()[0] for line in out.splitlines()} == set(declare.OPS)


def test_every_name_the_registry_covers_exists():
    def exists(name):
        where, attr = name.split(".", 1)
        obj = {"gs": gs, "Tensor": gs.Tensor, "F": gsF}[where]
        return hasattr(obj, attr)

    stale = sorted(n for n in covered() if not exists(n))
    assert not stale, f"registry entries name ops that do not exist: {stale}"


def test_every_entry_has_samples_and_every_sample_set_has_the_awkward_cases():
    for info in REGISTRY:
        assert info.samples, f"{info.name} has no samples"
    notes = {info.name: " ".join(s.note for s in info.samples) for info in REGISTRY}
    for name in ("sum", "mean", "max", "min", "var", "logsumexp"):
        assert "0-d" in notes[name] and "long axis" in notes[name] and "axis=-1" in notes[name]
    for name in ("add", "mul", "sub", "div", "maximum", "minimum"):
        assert "broadcast both ways" in notes[name] and "size-0" in notes[name]
    assert "repeats" in notes["getitem"] and "boolean mask" in notes["getitem"]


def test_every_primitive_has_its_own_trace_label_and_a_jvp_slot():
    """The seam for gs.trace: declare.label_of(node.prim), from the declaration. fmax
    shares maximum's rules, yet is labelled fmax (a code-object lookup said maximum)."""
    from gradsight.ops import numpy_ops

    prims = declare.primitives()
    assert len(prims) == len(set(prims)) and all(declare.op_of(p) for p in prims)
    assert declare.label_of(numpy_ops.fmax_p) == "fmax"
    assert declare.label_of(numpy_ops.fmax_p) != declare.label_of(declare.OPS["maximum"].prim)
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    assert declare.label_of((x * 2).grad_fn.prim) == "mul"
    assert all(hasattr(op, "jvp") for op in declare.OPS.values())
