"""Forward-mode transforms: jvp, jacfwd, hvp, and HIPS autograd's elementwise_grad.

``jvp(f, primals, tangents)`` runs ``f`` once, recording its graph as reverse mode
does, then pushes the tangents through every node's JVP rule (gradsight._core.forward):
one pass per input direction, where backward costs one pass per output direction.
Semantics follow torch.func: primals and tangents are tuples; ``has_aux`` where
torch.func has it. These nest with grad, jacobian and each other: a jvp whose
primals or tangents are tracked (inside another transform) records its tangent
computation, so ``gs.jacfwd(gs.jacfwd(f))`` is the Hessian and ``gs.grad`` of a
jvp differentiates it.
"""

from __future__ import annotations

import numpy as np

from . import functional as _functional
from ._core import forward as _fwd
from ._core.grad_mode import enable_grad
from ._core.tensor import Tensor, as_array, new_tensor
from .functional import _argnums, _Running

__all__ = ["jvp", "jacfwd", "hvp", "elementwise_grad"]


def _as_tuple(x, what: str) -> tuple:
    if isinstance(x, (tuple, list)):
        return tuple(x)
    raise TypeError(
        f"{what} must be a tuple (as in torch.func.jvp), got {type(x).__name__}; "
        f"write ({what[:-1]},) for one"
    )


def _tracked(x) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _nested(*groups) -> bool:
    """True inside another transform, or when an argument is tracked: the tangents
    must then be recorded (Tensors), so the outer transform can differentiate them."""
    return _functional._depth.value > 0 or any(_tracked(x) for g in groups for x in g)


def _float_array(x) -> np.ndarray:
    arr = as_array(x, copy=False)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _seed_input(x, nested: bool):
    """The Tensor handed to the function for primal ``x``, and the node standing
    for it (its tangent is the seed): a fresh leaf, or, when x is tracked and we
    are nested, an identity op on x (so the outer graph still reaches x)."""
    if nested and _tracked(x):
        from .ops import api

        t = api.reshape(x, x.shape)
    else:
        t = new_tensor(_float_array(x), None, True)
    return t, _fwd.node_of(t)


def _tangent(v, x: Tensor, i: int, nested: bool):
    """The seed tangent for input i: x's shape and dtype (a Tensor when nested)."""
    shape = v.shape if isinstance(v, Tensor) else np.shape(v)
    if tuple(shape) != x.shape:
        raise ValueError(
            f"tangent {i} has shape {tuple(shape)}, but primal {i} has shape {x.shape}: "
            "each tangent must have its primal's shape"
        )
    if nested:
        from .ops import api

        t = v if isinstance(v, Tensor) else new_tensor(np.asarray(v), None, False)
        return api.astype(t, x.dtype)
    arr = v.data if isinstance(v, Tensor) else np.asarray(v)
    return arr.astype(x.dtype, copy=False)


def _outputs(result, has_aux: bool, what: str):
    """(tuple of output Tensors, whether it was a single Tensor, aux)."""
    aux = None
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"{what} with has_aux=True needs fun to return (output, aux)")
        result, aux = result
    single = isinstance(result, Tensor)
    outs = (result,) if single else result
    if not isinstance(outs, (tuple, list)) or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(
            f"{what} needs fun to return a Tensor or a tuple of Tensors, "
            f"got {type(result).__name__}"
        )
    return tuple(outs), single, aux


def _push(outs, seeds: dict, nested: bool) -> list:
    """The tangent of each output (zeros for one that does not depend on the inputs)."""
    roots = [_fwd.node_of(o) for o in outs if o.requires_grad]
    tangents = _fwd.push(_fwd.order(roots, seeds), seeds, nested)
    result = []
    for o in outs:
        t = tangents.get(_fwd.node_of(o)) if o.requires_grad else None
        if t is None:
            t = np.zeros(o.shape, o.dtype)
        result.append(t if isinstance(t, Tensor) else new_tensor(t, None, False))
    return result


def _detach_all(x, nested: bool):
    if nested:
        return x
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, tuple):
        return tuple(_detach_all(i, nested) for i in x)
    if isinstance(x, list):
        return [_detach_all(i, nested) for i in x]
    return x


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """(func(*primals), J @ tangents): the Jacobian-vector product, by forward mode.

    ``primals`` and ``tangents`` are tuples of the same length, each tangent of its
    primal's shape; ``func`` returns a Tensor or a tuple of Tensors (then the
    tangent is a tuple too), or ``(output, aux)`` with ``has_aux=True``, which
    returns ``(output, tangent_out, aux)``. As ``torch.func.jvp``; ``strict`` is
    accepted for its signature (an output that does not depend on the primals
    gets a zero tangent).
    """
    primals = _as_tuple(primals, "primals")
    tangents = _as_tuple(tangents, "tangents")
    if len(primals) != len(tangents):
        raise ValueError(f"got {len(primals)} primals but {len(tangents)} tangents")
    nested = _nested(primals, tangents)
    with enable_grad():
        xs, seeds = [], {}
        for i, (p, v) in enumerate(zip(primals, tangents)):
            x, node = _seed_input(p, nested)
            xs.append(x)
            seeds[node] = _tangent(v, x, i, nested)
        with _Running():
            result = func(*xs)
        outs, single, aux = _outputs(result, has_aux, "jvp")
        touts = _push(outs, seeds, nested)
    out_value = _detach_all(outs[0] if single else outs, nested)
    t_value = touts[0] if single else tuple(touts)
    if has_aux:
        return out_value, t_value, _detach_all(aux, nested)
    return out_value, t_value


def jacfwd(func, argnums=0, has_aux: bool = False):
    """func -> (args -> J) with J.shape == out.shape + in.shape, by forward mode:
    one tangent pass per input element over one recorded graph (the same result
    as ``gs.jacobian``, which takes one backward per output element). A tuple
    ``argnums`` gives a tuple of Jacobians; ``has_aux`` returns (J, aux)."""
    nums = _argnums(argnums)

    def wrapped(*args):
        args = list(args)
        for i in nums:
            if i >= len(args):
                raise ValueError(f"argnums {i} is out of range for {len(args)} arguments")
        nested = _nested(args)
        with enable_grad():
            nodes = []
            for i in nums:
                args[i], node = _seed_input(args[i], nested)
                nodes.append(node)
            with _Running():
                result = func(*args)
            outs, single, aux = _outputs(result, has_aux, "jacfwd")
            if not single:
                raise TypeError("jacfwd needs fun to return one Tensor")
            out = outs[0]
            jacs = [_jacobian_of(out, args[i], node, nested) for i, node in zip(nums, nodes)]
        jac = jacs[0] if isinstance(argnums, int) else tuple(jacs)
        if has_aux:
            return jac, _detach_all(aux, nested)
        return jac

    return wrapped


def _jacobian_of(out: Tensor, x: Tensor, seed_node, nested: bool):
    """d out / d x: one tangent pass per element of x, the columns stacked last."""
    from .ops import api

    shape = out.shape + x.shape
    if not out.requires_grad or x.size == 0 or out.size == 0:
        return new_tensor(np.zeros(shape, dtype=out.dtype), None, False)
    nodes = _fwd.order([_fwd.node_of(out)], {seed_node: None})
    root = _fwd.node_of(out)
    columns = []
    for j in range(x.size):
        onehot = np.zeros(x.size, dtype=x.dtype)
        onehot[j] = 1
        seed = onehot.reshape(x.shape)
        if nested:
            seed = new_tensor(seed, None, False)
        tangents = _fwd.push(nodes, {seed_node: seed}, nested)
        t = tangents.get(root)
        if t is None:
            t = np.zeros(out.shape, out.dtype)
        columns.append(t)
    if nested:
        cols = [c if isinstance(c, Tensor) else new_tensor(c, None, False) for c in columns]
        return api.reshape(api.stack(cols, axis=-1), shape)
    return new_tensor(np.stack(columns, axis=-1).reshape(shape), None, False)


def hvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """(func(*primals), H @ tangents) for a scalar ``func``: forward-over-reverse (a jvp
    of the gradient), with the semantics of ``torch.autograd.functional.hvp`` (torch.func
    has no hvp of its own); the second entry is a tuple with one product per primal.
    With ``has_aux`` func returns (output, aux) and hvp returns (output, hvp_out, aux)."""
    primals = _as_tuple(primals, "primals")
    nums = tuple(range(len(primals)))
    holder = {}

    def gradient(*xs):
        def value(*ys):
            result = func(*ys)
            if has_aux:
                result, holder["aux"] = result
            return result

        out, grads = _functional.value_and_grad(value, argnums=nums)(*xs)
        return tuple(grads), out

    _, hv, out = jvp(gradient, primals, tangents, has_aux=True)
    if has_aux:
        return out, hv, _detach_all(holder.get("aux"), _nested(primals, tangents))
    return out, hv


def elementwise_grad(fun, argnum: int = 0):
    """HIPS autograd's elementwise_grad: the gradient of sum(fun(*args)) in argument
    ``argnum``, which for an elementwise ``fun`` is its derivative at every element
    (shape of the argument)."""

    def summed(*args):
        out = fun(*args)
        if not isinstance(out, Tensor):
            raise TypeError(f"elementwise_grad needs fun to return a Tensor, got {type(out)}")
        return out.sum()

    return _functional.grad(summed, argnum)
