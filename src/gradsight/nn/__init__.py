"""gs.nn: Modules, layers, activations, losses and initialisation.

Example, a 2-4-1 sigmoid network and its MSE loss:

>>> model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
>>> loss = gs.nn.MSELoss()(model(x), y)
"""

from __future__ import annotations

from . import functional, init
from .activation import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softmin, Softplus, Tanh
from .layers import MLP, Linear, Sequential
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module, Parameter, StateDictError
from .torch_bridge import from_torch, load_torch_state_dict, to_torch

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "GELU",
    "Identity",
    "IncompatibleKeys",
    "LeakyReLU",
    "Linear",
    "MLP",
    "MSELoss",
    "NLLLoss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "StateDictError",
    "Tanh",
    "from_torch",
    "functional",
    "init",
    "load_torch_state_dict",
    "to_torch",
]
