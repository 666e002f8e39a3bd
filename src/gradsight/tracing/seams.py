"""gs.trace's handler for the engine's declared seams (gradsight._core.policy).

While one step is traced, this handler is installed: the engine, the ops and
the optimizers run unchanged on traced arrays (recorder.Sym), and ask the
handler only where a policy differs from the eager one:

- a leaf's gradient is stored with recorded arithmetic, and only for a tensor
  the trace found (its gradient must be an output of the program);
- hooks in backward are refused (they run arbitrary Python);
- ``gs.rand``/``gs.randn`` draw from gradsight's generator as eagerly, and the
  draw becomes an input of the program: each replay draws afresh, in the same
  order, shape and dtype, so a traced run equals an eager one draw for draw;
- ``t.numpy()`` on a traced tensor reads its value (refused, see Recorder.read);
- ``opt.step()`` of an optimizer the trace did not find is refused (its state
  would be made inside the program, afresh on every replay);
- backward reports the node whose rules run, which labels the ops it records.

Nothing in another module is replaced. The handler governs the tracing thread
only: other threads running eagerly meanwhile get the eager policies.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from gradsight import creation
from gradsight._core import policy
from gradsight._core.tensor import new_tensor
from gradsight.ops.declare import label_of

from .recorder import Sym, TraceError, _writable

_KIND_NAMES = {"random": "rand", "standard_normal": "randn"}


class TraceHandler:
    """The policies of one tracing call (``with TraceHandler(session):``)."""

    def __init__(self, session):  # a traced._Session
        self.session = session
        self.rec = session.rec
        self.thread = threading.get_ident()
        self.known_optimizers = {id(o) for o in session.found.optimizers}
        self.where = None  # in backward: the node whose rules run, True between rules
        self.updating = None  # the qualified name of the optimizer step running
        self.gen = creation.generator()
        self.gen_start = self.gen.bit_generator.state
        self.gen_expected = self.gen_start  # the state the recorded draws leave

    # ------------------------------------------------------------ installation
    def __enter__(self):
        self.rec.seam = self
        policy.install(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        policy.uninstall(self)
        self.rec.seam = None
        if exc_type is None:
            self.check_generator()

    def _mine(self) -> bool:
        return threading.get_ident() == self.thread

    # ------------------------------------------------------------ labels
    def label(self) -> str | None:
        """The context of an op recorded now (see Recorder._context), or None: the
        user's code, which the recorder names by its line."""
        where = self.where
        if where is True:
            return "backward:gradient bookkeeping"
        if where is not None:
            return "backward:" + label_of(where.prim) + self._forward_of(where)
        if self.updating is not None:
            return "update:" + self.updating
        return None

    def _forward_of(self, node) -> str:
        """``|file:line`` of the forward op whose node's rules run, when recorded."""
        out = node.out
        if not isinstance(out, Sym):
            return ""
        where = self.rec.contexts.get(id(out.var), "")
        return "|" + where.split(":", 1)[1] if where.startswith("forward:") else ""

    def backward_at(self, where) -> None:
        if self._mine():
            self.where = where

    # ------------------------------------------------------------ policies
    def accumulate_leaf(self, var, g, is_owned, create_graph) -> bool:
        if not self._mine():
            return False
        if g.__class__ is np.ndarray:  # an untraced gradient the trace added into
            promoted = self.rec.promoted_sym(g)
            g = g if promoted is None else promoted
        if not isinstance(g, Sym) and not isinstance(getattr(var.grad, "data", None), Sym):
            return False
        _accumulate_traced(self.session, var, g, create_graph)
        return True

    def before_hooks(self, node) -> None:
        if self._mine():
            raise TraceError(
                f"a hook on {node.name} would run during a traced backward: gs.trace does not "
                "record hooks (they run arbitrary Python). Remove the hook or run untraced"
            )

    def read(self, data, how: str):
        if isinstance(data, Sym) and self._mine():
            return self.rec.read(data, how)
        return data

    def optimizer_step(self, opt, step, args, kwargs):
        if not self._mine():
            return step(opt, *args, **kwargs)
        if id(opt) not in self.known_optimizers and _traced_params(opt):
            raise TraceError(
                f"the step calls {type(opt).__name__}.step() on an optimizer gs.trace did not "
                "find (it looks in the step's arguments, closure, globals and self, one level "
                "into lists, dicts and objects): its state would be left out of the program. "
                "Pass the optimizer to the step as an argument"
            )
        outer, self.updating = self.updating, step.__qualname__
        try:
            return step(opt, *args, **kwargs)
        finally:
            self.updating = outer

    def draw(self, kind: str, shape: tuple, dtype):
        if not self._mine():
            return creation.draw(kind, shape, dtype)
        if creation.generator() is not self.gen or self.gen.bit_generator.state != (
            self.gen_expected
        ):
            self.gen_expected = None  # drawn from otherwise: refused at the end
        arr = creation.draw(kind, shape, dtype)
        dtype = None if dtype is None else np.dtype(dtype)
        draws = self.session.draws
        s = self.rec.sym(arr, f"{_KIND_NAMES.get(kind, kind)}{len(draws)}")
        s.var.fresh = True
        # (a weak reference, as for every input: the drawn tensor alone holds its array,
        # so the step may write into it in place as eagerly)
        draws.append((("draw", (kind, shape, dtype)), s.var, weakref.ref(s)))
        if self.gen_expected is not None:
            self.gen_expected = self.gen.bit_generator.state
        return s

    # ------------------------------------------------------------ the generator
    def check_generator(self) -> None:
        """Refuse a step that drew from gradsight's generator other than through
        gs.rand/gs.randn (gs.generator().normal, nn.init) or reseeded it: a replay
        would not repeat that draw."""
        gen = creation.generator()
        if gen is not self.gen:
            raise TraceError(
                "the step reseeds gradsight's generator (gs.manual_seed) while being traced: "
                "a replay would not reseed it. Seed outside the step"
            )
        if self.gen_expected is None or gen.bit_generator.state != self.gen_expected:
            raise TraceError(
                "the step draws from gradsight's generator other than with gs.rand or "
                "gs.randn (gs.generator().normal, gs.nn.init, ...) while being traced: a "
                "replay would use the tracing call's draw every time. Use gs.rand/gs.randn "
                "(each replay draws afresh), or draw outside the step and pass it in"
            )

    def put_back(self) -> None:
        """The generator as it was before the tracing call (a refused call is run
        again eagerly, which must draw what it would have drawn)."""
        self.gen.bit_generator.state = self.gen_start


def _traced_params(opt) -> bool:
    for group in opt.param_groups:
        for p in group["params"]:
            if isinstance(p.data, Sym) or isinstance(getattr(p.grad, "data", None), Sym):
                return True
    return False


def as_ndarray(x: Sym) -> Sym:
    """``np.asarray(x)``, recorded, where x holds a NumPy scalar: a ufunc on 0-d arrays
    returns one, and the eager engine turns each op's result into a 0-d array. Done
    where the value is stored (a scalar parameter's gradient: written in place later,
    out= needs an array), not for every 0-d result (a loss: the same values, and one
    call less per op in the replay)."""
    if x.value.__class__ is np.ndarray:
        return x
    return x.rec.record("func", np.asarray, "asarray", (x,), {}, np.asarray(x.value))


def _accumulate_traced(session, var, g, create_graph) -> None:
    """engine.store_leaf_grad for traced gradients: same arithmetic, recorded."""
    if create_graph:
        raise TraceError("gs.trace does not trace backward(create_graph=True)")
    if id(var) not in session.known:
        raise TraceError(
            f"the step computes a gradient for a tensor of shape {var.shape} that gs.trace did "
            "not find in the step's arguments, closure, globals, modules or optimizers; pass "
            "it (or its module) to the step as an argument"
        )
    dtype = var.data.dtype
    if not isinstance(g, Sym):
        g = _writable(session.rec, np.asarray(g))  # an untraced gradient: a recorded copy
    g = as_ndarray(g)
    if g.dtype != dtype:
        g = g.astype(dtype)
    elif g.var.claimed or not g.var.fresh:
        g = g.copy()  # a private copy: no .grad aliases other memory (as the engine does)
    g.var.claimed = True
    if var.grad is not None:  # into the same .grad object, as the engine does
        g = np.add(var.grad.data, g, dtype=dtype)
        g.var.claimed = True
        var.grad.data = g
        return
    var.grad = new_tensor(g, None, False)
