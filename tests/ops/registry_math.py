"""Registry entries for NumPy's elementwise math beyond the core (gradsight/ops/ufuncs.py).

Each entry calls the op as NumPy code on Tensors (``np.tan(x)``, ``x % y``), so the
sweep checks the dispatch and the declared function together; where the op has a
gs name under another spelling, ``_same`` checks that spelling gives the same
value on every sample. Domains are mapped from the kind-written samples
(samples.py) into the op's domain and rounded to float32, so the float32 run sees
the same values; values at kinks, poles and jumps are samples of their own.
"""

from __future__ import annotations

import operator

import numpy as np

import gradsight as gs

from . import samples as S
from .samples import Sample


def _f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _mapped(samples, fn) -> list:
    """The samples with every input mapped through ``fn`` (float32-exact)."""
    return [
        Sample(
            tuple(_f32(fn(np.asarray(a))) for a in s.inputs),
            s.kwargs,
            s.note,
            fd=s.fd,
            torch2=s.torch2,
            differs=s.differs,
            layout=s.layout,
        )
        for s in samples
    ]


def _same(np_fn, *other_fns):
    """np_fn(*xs) on Tensors, checked equal to each other spelling of the op."""

    def call(*xs, other=None, left=False, **kw):
        args = xs if other is None else ((other, xs[0]) if left else (xs[0], other))
        out = np_fn(*args, **kw)
        for fn in other_fns if S.CHECK_SPELLINGS else ():
            np.testing.assert_array_equal(fn(*args, **kw).data, out.data, err_msg=str(fn))
        return out

    return call


def _ref(np_fn):
    def call(*xs, other=None, left=False):
        args = xs if other is None else ((other, xs[0]) if left else (xs[0], other))
        return np_fn(*args)

    return call


def _torch(name):
    def call(torch, *xs, other=None, left=False):
        fn = getattr(torch, name)
        if other is None:
            return fn(*xs)
        c = torch.as_tensor(np.asarray(other), dtype=xs[0].dtype)
        return fn(c, xs[0]) if left else fn(xs[0], c)

    return call


def _inside_unit(x):
    return 0.9 * np.tanh(x)  # (-0.9, 0.9): arcsin, arccos, arctanh


def _above_one(x):
    return 1.25 + np.abs(x)  # arccosh


def _away_from_zero(x):
    return x + np.where(x < 0, -0.5, 0.5)  # reciprocal


def _small(x):
    return 0.4 * x  # tan: far from its poles at +-pi/2


def _sinc_at_zero() -> Sample:
    return Sample(
        (np.array([0.0, 0.5, -1.0, 2.25]),),
        note="at 0 (second order: gradsight's -pi^2/3 is exact; PyTorch gives nan)",
        torch2=False,
    )


def _unary_entries(OpInfo) -> list:  # noqa: N803
    u = S.unary
    table = [
        # name, samples, torch name, other gs spellings
        ("tan", _mapped(u(), _small), "tan", ()),
        ("sinh", u(), "sinh", ()),
        ("cosh", u(), "cosh", ()),
        ("arcsin", _mapped(u(), _inside_unit), "arcsin", ()),
        ("arccos", _mapped(u(), _inside_unit), "arccos", ()),
        ("arctan", u(), "arctan", ()),
        ("arcsinh", u(), "arcsinh", ()),
        ("arccosh", _mapped(u(), _above_one), "arccosh", ()),
        ("arctanh", _mapped(u(), _inside_unit), "arctanh", ()),
        ("exp2", u(), "exp2", ()),
        ("log10", u("positive", poles=(0.0,)), "log10", ()),
        ("reciprocal", _mapped(u(), _away_from_zero), "reciprocal", ()),
        ("sinc", u() + [_sinc_at_zero()], "sinc", ()),
        ("floor", u(kinks=(1.0, -2.0)), "floor", ()),
        ("ceil", u(kinks=(1.0, -2.0)), "ceil", ()),
        ("trunc", u(kinks=(1.0, -2.0)), "trunc", ()),
        ("rint", u(kinks=(0.5, 1.5, -2.0)), "round", ()),
        ("fabs", u(kinks=(0.0,)), "abs", ()),
        ("deg2rad", u(), "deg2rad", ("radians",)),
        ("rad2deg", u(), "rad2deg", ("degrees",)),
    ]
    out = []
    for name, samples, tname, aliases in table:
        np_fn = getattr(np, name)
        spellings = [getattr(gs, name)]
        for alias in aliases:  # gs.radians and np.radians are the same op as deg2rad
            spellings += [getattr(gs, alias), getattr(np, alias)]
        out.append(
            OpInfo(
                name,
                _same(np_fn, *spellings),
                np_fn,
                _torch(tname),
                samples,
                (f"gs.{name}",) + tuple(f"gs.{a}" for a in aliases),
            )
        )
    return out


def _jumps() -> list:
    """Dividends that are exact multiples of the divisor: the remainder jumps there."""
    a, b = np.array([3.0, -3.0, 2.5, 0.0]), np.array([1.5, 1.5, 1.25, 2.0])
    return [Sample((a, b), note="at the jumps (a/b an integer)", fd=False)]


def _remainder_samples() -> list:
    out = S.binary("positive")
    out.append(Sample((S.normal((2, 3), 400), -S.normal((2, 3), 401, 0.5)), note="negative b"))
    return out + _jumps()


def entries(OpInfo) -> list:  # noqa: N803 - the registry's dataclass, passed in (no cycle)
    E = _unary_entries(OpInfo)
    x = S.normal((3, 4), 410) * 40
    round_samples = S.unary(kinks=(0.5, 2.5, -1.5)) + [
        Sample((x,), {"decimals": 1}, "decimals=1"),
        Sample((x,), {"decimals": -1}, "decimals=-1"),
    ]
    E.append(
        OpInfo(
            "round",
            _same(np.round, gs.round, gs.around, np.around),
            np.round,
            lambda torch, x, decimals=0: torch.round(x, decimals=decimals),
            round_samples,
            ("gs.round", "gs.around"),
        )
    )
    E.append(
        OpInfo(
            "fix",
            _same(np.fix, gs.fix),
            np.fix,
            _torch("trunc"),
            S.unary(kinks=(1.0, -2.0)),
            ("gs.fix",),
        )
    )
    E.append(
        OpInfo(
            "rsqrt",
            _same(gs.rsqrt, lambda x: x.rsqrt()),
            lambda x: 1 / np.sqrt(x),
            _torch("rsqrt"),
            S.unary("positive", poles=(0.0,)),
            ("gs.rsqrt", "Tensor.rsqrt"),
        )
    )
    E.append(
        OpInfo(
            "sign",
            lambda x: x.sign(),
            np.sign,
            None,
            S.unary(kinks=(0.0,)),
            ("Tensor.sign",),
            differentiable=False,
        )
    )
    for name, tname in (("logaddexp", "logaddexp"), ("logaddexp2", "logaddexp2")):
        np_fn = getattr(np, name)
        E.append(
            OpInfo(
                name,
                _same(np_fn, getattr(gs, name)),
                _ref(np_fn),
                _torch(tname),
                S.binary(),
                (f"gs.{name}",),
            )
        )
    E.append(
        OpInfo(
            "arctan2",
            _same(np.arctan2, gs.arctan2),
            _ref(np.arctan2),
            _torch("arctan2"),
            S.binary(),
            ("gs.arctan2",),
        )
    )
    E.append(
        OpInfo(
            "hypot",
            _same(np.hypot, gs.hypot),
            _ref(np.hypot),
            _torch("hypot"),
            S.binary("positive"),
            ("gs.hypot",),
        )
    )
    E.append(
        OpInfo(
            "cbrt",
            _same(np.cbrt, gs.cbrt),
            np.cbrt,
            lambda torch, x: torch.sign(x) * torch.abs(x) ** (1 / 3),
            _mapped(S.unary(), _away_from_zero),
            ("gs.cbrt",),
            rtol32=1e-4,
        )
    )
    E.append(
        OpInfo(
            "mod",
            _same(operator.mod, gs.mod, gs.remainder, np.mod),
            _ref(np.remainder),
            _torch("remainder"),
            _remainder_samples(),
            ("Tensor.__mod__", "Tensor.__rmod__", "gs.mod", "gs.remainder"),
        )
    )
    E.append(
        OpInfo(
            "fmod",
            _same(np.fmod, gs.fmod),
            _ref(np.fmod),
            _torch("fmod"),
            _remainder_samples(),
            ("gs.fmod",),
        )
    )
    return E
