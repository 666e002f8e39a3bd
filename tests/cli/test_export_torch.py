"""``gradsight train --export-torch FILE.pt``: a plain state_dict whose torch module
maps unscaled feature columns to the saved model's outputs; clear one-line errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import gradsight as gs
from gradsight.cli import model as model_file

from .conftest import assert_bad_input


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def _torch_module(torch, path, sizes, activation):
    """The module gs.nn.to_torch makes of the MLP, loaded from the exported file."""
    module = gs.nn.to_torch(gs.nn.MLP(sizes, activation=activation))
    state = torch.load(path, weights_only=True)  # a plain state_dict, no pickled code
    module.load_state_dict(state)  # strict: exactly the module's keys
    return module


@pytest.mark.torch
@pytest.mark.parametrize("task", ["regress", "classify"])
def test_exported_module_reproduces_the_saved_model_on_unscaled_columns(cli, tmp_path, task):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.normal([50.0, -3.0, 1e3], [10.0, 0.5, 200.0], (60, 3))  # far from standardised
    if task == "regress":
        y = X @ [0.3, -2.0, 0.01] + 7.0
    else:
        y = np.digitize(X[:, 0] + 20 * X[:, 1], [-25.0, -5.0])  # three classes
    _write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, y]).tolist())
    res = cli(
        "train", "d.csv", "--target", "y", "--task", task, "--layers", "5", "--epochs", "3",
        "--save", "m.npz", "--export-torch", "m.pt", "-q",
    )  # fmt: skip
    assert res.rc == 0, res.err
    assert "exported a PyTorch state_dict to m.pt" in res.out
    trained = model_file.load(tmp_path / "m.npz")
    sizes, activation = trained.meta["sizes"], trained.meta["activation"]
    module = _torch_module(torch, tmp_path / "m.pt", sizes, activation)
    with torch.no_grad():
        z = module(torch.from_numpy(X)).numpy()
    expected = trained.outputs(X)
    got = z[:, 0] if task == "regress" else torch.softmax(torch.from_numpy(z), 1).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # the folding is real: the raw weights differ from the exported ones
    raw = trained.model.state_dict()["layers.0.weight"]
    assert not np.allclose(module.state_dict()["layers.0.weight"].numpy(), raw)


def test_without_torch_the_error_names_the_package_before_training(cli, tmp_path, blocker):
    res = cli(
        "train", "xor", "--epochs", "2", "--export-torch", "m.pt", extra_path=[blocker("torch")]
    )
    assert_bad_input(res, "--export-torch", "'torch' is not installed")
    assert "epoch" not in res.out and not (tmp_path / "m.pt").exists()


def test_an_unwritable_export_path_is_refused_before_training(cli, tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "adir").mkdir()
    res = cli("train", "xor", "--epochs", "2", "--export-torch", "adir")
    assert_bad_input(res, "'adir'", "directory")
    assert "epoch" not in res.out
