"""The peers: one module per framework, each building a ``Runner`` per workload.

A peer module defines ``version() -> str`` and ``build(workload, data) -> Runner``.
The peer's key is the import name of the framework it needs. Modules are
imported only when used, so a missing framework costs nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# key -> (module, label used in tables)
PEERS = {
    "numpy": ("benchmarks.peers.numpy_hand", "NumPy by hand"),
    "gradsight": ("benchmarks.peers.gradsight_impl", "gradsight"),
    "gradsight_traced": ("benchmarks.peers.gradsight_traced", "gradsight traced"),
    "torch": ("benchmarks.peers.torch_impl", "PyTorch"),
    "mygrad": ("benchmarks.peers.mygrad_impl", "MyGrad"),
    "autograd": ("benchmarks.peers.autograd_impl", "HIPS autograd"),
    "micrograd": ("benchmarks.peers.micrograd_impl", "micrograd"),
}


@dataclass
class Runner:
    """A built workload: ``step()`` runs one timed step and returns the loss;
    ``grads()`` returns the gradients of the last step as NumPy arrays, in the
    workload's parameter order (see workloads.py)."""

    step: Callable[[], float]
    grads: Callable[[], list[np.ndarray]]
    info: dict | None = None  # extra figures a peer reports (gs.trace: "trace_s")


def label(key: str) -> str:
    return PEERS[key][1]


def available(key: str) -> bool:
    """Whether the framework behind ``key`` is installed (without importing it)."""
    if key not in PEERS:
        raise KeyError(f"unknown peer {key!r}; known: {', '.join(PEERS)}")
    return importlib.util.find_spec(key.removesuffix("_traced")) is not None


def load(key: str):
    """Import the peer module for ``key``."""
    if key not in PEERS:
        raise KeyError(f"unknown peer {key!r}; known: {', '.join(PEERS)}")
    return importlib.import_module(PEERS[key][0])
