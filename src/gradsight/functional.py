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


def _grads_for(out: Tensor, args, argnums, nested, grad_output=None):
    diff = [args[i] for i in argnums]
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
            args, nested = _prepare(args, nums)
            with _Running():
                out = fun(*args)
            if not isinstance(out, Tensor) or out.size != 1:
                shape = getattr(out, "shape", type(out).__name__)
                raise ValueError(f"grad needs fun to return a one-element Tensor, got {shape}")
            if not out.requires_grad:
                grads = tuple(new_tensor(np.zeros_like(args[i].data), None, False) for i in nums)
            else:
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
    """fun -> (args -> J) with J.shape == out.shape + in.shape."""
    nums = _argnums(argnums)

    def wrapped(*args):
        with enable_grad():
            args, nested = _prepare(args, nums)
            with _Running():
                out = fun(*args)
            if not isinstance(out, Tensor):
                raise TypeError(f"jacobian needs fun to return a Tensor, got {type(out).__name__}")
            rows = [[] for _ in nums]
            for j in range(out.size):
                onehot = np.zeros(out.size, dtype=out.dtype)
                onehot[j] = 1
                if out.requires_grad:
                    grads = _grads_for(out, args, nums, nested, onehot.reshape(out.shape))
                else:
                    grads = tuple(
                        new_tensor(np.zeros_like(args[i].data), None, False) for i in nums
                    )
                for k, g in enumerate(grads):
                    rows[k].append(g)
            jacs = []
            for k, i in enumerate(nums):
                x = args[i]
                if rows[k]:
                    from .ops import api

                    jac = api.reshape(api.stack(rows[k]), out.shape + x.shape)
                else:
                    jac = new_tensor(np.zeros(out.shape + x.shape, dtype=x.dtype), None, False)
                jacs.append(jac if nested else jac.detach())
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapped


def hessian(fun, argnums=0):
    """fun -> (args -> H) with H.shape == in.shape + in.shape (fun scalar)."""
    return jacobian(grad(fun, argnums), argnums)
