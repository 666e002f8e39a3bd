"""The Optimizer base: parameter groups, validation, zero_grad and state dicts.

Everything is checked once, when parameters are added; ``step()`` in the
subclasses then loops over prepared lists with in-place NumPy updates.
Per-parameter state (momentum buffers, Adam moments) lives in
``self.state[param]``, a dict of arrays the optimizer owns.
"""

from __future__ import annotations

import numbers
import types
from collections.abc import Mapping

import numpy as np

from gradsight._core import policy as _policy
from gradsight._core.tensor import Tensor


def check_number(
    name: str, value, low: float | None = 0.0, high: float | None = None, high_open: bool = False
) -> None:
    """Raise ValueError (TypeError for non-numbers) naming ``value`` if out of range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"invalid {name}: {value!r} (a real number is required)")
    if low is not None and not value >= low:  # `not >=` also catches nan
        raise ValueError(f"invalid {name}: {value!r} (must be >= {low})")
    if high is not None and not (value < high if high_open else value <= high):
        bound = f"< {high}" if high_open else f"<= {high}"
        raise ValueError(f"invalid {name}: {value!r} (must be {bound})")


class Optimizer:
    """Base class: ``params`` is an iterable of Tensors, or of dicts
    ``{"params": [...], **hyper-parameters}`` (parameter groups, as in PyTorch).
    """

    _state_keys: tuple = ()  # the per-parameter state entries a subclass keeps

    def __init_subclass__(cls, **kwargs):
        # every ``step`` a subclass defines (a user's own optimizer too) runs through
        # the policy seam, where a tool running the step sees it (gs.trace checks that
        # it found the optimizer, whose state the program must read and write back)
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if isinstance(step, types.FunctionType) and not getattr(step, "through_seam", False):
            cls.step = _policy.optimizer_step(step)

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_hyper(self.defaults)
        self.state: dict = {}
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts, got a single Tensor; "
                "wrap it in a list"
            )
        if isinstance(params, Mapping):
            params = [params]
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _check_hyper(self, group: dict) -> None:
        """Validate one group's hyper-parameters (subclasses check their own)."""

    def add_param_group(self, group: Mapping) -> None:
        """Add ``{"params": [...], **overrides}``; missing settings come from the defaults."""
        if not isinstance(group, Mapping):
            raise TypeError(f"a parameter group must be a dict, got {type(group).__name__}")
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        params = list(params) if params is not None else []
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(
                    f"parameter {i} (shape {p.shape}) is not a leaf tensor; optimizers update "
                    "leaves (e.g. Parameters), not results of operations"
                )
            if id(p) in seen:
                raise ValueError(
                    f"parameter {i} (shape {p.shape}) appears more than once in the optimizer's "
                    "parameters; each tensor may be given only once"
                )
            seen.add(id(p))
        new = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_hyper(new)
        new["params"] = params
        self.param_groups.append(new)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: ``p.grad = None`` (default), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """``{"state": {index: {name: value}}, "param_groups": [...]}`` (PyTorch's layout).

        Parameters are named by their position across all groups; arrays are copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {
            index[id(p)]: {
                k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in st.items()
            }
            for p, st in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore hyper-parameters and state saved by ``state_dict()``.

        Group and parameter counts, state names, shapes and dtypes are all
        checked first; on any problem one ValueError lists them and nothing
        changes.
        """
        problems = []
        groups = state_dict.get("param_groups") if isinstance(state_dict, Mapping) else None
        saved_state = state_dict.get("state") if isinstance(state_dict, Mapping) else None
        if not isinstance(groups, list) or not isinstance(saved_state, Mapping):
            raise ValueError(
                "an optimizer state_dict needs 'state' (dict) and 'param_groups' (list)"
            )
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"the state_dict has {len(groups)} parameter groups, this optimizer "
                f"{len(self.param_groups)}"
            )
        params = []
        new_groups = []
        for gi, (saved, own) in enumerate(zip(groups, self.param_groups)):
            n_saved, n_own = len(saved.get("params", [])), len(own["params"])
            if n_saved != n_own:
                problems.append(f"group {gi}: {n_saved} parameters saved, {n_own} here")
            params.extend(own["params"])
            merged = {**own, **{k: v for k, v in saved.items() if k != "params"}}
            try:
                self._check_hyper(merged)
            except (TypeError, ValueError) as err:
                problems.append(f"group {gi}: {err}")
            new_groups.append(merged)
        new_state = {}
        for key, entries in saved_state.items():
            if not isinstance(key, (int, np.integer)) or not 0 <= key < len(params):
                problems.append(f"state for unknown parameter index {key!r}")
                continue
            p = params[key]
            entry, entry_problems = self._checked_entry(key, entries, p)
            problems.extend(entry_problems)
            new_state[p] = entry
        if problems:
            raise ValueError(
                "cannot load the optimizer state_dict (nothing was changed):\n  "
                + "\n  ".join(problems)
            )
        self.param_groups[:] = new_groups
        self.state.clear()
        self.state.update(new_state)

    def _checked_entry(self, key, entries, p) -> tuple[dict, list]:
        problems = []
        if not isinstance(entries, Mapping):
            return {}, [f"state {key}: expected a dict, got {type(entries).__name__}"]
        entry = {}
        for name in self._state_keys:
            if name not in entries:
                problems.append(f"state {key}: missing entry {name!r}")
        for name, value in entries.items():
            if name not in self._state_keys:
                problems.append(f"state {key}: unknown entry {name!r}")
            elif name == "step":
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                    problems.append(f"state {key}: step must be a non-negative int, got {value!r}")
                else:
                    entry[name] = int(value)
            else:
                arr = np.array(value.data if isinstance(value, Tensor) else value)
                if arr.shape != p.shape or arr.dtype != p.dtype:
                    problems.append(
                        f"state {key}: {name!r} has shape {arr.shape} and dtype {arr.dtype}, the "
                        f"parameter has shape {p.shape} and dtype {p.dtype}"
                    )
                entry[name] = arr
        return entry, problems

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k, v in group.items():
                if k != "params":
                    lines.append(f"    {k}: {v}")
        return "\n".join(lines) + "\n)"
