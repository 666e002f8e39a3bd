"""``gs.trace(step, verify=...)``: a replay run beside the eager step, compared bit for bit.

A verified call checks the program's guards, runs the program on its inputs
with every array it writes into copied (scratch outputs: nothing the user
holds changes), puts gradsight's random generator back where it was, then
runs the eager step on the real state and compares every output of the
program (new parameters, gradients, optimizer state, returned tensors and
values) with what the eager step left. The eager step's results are kept, so
the step's effects happen once; any difference raises ``TraceError`` naming
what differed.

Modes (``verify=``): ``False`` (never), ``"first"`` (each program's first
replay), an int N (each program's replays 1, N+1, 2N+1 ...), ``"all"`` (every
replay). ``None`` takes the default from the environment variable
``GRADSIGHT_TRACE_VERIFY`` (same values; unset means False).
"""

from __future__ import annotations

import os

import numpy as np

from gradsight import creation
from gradsight._core.tensor import Tensor

from .guards import DataSlot, GradSlot, read_holder
from .recorder import TraceError

ENV = "GRADSIGHT_TRACE_VERIFY"


def every(verify) -> int:
    """``verify=`` as a period: 0 never, 1 every replay, N every N-th (from the first),
    -1 only each program's first replay."""
    if verify is None:
        text = os.environ.get(ENV, "").strip().lower()
        if text in ("", "0", "false", "off", "no"):
            return 0
        if text.isdigit():
            return int(text)
        if text in ("first", "all", "true", "on", "yes"):
            return 1 if text == "all" else -1
        raise ValueError(f"{ENV}={text!r}: expected first, all, a positive int, or off")
    if verify is False:
        return 0
    if verify is True or verify == "first":
        return -1
    if verify == "all":
        return 1
    if isinstance(verify, int) and not isinstance(verify, bool) and verify > 0:
        return verify
    raise ValueError(f"verify must be False, 'first', 'all' or a positive int, got {verify!r}")


def due(period: int, replays: int) -> bool:
    """Whether a program's replay number ``replays`` (from 0) is verified."""
    if period == 0:
        return False
    if period < 0:
        return replays == 0
    return replays % period == 0


def read_inputs(program, args) -> list:
    """The program's inputs, read from the arguments and the state as the replay reads them."""
    return [_read(kind, ref, args) for kind, ref in program.inputs]


def _read(kind, ref, args):
    if kind == "draw":
        return creation.draw(*ref)
    if kind == "arg":
        a = args[ref]
        return a.data if isinstance(a, Tensor) else a
    if kind == "arggrad":
        return args[ref].grad.data
    if kind == "argitem":
        v = args[ref[0]]
        for k in ref[1:]:
            v = v[k]
        return v
    if kind == "argdata":
        return args[ref].data
    if kind == "held":
        return read_holder(ref[0], ref[1])
    if isinstance(ref, DataSlot):
        return ref.t.data
    if isinstance(ref, GradSlot):
        g = ref.t.grad
        return None if g is None else g.data
    return ref.get()


def _label(kind, ref) -> str:
    if kind in ("arg", "argdata"):
        return f"argument {ref}"
    if kind == "arggrad":
        return f"the gradient of argument {ref}"
    if kind == "argitem":
        return f"argument {ref[0]}" + "".join(f"[{k!r}]" for k in ref[1:])
    if kind == "held":
        return f"the array the step reads as {ref[1]!r}"
    if kind == "draw":
        return f"the draw of gs.{'rand' if ref[0] == 'random' else 'randn'}{ref[1]}"
    what = {"data": "", "grad": "gradient ", "state": "optimizer state "}.get(ref.kind, "")
    return what + ref.name


def run_scratch(program, args):
    """The program run on the current inputs, writing only into copies; returns
    (outputs or program.retrace, the inputs as the program left them)."""
    gen = creation.generator()
    saved = gen.bit_generator.state  # (before the inputs: gs.rand's draws are some)
    inputs = read_inputs(program, args)
    for i in getattr(program, "updated_inputs", ()):
        v = inputs[i]
        if isinstance(v, np.ndarray):
            inputs[i] = v.copy(order="K")
    try:
        outs = program.fn(*inputs)  # (own= by default all False: parameters get new arrays)
    finally:
        gen.bit_generator.state = saved  # the eager step draws what it would have drawn
    return outs, inputs


def differences(program, args, outs, scratch_inputs, result) -> list:
    """What the eager step (already run: its state and ``result``) left that the
    scratch replay did not: one line per difference."""
    found = []
    rets = []
    for k, (kind, ref) in enumerate(program.outputs):
        if kind == "ret":
            rets.append(outs[k])
            continue
        why = _bits(outs[k], _read(kind, ref, args))
        if why:
            found.append(f"{_label(kind, ref)}: {why}")
    for i in getattr(program, "updated_inputs", ()):
        kind, ref = program.inputs[i]
        if kind == "draw":  # the step's own fresh array (gs.rand), not state: and a read
            continue  # here would draw again
        why = _bits(scratch_inputs[i], _read(kind, ref, args))
        if why:
            found.append(f"{_label(kind, ref)} (updated in place): {why}")
    _compare_result(program.template, rets, result, "the returned value", found)
    return found


def _compare_result(template, rets, value, where: str, found: list) -> None:
    kind = template[0]
    if kind == "tensor":
        if not isinstance(value, Tensor):
            found.append(f"{where}: a Tensor in the replay, {type(value).__name__} eagerly")
            return
        why = _bits(rets[template[1]], value.data)
    elif kind in ("const_tensor", "const_array"):
        data = value.data if isinstance(value, Tensor) else value
        why = _bits(template[1], data) if isinstance(data, np.ndarray) else "not an array eagerly"
    elif kind == "const":
        why = _same_object(template[1], value)
    elif kind == "seq":
        if not isinstance(value, template[1]) or len(value) != len(template[2]):
            found.append(f"{where}: a {template[1].__name__} of {len(template[2])} in the replay")
            return
        for k, (t, v) in enumerate(zip(template[2], value)):
            _compare_result(t, rets, v, f"{where}[{k}]", found)
        return
    else:  # dict
        if not isinstance(value, dict) or list(value) != [k for k, _ in template[1]]:
            found.append(f"{where}: other keys eagerly")
            return
        for k, t in template[1]:
            _compare_result(t, rets, value[k], f"{where}[{k!r}]", found)
        return
    if why:
        found.append(f"{where}: {why}")


def _same_object(replayed, eager) -> str | None:
    if replayed is eager:
        return None
    if type(replayed) is not type(eager):
        return f"{type(replayed).__name__} in the replay, {type(eager).__name__} eagerly"
    try:
        same = bool(replayed == eager)
    except Exception:  # noqa: BLE001 - objects that do not compare: by identity only
        same = False
    if isinstance(replayed, float) and replayed != replayed and eager != eager:
        same = True  # NaN
    return None if same else f"{replayed!r} in the replay, {eager!r} eagerly"


def _bits(replayed, eager) -> str | None:
    """None when the two values are the same bit for bit, else what differs."""
    if replayed is None or eager is None:
        if replayed is None and eager is None:
            return None
        return (
            "None in the replay, a value eagerly"
            if replayed is None
            else ("a value in the replay, None eagerly")
        )
    a, b = np.asarray(replayed), np.asarray(eager)
    if a.shape != b.shape:
        return f"shape {a.shape} in the replay, {b.shape} eagerly"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} in the replay, {b.dtype} eagerly"
    if a.tobytes() == b.tobytes():
        return None
    if a.dtype.kind in "biufc":
        with np.errstate(all="ignore"):
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        flat = np.nan_to_num(diff, nan=np.inf).ravel()
        i = int(np.argmax(flat))
        where = np.unravel_index(i, a.shape) if a.shape else ()
        return (
            f"values differ (largest difference {flat[i]:.3g} at index {tuple(map(int, where))}: "
            f"{a[where]!r} in the replay, {b[where]!r} eagerly)"
        )
    return "values differ"


def mismatch_error(name: str, found: list) -> TraceError:
    return TraceError(
        f"gs.trace(verify=...): the replay of {name} differs from the eager step (the eager "
        "step's results were kept):\n  " + "\n  ".join(found) + "\nRun the step untraced "
        "(traced.step) and report the step: a replay must equal the eager step bit for bit"
    )
