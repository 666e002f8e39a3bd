"""Names for tensors (from ``params``) and the names to highlight.

Accepted ``params`` (duck-typed, so any Module-like object works):

- anything with a ``named_parameters()`` method yielding ``(name, Tensor)``,
  e.g. a ``gs.nn.Module``; its sub-module class names come from
  ``named_modules()`` or, failing that, a walk over ``named_children()``;
- a mapping ``name -> Tensor``. Its tensors need not be parameters: a named
  intermediate result (``{"h": h}``) names that op's output, and a named
  constant (``{"X": X}``) names the constant input it was used as.

Tensors are matched by identity, never by value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gradsight._core.tensor import Tensor

from .labels import plain


class Names:
    """Look-ups from tensors, graph nodes and arrays to the user's names."""

    def __init__(self, params=None):
        self.tensors: dict[str, Tensor] = {}
        self._by_tensor: dict[int, str] = {}
        self._by_node: dict = {}
        self._by_array: dict[int, str] = {}
        self._modules: dict[str, str] = {}
        if params is None:
            return
        if callable(getattr(params, "named_parameters", None)):
            items = list(params.named_parameters())
            self._modules = _module_kinds(params)
        elif isinstance(params, Mapping) or callable(getattr(params, "items", None)):
            items = list(params.items())
        else:
            raise TypeError(
                "params must be a Module (anything with named_parameters()) or a mapping "
                f"of name -> Tensor, got {type(params).__name__}"
            )
        for entry in items:
            self._add(entry)

    def _add(self, entry) -> None:
        try:
            name, t = entry
        except (TypeError, ValueError):
            raise TypeError(
                f"params must yield (name, Tensor) pairs, got {plain(repr(entry))}"
            ) from None
        if not isinstance(name, str):
            raise TypeError(f"parameter names must be strings, got {plain(repr(name))}")
        if not isinstance(t, Tensor):
            raise TypeError(f"params[{plain(repr(name))}] must be a Tensor, got {type(t).__name__}")
        if name in self.tensors:
            return
        self.tensors[name] = t
        self._by_tensor.setdefault(id(t), name)
        if t.grad_fn is not None:
            self._by_node.setdefault(t.grad_fn, name)
        self._by_array.setdefault(id(t.data), name)

    def of_tensor(self, t: Tensor) -> str | None:
        return self._by_tensor.get(id(t))

    def of_node(self, node) -> str | None:
        return self._by_node.get(node)

    def of_array(self, a) -> str | None:
        return None if a is None else self._by_array.get(id(a))

    def module_kind(self, path: str) -> str | None:
        """The class name of the sub-module at ``path`` (None when unknown)."""
        return self._modules.get(path)


def _module_kinds(module) -> dict[str, str]:
    """``{"layers.0": "Linear", ...}`` from named_modules() or a named_children() walk."""
    kinds = {}
    named_modules = getattr(module, "named_modules", None)
    if callable(named_modules):
        for name, m in named_modules():
            if name:
                kinds[name] = type(m).__name__
        return kinds
    stack = [("", module)]
    seen = {id(module)}
    while stack:
        prefix, m = stack.pop()
        named_children = getattr(m, "named_children", None)
        if not callable(named_children):
            continue
        for name, child in named_children():
            path = f"{prefix}.{name}" if prefix else name
            kinds[path] = type(child).__name__
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((path, child))
    return kinds


def highlight_names(highlight) -> list[str]:
    """The parameter names a ``highlight`` argument asks for.

    Accepts, in this order: a single name; an object with ``mismatched_names``
    (a ``gs.check`` report; a list or a method returning one); an object with
    ``rows`` whose items have ``.name`` and ``.ok`` (the rows not ok); or an
    iterable of names and/or such rows.
    """
    if highlight is None:
        return []
    if isinstance(highlight, str):
        return [highlight]
    mismatched = getattr(highlight, "mismatched_names", None)
    if mismatched is not None:
        return _names_from(mismatched() if callable(mismatched) else mismatched)
    rows = getattr(highlight, "rows", None)
    if rows is not None:
        return _names_from(rows)
    if isinstance(highlight, Iterable):
        return _names_from(highlight)
    raise TypeError(
        "highlight must be a gs.check report, a parameter name or an iterable of names, "
        f"got {type(highlight).__name__}"
    )


def _names_from(items) -> list[str]:
    if isinstance(items, str):
        return [items]
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif hasattr(item, "name") and hasattr(item, "ok"):
            if not item.ok:
                names.append(item.name)
        else:
            raise TypeError(
                "highlight items must be parameter names or report rows with .name and .ok, "
                f"got {type(item).__name__}"
            )
    return names


def resolve_highlight(highlight, names: Names) -> list[Tensor]:
    """The tensors to highlight; unknown names raise ValueError naming them."""
    wanted = highlight_names(highlight)
    if not wanted:
        return []
    if not names.tensors:
        raise ValueError(
            "highlight names parameters, so draw_graph needs params= (a Module or a "
            "name -> Tensor mapping) to find them"
        )
    missing = [n for n in wanted if n not in names.tensors]
    if missing:
        known = ", ".join(repr(plain(k, 40)) for k in list(names.tensors)[:20])
        raise ValueError(
            f"highlight names not found in params: {', '.join(repr(plain(m, 40)) for m in missing)}"
            f" (params has: {known})"
        )
    return [names.tensors[n] for n in wanted]
