"""Registry entries for the NumPy-named ops of issue 13 (appended to REGISTRY).

Each entry's ``gs`` side is plain NumPy code called on Tensors (``np.sin(x)``,
``np.prod(x, axis=...)``): the sweep checks the protocols (NEP 13/18) and,
through them, the gs function they dispatch to. Where NumPy has a method,
``_also_method`` runs ``x.<method>(...)`` too and requires the same value, so
the method binding is checked by every sample as well.
"""

from __future__ import annotations

import numpy as np

from . import samples as S
from .samples import Sample


def _also_method(np_fn, method, **fixed):
    """np_fn(x, **kw) on Tensors, checked equal to x.method(**kw)."""

    def call(x, *rest, **kw):
        kw = {**fixed, **kw}
        out = np_fn(x, *rest, **kw)
        if not S.CHECK_SPELLINGS:
            return out
        via_method = getattr(x, method)(*rest, **kw)
        np.testing.assert_array_equal(via_method.data, out.data, err_msg=f"Tensor.{method}")
        return out

    return call


def _t(name):
    return lambda torch, *xs, **kw: getattr(torch, name)(*xs)


def _dims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _reduced_count(shape, axis) -> int:
    if axis is None:
        return int(np.prod(shape))
    return int(np.prod([shape[a] for a in _dims(axis, len(shape))]))


# ---------------------------------------------------------------- torch references
def _torch_prod(torch, x, axis=None, keepdims=False):
    if x.ndim == 0:
        return x * 1.0
    out = x
    for d in sorted((a % x.ndim for a in _dims(axis, x.ndim)), reverse=True):
        out = torch.prod(out, dim=d, keepdim=keepdims)
    return out if _dims(axis, x.ndim) else x * 1.0


def _torch_std(torch, x, axis=None, keepdims=False, ddof=0):
    if axis == () or x.ndim == 0:  # NumPy: reduces nothing (or the one element): 0
        return x * 0.0
    return torch.std(x, dim=_dims(axis, x.ndim), keepdim=keepdims, correction=ddof)


def _torch_cumsum(torch, x, axis=None):
    return torch.cumsum(x.reshape(-1), 0) if axis is None else torch.cumsum(x, axis)


def _torch_norm(torch, x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return torch.linalg.vector_norm(x, 2, dim=_dims(axis, x.ndim), keepdim=keepdims)


def _torch_dot(torch, a, b):
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return torch.matmul(a, b)
    return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 2]))


def _torch_pad(torch, x, pad_width, constant_values=0.0):
    flat = [p for pair in reversed(pad_width) for p in pair]
    return torch.nn.functional.pad(x, flat, value=constant_values)


# ---------------------------------------------------------------- samples
def _smooth_reduction():
    """Reduction samples without the long axis (a product of 200,000 values overflows)."""
    return [s for s in S.reduction() if not s.long]


def _spread_reduction():
    """Samples reducing at least two elements (std's sqrt has a kink at a zero variance)."""
    out = []
    for s in S.reduction(empty_ok=False):
        shape = np.shape(s.inputs[0])
        if (
            shape
            and _reduced_count(shape, s.kwargs.get("axis")) >= 2
            and s.kwargs.get("axis") != ()
        ):
            out.append(s)
    return out


def _np_std(x, axis=None, keepdims=False, ddof=0):
    """np.std, reading an axis of a 0-d array as gradsight's reductions do (the element)."""
    return np.std(x, axis=None if np.ndim(x) == 0 else axis, keepdims=keepdims, ddof=ddof)


def _std_samples():
    """Every reduction sample (one element included: the gradient there is 0), and
    equal values (std's kink: 0, as PyTorch)."""
    out = [s for s in S.reduction(empty_ok=False)]
    equal = np.array([[2.0, 2.0, 2.0], [1.0, -1.0, 0.5]])
    out.append(Sample((equal,), {"axis": 1, "keepdims": False}, "equal values", fd=False))
    return out


def _prod_samples():
    out = _smooth_reduction()
    zeros = np.array([[0.5, 0.0, 2.0], [0.0, 0.0, 1.5], [1.0, -2.0, 0.5]])
    out += [Sample((zeros,), {"axis": a, "keepdims": False}, f"zeros axis={a}") for a in (None, 1)]
    return out


def _cumsum_samples():
    out = [s for s in S.along_axis() if "large" not in s.note]
    out.append(Sample((S.normal((2, 3), 300),), {"axis": None}, "axis=None flattens"))
    return out


def _norm_samples():
    x, v = S.normal((3, 4), 310), S.normal((5,), 311)
    return [
        Sample((v,), {}, "vector"),
        Sample((v,), {"ord": 2}, "vector ord=2"),
        Sample((x,), {}, "matrix: Frobenius"),
        Sample((x,), {"ord": "fro"}, "ord='fro'"),
        Sample((x,), {"axis": 1}, "rows"),
        Sample((x,), {"axis": -2, "keepdims": True}, "columns kept"),
        Sample((S.normal((2, 3, 4), 312),), {"axis": (0, 2)}, "axis pair of 3-d"),
        Sample((x,), {"axis": 0}, "T", layout="T"),
    ]


def _pairs(*cases, seed=320):
    return [
        Sample((S.normal(sa, seed + 2 * i), S.normal(sb, seed + 2 * i + 1)), kw, note)
        for i, (sa, sb, kw, note) in enumerate(cases)
    ]


def _ties_pair():
    out = S.binary()  # ties split evenly as in maximum (torch.fmax differs): test_protocols
    out.append(
        Sample(
            (np.array([np.nan, 1.0]), np.array([0.5, np.nan])), note="nan", fd=False, torch2=False
        )
    )
    return out


def _matrix_samples(kw_name="k", values=(0, 1, -1)):
    x = S.normal((3, 4), 330)
    out = [Sample((x,), {kw_name: k}, f"{kw_name}={k}") for k in values]
    out.append(Sample((S.normal((2, 3, 3), 331),), {kw_name: 0}, "batched"))
    out.append(Sample((S.normal((3, 4), 332),), {kw_name: 0}, "T", layout="T"))
    return out


def _shape_samples(kwargs_list):
    x = S.normal((2, 3, 4), 340)
    return [Sample((x,), kw, ", ".join(f"{k}={v}" for k, v in kw.items())) for kw in kwargs_list]


def entries(OpInfo) -> list:  # noqa: N803 - the registry's dataclass, passed in (no cycle)
    u = S.unary
    E = []
    # ------------------------------------------------ ufuncs
    for name, domain, poles in (
        ("expm1", "any", ()),
        ("log1p", "positive", ()),
        ("log2", "positive", (0.0,)),
        ("square", "any", ()),
        ("sin", "any", ()),
        ("cos", "any", ()),
    ):
        fn = getattr(np, name)
        E.append(
            OpInfo(
                name, lambda x, fn=fn: fn(x), fn, _t(name), u(domain, poles=poles), (f"gs.{name}",)
            )
        )
    E.append(
        OpInfo(
            "positive", lambda x: np.positive(x), np.positive, _t("positive"), u(), ("gs.positive",)
        )
    )
    E.append(
        OpInfo(
            "copy",
            _also_method(np.copy, "copy"),
            np.copy,
            lambda torch, x: x.clone(),
            u(),
            ("gs.copy", "Tensor.copy"),
        )
    )
    for name in ("sign", "isfinite", "isnan"):
        fn = getattr(np, name)
        extra = [Sample((np.array([np.nan, np.inf, -np.inf, 0.0, -1.5]),), note="nan, inf, 0")]
        E.append(
            OpInfo(
                name,
                lambda x, fn=fn: fn(x),
                fn,
                None,
                u() + extra,
                (f"gs.{name}",),
                differentiable=False,
            )
        )
    for name in ("fmax", "fmin"):
        fn = getattr(np, name)

        def call(*xs, other=None, left=False, fn=fn):
            if other is None:
                return fn(*xs)
            return fn(other, xs[0]) if left else fn(xs[0], other)

        def torch_call(torch, *xs, other=None, left=False, name=name):
            if other is not None:
                c = torch.as_tensor(np.asarray(other, dtype=np.float64)).to(xs[0].dtype)
                xs = (c, xs[0]) if left else (xs[0], c)
            return getattr(torch, name)(*xs)

        E.append(OpInfo(name, call, call, torch_call, _ties_pair(), (f"gs.{name}",)))
    # ------------------------------------------------ reductions
    E.append(
        OpInfo(
            "prod",
            _also_method(np.prod, "prod"),
            np.prod,
            _torch_prod,
            _prod_samples(),
            ("gs.prod", "Tensor.prod"),
        )
    )
    E.append(
        OpInfo(
            "std",
            _also_method(np.std, "std"),
            _np_std,
            _torch_std,
            _std_samples(),
            ("gs.std", "Tensor.std"),
            rtol32=1e-4,
        )
    )
    E.append(
        OpInfo(
            "var_ddof1",
            _also_method(np.var, "var", ddof=1),
            lambda x, **kw: np.var(x, ddof=1, **kw),
            lambda torch, x, **kw: _torch_std(torch, x, ddof=1, **kw) ** 2,
            _spread_reduction(),
            (),
            rtol32=1e-4,
        )
    )
    E.append(
        OpInfo(
            "cumsum",
            _also_method(np.cumsum, "cumsum"),
            np.cumsum,
            _torch_cumsum,
            _cumsum_samples(),
            ("gs.cumsum", "Tensor.cumsum"),
        )
    )
    E.append(
        OpInfo(
            "norm",
            lambda x, **kw: np.linalg.norm(x, **kw),
            np.linalg.norm,
            _torch_norm,
            _norm_samples(),
            ("gs.norm",),
        )
    )
    # ------------------------------------------------ products
    E.append(
        OpInfo(
            "dot",
            _also_method(np.dot, "dot"),
            np.dot,
            _torch_dot,
            _pairs(
                ((4,), (4,), {}, "vec.vec"),
                ((3, 4), (4, 2), {}, "mat.mat"),
                ((3, 4), (4,), {}, "mat.vec"),
                ((2, 3, 4), (3, 4, 2), {}, "3-d.3-d"),
                ((2, 3, 4), (4,), {}, "3-d.vec"),
                ((), (2, 3), {}, "scalar"),
            ),
            ("gs.dot", "Tensor.dot", "Tensor.__array_function__"),
        )
    )
    E.append(
        OpInfo(
            "vdot",
            np.vdot,
            np.vdot,
            lambda torch, a, b: (a.reshape(-1) * b.reshape(-1)).sum(),
            _pairs(((4,), (4,), {}, "vectors"), ((2, 3), (3, 2), {}, "flattened")),
            ("gs.vdot",),
        )
    )
    E.append(
        OpInfo(
            "inner",
            np.inner,
            np.inner,
            lambda torch, a, b: torch.inner(a, b),
            _pairs(
                ((4,), (4,), {}, "vectors"),
                ((2, 3), (4, 3), {}, "matrices"),
                ((2, 2, 3), (3,), {}, "3-d with vector"),
                ((), (3,), {}, "scalar"),
            ),
            ("gs.inner",),
        )
    )
    E.append(
        OpInfo(
            "outer",
            np.outer,
            np.outer,
            lambda torch, a, b: torch.outer(a.reshape(-1), b.reshape(-1)),
            _pairs(((3,), (2,), {}, "vectors"), ((2, 2), (3,), {}, "flattened")),
            ("gs.outer",),
        )
    )
    E.append(
        OpInfo(
            "tensordot",
            lambda a, b, axes: np.tensordot(a, b, axes),
            lambda a, b, axes: np.tensordot(a, b, axes),
            lambda torch, a, b, axes: torch.tensordot(a, b, dims=axes),
            _pairs(
                ((2, 3, 4), (3, 4, 5), {"axes": 2}, "axes=2"),
                ((2, 3), (3, 4), {"axes": 1}, "axes=1"),
                ((2, 3, 4), (4, 2, 5), {"axes": ([0, 2], [1, 0])}, "axis lists"),
                ((2, 3), (4,), {"axes": 0}, "outer (axes=0)"),
            ),
            ("gs.tensordot",),
        )
    )
    E.append(
        OpInfo(
            "einsum",
            lambda *xs, spec: np.einsum(spec, *xs),
            lambda *xs, spec: np.einsum(spec, *xs),
            lambda torch, *xs, spec: torch.einsum(spec, *xs),
            _pairs(
                ((3, 4), (4, 2), {"spec": "ij,jk->ik"}, "matmul"),
                ((2, 3, 4), (2, 4, 5), {"spec": "bij,bjk"}, "implicit batch"),
                ((3,), (4,), {"spec": "i,j->ij"}, "outer"),
                ((3, 4), (2,), {"spec": "ij,k->jk"}, "summed-only index"),
                ((3, 4), (3, 4), {"spec": "ij,ij->"}, "full contraction"),
                ((2, 3, 4), (4, 5), {"spec": "...ij,jk->...ik"}, "ellipsis"),
                ((2, 3, 4), (4,), {"spec": "...j,j"}, "implicit ellipsis"),
                ((1, 3, 4), (2, 4, 2), {"spec": "bij,bjk->bik"}, "size-1 broadcast"),
                ((3, 3), (3,), {"spec": "ii,i->i"}, "repeated index (diagonal)"),
                ((3, 2, 3), (2,), {"spec": "i...i,...->..."}, "diagonal across '...'"),
            )
            + [
                Sample((S.normal((3, 3), 398),), {"spec": "ii"}, "trace"),
                Sample((S.normal((2, 3, 3), 399),), {"spec": "...ii->...i"}, "batched diagonal"),
            ],
            ("gs.einsum",),
        )
    )
    E.append(
        OpInfo(
            "trace",
            _also_method(np.trace, "trace"),
            np.trace,
            lambda torch, x, offset=0: torch.diagonal(x, offset).sum(-1),
            _matrix_samples("offset", (0, 1, -2))[:3]
            + [Sample((S.normal((4, 4), 333),), {}, "square")],
            ("Tensor.trace",),  # gs.trace is the step tracer (API.md); np.trace(t) dispatches
        )
    )
    E.append(
        OpInfo(
            "diagonal",
            _also_method(np.diagonal, "diagonal"),
            np.diagonal,
            lambda torch, x, offset=0: (
                torch.diagonal(x, offset, -2, -1)
                if x.ndim == 2
                else torch.diagonal(x, offset, 0, 1)
            ),
            _matrix_samples("offset", (0, 2, -1)),
            ("gs.diagonal", "Tensor.diagonal"),
        )
    )
    E.append(
        OpInfo(
            "diag",
            np.diag,
            np.diag,
            lambda torch, x, k=0: torch.diag(x, k),
            [Sample((S.normal((3,), 334),), {"k": k}, f"vector k={k}") for k in (0, 1, -2)]
            + [Sample((S.normal((3, 4), 335),), {"k": k}, f"matrix k={k}") for k in (0, 1, -1)],
            ("gs.diag",),
        )
    )
    for name in ("tril", "triu"):
        fn = getattr(np, name)
        E.append(
            OpInfo(
                name,
                lambda x, k=0, fn=fn: fn(x, k),
                fn,
                lambda torch, x, k=0, name=name: getattr(torch, name)(x, k),
                _matrix_samples(),
                (f"gs.{name}",),
            )
        )
    # ------------------------------------------------ shape
    E.append(
        OpInfo(
            "ravel",
            _also_method(np.ravel, "ravel"),
            np.ravel,
            lambda torch, x: x.reshape(-1),
            u(),
            ("gs.ravel", "Tensor.ravel"),
        )
    )
    E.append(
        OpInfo(
            "swapaxes",
            _also_method(np.swapaxes, "swapaxes"),
            np.swapaxes,
            lambda torch, x, axis1, axis2: torch.swapaxes(x, axis1, axis2),
            _shape_samples(
                [{"axis1": 0, "axis2": 2}, {"axis1": -1, "axis2": 1}, {"axis1": 1, "axis2": 1}]
            ),
            ("gs.swapaxes", "Tensor.swapaxes"),
        )
    )
    E.append(
        OpInfo(
            "moveaxis",
            np.moveaxis,
            np.moveaxis,
            lambda torch, x, source, destination: torch.movedim(x, source, destination),
            _shape_samples(
                [
                    {"source": 0, "destination": -1},
                    {"source": (0, 1), "destination": (2, 0)},
                    {"source": -1, "destination": 0},
                ]
            ),
            ("gs.moveaxis",),
        )
    )
    for name in ("atleast_1d", "atleast_2d"):
        fn = getattr(np, name)
        E.append(
            OpInfo(
                name,
                lambda x, fn=fn: fn(x) * 1.0,
                lambda x, fn=fn: fn(x) * 1.0,
                lambda torch, x, name=name: getattr(torch, name)(x) * 1.0,
                [Sample((S.normal(sh, 350),), note=f"{len(sh)}-d") for sh in ((), (3,), (2, 3))],
                (f"gs.{name}",),
            )
        )
    for name in ("hstack", "vstack"):
        fn = getattr(np, name)
        E.append(
            OpInfo(
                name,
                lambda *xs, fn=fn: fn(list(xs)),
                lambda *xs, fn=fn: fn(list(xs)),
                lambda torch, *xs, name=name: getattr(torch, name)(list(xs)),
                _pairs(
                    ((3,), (2,), {}, "1-d")
                    if name == "hstack"
                    else ((3,), (2, 3), {}, "1-d with 2-d"),
                    ((2, 3), (2, 1), {}, "2-d")
                    if name == "hstack"
                    else ((2, 3), (1, 3), {}, "2-d"),
                    ((2, 1, 3), (2, 2, 3), {}, "3-d")
                    if name == "hstack"
                    else ((1, 2, 3), (2, 2, 3), {}, "3-d"),
                ),
                (f"gs.{name}",),
            )
        )
    for name in ("split", "array_split"):
        fn = getattr(np, name)
        E.append(
            OpInfo(
                name,
                lambda x, ios, axis, k, fn=fn: fn(x, ios, axis)[k],
                lambda x, ios, axis, k, fn=fn: fn(x, ios, axis)[k],
                None,
                [
                    Sample((S.normal((4, 6), 360),), {"ios": 2, "axis": 0, "k": 1}, "halves"),
                    Sample((S.normal((4, 6), 361),), {"ios": [1, 4], "axis": 1, "k": 1}, "indices"),
                    Sample(
                        (S.normal((4, 6), 362),), {"ios": [1, 4], "axis": -1, "k": 2}, "last piece"
                    ),
                ]
                + (
                    [Sample((S.normal((5, 2), 363),), {"ios": 3, "axis": 0, "k": 0}, "uneven")]
                    if name == "array_split"
                    else []
                ),
                (f"gs.{name}",),
            )
        )
    E.append(
        OpInfo(
            "tile",
            np.tile,
            np.tile,
            lambda torch, x, reps: torch.tile(x, reps if isinstance(reps, tuple) else (reps,)),
            [
                Sample((S.normal((2, 3), 370),), {"reps": r}, f"reps={r}")
                for r in (2, (2, 1), (2, 1, 3))
            ],
            ("gs.tile",),
        )
    )
    E.append(
        OpInfo(
            "repeat",
            _also_method(np.repeat, "repeat"),
            np.repeat,
            None,
            [
                Sample((S.normal((2, 3), 380),), {"repeats": 2}, "flat"),
                Sample((S.normal((2, 3), 381),), {"repeats": 2, "axis": 1}, "axis 1"),
                Sample(
                    (S.normal((3,), 382),), {"repeats": [1, 0, 3], "axis": 0}, "per element, a 0"
                ),
            ],
            ("gs.repeat", "Tensor.repeat"),
        )
    )
    E.append(
        OpInfo(
            "flip",
            np.flip,
            np.flip,
            lambda torch, x, axis=None: torch.flip(x, _dims(axis, x.ndim)),
            _shape_samples([{}, {"axis": 1}, {"axis": (0, -1)}]),
            ("gs.flip",),
        )
    )
    E.append(
        OpInfo(
            "pad",
            np.pad,
            np.pad,
            _torch_pad,
            [
                Sample((S.normal((2, 3), 390),), {"pad_width": ((1, 0), (2, 1))}, "asymmetric"),
                Sample(
                    (S.normal((2, 3), 391),),
                    {"pad_width": ((0, 0), (1, 1)), "constant_values": 0.5},
                    "constant 0.5",
                ),
                Sample((S.normal((3,), 392),), {"pad_width": ((2, 3),)}, "1-d"),
            ],
            ("gs.pad",),
        )
    )
    x_pad = S.normal((3, 4), 393)
    E.append(
        OpInfo(
            "pad (copying modes)",
            np.pad,
            np.pad,
            None,  # torch's reflect/replicate/circular pads work on the last dims only
            [
                Sample((x_pad,), {"pad_width": ((1, 2), (2, 1)), "mode": m}, m)
                for m in ("edge", "reflect", "symmetric", "wrap")
            ]
            + [
                Sample((S.normal((3,), 394),), {"pad_width": 5, "mode": "wrap"}, "wrap twice"),
                Sample((S.normal((2,), 395),), {"pad_width": 3, "mode": "symmetric"}, "1-d"),
            ],
        )
    )
    E.append(
        OpInfo(
            "full_like",
            lambda x: np.full_like(x, 0.25),
            lambda x: np.full_like(x, 0.25),
            None,
            u(),
            ("gs.full_like",),
            differentiable=False,
        )
    )
    E.extend(_numpy_names(OpInfo))
    return E


def _few_binary(positive: bool = False) -> list:
    """Three of the binary kinds: the full set runs on the operator entries already."""
    lo = 0.5 if positive else None
    return [
        Sample(
            (S.normal((3, 1), 400, lo), S.normal((2, 1, 4), 401, lo)), note="broadcast both ways"
        ),
        Sample((S.normal((2, 3), 402, lo),), {"other": 0.625, "left": True}, "scalar op tensor"),
        Sample(
            (S.normal((3,), 403, lo),),
            {"other": S.normal((2, 3), 404, 0.5), "left": True},
            "array op tensor",
        ),
    ]


def _pair_call(fn):
    def call(*xs, other=None, left=False):
        if other is None:
            return fn(*xs)
        return fn(other, xs[0]) if left else fn(xs[0], other)

    return call


def _numpy_names(OpInfo) -> list:  # noqa: N803
    """gs.<NumPy name> for the core ops (gs.subtract is gs.sub under NumPy's name)."""
    import gradsight as gs

    E = []
    for name, torch_name, positive in (
        ("add", "add", False),
        ("subtract", "sub", False),
        ("multiply", "mul", False),
        ("true_divide", "div", True),
        ("divide", "div", True),
    ):
        ref = getattr(np, name)

        def torch_call(torch, *xs, other=None, left=False, t=torch_name):
            if other is not None:
                c = torch.as_tensor(np.asarray(other, dtype=np.float64)).to(xs[0].dtype)
                xs = (c, xs[0]) if left else (xs[0], c)
            return getattr(torch, t)(*xs)

        E.append(
            OpInfo(
                f"gs.{name}",
                _pair_call(getattr(gs, name)),
                _pair_call(ref),
                torch_call,
                _few_binary(positive),
                (f"gs.{name}",),
            )
        )
    E.append(
        OpInfo("gs.negative", gs.negative, np.negative, _t("neg"), S.unary()[:3], ("gs.negative",))
    )
    E.append(
        OpInfo(
            "gs.absolute",
            gs.absolute,
            np.absolute,
            _t("abs"),
            S.unary("positive")[:3],
            ("gs.absolute",),
        )
    )
    for name, torch_name in (("amax", "amax"), ("amin", "amin")):
        samples = [
            s
            for s in S.reduction(S.distinct)
            if isinstance(s.kwargs.get("axis"), int) and not s.long and np.ndim(s.inputs[0]) == 3
        ]
        E.append(
            OpInfo(
                f"gs.{name}",
                getattr(gs, name),
                getattr(np, name),
                lambda torch, x, axis, keepdims, t=torch_name: getattr(torch, t)(
                    x, dim=axis, keepdim=keepdims
                ),
                samples,
                (f"gs.{name}",),
            )
        )
    for name in ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal"):
        fn = getattr(np, name)
        E.append(
            OpInfo(
                f"gs.{name}",
                _pair_call(getattr(gs, name)),
                _pair_call(fn),
                None,
                [
                    Sample(
                        (np.array([[1.0, 2.0, 3.0]]), np.array([[3.0], [2.0]])),
                        note="broadcast with ties",
                    ),
                    Sample((np.array([1.0, 2.0]),), {"other": 2.0}, "with scalar"),
                ],
                (f"gs.{name}",),
                differentiable=False,
            )
        )
    return E
