"""Reverse-mode backward: an iterative pass over the recorded graph.

1. Walk the graph from the roots with an explicit stack, counting for each
   node how many consumer edges lead into it.
2. Process nodes in Kahn order: a node is ready once every consumer has sent
   its contribution. Pending gradients live in a dict and are popped when
   used, so each one is freed as soon as its node has run.
3. For each parent needing a gradient, call the primitive's VJP rule, reduce
   a broadcast result back to the input's shape, and add it to the parent's
   pending gradient (the first contribution is kept, the second allocates,
   later ones add in place).
4. Leaf gradients are written at the end, so a failing backward leaves every
   ``.grad`` as it was.

The rules run on arrays (namespace ARRAY) for an ordinary backward, and on
Tensors (namespace TENSOR) with grad mode on when ``create_graph=True``, so
the gradient computation itself is recorded and can be differentiated.
"""

from __future__ import annotations

import gc
import os
import threading

import numpy as np

from . import policy as _policy
from .arrays import owned_copy
from .grad_mode import mode, set_mode
from .node import MANY_INPUTS, ONE_INPUT, AccumulateGrad, parent_of
from .tensor import Tensor, new_tensor
from .versions import _entries as _writes_logged
from .versions import check_graph as _check_writes

ndarray = np.ndarray
_handlers = _policy.HANDLERS  # (the list itself: installing a handler changes its contents)

FREED_MESSAGE = (
    "{name}: trying to backward through the graph a second time, but its saved "
    "arrays were freed by the first backward. Pass retain_graph=True to the first "
    "backward() (or autograd.grad) if you need to run backward twice."
)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of every leaf."""
    run_backward(tensors, grad_tensors, retain_graph, create_graph, capture=None)


def run_backward(tensors, grad_tensors, retain_graph, create_graph, capture, on_step=None):
    """The backward pass. With ``capture`` (a set of nodes) it returns the
    gradient arriving at each captured node and leaves ``.grad`` untouched.
    ``on_step(node, g, sent)``, if given, sees each node's total incoming
    gradient and the list of (input index, gradient sent) after it runs."""
    # create_graph keeps the graph whatever retain_graph says, as in PyTorch:
    # the new graph's rules read the saved arrays
    retain_graph = bool(retain_graph) or create_graph
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    seam = _handlers[-1] if _handlers else None  # a tool running the step (policy.py)
    if seam is not None:
        seam.backward_at(True)
        try:
            return _run_backward(
                tensors, grad_tensors, retain_graph, create_graph, capture, on_step, seam
            )
        finally:
            seam.backward_at(None)
    return _run_backward(tensors, grad_tensors, retain_graph, create_graph, capture, on_step, None)


def _run_backward(tensors, grad_tensors, retain_graph, create_graph, capture, on_step, seam):
    pending: dict = {}
    roots = []
    for t, g in zip(tensors, grad_tensors):
        node = _root_node(t)
        g = _initial_grad(t, g, create_graph)
        pending[node] = pending[node] + g if node in pending else g
        if node not in roots:
            roots.append(node)
    deps = _count_dependencies(roots)
    if _writes_logged:  # in-place writes may have changed saved arrays (versions.py)
        _check_writes([*deps, *(r for r in roots if r not in deps)])
    F = _namespace(create_graph)
    big = len(deps) > GC_PAUSE_NODES
    if big:
        _gc_pause.enter()
    try:
        if (
            capture is None
            and on_step is None
            and not create_graph
            and not mode.anomaly
            and seam is None
        ):
            # the array rules record nothing, so grad mode stays as the caller
            # has it; hooks (user code) run under no_grad (see _run_hooks)
            _propagate_plain(roots, pending, deps, F, retain_graph)
            return None
        saved_mode = mode.enabled
        set_mode(create_graph, mode.anomaly)
        try:
            return _propagate(
                roots, pending, deps, F, retain_graph, create_graph, capture, on_step, seam
            )
        finally:
            set_mode(saved_mode, mode.anomaly)
    finally:
        if big:
            _gc_pause.exit()


GC_PAUSE_NODES = 1000


class _GCPause:
    """Python's cycle collector paused while a large backward runs.

    Backward creates no reference cycles, but every allocation counts towards
    the collector's thresholds, and each full collection rescans the whole
    live graph: on a 10,000-node graph that is a quarter of the backward's
    time. Shared by threads: the collector is restored when the last ends.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._was_enabled = False

    def enter(self) -> None:
        with self._lock:
            if self._active == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._active += 1

    def exit(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._was_enabled:
                gc.enable()


_gc_pause = _GCPause()
_namespaces = []


def _namespace(create_graph: bool):
    """The rules' vocabulary: arrays, or Tensors when building a graph (lazy: ops
    imports the engine's modules, not the other way round)."""
    if not _namespaces:
        from gradsight.ops.namespaces import ARRAY, TENSOR

        _namespaces.extend((ARRAY, TENSOR))
    return _namespaces[create_graph]


def _root_node(t):
    if not isinstance(t, Tensor):
        raise TypeError(f"backward needs Tensors, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError(
            f"backward on a tensor of shape {t.shape} that does not require grad and has "
            "no grad_fn: no leaf it depends on has requires_grad=True "
            "(or it was made under no_grad)"
        )
    return parent_of(t)


def _initial_grad(t: Tensor, g, create_graph: bool):
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a single-element tensor, but this one has "
                f"shape {t.data.shape}; pass gradient= of that shape (e.g. gs.ones_like(t))"
            )
        arr = np.empty(t.data.shape, t.data.dtype)
        arr.fill(1)
        return new_tensor(arr, None, False) if create_graph else arr
    arr = g.data if isinstance(g, Tensor) else np.asarray(g)
    if arr.shape != t.data.shape:
        raise ValueError(
            f"gradient has shape {arr.shape} but the tensor it is for has shape {t.data.shape}"
        )
    if create_graph:
        return g if isinstance(g, Tensor) else new_tensor(arr, None, False)
    return arr


def _count_dependencies(roots) -> dict:
    """For each reachable node, the number of graph edges that point into it."""
    deps = {}
    stack = list(roots)
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        while True:  # down a run of nodes with one parent, without the stack
            p0, p1 = node.p0, node.p1  # Node.parents, inlined (see node.py)
            if p1 is ONE_INPUT or p1 is None:
                if p0 is None or p0 in deps:
                    if p0 is not None:
                        deps[p0] += 1
                    break
                deps[p0] = 1
                node = p0
                continue
            ps = p0 if p1 is MANY_INPUTS else (p0, p1)
            for p in ps:
                if p is not None:
                    if p in deps:
                        deps[p] += 1
                    else:
                        deps[p] = 1
                        push(p)
            break
    return deps


def _propagate_plain(roots, pending, deps, F, retain_graph) -> None:
    """The loop of an ordinary ``backward()``: arrays only, nothing captured or
    observed. It is ``_propagate`` with those branches taken out, because this
    loop runs once per node of every training step, plus two shortcuts for a
    node's only gradient: a parent runs next straight from locals, a leaf
    without hooks is stored at once. Same results, same order of additions."""
    ready = [r for r in roots if r not in deps] if len(roots) > 1 else list(roots)
    owned = set()  # as in _propagate
    leaf_grads = []
    pop_ready = ready.pop
    push_ready = ready.append
    pop_pending = pending.pop
    get_pending = pending.get
    while ready:
        node = pop_ready()
        g = pop_pending(node)
        # A parent that becomes ready with its first and only gradient is run
        # next straight from these locals (``node, g = ready_next``): the same
        # order as pushing it last, without the trip through pending/ready.
        while node is not None:
            prim = node.prim
            if prim is None:  # AccumulateGrad: a leaf
                if node.variable._hooks is not None:
                    g = _run_hooks(node, g, False)
                    owned.discard(node)
                leaf_grads.append((node.variable, g, node in owned))
                break
            if node.hooks is not None:
                g = _run_hooks(node, g, False)
                owned.discard(node)
            args = node.args
            if args is None:
                raise RuntimeError(FREED_MESSAGE.format(name=node.name))
            out = node.out
            vjps = prim.vjps
            ready_next = None
            i = 0
            p1 = node.p1  # Node.parents, inlined (see node.py); a None p1 needs no visit
            ps = (
                (node.p0,)
                if p1 is ONE_INPUT or p1 is None
                else node.p0
                if p1 is MANY_INPUTS
                else (node.p0, p1)
            )
            for p in ps:
                if p is not None:
                    r = vjps[i](F, g, out, *args)
                    shape = args[i].shape
                    try:
                        same = r.shape == shape
                    except AttributeError:
                        raise _not_an_array(node, i, r) from None
                    if not same:
                        r = _reduce_to(F, r, shape, node, i)
                    d = deps[p] - 1
                    acc = get_pending(p)
                    if acc is None:
                        if not d:  # p's first and only gradient
                            if p.prim is None and p.variable._hooks is None:
                                # a leaf without hooks: nothing left to do but store it
                                fresh = r.__class__ is ndarray and r is not g and r.base is None
                                leaf_grads.append((p.variable, r, fresh))
                            else:
                                if ready_next is not None:
                                    pending[ready_next[0]] = ready_next[1]
                                    push_ready(ready_next[0])
                                ready_next = (p, r)
                            i += 1
                            continue
                        pending[p] = r
                        # ours to add into when the next contribution comes
                        if r.__class__ is ndarray and r is not g and r.base is None:
                            owned.add(p)
                    elif p in owned:
                        # (stored again: the same array, except under gs.trace, where an
                        # untraced array a traced gradient was added into becomes traced)
                        pending[p] = np.add(acc, r, out=acc)
                    else:
                        acc = acc + r
                        pending[p] = acc
                        if acc.__class__ is ndarray:
                            owned.add(p)
                    if d:
                        deps[p] = d
                    else:
                        push_ready(p)
                i += 1
            if not retain_graph:
                node.meta = (out.shape, out.dtype)  # Node.release(), inlined: once per node
                node.args = node.out = None
            if ready_next is None:
                break
            node, g = ready_next
    if leaf_grads:
        with _leaf_lock:  # backward passes in several threads may share a leaf
            for var, g, is_owned in leaf_grads:
                store_leaf_grad(var, g, is_owned, False)


def _propagate(roots, pending, deps, F, retain_graph, create_graph, capture, on_step, seam=None):
    ready = [r for r in roots if r not in deps] if len(roots) > 1 else list(roots)
    owned = set()  # nodes whose pending array was allocated here and is ours to add into
    leaf_grads = []
    captured = {}
    observe = mode.anomaly or on_step is not None  # the slow path: checks and tracing
    pop_pending = pending.pop
    get_pending = pending.get
    while ready:
        node = ready.pop()
        g = pop_pending(node)
        prim = node.prim
        if (node.hooks if prim is not None else node.variable._hooks) is not None:
            g = _run_hooks(node, g, create_graph)
            owned.discard(node)  # a hook's result belongs to the hook's author
        if capture is not None and node in capture:
            captured[node] = (g, node in owned)
        if prim is None:  # AccumulateGrad: a leaf
            if on_step is not None:
                on_step(node, g, [])
            if capture is None:
                leaf_grads.append((node.variable, g, node in owned))
            continue
        args = node.args
        if args is None:
            raise RuntimeError(FREED_MESSAGE.format(name=node.name))
        if create_graph:
            out = new_tensor(node.out, node, True)
            inputs = _inputs_as_tensors(node)
        else:
            out = node.out
            inputs = args
        vjps = prim.vjps
        sent = [] if observe else None
        i = -1
        p1 = node.p1  # Node.parents, inlined (see node.py); a None p1 needs no visit
        ps = (
            (node.p0,)
            if p1 is ONE_INPUT or p1 is None
            else node.p0
            if p1 is MANY_INPUTS
            else (node.p0, p1)
        )
        for p in ps:
            i += 1
            if p is None:
                continue
            if seam is None:
                r = vjps[i](F, g, out, *inputs)
            else:  # a tool labels what the rule does with the node (see policy.py)
                seam.backward_at(node)
                r = vjps[i](F, g, out, *inputs)
                seam.backward_at(True)
            shape = args[i].shape
            try:
                same = r.shape == shape
            except AttributeError:
                raise _not_an_array(node, i, r) from None
            if not same:
                r = _reduce_to(F, r, shape, node, i)
            if observe:
                _observe(node, i, r, sent)
            acc = get_pending(p)
            if acc is None:
                pending[p] = r
                if r.__class__ is ndarray and r is not g and r.base is None:
                    owned.add(p)
            elif create_graph or p not in owned:
                acc = acc + r
                pending[p] = acc
                if acc.__class__ is ndarray:
                    owned.add(p)
            else:
                pending[p] = np.add(acc, r, out=acc)  # (see _propagate_plain)
            d = deps[p] - 1
            if d:
                deps[p] = d
            else:
                ready.append(p)
        if on_step is not None:
            on_step(node, g, sent)
        if not retain_graph:
            node.release()
    if leaf_grads:
        with _leaf_lock:  # backward passes in several threads may share a leaf
            for var, g, is_owned in leaf_grads:
                if seam is None or not seam.accumulate_leaf(var, g, is_owned, create_graph):
                    store_leaf_grad(var, g, is_owned, create_graph)
    return captured


def _observe(node, i, r, sent) -> None:
    if mode.anomaly:
        _check_finite(node, i, r)
    sent.append((i, r))


def _inputs_as_tensors(node):
    """The node's inputs as Tensors tied to the graph (for create_graph rules)."""
    args = node.args
    inputs = list(args)
    for i, p in enumerate(node.parents):
        if p is None:
            continue
        if p.__class__ is AccumulateGrad:
            inputs[i] = p.variable
        else:
            inputs[i] = new_tensor(args[i], p, True)
    return inputs


def _not_an_array(node, i, r) -> RuntimeError:
    return RuntimeError(
        f"{node.name}: the backward rule for input {i} returned a {type(r).__name__}, not an array"
    )


def _reduce_to(F, r, shape, node, i):
    """Sum a broadcast gradient back to the input's shape, or name the mismatch."""
    reduced = None
    try:
        reduced = F.sum_to(r, shape)
    except ValueError:
        pass
    if reduced is None or reduced.shape != shape:
        raise RuntimeError(
            f"{node.name}: the backward rule for input {i} returned a gradient of shape "
            f"{tuple(r.shape)}, which does not match (or broadcast to) the input's shape {shape}"
        )
    return reduced


def _check_finite(node, i, r) -> None:
    data = r.data if isinstance(r, Tensor) else r
    if np.isfinite(data).all():
        return
    where = ""
    if node.trace:
        frame = _user_frame(node.trace)
        where = f" The op was created at {frame.filename}:{frame.lineno}: {frame.line}"
    raise RuntimeError(
        f"detect_anomaly: {node.name} returned nan/inf in the gradient for its input {i}.{where}"
    )


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_frame(trace):
    """The innermost frame outside gradsight's own package (where the user made the op)."""
    for frame in reversed(trace):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return frame
    return trace[-1]


def _run_hooks(node, g, create_graph):
    """Hooks see a private read-only copy: they can neither write into a gradient
    shared with other branches (or the caller's array) nor keep an alias to it."""
    if _handlers:  # a tool running the step decides (gs.trace refuses hooks)
        _handlers[-1].before_hooks(node)
    if not create_graph and mode.enabled:  # the plain loop leaves grad mode on
        set_mode(False, mode.anomaly)
        try:
            return _run_hooks(node, g, create_graph)
        finally:
            set_mode(True, mode.anomaly)
    hooks = node.hooks
    if create_graph:
        grad = g
    else:
        private = np.array(g)
        private.setflags(False)
        grad = new_tensor(private, None, False)
    for fn in list(hooks):
        result = fn(grad)
        if result is not None:
            if not isinstance(result, Tensor):
                result = Tensor(result)
            if result.shape != grad.shape:
                raise RuntimeError(
                    f"a hook on {node.name} returned a gradient of shape {result.shape}, "
                    f"expected {grad.shape}"
                )
            grad = result
    return grad if create_graph else grad.data


_leaf_lock = threading.Lock()


def store_leaf_grad(var: Tensor, g, is_owned: bool, create_graph: bool) -> None:
    """Add the gradient ``g`` backward computed for the leaf ``var`` into ``var.grad``
    (``is_owned``: g is a fresh array nothing else holds, kept without a copy)."""
    dtype = var.data.dtype
    if create_graph:
        if g.dtype != dtype:
            g = g.astype(dtype)
        var.grad = g if var.grad is None else var.grad + g
        return
    if g.__class__ is not ndarray or not is_owned or g.dtype != dtype:
        g = owned_copy(g, dtype)  # a private copy: no .grad aliases other memory
    if var.grad is not None:  # accumulate into the same .grad object, as PyTorch does
        g = np.add(var.grad.data, g, dtype=dtype)
        g.setflags(False)
        var.grad.data = g
        return
    g.setflags(False)
    var.grad = new_tensor(g, None, False)
