"""gs.save / gs.load: round trips, atomic writes, and refusal of unsafe or broken files."""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gradsight as gs
from gradsight import nn
from gradsight.io import MAX_ENTRIES, LoadError

SRC = Path(__file__).resolve().parents[1] / "src"


def _arrays():
    return {
        "f64": np.random.default_rng(0).standard_normal((3, 4)),
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "int": np.array([1, -2, 3]),
        "bool": np.array([True, False]),
        "complex": np.array([1 + 2j]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3)),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "layers.0.weight": np.ones((2, 2)),
    }


def _zip(path, members: dict):
    """Write a zip with raw ``{member name: bytes}`` (for hand-made bad files)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


# ------------------------------------------------------------------ round trips
def test_round_trip_keeps_values_dtypes_shapes_and_order(tmp_path):
    arrays = _arrays()
    path = tmp_path / "a.npz"
    gs.save(arrays, path)
    loaded = gs.load(path)
    assert list(loaded) == list(arrays)
    for name, arr in arrays.items():
        assert loaded[name].dtype == arr.dtype and loaded[name].shape == arr.shape
        assert np.array_equal(loaded[name], arr)


def test_file_has_a_manifest_and_reads_with_numpy(tmp_path):
    path = tmp_path / "m.npz"
    gs.save({"w": gs.tensor([[1.0, 2.0]]), "n": [1, 2, 3]}, str(path))
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["__manifest__"]))
        assert np.array_equal(npz["w"], [[1.0, 2.0]])
    assert meta["format"] == "gradsight" and meta["version"] == 1
    assert meta["entries"] == [
        {"name": "w", "shape": [1, 2], "dtype": "<f8"},
        {"name": "n", "shape": [3], "dtype": np.array([1]).dtype.str},
    ]


def test_plain_numpy_npz_files_load(tmp_path):
    np.savez(tmp_path / "p.npz", a=np.arange(3), b=np.eye(2))
    loaded = gs.load(tmp_path / "p.npz")
    assert sorted(loaded) == ["a", "b"] and np.array_equal(loaded["b"], np.eye(2))


def test_compressed_numpy_npz_files_load(tmp_path):
    np.savez_compressed(tmp_path / "z.npz", a=np.arange(1000.0))
    assert np.array_equal(gs.load(tmp_path / "z.npz")["a"], np.arange(1000.0))


def test_save_into_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no directory .*missing"):
        gs.save({"a": np.zeros(1)}, tmp_path / "missing" / "a.npz")


def test_saved_and_loaded_model_gives_bitwise_identical_outputs(tmp_path):
    gs.manual_seed(0)
    model = nn.MLP([4, 16, 16, 3], activation="tanh")
    gs.save(model.state_dict(), tmp_path / "model.npz")
    gs.manual_seed(1)
    other = nn.MLP([4, 16, 16, 3], activation="tanh")
    x = np.random.default_rng(2).standard_normal((32, 4))
    assert not np.array_equal(model(x).data, other(x).data)
    other.load_state_dict(gs.load(tmp_path / "model.npz"))
    assert model(x).data.tobytes() == other(x).data.tobytes()


def test_save_overwrites_and_keeps_permissions_readable(tmp_path):
    path = tmp_path / "w.npz"
    gs.save({"a": np.zeros(2)}, path)
    gs.save({"b": np.ones(3)}, path)
    assert list(gs.load(path)) == ["b"]
    (tmp_path / "ref").write_bytes(b"")  # what a plain open() gives under this umask
    assert os.stat(path).st_mode & 0o777 == os.stat(tmp_path / "ref").st_mode & 0o777
    os.unlink(tmp_path / "ref")
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]  # no temporary files left


# ------------------------------------------------------------------ what save refuses
def test_save_refuses_bad_names_and_values(tmp_path):
    path = tmp_path / "x.npz"
    for bad, match in [
        ({1: np.zeros(1)}, "must be strings"),
        ({"": np.zeros(1)}, "1 to 255"),
        ({"a\nb": np.zeros(1)}, "control"),
        ({"../up": np.zeros(1)}, "'..'"),
        ({"__manifest__": np.zeros(1)}, "reserved"),
    ]:
        with pytest.raises(ValueError, match=match):
            gs.save(bad, path)
    with pytest.raises(TypeError, match="dtype object"):
        gs.save({"o": np.array([None, 1], dtype=object)}, path)
    with pytest.raises(TypeError, match="state_dict"):
        gs.save(nn.Linear(1, 1), path)
    assert not path.exists()


# ------------------------------------------------------------------ atomic writes
def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    gs.save({"old": np.arange(5)}, path)
    before = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def failing(fp, arr, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return real(fp, arr, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        gs.save({"a": np.ones(1000), "b": np.ones(1000), "c": np.ones(1000)}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_crash_mid_save_leaves_the_old_file_intact(tmp_path):
    """A process killed in the middle of gs.save (os._exit) does not damage the old file."""
    path = tmp_path / "ckpt.npz"
    gs.save({"old": np.arange(5)}, path)
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import os, numpy as np, gradsight as gs
        real = np.lib.format.write_array
        n = []
        def dying(fp, arr, *a, **k):
            n.append(1)
            if len(n) == 3:
                os._exit(9)  # no cleanup, no exception handlers: like a power cut
            return real(fp, arr, *a, **k)
        np.lib.format.write_array = dying
        gs.save({{"a": np.ones(10**5), "b": np.ones(10**5), "c": np.ones(10**5)}}, {str(path)!r})
    """)
    env = dict(os.environ, PYTHONPATH=str(SRC))
    result = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert result.returncode == 9
    assert path.read_bytes() == before
    assert list(gs.load(path)) == ["old"]


# ------------------------------------------------------------------ pickles are never run
class _Payload:
    """Unpickling this creates the marker file (what a malicious checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickle_payload_is_real(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))  # the oracle: unpickling does run it
    assert marker.exists()


def test_object_array_with_pickle_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    arr = np.array([_Payload(marker)], dtype=object)
    np.savez(tmp_path / "evil.npz", weights=arr, allow_pickle=True)
    with pytest.raises(LoadError, match="evil.npz.*object arrays and pickles are refused"):
        gs.load(tmp_path / "evil.npz")
    assert not marker.exists()


def test_raw_pickle_member_and_pickle_file_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Payload(marker)})
    _zip(tmp_path / "member.npz", {"w.npy": payload})
    with pytest.raises(LoadError, match="member.npz.*'w.npy' is not a valid .npy array"):
        gs.load(tmp_path / "member.npz")
    (tmp_path / "file.npz").write_bytes(payload)
    with pytest.raises(LoadError, match="file.npz.*not a .npz"):
        gs.load(tmp_path / "file.npz")
    assert not marker.exists()


def test_structured_and_string_arrays_are_refused(tmp_path):
    rec = np.zeros(2, dtype=[("a", "f8"), ("b", "i4")])
    _zip(tmp_path / "s.npz", {"r.npy": _npy(rec)})
    with pytest.raises(LoadError, match="not a numeric array"):
        gs.load(tmp_path / "s.npz")
    _zip(tmp_path / "u.npz", {"u.npy": _npy(np.array(["hi"]))})
    with pytest.raises(LoadError, match="not a numeric array"):
        gs.load(tmp_path / "u.npz")


# ------------------------------------------------------------------ broken files
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file: .*nothere.npz"):
        gs.load(tmp_path / "nothere.npz")


def test_directory_empty_and_non_zip(tmp_path):
    with pytest.raises(LoadError, match="is a directory"):
        gs.load(tmp_path)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(LoadError, match="empty.npz.*empty \\(0 bytes\\)"):
        gs.load(tmp_path / "empty.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(LoadError, match="text.npz.*not a .npz"):
        gs.load(tmp_path / "text.npz")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_files_are_refused(tmp_path, keep):
    path = tmp_path / "t.npz"
    gs.save(_arrays(), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(LoadError, match="t.npz.*(corrupt|truncated)"):
        gs.load(path)


@pytest.mark.parametrize("where", [0.3, 0.6])
def test_corrupted_data_is_refused(tmp_path, where):
    path = tmp_path / "c.npz"
    gs.save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(LoadError, match="c.npz.*(corrupt|CRC)"):
        gs.load(path)


def test_too_many_entries(tmp_path):
    path = tmp_path / "many.npz"
    small = _npy(np.zeros(1))
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(MAX_ENTRIES + 1):
            zf.writestr(f"a{i}.npy", small)
    with pytest.raises(LoadError, match=f"many.npz.*{MAX_ENTRIES + 1} entries"):
        gs.load(path)


def _patch_declared_size(path, size):
    """Rewrite the uncompressed size fields of the only member (local and central headers)."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = struct.pack("<I", size)
    data[central + 24 : central + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def test_oversized_declared_member_is_refused_before_reading(tmp_path):
    path = _zip(tmp_path / "big.npz", {"w.npy": _npy(np.zeros(4))})
    _patch_declared_size(path, 3 * 1024**3)
    assert zipfile.ZipFile(path).infolist()[0].file_size == 3 * 1024**3
    with pytest.raises(LoadError, match="big.npz.*declares 3221225472 bytes.*2 GiB"):
        gs.load(path)


def test_header_claiming_more_data_than_the_member_holds(tmp_path):
    member = _npy(np.zeros(4)).replace(b"'shape': (4,)", b"'shape': (8,)")
    assert b"(8,)" in member
    _zip(tmp_path / "lie.npz", {"w.npy": member})
    with pytest.raises(LoadError, match="lie.npz.*declares shape \\(8,\\)"):
        gs.load(tmp_path / "lie.npz")


@pytest.mark.parametrize(
    "name",
    [
        "../evil.npy",
        "/abs.npy",
        "a\\b.npy",
        "bad\x01name.npy",
        "weights.bin",
        ".npy",
        "a/../../b.npy",
    ],
)
def test_odd_member_names_are_refused(tmp_path, name):
    _zip(tmp_path / "odd.npz", {name: _npy(np.zeros(1))})
    with pytest.raises(LoadError, match="odd.npz.*(odd member name|not a .npy array)"):
        gs.load(tmp_path / "odd.npz")


def test_duplicate_members_are_refused(tmp_path):
    path = tmp_path / "dup.npz"
    with pytest.warns(UserWarning, match="Duplicate"):
        _zip(path, {"w.npy": _npy(np.zeros(1))})
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("w.npy", _npy(np.ones(1)))
    with pytest.raises(LoadError, match="dup.npz.*more than once"):
        gs.load(path)


def test_manifest_must_agree_with_the_arrays(tmp_path):
    def manifest(entries, version=1):
        return _npy(
            np.array(json.dumps({"format": "gradsight", "version": version, "entries": entries}))
        )

    w = {"name": "w", "shape": [2], "dtype": "<f8"}
    cases = {
        "extra": ([w, {"name": "v", "shape": [1], "dtype": "<f8"}], 1, "manifest lists"),
        "shape": ([{**w, "shape": [3]}], 1, "manifest says \\(3,\\)"),
        "dtype": ([{**w, "dtype": "<f4"}], 1, "float32"),
        "newer": ([w], 2, "version 2 is newer"),
    }
    for label, (entries, version, match) in cases.items():
        path = _zip(
            tmp_path / f"{label}.npz",
            {"__manifest__.npy": manifest(entries, version), "w.npy": _npy(np.zeros(2))},
        )
        with pytest.raises(LoadError, match=f"{label}.npz.*{match}"):
            gs.load(path)
    path = _zip(
        tmp_path / "garbled.npz",
        {"__manifest__.npy": _npy(np.array("{not json")), "w.npy": _npy(np.zeros(2))},
    )
    with pytest.raises(LoadError, match="unreadable manifest"):
        gs.load(path)


def test_load_errors_are_value_errors():
    assert issubclass(LoadError, ValueError)


def test_source_never_imports_pickle():
    """The project rule: nothing under src/ imports pickle (or its relatives)."""
    banned = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve"}
    for file in (SRC / "gradsight").rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not names & banned, f"{file} imports {names & banned}"
