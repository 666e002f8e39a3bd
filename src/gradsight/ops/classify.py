"""Every public callable of ``np``, ``np.linalg`` and ``np.lib.stride_tricks``, classified.

Three classes, for a call with an argument that requires grad:

- **recorded**: a declared op implements it (declare.py): the result is a
  Tensor in the graph. Read off NumPy's dispatch table, never listed by hand.
- **no gradient**: its result carries no gradient (integer or boolean results,
  comparisons, metadata, new arrays from shapes or files, piecewise-constant
  values): NumPy runs on the values and its result passes through.
- **refused**: a ``TypeError`` naming it and saying why (REFUSED's reasons).

Classes (dtypes, scalar types, exceptions) and submodules are not callables
in this sense. ``python -m gradsight.ops --classification`` prints the table;
tests/ops/test_classification.py fails when NumPy brings an unclassified one.
"""

from __future__ import annotations

import types

import numpy as np

from . import declare

MODULES = (("np", np), ("np.linalg", np.linalg), ("np.lib.stride_tricks", np.lib.stride_tricks))


def _names(text: str) -> list:
    return text.split()


# name (as np.<name>, np.linalg.<name> ...) -> why its result carries no gradient
_NO_GRADIENT_GROUPS = {
    "an integer or boolean result (indices, counts, tests of the values)": """
        np.all np.any np.argpartition np.argsort np.argwhere np.bincount np.digitize
        np.flatnonzero np.isin np.iscomplex np.isreal np.isneginf np.isposinf
        np.isnat np.signbit np.lexsort np.nanargmax np.nanargmin np.searchsorted
        np.packbits np.unpackbits np.ravel_multi_index np.unravel_index np.gcd
        np.lcm np.bitwise_and np.bitwise_or np.bitwise_xor np.bitwise_not
        np.bitwise_invert np.bitwise_count np.bitwise_left_shift
        np.bitwise_right_shift np.left_shift np.right_shift np.invert np.is_busday
        np.busday_count np.linalg.matrix_rank""",
    "metadata, types or text about the array, not its values as numbers": """
        np.iscomplexobj np.isrealobj np.isfortran np.isscalar np.isdtype
        np.issubdtype np.iterable np.can_cast np.min_scalar_type np.mintypecode
        np.promote_types np.result_type np.common_type np.typename np.base_repr
        np.binary_repr np.array2string np.array_repr np.array_str
        np.format_float_positional np.format_float_scientific np.datetime_as_string
        np.datetime_data np.broadcast_shapes np.may_share_memory np.shares_memory
        np.einsum_path np.info""",
    "index arrays made from shapes": """
        np.diag_indices np.diag_indices_from np.tril_indices np.tril_indices_from
        np.triu_indices np.triu_indices_from np.mask_indices np.indices np.ix_""",
    "new arrays from shapes, files or Python objects (no tensor input)": """
        np.arange np.empty np.eye np.full np.identity np.ones np.zeros np.tri
        np.bartlett np.blackman np.hamming np.hanning np.kaiser np.frombuffer
        np.fromfile np.fromfunction np.fromiter np.fromregex np.fromstring
        np.genfromtxt np.load np.loadtxt np.busday_offset np.frompyfunc""",
    "settings and environment": """
        np.get_include np.get_printoptions np.getbufsize np.geterr np.geterrcall
        np.printoptions np.set_printoptions np.setbufsize np.seterr np.seterrcall
        np.show_config np.show_runtime np.test np.linalg.test""",
    "writes the values to a file (nothing comes back)": """
        np.save np.savetxt np.savez np.savez_compressed""",
    "piecewise constant: the derivative is 0 wherever it exists": """
        np.floor_divide""",
}

_REFUSED_GROUPS = {
    "it converts to a plain array and would cut the graph; use t.detach().numpy() to "
    "leave it explicitly": """
        np.array np.asarray np.asanyarray np.ascontiguousarray np.asfortranarray
        np.asarray_chkfinite np.asmatrix np.require np.from_dlpack np.astype
        np.lib.stride_tricks.as_strided""",
    "it writes into its argument in place; build the result with np.where or "
    "concatenation, which are recorded": """
        np.copyto np.fill_diagonal np.place np.put np.put_along_axis np.putmask""",
    "complex numbers: gradsight's tensors are real": """
        np.angle np.conj np.conjugate np.real np.imag np.real_if_close
        np.sort_complex""",
    "no gradient rule yet (statistics over sorted or binned values)": """
        np.median np.nanmedian np.percentile np.nanpercentile np.quantile
        np.nanquantile np.histogram np.histogram2d np.histogramdd
        np.histogram_bin_edges np.partition np.unique np.unique_all np.unique_counts
        np.unique_inverse np.unique_values np.intersect1d np.setdiff1d np.setxor1d
        np.union1d np.interp""",
    "no gradient rule yet (NaN-ignoring reductions; mask with np.where first)": """
        np.nanstd np.nanvar np.nancumsum np.nancumprod""",
    "no gradient rule yet (elementwise)": """
        np.copysign np.float_power np.heaviside np.i0 np.nextafter np.ldexp np.frexp
        np.modf np.divmod np.unwrap np.spacing""",
    "no gradient rule yet (reductions and products)": """
        np.cov np.corrcoef np.gradient np.trapezoid np.convolve np.correlate
        np.cross np.cumulative_sum np.cumulative_prod np.ediff1d np.matvec np.vecmat
        np.linalg.cross np.linalg.matrix_norm np.linalg.vector_norm np.linalg.cond""",
    "no gradient rule yet (decompositions and least squares)": """
        np.linalg.cholesky np.linalg.eig np.linalg.eigh np.linalg.eigvals
        np.linalg.eigvalsh np.linalg.lstsq np.linalg.pinv np.linalg.qr np.linalg.svd
        np.linalg.svdvals np.linalg.tensorinv np.linalg.tensorsolve""",
    "no gradient rule yet (building, splitting and rearranging arrays)": """
        np.insert np.delete np.resize np.rollaxis np.block np.bmat np.row_stack
        np.unstack np.meshgrid np.diagflat np.vander np.trim_zeros np.extract
        np.compress np.select np.choose np.piecewise np.apply_along_axis
        np.apply_over_axes np.linspace np.logspace np.geomspace np.nested_iters""",
    "no gradient rule yet (polynomials)": """
        np.poly np.polyadd np.polyder np.polydiv np.polyfit np.polyint np.polymul
        np.polysub np.polyval np.roots""",
}


def _flatten(groups: dict) -> dict:
    out = {}
    for reason, names in groups.items():
        for name in _names(names):
            if name in out:
                raise ValueError(f"{name} is classified twice")
            out[name] = reason
    return out


NO_GRADIENT = _flatten(_NO_GRADIENT_GROUPS)
REFUSED = _flatten(_REFUSED_GROUPS)


def public_callables() -> dict:
    """'np.<name>' -> object, for every public callable of MODULES (no classes, no modules)."""
    out = {}
    for prefix, module in MODULES:
        for name in dir(module):
            if name.startswith("_"):
                continue
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, (type, types.ModuleType)):
                out[f"{prefix}.{name}"] = obj
    return out


def _declared() -> dict:
    """NumPy callable -> its op, from the declarations."""
    by_fn = {}
    for op in declare.OPS.values():
        for fn in op.numpy:
            by_fn.setdefault(fn, op)
    return by_fn


def classification() -> dict:
    """'np.<name>' -> (class, why) for every public callable; class None: unclassified."""
    declared = _declared()
    out = {}
    for name, obj in public_callables().items():
        op = declared.get(obj)
        if op is not None:
            kind = "no gradient" if op.gradient == "none" else "recorded"
            out[name] = (kind, f"gs op {op.name}")
        elif name in NO_GRADIENT:
            out[name] = ("no gradient", NO_GRADIENT[name])
        elif name in REFUSED:
            out[name] = ("refused", REFUSED[name])
        else:
            out[name] = (None, "unclassified")
    return out


_BY_OBJECT: dict = {}


def _index() -> dict:
    if not _BY_OBJECT:
        for name, obj in public_callables().items():
            _BY_OBJECT.setdefault(obj, name)
    return _BY_OBJECT


def passes_through(func) -> bool:
    """True when ``func``'s result carries no gradient (it may run on the values)."""
    name = _index().get(func)
    return name is not None and name in NO_GRADIENT


def refusal(func) -> str | None:
    """Why gradsight refuses ``func`` on a tensor that requires grad (None: not listed)."""
    name = _index().get(func)
    return REFUSED.get(name) if name is not None else None


def markdown() -> str:
    """The classification as the docs' table: counts, then the names of each class."""
    table = classification()
    counts = {}
    for kind, _ in table.values():
        counts[kind] = counts.get(kind, 0) + 1
    lines = [
        f"{len(table)} public callables of NumPy {np.__version__} (`np`, `np.linalg`, "
        f"`np.lib.stride_tricks`): {counts.get('recorded', 0)} recorded, "
        f"{counts.get('no gradient', 0)} without a gradient (pass through), "
        f"{counts.get('refused', 0)} refused, {counts.get(None, 0)} unclassified.",
        "",
        "| class | why | count | callables |",
        "|---|---|---|---|",
    ]
    rows = {}
    for name, (kind, why) in table.items():
        key = (kind or "unclassified", "a declared op" if why.startswith("gs op") else why)
        rows.setdefault(key, []).append(name)
    order = {"recorded": 0, "no gradient": 1, "refused": 2, "unclassified": 3}
    for (kind, why), names in sorted(rows.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        shown = " ".join(f"`{n}`" for n in sorted(names))
        lines.append(f"| {kind} | {why} | {len(names)} | {shown} |")
    return "\n".join(lines) + "\n"
