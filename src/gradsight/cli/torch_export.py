"""``gradsight train --export-torch FILE.pt``: the trained MLP as a PyTorch state_dict.

The file is a plain state_dict (``torch.load(path, weights_only=True)`` reads
it) for the module ``gs.nn.to_torch`` makes of the MLP::

    torch.nn.Sequential(OrderedDict(layers=torch.nn.Sequential(
        torch.nn.Linear(d, h1), torch.nn.Tanh(), ..., torch.nn.Linear(hk, out))))

in the model's dtype (float64 unless trained otherwise). ``train`` standardises the
inputs (and a regression target); both scalings are folded into the first and
last Linear layers, so the module takes the unscaled feature columns (in the
order train printed) and returns what the model means: logits for
classification (sigmoid of the one logit for two classes, softmax otherwise),
values in the target's units for regression.

    first layer:  W' = W / std (per input column),  b' = b - W @ (mean / std)
    last layer:   V' = t_std * V,                   c' = t_std * c + t_mean
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

import gradsight as gs

from .errors import CliError, output_file, write_atomic_with

HELP = "also write the trained MLP as a PyTorch state_dict (torch.load(weights_only=True))"


def prepare(path: str | None) -> Callable | None:
    """Before any training: None without ``--export-torch``, else the exporter.

    Fails early, in one line, when torch is not installed or ``path`` cannot
    be written, so no training time is lost.
    """
    if path is None:
        return None
    try:
        import torch  # noqa: F401 - only checking that it is there
    except ImportError:
        raise CliError(
            "--export-torch needs PyTorch: the package 'torch' is not installed (pip install torch)"
        ) from None
    target = output_file(path)
    return lambda trained: export(trained, target)


def export(trained, path: Path) -> None:
    """Write ``trained``'s MLP, scalings folded in, to ``path`` atomically."""
    import torch

    state = folded_state_dict(trained)
    tensors = {k: torch.from_numpy(v) for k, v in state.items()}
    write_atomic_with(path, lambda tmp: torch.save(tensors, tmp))
    print(f"exported a PyTorch state_dict to {path} (see gs.nn.to_torch; docs/onward.md)")


def folded_state_dict(trained) -> dict[str, np.ndarray]:
    """The MLP's state_dict with the input and target scalings folded in (see above)."""
    model = trained.model
    state = model.state_dict()
    linears = [name for name, m in model.named_modules() if isinstance(m, gs.nn.Linear)]
    first, last = linears[0], linears[-1]
    if f"{first}.bias" not in state or f"{last}.bias" not in state:
        raise CliError("--export-torch needs Linear layers with a bias to fold the scaling into")
    w, dtype = state[f"{first}.weight"].astype(np.float64), state[f"{first}.weight"].dtype
    mean, std = np.asarray(trained.mean, np.float64), np.asarray(trained.std, np.float64)
    state[f"{first}.weight"] = (w / std).astype(dtype)
    state[f"{first}.bias"] = (state[f"{first}.bias"] - w @ (mean / std)).astype(dtype)
    if trained.meta["task"] == "regress":
        t_mean, t_std = float(trained.target_mean), float(trained.target_std)
        state[f"{last}.weight"] = (state[f"{last}.weight"] * t_std).astype(dtype)
        state[f"{last}.bias"] = (state[f"{last}.bias"] * t_std + t_mean).astype(dtype)
    return state
