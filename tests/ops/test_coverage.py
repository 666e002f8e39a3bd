"""No op without samples: every public op is covered by a registry entry.

Public ops are read off the objects users reach, not off a list kept by hand:
the callables of the ``gs`` namespace, the attributes of ``Tensor`` and the
functions of ``gs.nn.functional``. Anything there that is not an op must be
named in NOT_OPS with the reason, so a new op cannot skip the sweep.
"""

from __future__ import annotations

import inspect

import gradsight as gs
from gradsight.nn import functional as gsF

from .registry import REGISTRY

NOT_OPS = {
    # gs: creation, transforms, modes, files and submodules
    **dict.fromkeys(
        "gs." + n
        for n in (
            "tensor Tensor from_numpy zeros ones full empty zeros_like ones_like arange eye "
            "randn rand manual_seed grad value_and_grad jacobian hessian gradcheck "
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
}


def public_ops() -> set:
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


def test_every_public_op_has_a_registry_entry():
    missing = sorted(public_ops() - covered() - set(NOT_OPS))
    assert not missing, f"public ops without a registry entry (tests/ops/registry.py): {missing}"


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
