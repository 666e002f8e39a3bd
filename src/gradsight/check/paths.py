"""Naming forward's intermediates: ``"Z1"``, ``"hs[2]"``, ``"cache['h']"``, ``"self.nodes[1].h"``.

A key of backward's dict that is not a parameter names a value forward
computed, read from forward's local variables when it returned. Beside a plain
variable name, a key may be a path into a local container or object:
subscripts with a literal (``hs[2]``, ``hs[-1]``, ``cache["z"]``) and
attributes (``self.state.h``). Nothing is evaluated: the path is parsed and
followed, so a key can never run code.
"""

from __future__ import annotations

import ast

_MISSING = object()


def lookup(path: str, names: dict):
    """The value ``path`` names among ``names`` (forward's locals), or None."""
    try:
        tree = ast.parse(path, mode="eval").body
    except SyntaxError:
        return None
    steps = []
    while not isinstance(tree, ast.Name):
        if isinstance(tree, ast.Attribute):
            steps.append(("attr", tree.attr))
            tree = tree.value
        elif isinstance(tree, ast.Subscript):
            try:
                key = ast.literal_eval(tree.slice)
            except ValueError:
                return None
            steps.append(("item", key))
            tree = tree.value
        else:
            return None
    value = names.get(tree.id, _MISSING)
    for kind, key in reversed(steps):
        if value is _MISSING or (kind == "item" and hasattr(value, "shape")):
            return None  # indexing an array would make a new value, not name one
        try:
            value = getattr(value, key, _MISSING) if kind == "attr" else value[key]
        except (LookupError, TypeError):
            return None
    return None if value is _MISSING else value
