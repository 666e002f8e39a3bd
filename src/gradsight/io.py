"""gs.save / gs.load: named arrays in a ``.npz`` file, never pickled.

File format: a zip archive with one ``<name>.npy`` member per array (NumPy's
own .npy format, so ``np.load`` reads it too) plus ``__manifest__.npy``, a
0-d unicode array holding JSON::

    {"format": "gradsight", "version": 1,
     "entries": [{"name": "layers.0.weight", "shape": [4, 2], "dtype": "<f8"}, ...]}

Saving writes a temporary file in the target's directory and renames it over
the target (``os.replace``), so a crash mid-save leaves the old file intact.

Loading never unpickles: arrays are read with ``np.load(allow_pickle=False)``
only, after the archive has been checked (signature, entry count, member
names, declared sizes, CRCs, .npy headers). Every problem is a ValueError
(``LoadError``) naming the file; a missing file is FileNotFoundError.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from collections.abc import Mapping

import numpy as np

from gradsight._core.tensor import Tensor

FORMAT_VERSION = 1
MANIFEST = "__manifest__"
MAX_ENTRIES = 10_000
MAX_MEMBER_BYTES = 2 * 1024**3  # declared uncompressed size of one member
MAX_TOTAL_BYTES = 4 * 1024**3  # declared uncompressed size of all members together
MAX_NAME_LENGTH = 255
_ALLOWED_KINDS = "biufc"  # bool, int, uint, float, complex
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows


class LoadError(ValueError):
    """A file that gs.load refuses: not a valid, safe gradsight/NumPy .npz."""

    def __init__(self, path, problem: str):
        super().__init__(f"gs.load: cannot load {os.fspath(path)!r}: {problem}")
        self.path = path


def _name_problem(name) -> str | None:
    """Why ``name`` cannot be an array name (None if it can)."""
    if not isinstance(name, str):
        return f"names must be strings, got {type(name).__name__} {name!r}"
    if not name or len(name) > MAX_NAME_LENGTH:
        return f"name {name!r} must have 1 to {MAX_NAME_LENGTH} characters"
    if not name.isprintable() or "\\" in name or name.startswith("/"):
        return f"name {name!r} has control characters, a backslash or a leading '/'"
    if ".." in name.split("/"):
        return f"name {name!r} has a '..' path component"
    return None


# ------------------------------------------------------------------ save
def save(mapping: Mapping, path) -> None:
    """Write ``{name: array or Tensor}`` (e.g. a ``state_dict()``) to ``path`` as ``.npz``.

    Arrays must be numeric (bool, int, float, complex); names are non-empty
    printable strings. The write is atomic: the file at ``path`` is either
    the old one or the complete new one.
    """
    if not isinstance(mapping, Mapping):
        hint = "; for a Module, save module.state_dict()" if hasattr(mapping, "state_dict") else ""
        raise TypeError(
            f"gs.save expects a mapping of name -> array, got {type(mapping).__name__}{hint}"
        )
    arrays = {}
    for name, value in mapping.items():
        problem = _name_problem(name)
        if problem is None and name == MANIFEST:
            problem = f"name {MANIFEST!r} is reserved for the file's manifest"
        if problem:
            raise ValueError(f"gs.save: {problem}")
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        if arr.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(
                f"gs.save: {name!r} has dtype {arr.dtype}; only bool, integer, floating and "
                "complex arrays can be saved (nothing is pickled)"
            )
        arrays[name] = arr
    entries = [{"name": k, "shape": list(a.shape), "dtype": a.dtype.str} for k, a in arrays.items()]
    manifest = json.dumps({"format": "gradsight", "version": FORMAT_VERSION, "entries": entries})
    _atomic_write(os.fspath(path), {MANIFEST: np.array(manifest), **arrays})


def _create_temp(path: str) -> tuple[int, str]:
    """A new file next to ``path``, with the permissions a plain ``open`` would give."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"gs.save: cannot write {path!r}: no directory {directory!r}")
    base = os.path.join(directory, "." + os.path.basename(path))
    for _ in range(100):
        tmp = f"{base}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"gs.save: could not create a temporary file next to {path!r}")


def _atomic_write(path: str, arrays: dict) -> None:
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, arr in arrays.items():
                    with zf.open(name + ".npy", "w", force_zip64=arr.nbytes > 2**31) as member:
                        np.lib.format.write_array(member, arr, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------------ load
def load(path) -> dict[str, np.ndarray]:
    """Read a ``.npz`` written by ``gs.save`` (or ``np.savez``) into ``{name: ndarray}``.

    Refuses, with a LoadError (a ValueError) naming the file: empty, truncated,
    corrupt or non-zip files; more than 10,000 entries; members declaring
    more than 2 GiB; odd member names; object arrays, pickles or anything
    that is not a numeric ``.npy`` array; a manifest that disagrees with the
    arrays. Nothing is ever unpickled.
    """
    path = os.fspath(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise FileNotFoundError(f"gs.load: no such file: {path!r}") from None
    except IsADirectoryError:
        raise LoadError(path, "it is a directory, not a .npz file") from None
    with f:
        if os.fstat(f.fileno()).st_size == 0:
            raise LoadError(path, "the file is empty (0 bytes)")
        if f.read(4) not in _ZIP_SIGNATURES:
            raise LoadError(
                path,
                "not a .npz (zip) file; gs.load reads only .npz archives of "
                "arrays (it never unpickles)",
            )
        f.seek(0)
        headers = _check_archive(f, path)
        f.seek(0)
        arrays = _read_arrays(f, headers, path)
    manifest = arrays.pop(MANIFEST, None)
    if manifest is not None:
        arrays = _apply_manifest(manifest, arrays, path)
    return arrays


def _check_archive(f, path) -> dict:
    """Check the zip directory, names, sizes, CRCs and .npy headers before reading arrays.

    Returns ``{name: (shape, dtype)}`` in archive order.
    """
    try:
        zf = zipfile.ZipFile(f)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
    ) as err:
        raise LoadError(path, f"corrupt or truncated zip archive ({err})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise LoadError(path, f"{len(infos)} entries, more than the limit of {MAX_ENTRIES}")
        total = sum(info.file_size for info in infos)
        if total > MAX_TOTAL_BYTES:
            raise LoadError(
                path,
                f"its members declare {total} bytes together, more than the limit of "
                f"{MAX_TOTAL_BYTES} (4 GiB)",
            )
        names = []
        seen = set()
        for info in infos:
            name = _check_member(info, path)
            if name in seen:
                raise LoadError(path, f"the member {info.filename!r} appears more than once")
            seen.add(name)
            names.append(name)
        try:
            bad = zf.testzip()  # reads every member, checking its CRC
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:
            raise LoadError(path, f"corrupt or truncated archive data ({err})") from None
        if bad is not None:
            raise LoadError(path, f"member {bad!r} is corrupt (CRC mismatch)")
        return {name: _check_header(zf, info, name, path) for name, info in zip(names, infos)}


def _check_member(info: zipfile.ZipInfo, path) -> str:
    raw = info.filename
    if not raw.endswith(".npy"):
        raise LoadError(path, f"member {raw!r} is not a .npy array")
    name = raw[: -len(".npy")]
    problem = _name_problem(name)
    if problem:
        raise LoadError(path, f"odd member name {raw!r}: {problem}")
    if info.flag_bits & 0x1:
        raise LoadError(path, f"member {raw!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise LoadError(path, f"member {raw!r} uses unsupported compression {info.compress_type}")
    if info.file_size > MAX_MEMBER_BYTES:
        raise LoadError(
            path,
            f"member {raw!r} declares {info.file_size} bytes, more than the limit of "
            f"{MAX_MEMBER_BYTES} (2 GiB)",
        )
    return name


def _check_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, path) -> tuple:
    """(shape, dtype) from a member's .npy header; refuses non-numeric or oversized arrays."""
    fmt = np.lib.format
    with zf.open(info) as member:
        try:
            version = fmt.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(member)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = fmt.read_array_header_2_0(member)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            header_size = member.tell()
        except (
            ValueError,
            OSError,
            EOFError,
            SyntaxError,
            TypeError,
            NotImplementedError,
            zipfile.BadZipFile,
        ) as err:
            raise LoadError(
                path, f"member {info.filename!r} is not a valid .npy array ({err})"
            ) from None
    expected_kind = "U" if name == MANIFEST else _ALLOWED_KINDS
    if dtype.hasobject or dtype.kind not in expected_kind:
        raise LoadError(
            path,
            f"member {info.filename!r} holds dtype {dtype}, not a numeric array "
            "(object arrays and pickles are refused)",
        )
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes != info.file_size - header_size:
        raise LoadError(
            path,
            f"member {info.filename!r} declares shape {shape} and dtype {dtype} "
            f"({nbytes} bytes) but holds {info.file_size - header_size} bytes of data",
        )
    return shape, dtype


def _read_arrays(f, headers: dict, path) -> dict:
    try:
        with np.load(f, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in headers}
    except Exception as err:  # noqa: BLE001 - every failure becomes one clear error
        raise LoadError(path, f"could not read the arrays ({type(err).__name__}: {err})") from None
    for name, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or (arr.shape, arr.dtype) != headers[name]:
            raise LoadError(path, f"member {name + '.npy'!r} did not read back as its header says")
    return arrays


def _apply_manifest(manifest: np.ndarray, arrays: dict, path) -> dict:
    """Check the arrays against the manifest; return them in the manifest's order."""
    try:
        meta = json.loads(str(manifest[()]))
        fmt, version, entries = meta["format"], meta["version"], meta["entries"]
        listed = {e["name"]: (tuple(e["shape"]), np.dtype(e["dtype"])) for e in entries}
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise LoadError(path, f"unreadable manifest ({type(err).__name__}: {err})") from None
    if fmt != "gradsight":
        raise LoadError(path, f"the manifest names format {fmt!r}, not 'gradsight'")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise LoadError(
            path,
            f"format version {version!r} is newer than this gradsight "
            f"reads ({FORMAT_VERSION}); upgrade gradsight",
        )
    if listed.keys() != arrays.keys() or len(entries) != len(listed):
        raise LoadError(
            path, f"the manifest lists {sorted(listed)} but the file holds {sorted(arrays)}"
        )
    for name, (shape, dtype) in listed.items():
        arr = arrays[name]
        if arr.shape != shape or arr.dtype != dtype:
            raise LoadError(
                path,
                f"{name!r} has shape {arr.shape} and dtype {arr.dtype}, but the "
                f"manifest says {shape} and {dtype}",
            )
    return {name: arrays[name] for name in listed}
