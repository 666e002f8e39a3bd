"""gradcheck: analytical Jacobians against central finite differences.

PyTorch's defaults and criterion: an entry passes when
|analytical - numerical| <= atol + rtol * |numerical|.
"""

from __future__ import annotations

import numpy as np

from . import autograd
from ._core.grad_mode import enable_grad
from ._core.tensor import Tensor, new_tensor


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree; the message is a table."""


def _outputs(fn, inputs) -> tuple:
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {k} of fn is a {type(o).__name__}, not a Tensor")
    return tuple(outs)


def _numerical(fn, inputs, i, eps, n_out_total):
    """Columns of d(flat outputs)/d(input i), by central differences."""
    x = inputs[i]
    base = x.data
    jac = np.zeros((n_out_total, base.size))
    for k in range(base.size):
        values = []
        for step in (eps, -eps):
            moved = base.copy()
            moved.flat[k] += step
            moved.flags.writeable = False
            args = list(inputs)
            args[i] = new_tensor(moved, None, False)
            values.append(np.concatenate([np.ravel(o.data) for o in _outputs(fn, args)]))
        jac[:, k] = (values[0] - values[1]) / (2 * eps)
    return jac


def _analytical(outs, diff_inputs, n_out_total):
    jacs = [np.zeros((n_out_total, x.size)) for x in diff_inputs]
    row = 0
    for o in outs:
        for j in range(o.size):
            if o.requires_grad:
                onehot = np.zeros(o.size, dtype=o.dtype)
                onehot[j] = 1
                grads = autograd.grad(
                    o,
                    diff_inputs,
                    grad_outputs=onehot.reshape(o.shape),
                    retain_graph=True,
                    allow_unused=True,
                )
                for jac, g in zip(jacs, grads):
                    if g is not None:
                        jac[row] = np.ravel(g.data)
            row += 1
    return jacs


def _compare(i, a, numerical, out_shape, in_shape, atol, rtol) -> dict:
    """One table row: the worst (failing, else largest) error of input i's Jacobian."""
    row = {
        "input": i,
        "shape": in_shape,
        "ok": True,
        "abs": 0.0,
        "rel": 0.0,
        "where": ((), ()),
        "a": 0.0,
        "n": 0.0,
    }
    if a.size == 0:  # an empty input or output: nothing to compare
        return row
    err = np.abs(a - numerical)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(err == 0, 0.0, err / np.abs(numerical))  # inf where numerical is 0
    bad = err > atol + rtol * np.abs(numerical)
    o, j = np.unravel_index(int(np.argmax(np.where(bad, err, -1) if bad.any() else err)), a.shape)
    row.update(
        ok=not bad.any(),
        abs=float(err.max()),
        rel=float(rel.max()),
        where=(
            tuple(int(v) for v in np.unravel_index(o, out_shape)),
            tuple(int(v) for v in np.unravel_index(j, in_shape)),
        ),
        a=float(a[o, j]),
        n=float(numerical[o, j]),
    )
    return row


def _report(rows, eps, atol, rtol) -> str:
    head = f"gradcheck failed (eps={eps:g}, atol={atol:g}, rtol={rtol:g}):"
    table = [
        ("input", "shape", "max abs error", "max rel error", "worst (output, input) index", "ok")
    ]
    for r in rows:
        table.append(
            (
                str(r["input"]),
                str(r["shape"]),
                f"{r['abs']:.3e}",
                f"{r['rel']:.3e}",
                f"{r['where']}",
                "yes" if r["ok"] else "NO",
            )
        )
    widths = [max(len(line[c]) for line in table) for c in range(len(table[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in table]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    worst = next(r for r in rows if not r["ok"])
    lines.append(
        f"worst mismatch in input {worst['input']}: analytical {worst['a']:.6g} vs "
        f"numerical {worst['n']:.6g}"
    )
    return "\n".join([head] + lines)


def gradcheck(
    fn,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check fn's gradients for every input that requires grad (float64 only).

    Returns True, or raises GradcheckError with a per-input table of the
    largest absolute and relative errors and where they occur (returns False
    instead when ``raise_exception=False``).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad; pass tensors with requires_grad=True")
    for i in diff:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need "
                "float64 inputs (make them with dtype='float64')"
            )
    with enable_grad():
        outs = _outputs(fn, inputs)
        n_out = sum(o.size for o in outs)
        analytical = _analytical(outs, [inputs[i] for i in diff], n_out)
    out_shape = outs[0].shape if len(outs) == 1 else (n_out,)
    rows = []
    for k, i in enumerate(diff):
        numerical = _numerical(fn, inputs, i, eps, n_out)
        rows.append(_compare(i, analytical[k], numerical, out_shape, inputs[i].shape, atol, rtol))
    if all(r["ok"] for r in rows):
        return True
    if raise_exception:
        raise GradcheckError(_report(rows, eps, atol, rtol))
    return False
