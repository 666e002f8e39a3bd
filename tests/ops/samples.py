"""Sample inputs written by kind, not by op: every op of a kind gets all of them.

A ``Sample`` holds the differentiable float64 inputs (``inputs``), the static
arguments (``kwargs``: axes, indices, conditions, constants) and what the
checks may assume about it:

- ``fd``: central finite differences are valid (no kink, tie or pole within eps);
- ``torch2``: PyTorch's second derivative is the exact one (see ``note``);
- ``differs``: why PyTorch's first derivative follows another convention here
  (a row of docs/engine.md's conventions table); PyTorch checks skip the sample;
- ``layout``: "C", "T" (the inputs handed over as transposed views) or "strided"
  (every other column of a wider array), so non-contiguous inputs reach the op.

Every builder yields the awkward cases by construction: 0-d, size-0 and size-1
dimensions, negative axes, axis tuples, keepdims, broadcasting both ways, index
forms with repeats, values at kinks, and one long axis per reduction (``long``).
Values are multiples of 1/8 or float32-rounded normals, so the float32 run sees
exactly the same inputs as the float64 one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Entries that also call other spellings of an op (the Tensor method, gs.name) compare
# their values; tests/tracing/test_trace_ops.py turns this off, since a value read is
# refused by a trace (the spellings are checked eagerly by tests/ops).
CHECK_SPELLINGS = True

LONG_ROWS = 200_000  # the long-axis precision case of each reduction


@dataclass
class Sample:
    inputs: tuple
    kwargs: dict = field(default_factory=dict)
    note: str = ""
    fd: bool = True
    torch2: bool = True
    differs: str = ""
    layout: str = "C"
    long: bool = False

    def arrays(self, dtype=np.float64) -> list:
        """Fresh input arrays of ``dtype`` in this sample's memory layout."""
        return [_laid_out(np.asarray(a, dtype=dtype), self.layout) for a in self.inputs]


def _laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    if layout == "T" and a.ndim >= 2:
        return np.ascontiguousarray(a.T).T  # same values, Fortran-ordered memory
    if layout == "strided" and a.ndim >= 1:
        wide = np.repeat(a, 2, axis=-1)
        return wide[..., ::2]  # same values, a stride of two elements
    return a.copy()


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def normal(shape, seed: int = 0, lo: float | None = None) -> np.ndarray:
    """Float32-representable normals (the float32 run sees the same values)."""
    a = rng(seed).standard_normal(shape).astype(np.float32).astype(np.float64)
    if lo is not None:  # a positive domain: |a| + lo
        a = np.abs(a) + lo
    return a


def distinct(shape, seed: int = 0) -> np.ndarray:
    """Values 1/8 apart in a random order: no ties, exactly representable."""
    n = int(np.prod(shape))
    return (rng(seed).permutation(n) - n / 2).reshape(shape) / 8.0


# ---------------------------------------------------------------- by kind
def unary(domain: str = "any", kinks=(), poles=()) -> list:
    """Elementwise one-input ops. ``kinks``: points where the op is not smooth
    (checked against PyTorch's convention, not finite differences); ``poles``:
    points where the gradient is infinite or undefined."""
    pos = domain == "positive"
    out = [
        Sample((normal((), 1, 0.5 if pos else None),), note="0-d"),
        Sample((normal((3, 4), 2, 0.5 if pos else None),), note="2-d"),
        Sample((normal((2, 1, 3), 3, 0.5 if pos else None),), note="size-1 dim"),
        Sample((np.zeros((0, 3)),), note="size-0 dim"),
        Sample((normal((3, 4), 4, 0.5 if pos else None),), note="transposed", layout="T"),
        Sample((normal((2, 3), 5, 0.5 if pos else None),), note="strided", layout="strided"),
    ]
    for k in kinks:
        out.append(Sample((np.array([k, k, 1.25, -0.75]),), note=f"kink at {k}", fd=False))
    for p in poles:
        out.append(Sample((np.array([p, 1.5]),), note=f"pole at {p}", fd=False))
    return out


def binary(domain_b: str = "any") -> list:
    """Two-input elementwise ops: shapes equal, broadcast each way, 0-d, size-0;
    and the other operand as a Python scalar or an ndarray, on either side."""
    pos = domain_b == "positive"
    lo = 0.5 if pos else None

    def b(shape, seed):
        return normal(shape, seed, lo)

    out = [
        Sample((normal((3, 4), 10), b((3, 4), 11)), note="same shape"),
        Sample((normal((3, 1), 12), b((2, 1, 4), 13)), note="broadcast both ways"),
        Sample((normal((2, 3, 4), 14), b((4,), 15)), note="second broadcast"),
        Sample((normal((4,), 16), b((2, 3, 4), 17)), note="first broadcast"),
        Sample((normal((), 18), b((2, 3), 19)), note="0-d with 2-d"),
        Sample((normal((2, 3), 20), b((), 21)), note="2-d with 0-d"),
        Sample((np.zeros((0, 3)), b((1, 3), 22)), note="size-0 dim"),
        Sample((normal((3, 4), 23), b((3, 4), 24)), note="transposed", layout="T"),
        Sample((normal((2, 4), 25), b((2, 4), 26)), note="strided", layout="strided"),
        Sample((normal((2, 3), 27),), {"other": 1.5 if pos else -0.75}, "tensor op scalar"),
        Sample((b((2, 3), 28),), {"other": 0.625, "left": True}, "scalar op tensor"),
        Sample((normal((2, 3), 29),), {"other": b((3,), 30)}, "tensor op array"),
        Sample((b((3,), 31),), {"other": normal((2, 3), 32), "left": True}, "array op tensor"),
    ]
    return out


def _axis_variants(ndim: int) -> list:
    """None, every axis both signs, a tuple with a negative axis, ()."""
    axes = [None, ()]
    for a in range(ndim):
        axes += [a, a - ndim]
    if ndim >= 2:
        axes += [(0, -1), (-1, 0)]
    if ndim >= 3:
        axes.append((0, 2))
    return axes


def reduction(values=normal, ties: bool = False, empty_ok: bool = True) -> list:
    """Reductions with axis/keepdims: every axis form on a 3-d input, 0-d with
    axis None/0/-1, size-1 and size-0 dims, non-contiguous input, one long axis."""
    out = []
    x3 = values((2, 3, 4), 40)
    for axis in _axis_variants(3):
        for keep in (False, True):
            out.append(Sample((x3,), {"axis": axis, "keepdims": keep}, f"axis={axis} keep={keep}"))
    for axis in (None, 0, -1):
        out.append(Sample((values((), 41),), {"axis": axis, "keepdims": False}, f"0-d axis={axis}"))
    out.append(Sample((values((3, 1), 42),), {"axis": 1, "keepdims": False}, "size-1 axis"))
    if empty_ok:
        out.append(Sample((np.zeros((0, 3)),), {"axis": 1, "keepdims": True}, "size-0 kept"))
    out.append(Sample((values((3, 4), 43),), {"axis": 0, "keepdims": False}, "T", layout="T"))
    out.append(
        Sample((values((3, 4), 44),), {"axis": -1, "keepdims": True}, "strided", layout="strided")
    )
    long = np.abs(normal((LONG_ROWS, 2), 45)) + 1.0
    out.append(Sample((long,), {"axis": 0, "keepdims": False}, "long axis", long=True))
    if ties:
        tied = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
        for axis in (None, 1, -2):
            out.append(
                Sample((tied,), {"axis": axis, "keepdims": False}, f"ties axis={axis}", fd=False)
            )
    return out


def along_axis() -> list:
    """softmax-like ops: one integer axis, both signs; 0-size and long cases."""
    out = [Sample((normal((2, 3, 4), 50),), {"axis": a}, f"axis={a}") for a in (0, 1, -1, -3)]
    out.append(Sample((normal((1, 5), 51),), {"axis": 0}, "size-1 axis"))
    out.append(Sample((normal((3, 4), 52) * 40,), {"axis": -1}, "large magnitude"))
    out.append(Sample((normal((3, 4), 53),), {"axis": 0}, "T", layout="T"))
    out.append(Sample((np.zeros((0, 3)),), {"axis": -1}, "size-0"))
    masked = np.array([[-np.inf, 1.0, 0.0], [-np.inf, 2.0, -np.inf]])
    out.append(Sample((masked,), {"axis": -1}, "-inf entries (masking)", fd=False, torch2=False))
    long = normal((LONG_ROWS, 2), 54)
    out.append(Sample((long,), {"axis": 0}, "long axis", long=True))
    return out


def index_forms() -> list:
    """Every index form, repeats included, on a (4, 3) and a (2, 3, 4) input."""
    x = normal((4, 3), 60)
    x3 = normal((2, 3, 4), 61)
    forms = [
        (x, 1, "int"),
        (x, -1, "negative int"),
        (x, (1, 2), "two ints"),
        (x, slice(None, None, -2), "negative step"),
        (x, (Ellipsis, 1), "ellipsis"),
        (x, (None, slice(1, 3)), "newaxis"),
        (x, [0, 0, 2], "list with repeats"),
        (x, ((0, 0), slice(None)), "tuple with repeats"),
        (x, (np.array([3, -1, 3]), slice(None)), "array, negative repeats"),
        (x, (slice(None), [2, 2]), "slice then list"),
        (x, ([0, 0], [1, 1]), "repeated pairs"),
        (x, np.array([[0, 1], [1, 0]]), "2-d array"),
        (x, x > 0, "boolean mask"),
        (x, np.array([True, False, True, True]), "row mask"),
        (x, [], "empty list"),
        (x3, (slice(None), [0, 0], slice(1, 3)), "slice list slice"),
        (x3, (0, slice(None), [1, 1, -1]), "int slice list"),
        (x3, (Ellipsis, [0, 0]), "ellipsis list"),
        (x, (np.array(2), slice(None)), "0-d index array"),
    ]
    return [Sample((a,), {"index": ix}, note) for a, ix, note in forms]


def matmul_shapes() -> list:
    out = []
    cases = [
        ((4,), (4,), "vec@vec"),
        ((4,), (4, 3), "vec@mat"),
        ((3, 4), (4,), "mat@vec"),
        ((3, 4), (4, 2), "mat@mat"),
        ((2, 3, 4), (4, 2), "batch@mat"),
        ((3, 4), (2, 4, 5), "mat@batch"),
        ((2, 1, 3, 4), (5, 4, 2), "batch broadcast both"),
        ((0, 4), (4, 2), "size-0 rows"),
        ((3, 0), (0, 2), "size-0 inner"),
    ]
    for i, (sa, sb, note) in enumerate(cases):
        out.append(Sample((normal(sa, 70 + i), normal(sb, 80 + i)), note=note))
    out.append(Sample((normal((3, 4), 90), normal((4, 3), 91)), note="T", layout="T"))
    return out


def shapes_for(kind: str) -> list:
    return {"matmul": matmul_shapes, "index": index_forms, "along": along_axis}[kind]()
