"""Function transforms: grad, value_and_grad, jacobian, hessian (nestable).

Each transform makes its differentiated arguments into fresh leaves (unless
they already require grad). When it runs inside another transform (tracked
with a thread-local depth), or any argument is already tracked, it builds its
result with create_graph=True so the outer one can differentiate it again:
``gs.grad(gs.grad(f))`` is f'', and mixed partials work in either order.
"""

from __future__ import annotations

import threading

import numpy as np

from . import autograd
from ._core.grad_mode import enable_grad
from ._core.node import AccumulateGrad
from ._core.tensor import Tensor, as_array, new_tensor


class _Depth(threading.local):
    value = 0


_depth = _Depth()


class _Running:
    """Marks a transform as running (for the nesting test of inner transforms)."""

    def __enter__(self):
        _depth.value += 1

    def __exit__(self, *exc):
        _depth.value -= 1


def _argnums(argnums) -> tuple:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _prepare(args, argnums):
    """Args with the differentiated ones as grad-requiring tensors, and whether
    some of them were already tracked (we are nested inside another transform)."""
    args = list(args)
    nested = _depth.value > 0 or any(isinstance(a, Tensor) and a.requires_grad for a in args)
    for i in argnums:
        if i >= len(args):
            raise ValueError(f"argnums {i} is out of range for {len(args)} arguments")
        a = args[i]
        if isinstance(a, Tensor) and a.requires_grad:
            continue
        arr = as_array(a, copy=False)
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        args[i] = new_tensor(arr, None, True)
    return args, nested


def _call(fun, args, nums):
    """Run fun on args whose argnums are grad-requiring; -> (args, out, nested)."""
    args, nested = _prepare(args, nums)
    with _Running():
        out = fun(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"fun must return a Tensor, got {type(out).__name__}")
    if not nested and out.requires_grad:
        nested = _reaches_other_leaf(out, [args[i] for i in nums])
    return args, out, nested


def _reaches_other_leaf(out: Tensor, own: list) -> bool:
    """True when out's graph depends on a grad-requiring leaf other than ``own``:
    a tensor fun captured from the enclosing scope. Its gradient must then be
    built with create_graph=True, or d/dx of the result would be lost (x * grad
    of y -> x * y is d(x*x)/dx = 2x, not x). An iterative walk, like backward's."""
    own_ids = {id(t) for t in own}
    seen = set()
    todo = [out.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            if id(node.variable) not in own_ids:
                return True
            continue
        todo.extend(node.parents)
    return False


def _grads_for(out: Tensor, args, argnums, nested, grad_output=None) -> tuple:
    """d out / d args[i] for i in argnums (zeros where out does not depend on them)."""
    diff = [args[i] for i in argnums]
    grads = (None,) * len(diff)
    if out.requires_grad:
        grads = autograd.grad(
            out,
            diff,
            grad_outputs=grad_output,
            retain_graph=True,
            create_graph=nested,
            allow_unused=True,
        )
    return tuple(
        new_tensor(np.zeros_like(x.data), None, False) if g is None else g
        for g, x in zip(grads, diff)
    )


def value_and_grad(fun, argnums=0):
    """fun -> (args -> (fun(*args), d fun / d args[argnums])). fun must return one element."""
    nums = _argnums(argnums)

    def wrapped(*args):
        with enable_grad():
            args, out, nested = _call(fun, args, nums)
            if out.size != 1:
                raise ValueError(f"grad needs fun to return a one-element Tensor, got {out.shape}")
            grads = _grads_for(out, args, nums, nested)
        value = out if nested else out.detach()
        return value, grads[0] if isinstance(argnums, int) else grads

    return wrapped


def grad(fun, argnums=0):
    """fun -> its gradient function (d fun / d args[argnums])."""
    vg = value_and_grad(fun, argnums)

    def wrapped(*args):
        return vg(*args)[1]

    return wrapped


def jacobian(fun, argnums=0):
    """fun -> (args -> J) with J.shape == out.shape + in.shape (one row per output element)."""
    from .ops import api

    nums = _argnums(argnums)

    def wrapped(*args):
        with enable_grad():
            args, out, nested = _call(fun, args, nums)
            rows = [[] for _ in nums]
            for j in range(out.size):
                onehot = np.zeros(out.size, dtype=out.dtype)
                onehot[j] = 1
                grads = _grads_for(out, args, nums, nested, onehot.reshape(out.shape))
                for k, g in enumerate(grads):
                    rows[k].append(g)
            jacs = []
            for k, i in enumerate(nums):
                shape = out.shape + args[i].shape
                if rows[k]:
                    jac = api.reshape(api.stack(rows[k]), shape)
                else:
                    jac = new_tensor(np.zeros(shape, dtype=args[i].dtype), None, False)
                jacs.append(jac if nested else jac.detach())
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapped


def hessian(fun, argnums=0):
    """fun -> (args -> H) with H.shape == in.shape + in.shape (fun scalar)."""
    return jacobian(grad(fun, argnums), argnums)
