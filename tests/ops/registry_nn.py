"""Registry entries for nn.functional's activations and losses (appended to REGISTRY).

gelu (exact and tanh), softplus (beta, threshold), softmin, nll_loss,
cross_entropy with ignore_index, label_smoothing and probability targets, and
binary_cross_entropy_with_logits with a target that requires grad. Each has a
NumPy reference written from the definition (erf through ``math.erfc``, one
element at a time: slow, but it shares nothing with gradsight's rational
approximation) and PyTorch's function as the oracle for gradients.
"""

from __future__ import annotations

import math

import numpy as np

from gradsight.nn import functional as gsF

from . import samples as S
from .samples import Sample

_erfc = np.vectorize(math.erfc, otypes=[np.float64])
_REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}


# ---------------------------------------------------------------- NumPy references
def _gelu(x, approximate="none"):
    x64 = np.asarray(x, dtype=np.float64)
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)
        out = 0.5 * x64 * (1 + np.tanh(u))
    else:
        out = 0.5 * x64 * _erfc(-x64 / math.sqrt(2))
    return out.astype(np.asarray(x).dtype)


def _softplus(x, beta=1.0, threshold=20.0):
    z = x * beta
    with np.errstate(over="ignore"):
        soft = np.log1p(np.exp(z)) / beta
    return np.where(z > threshold, x, soft)


def _softmin(x, axis=-1):
    y = -x
    if not y.size:
        return y.copy()
    m = np.max(y, axis=axis, keepdims=True)
    e = np.exp(y - np.where(np.isfinite(m), m, 0))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(z, axis):
    m = np.max(z, axis=axis, keepdims=True)
    s = z - m
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _class_axis(x):
    return 0 if x.ndim == 1 else 1


def _nll_parts(logp, target, ignore_index):
    """(-logp at each target with ignored ones 0, mask of kept targets)."""
    moved = np.moveaxis(logp, _class_axis(logp), -1)
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    picked = np.take_along_axis(moved, safe[..., None], -1)[..., 0]
    return np.where(keep, -picked, 0.0), keep


def _masked(losses, keep, reduction):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    with np.errstate(invalid="ignore"):
        return losses.sum() / losses.dtype.type(keep.sum())


def _nll(logp, target, ignore_index=-100, reduction="mean"):
    losses, keep = _nll_parts(logp, target, ignore_index)
    return _masked(losses, keep, reduction)


def _ce(z, target, reduction="mean", ignore_index=-100, label_smoothing=0.0):
    """PyTorch's definition: (1 - e) nll + e/C sum_c -logp_c over kept targets."""
    axis = _class_axis(z)
    logp = _log_softmax(z, axis)
    n_classes = z.shape[axis]
    losses, keep = _nll_parts(logp, target, ignore_index)
    smooth = np.where(keep, -logp.sum(axis=axis), 0.0)
    losses = (1 - label_smoothing) * losses + (label_smoothing / n_classes) * smooth
    return _masked(losses.astype(z.dtype), keep, reduction)


def _ce_probs(z, p, reduction="mean", label_smoothing=0.0):
    axis = _class_axis(z)
    q = p * (1 - label_smoothing) + label_smoothing / z.shape[axis]
    return _REDUCE[reduction](-(_log_softmax(z, axis) * q).sum(axis=axis))


def _bce_logits(z, y, reduction="mean"):
    return _REDUCE[reduction](np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


# ---------------------------------------------------------------- PyTorch calls
def _torch_ce(torch, z, *p, target=None, **kw):
    target = p[0] if p else torch.from_numpy(target)
    return torch.nn.functional.cross_entropy(z, target, **kw)


def _torch_nll(torch, lp, target, **kw):
    return torch.nn.functional.nll_loss(lp, torch.from_numpy(target), **kw)


# ---------------------------------------------------------------- samples
def _uniform(shape, seed, lo, hi):
    """Uniform values rounded to float32, as tinygrad's tests draw them."""
    return S.rng(seed).uniform(lo, hi, shape).astype(np.float32).astype(np.float64)


def _gelu_samples() -> list:
    out = []
    for approximate in ("none", "tanh"):
        kw = {"approximate": approximate}
        out += [Sample(s.inputs, kw, f"{approximate} {s.note}", layout=s.layout) for s in S.unary()]
        out += [
            Sample((_uniform((5, 7), 300, 300, 400),), kw, f"{approximate} extreme positive"),
            Sample((_uniform((5, 7), 301, -400, -300),), kw, f"{approximate} extreme negative"),
            Sample((_uniform((4, 6), 302, -12, -3),), kw, f"{approximate} negative tail"),
            Sample((np.array([0.0, -0.0, 1e-8, -1e-8]),), kw, f"{approximate} near 0"),
        ]
    return out


# PyTorch's softplus is x where beta x > threshold, and so is its first derivative (1),
# but its double backward masks with beta x < threshold: 0 at equality, where the first
# derivative is sigmoid(beta x). gradsight's second derivative there is sigmoid's.
_AT = " (PyTorch's second derivative is 0 at beta x == threshold)"


def _softplus_samples() -> list:
    out = []
    for beta in (1.0, 3.0, 1 / 3):
        kw = {"beta": beta, "threshold": 20.0}
        note = f"beta={beta:.3g}"
        out += [Sample(s.inputs, kw, f"{note} {s.note}", layout=s.layout) for s in S.unary()]
    default = {"beta": 1.0, "threshold": 20.0}
    out += [
        Sample((_uniform((5, 7), 310, 300, 400),), default, "extreme positive (linear)"),
        Sample((_uniform((5, 7), 311, -400, -300),), default, "extreme negative"),
        Sample((_uniform((4, 6), 312, -30, 30),), default, "both regimes"),
        Sample(
            (np.array([20.0, 19.5, 20.5]),),
            default,
            "at the threshold" + _AT,
            fd=False,
            torch2=False,
        ),  # fmt: skip
        Sample(
            (np.array([2.0, 4.0, 3.0, -1.0]),),
            {"beta": 2.0, "threshold": 6.0},
            "beta x at a threshold of 6" + _AT,
            fd=False,
            torch2=False,
        ),  # fmt: skip
        Sample((_uniform((3, 4), 313, -5, 5),), {"beta": 1.0, "threshold": 1.0}, "threshold=1"),
        Sample(
            (_uniform((3, 4), 314, -30, 30),),
            {"beta": 0.5, "threshold": math.inf},
            "threshold=inf (never linear)",
        ),  # fmt: skip
    ]
    return out


def _softmin_samples() -> list:
    out = []
    for s in S.along_axis():
        if "masking" in s.note:  # softmin's mask is +inf: softmax(-x) sees -inf there
            s = Sample((-s.inputs[0],), s.kwargs, "+inf entries (masking)", fd=False, torch2=False)
        out.append(s)
    return out


def _log_probs(shape, seed, axis=1):
    return _log_softmax(S.normal(shape, seed), axis)


def _nll_samples() -> list:
    lp = _log_probs((5, 4), 320)
    t = np.array([0, 3, 3, 1, 2])
    out = []
    for r in ("mean", "sum", "none"):
        out.append(Sample((lp,), {"target": t, "reduction": r}, r))
        out.append(Sample((lp,), {"target": t, "ignore_index": 3, "reduction": r}, f"ignore 3 {r}"))
    out += [
        Sample((lp,), {"target": np.array([0, -100, 3, -100, 2])}, "ignore the default -100"),
        Sample(
            (lp,), {"target": np.array([1, 1, 1, 1, 1]), "ignore_index": 1}, "all ignored", fd=False
        ),  # fmt: skip
        Sample((_log_probs((4,), 321, 0),), {"target": np.array(2)}, "unbatched (C,)"),
        Sample(
            (_log_probs((2, 4, 3, 2), 322),),
            {
                "target": np.array([[[0, 1], [3, 3], [2, 0]], [[1, 1], [0, 2], [3, 3]]]),
                "ignore_index": 3,
            },
            "(N, C, d1, d2) with ignored",
        ),  # fmt: skip
        Sample((np.zeros((0, 3)),), {"target": np.zeros(0, int), "reduction": "sum"}, "size-0"),
        Sample((S.normal((5, 4), 323),), {"target": t}, "any floats (not log-probabilities)"),
    ]
    return out


def _ce_index_samples() -> list:
    z = S.normal((5, 4), 330)
    t = np.array([0, 3, 3, 1, 2])
    out = []
    for r in ("mean", "sum", "none"):
        for kw, note in (
            ({"ignore_index": 3}, "ignore 3"),
            ({"label_smoothing": 0.3}, "smoothing 0.3"),
            ({"ignore_index": 3, "label_smoothing": 0.3}, "ignore 3 and smoothing 0.3"),
        ):
            out.append(Sample((z,), {"target": t, "reduction": r, **kw}, f"{note} {r}"))
    for ls in (0.7, 1.0):
        out.append(Sample((z,), {"target": t, "label_smoothing": ls}, f"smoothing {ls}"))
    out += [
        Sample((z,), {"target": np.array([0, -100, 3, -100, 2])}, "ignore the default -100"),
        Sample(
            (z,), {"target": np.array([2, 2, 2, 2, 2]), "ignore_index": 2}, "all ignored", fd=False
        ),  # fmt: skip
        Sample(
            (z,),
            {"target": np.array([2, 2, 2, 2, 2]), "ignore_index": 2, "reduction": "sum"},
            "all ignored sum",
        ),  # fmt: skip
        Sample((S.normal((4,), 331),), {"target": np.array(1)}, "unbatched (C,)"),
        Sample(
            (S.normal((4,), 332),),
            {"target": np.array(1), "label_smoothing": 0.2},
            "unbatched (C,) smoothing",
        ),  # fmt: skip
        Sample(
            (S.normal((2, 4, 3), 333),),
            {"target": np.array([[0, 3, 1], [2, 3, 3]]), "ignore_index": 3, "label_smoothing": 0.1},
            "(N, C, d) ignore and smoothing",
        ),  # fmt: skip
        Sample(
            (S.normal((2, 4, 3), 334),), {"target": np.array([[0, 3, 1], [2, 2, 3]])}, "(N, C, d)"
        ),  # fmt: skip
        Sample(
            (z * 300,), {"target": t, "ignore_index": 3, "label_smoothing": 0.3}, "huge logits"
        ),  # fmt: skip
    ]
    return out


def _probabilities(shape, seed, axis=1):
    z = S.normal(shape, seed) * 2
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _ce_prob_samples() -> list:
    z = S.normal((5, 4), 340)
    p = _probabilities((5, 4), 341)
    out = [Sample((z, p), {"reduction": r}, r) for r in ("mean", "sum", "none")]
    out += [
        Sample((z, p), {"label_smoothing": 0.3, "reduction": r}, f"smoothing 0.3 {r}")
        for r in ("mean", "none")
    ]
    out += [
        Sample((S.normal((4,), 342), _probabilities((4,), 343, 0)), {}, "unbatched (C,)"),
        Sample(
            (S.normal((2, 4, 3), 344), _probabilities((2, 4, 3), 345)),
            {"label_smoothing": 0.1},
            "(N, C, d) smoothing",
        ),  # fmt: skip
        Sample((z * 300, p), {}, "huge logits"),
        Sample((z, np.eye(4)[[0, 3, 3, 1, 2]]), {}, "one-hot rows"),
    ]
    return out


def _bce_target_samples() -> list:
    z = S.normal((4, 3), 350) * 3
    y = _uniform((4, 3), 351, 0.05, 0.95)
    out = [Sample((z, y), {"reduction": r}, r) for r in ("mean", "sum", "none")]
    out.append(Sample((np.array([-800.0, 800.0, 0.0]), np.array([0.25, 0.5, 0.75])),
                      {"reduction": "sum"}, "huge logits"))  # fmt: skip
    return out


# ---------------------------------------------------------------- entries
def entries(OpInfo) -> list:  # noqa: N803 - the registry's dataclass, passed in (no cycle)
    return [
        OpInfo(
            "gelu",
            gsF.gelu,
            _gelu,
            lambda torch, x, approximate: torch.nn.functional.gelu(x, approximate=approximate),
            _gelu_samples(),
            ("F.gelu",),
        ),
        OpInfo(
            "softplus",
            gsF.softplus,
            _softplus,
            lambda torch, x, **kw: torch.nn.functional.softplus(x, **kw),
            _softplus_samples(),
            ("F.softplus",),
        ),
        OpInfo(
            "softmin",
            gsF.softmin,
            _softmin,
            lambda torch, x, axis: torch.nn.functional.softmin(x, dim=axis),
            _softmin_samples(),
            ("F.softmin",),
        ),
        OpInfo(
            "nll_loss",
            lambda lp, **kw: gsF.nll_loss(lp, **kw),
            _nll,
            _torch_nll,
            _nll_samples(),
            ("F.nll_loss",),
        ),
        OpInfo(
            "cross_entropy_indices",
            lambda z, **kw: gsF.cross_entropy(z, **kw),
            _ce,
            _torch_ce,
            _ce_index_samples(),
            ("F.cross_entropy",),
        ),
        OpInfo(
            "cross_entropy_probs",
            lambda z, p, **kw: gsF.cross_entropy(z, p, **kw),
            _ce_probs,
            _torch_ce,
            _ce_prob_samples(),
            ("F.cross_entropy",),
        ),
        OpInfo(
            "bce_with_logits_target_grad",
            lambda z, y, **kw: gsF.binary_cross_entropy_with_logits(z, y, **kw),
            _bce_logits,
            lambda torch, z, y, **kw: torch.nn.functional.binary_cross_entropy_with_logits(
                z, y, **kw
            ),
            _bce_target_samples(),
            ("F.binary_cross_entropy_with_logits",),
        ),
    ]
