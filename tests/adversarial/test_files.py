"""Adversarial files: ``gs.load`` on files from strangers, ``load_state_dict``
on dictionaries that do not fit.

Every refusal must be one ``ValueError`` (``gs.load``'s LoadError) naming the
file, raised before any array data is read where the problem is visible in
the archive's directory or headers, and nothing pickled may ever run (each
payload would create a marker file). tests/test_io.py has the ordinary
round-trip and refusal tests; these go after the edges: every truncation,
every single-byte corruption, real zip bombs, integer overflow in headers.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import gradsight as gs

SRC = str(Path(__file__).resolve().parents[2] / "src")


class _Payload:
    """Unpickling this creates ``marker``: proof that a pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _npy(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _zip(path, members: dict, compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return Path(path)


def _refused(path, match=None):
    """gs.load(path) raises one ValueError naming the file (and matching ``match``)."""
    with pytest.raises(ValueError) as err:
        gs.load(path)
    msg = str(err.value)
    assert os.path.basename(os.fspath(path)) in msg, msg
    if match is not None:
        assert match in msg, msg
    return msg


# ------------------------------------------------------- pickles never run
def _pickle_disguises(marker) -> dict:
    """File name -> bytes: a pickle payload hidden in every place we can think of."""
    obj = np.array([_Payload(marker)], dtype=object)
    structured = np.zeros(1, dtype=[("a", "f8"), ("b", "O")])
    structured["b"][0] = _Payload(marker)
    raw = pickle.dumps({"w": _Payload(marker)})
    npz = io.BytesIO()
    np.savez(npz, w=obj, allow_pickle=True)
    header_says_float = _npy(np.zeros(1)).replace(b"'<f8'", b"'|O' ")
    return {
        "object_array.npz": npz.getvalue(),
        "structured_object_field.npz": _zip_bytes({"w.npy": _npy(structured, allow_pickle=True)}),
        "raw_pickle_member.npz": _zip_bytes({"w.npy": raw}),
        "pickle_file.npz": raw,
        "protocol0_pickle.npz": pickle.dumps(_Payload(marker), protocol=0),
        "npy_file_with_pickle.npz": _npy(obj, allow_pickle=True),
        "object_manifest.npz": _zip_bytes(
            {"__manifest__.npy": _npy(obj, allow_pickle=True), "w.npy": _npy(np.zeros(2))}
        ),
        "float_header_pickle_body.npz": _zip_bytes(
            {"w.npy": header_says_float[: header_says_float.index(b"\n") + 1] + raw}
        ),
    }


def _zip_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_pickle_payloads_are_live():
    """The oracle: each payload really runs when unpickled (else the test proves nothing)."""
    marker = Path(os.environ.get("TMPDIR", "/tmp")) / f"gs-live-{os.getpid()}"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()
    marker.unlink()


@pytest.mark.parametrize("name", list(_pickle_disguises("m")))
def test_pickled_content_is_refused_without_running(name, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / name
    path.write_bytes(_pickle_disguises(marker)[name])
    _refused(path)
    assert not marker.exists()


def test_pickled_content_is_refused_in_a_fresh_interpreter(tmp_path):
    """Same, in a new process: nothing imported earlier (numpy, pickle) helps or hides it."""
    marker = tmp_path / "pwned"
    for name, data in _pickle_disguises(marker).items():
        (tmp_path / name).write_bytes(data)
    code = textwrap.dedent(
        f"""
        import glob, gradsight as gs
        for p in sorted(glob.glob({str(tmp_path / "*.npz")!r})):
            try:
                gs.load(p)
            except ValueError:
                continue
            raise SystemExit("loaded " + p)
        """
    )
    env = dict(os.environ, PYTHONPATH=SRC)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert not marker.exists()


# ------------------------------------------------------- truncation and corruption
@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "model.npz"
    arrays = {"w": np.arange(6.0).reshape(2, 3), "b": np.array([1, 2], np.int32)}
    gs.save(arrays, path)
    return path, arrays


def test_every_truncation_is_refused(small_file, tmp_path):
    path, _ = small_file
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in range(len(data)):
        cut.write_bytes(data[:n])
        _refused(cut)


def test_every_single_byte_corruption_is_refused_or_harmless(small_file, tmp_path):
    """Flip each byte in turn: gs.load either refuses with a ValueError or returns
    exactly the saved arrays (a flip in a field nobody reads, like a timestamp)."""
    path, arrays = small_file
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    harmless, escaped = 0, []
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            loaded = gs.load(bad)
        except ValueError as err:
            assert "bad.npz" in str(err)
            continue
        except Exception as err:  # noqa: BLE001 - collected and reported below
            escaped.append((i, f"{type(err).__name__}: {err}"))
            continue
        harmless += 1
        assert loaded.keys() == arrays.keys()
        for k, v in arrays.items():
            assert loaded[k].dtype == v.dtype and np.array_equal(loaded[k], v)
    assert harmless < len(data) // 2  # most bytes matter: the check is not vacuous
    assert not escaped, f"not a ValueError at byte offsets: {escaped}"


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_device_files_are_refused_without_hanging(special):
    if not os.path.exists(special):
        pytest.skip(f"no {special}")
    with pytest.raises(ValueError, match=special):
        gs.load(special)


# ------------------------------------------------------- oversized headers and members
def test_npy_header_too_long_is_refused(tmp_path):
    body = _npy(np.zeros(2))
    huge = b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + body[10:]
    _refused(_zip(tmp_path / "h1.npz", {"w.npy": huge}))
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    padded = header + " " * 200_000 + "\n"
    v2 = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(padded)) + padded.encode() + bytes(16)
    _refused(_zip(tmp_path / "h2.npz", {"w.npy": v2}))


@pytest.mark.parametrize(
    "shape",
    ["(4294967296, 4294967296)", "(2**62,)", "(-1,)", "(9223372036854775807, 2)", "('a',)"],
)
def test_header_with_absurd_or_overflowing_shape_is_refused(shape, tmp_path):
    """A shape whose element count overflows int64 to the real data size must not pass."""
    member = _npy(np.zeros(0)).replace(b"'shape': (0,)", f"'shape': {shape}".encode())
    path = _zip(tmp_path / "shape.npz", {"w.npy": member})
    _refused(path)


@pytest.mark.parametrize(
    "descr",
    [
        "\"__import__('os').system('touch pwned')\"",
        "[('a', '<f8'), ('b', '|O')]",
        "'<U4'",
        "'V8'",
        "'<M8[s]'",
    ],
)
def test_non_numeric_or_hostile_dtype_descr_is_refused(descr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    member = _npy(np.zeros(1)).replace(b"'<f8'", descr.encode())
    _refused(_zip(tmp_path / "descr.npz", {"w.npy": member}))
    assert not (tmp_path / "pwned").exists()


def test_too_many_entries_is_refused_before_reading(tmp_path):
    from gradsight.io import MAX_ENTRIES

    path = tmp_path / "many.npz"
    member = _npy(np.zeros(1))
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(MAX_ENTRIES + 1):
            zf.writestr(f"a{i}.npy", member)
    _refused(path, str(MAX_ENTRIES))


@pytest.mark.parametrize(
    "member",
    ["../evil.npy", "/etc/evil.npy", "C:\\evil.npy", "x\x00y.npy", "x\ny.npy", "a/../../b.npy"],
    ids=repr,
)
def test_odd_member_names_are_refused(member, tmp_path):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo(member), _npy(np.zeros(1)))
    _refused(path)
    assert not (tmp_path.parent / "evil.npy").exists()


# ------------------------------------------------------- zip bombs
_CHUNK = 1 << 24  # 16 MiB of zeros


def _bomb_member(n_bytes: int) -> tuple:
    """(raw deflate data, crc32, uncompressed size) of a float64 .npy holding
    n_bytes of zeros, built from repeated full-flush blocks (about 1000:1)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (n_bytes // 8,)}
    )
    header = buf.getvalue()
    zeros = bytes(_CHUNK)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(header) + c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    k = n_bytes // _CHUNK
    crc = zlib.crc32(header)
    for _ in range(k):
        crc = zlib.crc32(zeros, crc)
    return first + block * (k - 1) + c.flush(), crc, len(header) + n_bytes


def _write_raw_zip(path, members) -> None:
    """A zip of (name, deflate data, crc, size) members (sizes under 4 GiB, no zip64)."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        nb, offset = name.encode(), len(out)
        fields = (20, 0, 8, 0, 0x21, crc, len(data), size, len(nb))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + nb + data
        central += struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIIIH", *fields)
        central += struct.pack("<HHHHII", 0, 0, 0, 0, 0, offset) + nb
    n = len(members)
    tail = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), len(out), 0)
    Path(path).write_bytes(bytes(out + central + tail))


_LOAD_LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_CPU, (2, 2))              # refusing takes milliseconds
resource.setrlimit(resource.RLIMIT_DATA, (1 << 30, 1 << 30))  # a bomb would need gigabytes
import gradsight as gs
try:
    gs.load(sys.argv[1])
except ValueError as err:
    print("REFUSED", err)
else:
    print("LOADED")
"""


def _load_limited(path) -> str:
    # one BLAS thread: a many-core OpenBLAS reserves buffers that count against RLIMIT_DATA
    threads = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env = dict(os.environ, PYTHONPATH=SRC, **threads)
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_LIMITED, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return f"rc={out.returncode} {out.stdout.strip()} {out.stderr.strip()[-300:]}"


@pytest.fixture(scope="module")
def bomb_member():
    return _bomb_member(2**31 - _CHUNK)  # 2 GiB - 16 MiB of zeros in about 2 MB


def test_bomb_member_is_real(bomb_member):
    """The oracle: the member inflates to what it declares, and its CRC is right."""
    data, crc, size = bomb_member
    assert size > 1000 * len(data)
    d = zlib.decompressobj(-15)
    head = d.decompress(data[:4096], 1 << 20)
    assert head.startswith(b"\x93NUMPY") and b"'shape': (266338304,)" in head


@pytest.mark.skipif(sys.platform != "linux", reason="uses Linux resource limits")
def test_single_member_over_the_size_limit_is_refused_before_reading(tmp_path):
    data, crc, size = _bomb_member(3 * 2**30)  # 3 GiB from 3 MB
    path = tmp_path / "bomb1.npz"
    _write_raw_zip(path, [("w.npy", data, crc, size)])
    result = _load_limited(path)
    assert "rc=0 REFUSED" in result and "bomb1.npz" in result, result


@pytest.mark.skipif(sys.platform != "linux", reason="uses Linux resource limits")
def test_members_that_together_declare_gigabytes_are_refused_before_reading(tmp_path, bomb_member):
    data, crc, size = bomb_member
    path = tmp_path / "bomb3.npz"
    _write_raw_zip(path, [(f"w{i}.npy", data, crc, size) for i in range(3)])
    assert path.stat().st_size < 8 * 2**20 and 3 * size > 6 * 10**9
    result = _load_limited(path)
    assert "rc=0 REFUSED" in result and "bomb3.npz" in result, result
    assert "MemoryError" not in result, result


# ------------------------------------------------------- load_state_dict
@pytest.fixture
def model():
    nn = pytest.importorskip("gradsight.nn")
    gs.manual_seed(0)
    return nn.MLP([3, 4, 2], activation="tanh")


def _snapshot(model) -> dict:
    return {k: (p.data.copy(), p.data.dtype, p.requires_grad) for k, p in model.named_parameters()}


def _unchanged(model, before) -> None:
    for k, p in model.named_parameters():
        data, dtype, rg = before[k]
        assert p.data.tobytes() == data.tobytes() and p.dtype == dtype and p.requires_grad == rg


BAD_STATES = {  # name -> how to spoil a good state_dict (the last key is always wrong)
    "last shape wrong": lambda sd, last: sd.update({last: np.zeros((7,))}),
    "last dtype wrong": lambda sd, last: sd.update({last: sd[last].astype(np.float32)}),
    "last not numeric": lambda sd, last: sd.update({last: np.array(["a", "b"])}),
    "last is an object": lambda sd, last: sd.update({last: object()}),
    "unexpected key": lambda sd, last: sd.update({"extra.weight": np.zeros(2)}),
    "missing key": lambda sd, last: sd.pop(last),
    "everything wrong": lambda sd, last: sd.update(
        {k: np.zeros((1, 1, 1)) for k in list(sd)} | {"x": 1}
    ),
}


@pytest.mark.parametrize("spoil", BAD_STATES.values(), ids=BAD_STATES.keys())
def test_load_state_dict_is_all_or_nothing(spoil, model):
    good = {k: v + 1.0 for k, v in model.state_dict().items()}
    last = list(good)[-1]
    spoil(good, last)
    before = _snapshot(model)
    with pytest.raises(ValueError) as err:
        model.load_state_dict(good)
    assert last in str(err.value) or "extra.weight" in str(err.value)
    _unchanged(model, before)


def test_load_state_dict_reports_every_problem_at_once(model):
    sd = {k: np.zeros((9, 9)) for k in model.state_dict()} | {"ghost": np.zeros(1)}
    with pytest.raises(ValueError) as err:
        model.load_state_dict(sd)
    for k in list(model.state_dict()) + ["ghost"]:
        assert repr(k) in str(err.value)


def test_loaded_parameters_do_not_alias_the_state_dict(model):
    sd = {k: v * 2.0 for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    for v in sd.values():
        v += 100.0  # the user keeps using their arrays
    for k, p in model.named_parameters():
        assert np.all(np.abs(p.data) < 50.0)
        assert not np.shares_memory(p.data, sd[k])
    for k, v in model.state_dict().items():
        assert not np.shares_memory(v, dict(model.named_parameters())[k].data)
