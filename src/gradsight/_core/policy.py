"""The engine's declared seams: the few decisions that depend on who runs a step.

Eagerly, gradsight stores a leaf's gradient in its ``.grad``, runs hooks, draws
random numbers from its generator, hands out a tensor's array from
``.numpy()`` and lets an optimizer step, in the obvious way. A tool that runs a
step under other rules (``gs.trace`` records it) installs a *handler* here for
the duration of that run, with ``install(handler)`` and ``uninstall(handler)``.
Nothing else in gradsight changes while a handler is installed: no module or
class attribute is rebound, only the contents of ``HANDLERS`` change.

Every place that consults a handler reads ``HANDLERS`` (a list, empty when no
tool runs) once and tests it, so the eager cost is a global read and a truth
test; a backward pass reads it once per call, not once per node.

A handler is an object with these methods (each is called only while it is
installed, on any thread: it decides for itself which threads it governs):

``accumulate_leaf(var, g, is_owned, create_graph) -> bool``
    Store the gradient ``g`` that backward computed for the leaf ``var``; True
    when handled, False to let the engine store it (``engine.store_leaf_grad``).
``before_hooks(node)``
    Hooks of ``node`` (a graph node or a leaf's accumulator) are about to run
    in backward; may raise to refuse them.
``backward_at(where)``
    Backward reports where it is: the Node whose VJP rules run now, True for
    the engine's own bookkeeping between rules (reducing broadcast gradients,
    adding them up, storing them), None once the pass is over.
``draw(kind, shape, dtype) -> array``
    A random draw of ``gs.rand``/``gs.randn``: ``kind`` is the Generator method
    (``"random"``, ``"standard_normal"``), the eager draw is ``creation.draw``.
``read(data, how) -> value``
    A tensor's array read as a plain array (``t.numpy()``); ``data`` is not an
    ndarray (an array type of the tool's).
``optimizer_step(opt, step, args, kwargs)``
    Run ``step(opt, *args, **kwargs)``, an optimizer's ``step`` method.
"""

from __future__ import annotations

import functools

# The installed handlers, innermost last. Empty: eager rules everywhere.
HANDLERS: list = []


def install(handler) -> None:
    """Make ``handler`` the one consulted until ``uninstall(handler)``."""
    HANDLERS.append(handler)


def uninstall(handler) -> None:
    """Remove ``handler`` (installed last, or anywhere: removing is never skipped)."""
    if HANDLERS and HANDLERS[-1] is handler:
        HANDLERS.pop()
    else:
        HANDLERS.remove(handler)


def read(data, how: str):
    """``data`` (a tensor's array that is not an ndarray) as ``.numpy()`` gives it."""
    if HANDLERS:
        return HANDLERS[-1].read(data, how)
    return data


def optimizer_step(step):
    """``step`` (an Optimizer subclass's method) running through the seam: every
    ``opt.step()`` call is seen by an installed handler (see optim.Optimizer)."""

    @functools.wraps(step)
    def stepping(self, *args, **kwargs):
        if HANDLERS:
            return HANDLERS[-1].optimizer_step(self, step, args, kwargs)
        return step(self, *args, **kwargs)

    stepping.through_seam = True
    return stepping
