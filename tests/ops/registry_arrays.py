"""Registry entries for NumPy's array functions beyond the core (gradsight/ops/arrays.py).

Each entry calls the op as NumPy code on Tensors (``np.rot90(x, k)``,
``sliding_window_view(x, 3)``), so the sweep checks NumPy's dispatch and the
declared function together; where gs or a Tensor method spells it too, ``_same``
checks that spelling on every sample.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import gradsight as gs

from . import samples as S
from .samples import Sample


def _values(out):
    if isinstance(out, (list, tuple)):
        return [_values(o) for o in out]
    return out.data


def _same(np_fn, *others):
    def call(*xs, **kw):
        out = np_fn(*xs, **kw)
        for fn in others if S.CHECK_SPELLINGS else ():
            got = _values(fn(*xs, **kw))
            want = _values(out)
            for g, w in zip(got, want) if isinstance(want, list) else [(got, want)]:
                np.testing.assert_array_equal(g, w, err_msg=str(fn))
        return out

    return call


def _at_least(samples, ndim):
    return [s for s in samples if np.ndim(s.inputs[0]) >= ndim]


def _rot90_samples():
    x = S.normal((3, 4), 500)
    out = [Sample((x,), {"k": k}, f"k={k}") for k in (0, 1, 2, 3, -1, 5)]
    x3 = S.normal((2, 3, 4), 501)
    out += [
        Sample((x3,), {"k": 1, "axes": (2, 0)}, "axes (2, 0)"),
        Sample((x3,), {"k": 3, "axes": (-1, -2)}, "negative axes"),
        Sample((np.zeros((0, 3)),), {"k": 1}, "size-0"),
        Sample((S.normal((3, 4), 502),), {"k": 1}, "T", layout="T"),
    ]
    return out


def _dstack_samples():
    return [
        Sample((S.normal((), 510), S.normal((), 511)), note="0-d"),
        Sample((S.normal((3,), 512), S.normal((3,), 513)), note="1-d"),
        Sample((S.normal((2, 3), 514), S.normal((2, 3), 515), S.normal((2, 3), 516)), note="2-d"),
        Sample((S.normal((2, 3, 1), 517), S.normal((2, 3, 2), 518)), note="3-d"),
        Sample((np.zeros((0, 2)), np.zeros((0, 2))), note="size-0"),
    ]


def _diff_samples():
    x = S.normal((2, 3, 4), 520)
    return [
        Sample((x,), {}, "default"),
        Sample((x,), {"n": 2, "axis": 0}, "n=2 axis=0 (size-0 result)"),
        Sample((x,), {"n": 2, "axis": -2}, "n=2 axis=-2"),
        Sample((x,), {"n": 0}, "n=0"),
        Sample((x,), {"axis": 1, "prepend": 0.5}, "prepend scalar"),
        Sample((x,), {"append": S.normal((2, 3, 1), 521)}, "append array"),
        Sample((S.normal((5,), 522),), {"n": 3}, "1-d n=3"),
        Sample((S.normal((3, 1), 523),), {"axis": 1}, "size-1 axis"),
        Sample((S.normal((3, 4), 524),), {"axis": 0}, "T", layout="T"),
    ]


def _cumprod_samples():
    x = S.normal((2, 3, 4), 530)
    out = [Sample((x,), {"axis": a}, f"axis={a}") for a in (0, 1, -1, None)]
    zeros = np.array([[0.5, 0.0, 2.0, -1.5], [0.0, 0.0, 1.5, 2.0], [1.0, -2.0, 0.5, 0.0]])
    out += [
        Sample((zeros,), {"axis": 1}, "zeros along the axis"),
        Sample((zeros,), {"axis": None}, "zeros, flattened"),
        Sample((S.normal((), 531),), {"axis": None}, "0-d"),
        Sample((np.zeros((0, 3)),), {"axis": 1}, "size-0"),
        Sample((S.normal((1, 4), 532),), {"axis": 0}, "size-1 axis"),
        Sample((S.normal((3, 4), 533),), {"axis": -1}, "strided", layout="strided"),
    ]
    return out


def _kron_samples():
    return [
        Sample((S.normal((2, 3), 540), S.normal((2, 2), 541)), note="2-d with 2-d"),
        Sample((S.normal((3,), 542), S.normal((2, 2), 543)), note="1-d with 2-d"),
        Sample((S.normal((), 544), S.normal((3,), 545)), note="0-d with 1-d"),
        Sample((S.normal((2, 1, 3), 546), S.normal((2, 2), 547)), note="3-d with 2-d"),
        Sample((np.zeros((0, 2)), S.normal((2,), 548)), note="size-0"),
    ]


def _take_samples():
    x = S.normal((3, 4), 550)
    return [
        Sample((x,), {"indices": np.array([0, 5, 5, -1])}, "flat, repeats and negative"),
        Sample((x,), {"indices": np.array([[1, 1], [0, 3]]), "axis": 1}, "axis=1, 2-d indices"),
        Sample((x,), {"indices": np.array([2, 0, 2]), "axis": -2}, "axis=-2 repeats"),
        Sample((x,), {"indices": np.array(2), "axis": 0}, "0-d index"),
        Sample((x,), {"indices": np.array([], dtype=np.intp)}, "no index"),
    ]


def _take_along_samples():
    x = S.normal((3, 4), 560)
    return [
        Sample((x,), {"indices": np.array([[0, 0, 2, 1]]), "axis": 0}, "axis=0 repeats"),
        Sample((x,), {"indices": np.array([[3, 0], [1, 1], [2, 2]]), "axis": -1}, "axis=-1"),
        Sample((x,), {"indices": np.array([11, 0, 11]), "axis": None}, "axis=None"),
        Sample(
            (S.normal((2, 3, 4), 561),),
            {"indices": np.zeros((2, 1, 4), dtype=np.intp), "axis": 1},
            "3-d, size-1 index axis",
        ),
    ]


def _sort_samples():
    x = S.distinct((2, 3, 4), 570)
    out = [Sample((x,), {"axis": a}, f"axis={a}") for a in (-1, 0, 1, None)]
    ties = np.array([[1.0, 3.0, 1.0, 2.0], [0.5, 0.5, 0.5, -1.0]])
    out += [
        Sample((ties,), {"axis": -1}, "ties (stable)", fd=False),
        Sample((np.zeros((0, 3)),), {"axis": -1}, "size-0"),
        Sample((S.distinct((3, 4), 571),), {"axis": 0}, "T", layout="T"),
    ]
    return out


def _window_samples():
    return [
        Sample((S.normal((6,), 580),), {"window_shape": 3}, "1-d window 3"),
        Sample((S.normal((4, 5), 581),), {"window_shape": (2, 3)}, "2-d window"),
        Sample((S.normal((4, 5), 582),), {"window_shape": 2, "axis": -1}, "axis=-1"),
        Sample((S.normal((2, 4, 4), 583),), {"window_shape": (2, 2), "axis": (1, 2)}, "pooling"),
        Sample((S.normal((3, 3), 584),), {"window_shape": 3, "axis": 0}, "window = axis"),
        Sample((S.normal((4, 5), 585),), {"window_shape": (2, 2)}, "T", layout="T"),
    ]


def _nan_samples():
    out = S.unary()
    special = np.array([np.nan, np.inf, -np.inf, 0.5, -1.25])
    out.append(Sample((special,), {}, "nan and infinities", fd=False))
    out.append(
        Sample((special,), {"nan": 1.5, "posinf": 9.0, "neginf": -9.0}, "given values", fd=False)
    )
    return out


def _running_samples():
    x = S.distinct((3, 5), 590)
    out = [Sample((x,), {"axis": a}, f"axis={a}") for a in (0, 1, -1)]
    ties = np.array([[1.0, 3.0, 3.0, 2.0, 4.0], [2.0, 2.0, 0.5, 2.0, 1.0]])
    out += [
        Sample((ties,), {"axis": 1}, "ties (the last one gets it)", fd=False),
        Sample((S.distinct((4,), 591),), {"axis": 0}, "1-d"),
        Sample((np.zeros((0, 3)),), {"axis": 1}, "size-0"),
    ]
    return out


def _t_running(name):
    def call(torch, x, axis=0):
        return getattr(torch, name)(x, axis).values

    return call


def _t_diff(torch, x, n=1, axis=-1, prepend=None, append=None):
    def t(v):
        if v is None:
            return None
        v = torch.as_tensor(np.asarray(v), dtype=x.dtype)
        if v.ndim == 0:
            shape = list(x.shape)
            shape[axis] = 1
            v = v.expand(shape)
        return v

    return torch.diff(x, n, axis, t(prepend), t(append)) if n else x * 1.0


def _t_take(torch, x, indices, axis=None):
    idx = torch.from_numpy(np.asarray(indices))
    if axis is None:
        return torch.take(x, idx % x.numel() if idx.numel() else idx)
    return x[(slice(None),) * (axis % x.ndim) + (idx % x.shape[axis],)]


def _t_take_along(torch, x, indices, axis):
    idx = torch.from_numpy(np.asarray(indices))
    if axis is None:
        return torch.take_along_dim(x.reshape(-1), idx, 0)
    return torch.take_along_dim(x, idx, axis)


def _t_sort(torch, x, axis=-1):
    if axis is None:
        x, axis = x.reshape(-1), 0
    return torch.sort(x, dim=axis, stable=True).values


def _t_cumprod(torch, x, axis=None):
    return torch.cumprod(x.reshape(-1), 0) if axis is None else torch.cumprod(x, axis)


def _t_nan(torch, x, nan=0.0, posinf=None, neginf=None):
    return torch.nan_to_num(x, nan, posinf, neginf)


def entries(OpInfo) -> list:  # noqa: N803 - the registry's dataclass, passed in (no cycle)
    E = [
        OpInfo(
            "flipud",
            _same(np.flipud, gs.flipud),
            np.flipud,
            lambda torch, x: torch.flipud(x),
            _at_least(S.unary(), 1),
            ("gs.flipud",),
        ),
        OpInfo(
            "fliplr",
            _same(np.fliplr, gs.fliplr),
            np.fliplr,
            lambda torch, x: torch.fliplr(x),
            _at_least(S.unary(), 2),
            ("gs.fliplr",),
        ),
        OpInfo(
            "rot90",
            _same(np.rot90, gs.rot90),
            np.rot90,
            lambda torch, x, k=1, axes=(0, 1): torch.rot90(x, k, axes),
            _rot90_samples(),
            ("gs.rot90",),
        ),
        OpInfo(
            "dstack",
            lambda *xs: _same(np.dstack, gs.dstack)(list(xs)),
            lambda *xs: np.dstack(xs),
            lambda torch, *xs: torch.dstack(xs),
            _dstack_samples(),
            ("gs.dstack", "gs.atleast_3d"),
        ),
        OpInfo(
            "diff",
            _same(np.diff, gs.diff),
            np.diff,
            _t_diff,
            _diff_samples(),
            ("gs.diff",),
        ),
        OpInfo(
            "cumprod",
            _same(np.cumprod, gs.cumprod, lambda x, **kw: x.cumprod(**kw)),
            np.cumprod,
            _t_cumprod,
            _cumprod_samples(),
            ("gs.cumprod", "Tensor.cumprod"),
            rtol32=1e-4,
        ),
        OpInfo(
            "kron",
            _same(np.kron, gs.kron),
            np.kron,
            lambda torch, a, b: torch.kron(a, b),
            _kron_samples(),
            ("gs.kron",),
        ),
        OpInfo(
            "take",
            _same(np.take, gs.take, lambda x, **kw: x.take(**kw)),
            np.take,
            _t_take,
            _take_samples(),
            ("gs.take", "Tensor.take"),
        ),
        OpInfo(
            "take_along_axis",
            _same(np.take_along_axis, gs.take_along_axis),
            np.take_along_axis,
            _t_take_along,
            _take_along_samples(),
            ("gs.take_along_axis",),
        ),
        OpInfo(
            "sort",
            _same(np.sort, gs.sort),
            np.sort,
            _t_sort,
            _sort_samples(),
            ("gs.sort",),
        ),
        OpInfo(
            "sliding_window_view",
            _same(sliding_window_view, gs.sliding_window_view),
            sliding_window_view,
            None,
            _window_samples(),
            ("gs.sliding_window_view",),
        ),
        OpInfo(
            "nan_to_num",
            _same(np.nan_to_num, gs.nan_to_num),
            np.nan_to_num,
            _t_nan,
            _nan_samples(),
            ("gs.nan_to_num",),
        ),
    ]
    for name, tname in (("maximum", "cummax"), ("minimum", "cummin")):
        ufunc = getattr(np, name)
        E.append(
            OpInfo(
                f"{name}.accumulate",
                lambda x, axis, u=ufunc: u.accumulate(x, axis=axis),
                lambda x, axis, u=ufunc: u.accumulate(x, axis=axis),
                _t_running(tname),
                _running_samples(),
            )
        )
    return E + linalg_entries(OpInfo) + more_entries(OpInfo)


# ---------------------------------------------------------------- np.linalg (ops/np_linalg.py)
def _well_conditioned(n, seed, batch=()):
    """n x n matrices away from singular: a random matrix plus 2 n on the diagonal."""
    a = S.normal(batch + (n, n), seed) + 2 * n * np.eye(n)
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _square_samples():
    return [
        Sample((_well_conditioned(3, 600),), note="3 x 3"),
        Sample((_well_conditioned(1, 601),), note="1 x 1"),
        Sample((_well_conditioned(2, 602, (2, 3)),), note="stack (2, 3)"),
        Sample((_well_conditioned(3, 603),), note="T", layout="T"),
        Sample((-_well_conditioned(3, 604),), note="negative determinant"),
    ]


def _solve_samples():
    a = _well_conditioned(3, 610)
    return [
        Sample((a, S.normal((3,), 611)), note="one vector"),
        Sample((a, S.normal((3, 2), 612)), note="matrix right side"),
        Sample((_well_conditioned(3, 613, (2,)), S.normal((2, 3, 1), 614)), note="stack"),
        Sample((_well_conditioned(2, 615, (2,)), S.normal((2,), 616)), note="stack, one vector"),
        Sample((a, np.zeros((3, 0))), note="size-0 right side"),
    ]


def linalg_entries(OpInfo) -> list:  # noqa: N803
    def slog(x):
        sign, logdet = np.linalg.slogdet(x)
        want = np.linalg.slogdet(np.asarray(x.data))
        np.testing.assert_array_equal(sign.data, want[0])
        assert not sign.requires_grad
        return logdet

    return [
        OpInfo(
            "linalg.inv",
            np.linalg.inv,
            np.linalg.inv,
            lambda torch, x: torch.linalg.inv(x),
            _square_samples(),
            rtol32=1e-4,
        ),
        OpInfo(
            "linalg.det",
            np.linalg.det,
            np.linalg.det,
            lambda torch, x: torch.linalg.det(x),
            _square_samples(),
            rtol32=1e-4,
        ),
        OpInfo(
            "linalg.slogdet",
            slog,
            lambda x: np.linalg.slogdet(x)[1],
            lambda torch, x: torch.linalg.slogdet(x)[1],
            _square_samples(),
            rtol32=1e-4,
        ),
        OpInfo(
            "linalg.solve",
            np.linalg.solve,
            np.linalg.solve,
            lambda torch, a, b: torch.linalg.solve(a, b),
            _solve_samples(),
            rtol32=1e-4,
        ),
    ]


# ---------------------------------------------------------------- statistics, joins, splits
def _pieces(split):
    """A split's pieces raveled and joined: one Tensor (or array) to compare."""

    def call(x, **kw):
        pieces = split(x, **kw)
        if isinstance(pieces[0], gs.Tensor):
            return gs.concatenate([p.reshape(-1) for p in pieces])
        return np.concatenate([p.reshape(-1) for p in pieces])

    return call


def _with_nans():
    x = S.normal((3, 4), 700)
    x[0, 1] = x[2, 3] = np.nan
    all_nan = np.array([[np.nan, np.nan], [1.5, -0.5]])
    return [
        Sample((x,), {"axis": 1}, "NaN entries axis=1", fd=False),
        Sample((x,), {"axis": None}, "NaN entries axis=None", fd=False),
        Sample((x,), {"axis": -2, "keepdims": True}, "keepdims", fd=False),
        Sample((S.normal((2, 3), 701),), {"axis": 0}, "no NaN"),
        Sample((all_nan,), {"axis": 1}, "an all-NaN row", fd=False),
    ]


def _t_nanreduce(name):
    def call(torch, x, axis=None, keepdims=False):
        dims = tuple(range(x.ndim)) if axis is None else axis
        if name == "nansum":
            return torch.nansum(x, dim=dims, keepdim=keepdims)
        return torch.nanmean(x, dim=dims, keepdim=keepdims)

    return call


def _np_quiet(fn):
    def call(*xs, **kw):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*xs, **kw)

    return call


def _vecdot(a, b, **kw):
    """np.linalg.vecdot (a function: axis= dispatches); np.vecdot (a gufunc) without it."""
    out = np.linalg.vecdot(a, b, **kw)
    if not kw:
        np.testing.assert_array_equal(np.vecdot(a, b).data, out.data)
    return out


def more_entries(OpInfo) -> list:  # noqa: N803
    E = []
    for name in ("nansum", "nanprod", "nanmean", "nanmax", "nanmin"):
        np_fn = getattr(np, name)
        torch_ref = _t_nanreduce(name) if name in ("nansum", "nanmean") else None
        samples = _with_nans()
        if name == "nanmean":  # the NaN mean of an all-NaN row: gradsight 0, PyTorch nan
            samples[-1].differs = "an all-NaN slice's gradient is 0 (PyTorch: nan)"
        E.append(
            OpInfo(
                name,
                _np_quiet(_same(np_fn, getattr(gs, name))),
                _np_quiet(np_fn),
                torch_ref,
                samples,
                (f"gs.{name}",),
            )
        )
    x = S.distinct((3, 4), 710)
    E.append(
        OpInfo(
            "ptp",
            _same(np.ptp, gs.ptp),
            np.ptp,
            None,
            [Sample((x,), {"axis": a}, f"axis={a}") for a in (None, 0, -1)]
            + [Sample((np.array([[1.0, 3.0, 3.0, 1.0]]),), {"axis": 1}, "ties", fd=False)],
            ("gs.ptp",),
        )
    )
    w = S.normal((4,), 711, 0.5)
    E.append(
        OpInfo(
            "average",
            _same(np.average, gs.average),
            np.average,
            None,
            [
                Sample((x,), {}, "no weights"),
                Sample((x, S.normal((3, 4), 712, 0.5)), {}, "weights of a's shape"),
                Sample((x, w), {"axis": 1}, "1-d weights along axis 1"),
                Sample((x, w), {"axis": -1, "keepdims": True}, "keepdims"),
            ],
            ("gs.average",),
        )
    )
    E[-1].gs = lambda x, w=None, **kw: _same(np.average, gs.average)(x, weights=w, **kw)
    E[-1].np = lambda x, w=None, **kw: np.average(x, weights=w, **kw)
    y = S.normal((3, 4), 720)
    E += [
        OpInfo(
            "roll",
            _same(np.roll, gs.roll),
            np.roll,
            lambda torch, x, shift, axis=None: torch.roll(x, shift, axis),
            [
                Sample((y,), {"shift": 2}, "flat"),
                Sample((y,), {"shift": -1, "axis": 1}, "axis=1"),
                Sample((y,), {"shift": (1, 5), "axis": (0, -1)}, "two axes"),
                Sample((S.normal((), 721),), {"shift": 3}, "0-d"),
            ],
            ("gs.roll",),
        ),
        OpInfo(
            "append",
            _same(np.append, gs.append),
            np.append,
            None,
            [
                Sample((y, S.normal((2,), 722)), {}, "flattened"),
                Sample((y, S.normal((1, 4), 723)), {"axis": 0}, "axis=0"),
                Sample((y, S.normal((3, 2), 724)), {"axis": -1}, "axis=-1"),
            ],
            ("gs.append",),
        ),
        OpInfo(
            "column_stack",
            lambda *xs: _same(np.column_stack, gs.column_stack)(list(xs)),
            lambda *xs: np.column_stack(xs),
            lambda torch, *xs: torch.column_stack(xs),
            [
                Sample((S.normal((3,), 725), S.normal((3, 2), 726)), note="1-d and 2-d"),
                Sample((S.normal((4,), 727), S.normal((4,), 728)), note="two 1-d"),
            ],
            ("gs.column_stack",),
        ),
        OpInfo(
            "broadcast_arrays",
            lambda *xs: gs.concatenate(
                [t.reshape(-1) for t in _same(np.broadcast_arrays, gs.broadcast_arrays)(*xs)]
            ),
            lambda *xs: np.concatenate([a.reshape(-1) for a in np.broadcast_arrays(*xs)]),
            None,
            [
                Sample((S.normal((3, 1), 729), S.normal((4,), 730)), note="both ways"),
                Sample((S.normal((), 731), S.normal((2, 3), 732)), note="0-d"),
            ],
            ("gs.broadcast_arrays",),
        ),
        OpInfo(
            "matrix_transpose",
            _same(np.matrix_transpose, gs.matrix_transpose, np.linalg.matrix_transpose),
            np.matrix_transpose,
            lambda torch, x: x.mT,
            [Sample((y,), note="2-d"), Sample((S.normal((2, 3, 4), 733),), note="stack")],
            ("gs.matrix_transpose",),
        ),
    ]
    z = S.normal((4, 6), 740)
    z3 = S.normal((2, 3, 4), 741)
    for name, x_split, sections in (
        ("hsplit", z, [2, 3, [1, 4]]),
        ("vsplit", z, [2, [1, 3]]),
        ("dsplit", z3, [2, [1]]),
    ):
        np_fn, gs_fn = getattr(np, name), getattr(gs, name)
        E.append(
            OpInfo(
                name,
                _pieces(lambda x, ios, a=np_fn, b=gs_fn: _same(a, b)(x, ios)),
                _pieces(lambda x, ios, a=np_fn: a(x, ios)),
                None,
                [Sample((x_split,), {"ios": s}, f"{s}") for s in sections],
                (f"gs.{name}",),
            )
        )
    E[-3].samples.append(Sample((S.normal((6,), 742),), {"ios": 3}, "1-d"))
    a = _well_conditioned(3, 750)
    E += [
        OpInfo(
            "vecdot",
            _vecdot,
            np.vecdot,
            lambda torch, a, b, axis=-1: torch.linalg.vecdot(a, b, dim=axis),
            [
                Sample((S.normal((3, 4), 751), S.normal((4,), 752)), note="broadcast"),
                Sample((S.normal((3, 4), 753), S.normal((3, 4), 754)), {"axis": 0}, "axis=0"),
            ],
        ),
        OpInfo(
            "multi_dot",
            lambda *xs: np.linalg.multi_dot(list(xs)),
            lambda *xs: np.linalg.multi_dot(list(xs)),
            lambda torch, *xs: torch.linalg.multi_dot(list(xs)),
            [
                Sample(
                    (S.normal((2, 3), 755), S.normal((3, 4), 756), S.normal((4,), 757)),
                    note="matrix chain, vector last",
                ),
                Sample((S.normal((3,), 758), S.normal((3, 2), 759)), note="vector first"),
            ],
        ),
        OpInfo(
            "matrix_power",
            np.linalg.matrix_power,
            np.linalg.matrix_power,
            lambda torch, x, n: torch.linalg.matrix_power(x, n),
            [Sample((a / 6,), {"n": n}, f"n={n}") for n in (0, 1, 2, 5, -2)]
            + [Sample((_well_conditioned(2, 760, (2,)) / 4,), {"n": 3}, "stack")],
            rtol32=1e-4,
        ),
        OpInfo(
            "linalg.trace",
            lambda x, **kw: np.linalg.trace(x, **kw),
            lambda x, **kw: np.linalg.trace(x, **kw),
            None,
            [Sample((z3,), {}, "stack"), Sample((z3,), {"offset": 1}, "offset=1")],
        ),
        OpInfo(
            "linalg.diagonal",
            lambda x, **kw: np.linalg.diagonal(x, **kw),
            lambda x, **kw: np.linalg.diagonal(x, **kw),
            None,
            [Sample((z3,), {}, "stack"), Sample((z3,), {"offset": -1}, "offset=-1")],
        ),
        OpInfo(
            "linalg.outer",
            np.linalg.outer,
            np.linalg.outer,
            lambda torch, a, b: torch.outer(a, b),
            [Sample((S.normal((3,), 761), S.normal((2,), 762)), note="vectors")],
        ),
        OpInfo(
            "linalg.tensordot",
            lambda a, b, **kw: np.linalg.tensordot(a, b, **kw),
            lambda a, b, **kw: np.linalg.tensordot(a, b, **kw),
            None,
            [Sample((z3, S.normal((3, 4, 2), 763)), {"axes": 2}, "axes=2")],
        ),
        OpInfo(
            "linalg.matmul",
            np.linalg.matmul,
            np.linalg.matmul,
            lambda torch, a, b: torch.matmul(a, b),
            [Sample((S.normal((2, 3), 764), S.normal((3, 2), 765)), note="2-d")],
        ),
    ]
    return E
