"""Source policy: nothing in src/ can unpickle.

The checker parses every ``.py`` file under src/ (so comments and docstrings
that mention pickles do not count) and reports:

- an import of a module that deserializes code or objects: pickle, _pickle,
  cPickle, dill, cloudpickle, joblib, shelve, marshal, copyreg (also through
  ``__import__("pickle")`` or ``importlib.import_module("pickle")``);
- a call of ``numpy.load`` (under any alias: ``np.load``, ``from numpy import
  load as L``) without the literal keyword ``allow_pickle=False``;
- any call passing ``allow_pickle`` something other than the literal False
  (``np.lib.format.read_array``, ``write_array``, ``np.save`` ...).

The checker is tested on small snippets first, so it can be seen to fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
FORBIDDEN = {
    *("pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"),
    "copyreg",
}


def _root(name: str) -> str:
    return name.split(".")[0]


def _is_false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


class _Checker(ast.NodeVisitor):
    def __init__(self):
        self.problems: list[tuple[int, str]] = []
        self.numpy_names = set()  # names bound to the numpy module
        self.load_names = set()  # names bound to numpy.load itself

    def report(self, node, what):
        self.problems.append((node.lineno, what))

    def visit_Import(self, node):
        for alias in node.names:
            if _root(alias.name) in FORBIDDEN:
                self.report(node, f"imports {alias.name}")
            if alias.name == "numpy":
                self.numpy_names.add(alias.asname or "numpy")
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        if _root(module) in FORBIDDEN:
            self.report(node, f"imports from {module}")
        for alias in node.names:
            if alias.name in FORBIDDEN:
                self.report(node, f"imports {alias.name} from {module}")
            if module == "numpy" and alias.name == "load":
                self.load_names.add(alias.asname or "load")
        self.generic_visit(node)

    def _is_numpy_load(self, func) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.load_names
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "load"
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy_names
        )

    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ("__import__", "import_module") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and _root(str(arg.value)) in FORBIDDEN:
                self.report(node, f"imports {arg.value} dynamically")
        keywords = {k.arg: k.value for k in node.keywords}
        if "allow_pickle" in keywords and not _is_false(keywords["allow_pickle"]):
            self.report(node, "passes allow_pickle that is not the literal False")
        if self._is_numpy_load(func) and not _is_false(keywords.get("allow_pickle")):
            self.report(node, "calls numpy.load without allow_pickle=False")
        self.generic_visit(node)


def check_source(source: str) -> list[tuple[int, str]]:
    checker = _Checker()
    checker.visit(ast.parse(source))
    return checker.problems


BAD = {
    "import pickle": "import pickle",
    "import as": "import pickle as p",
    "from import": "from pickle import loads",
    "dill": "import dill",
    "marshal": "import marshal",
    "dynamic": "__import__('pickle')",
    "importlib": "import importlib\nimportlib.import_module('cloudpickle')",
    "np.load bare": "import numpy as np\nnp.load('f.npz')",
    "np.load True": "import numpy as np\nnp.load('f.npz', allow_pickle=True)",
    "np.load variable": "import numpy as np\nflag = False\nnp.load('f', allow_pickle=flag)",
    "numpy.load": "import numpy\nnumpy.load('f')",
    "load alias": "from numpy import load as L\nL('f')",
    "read_array": "import numpy as np\nnp.lib.format.read_array(f, allow_pickle=True)",
}
GOOD = {
    "np.load False": "import numpy as np\nnp.load('f.npz', allow_pickle=False)",
    "alias False": "from numpy import load as L\nL('f', allow_pickle=False)",
    "other load": "import json\njson.load(f)",
    "docstring": '"""never import pickle; np.load(f) is fine in prose"""',
    "module attr": "import numpy as np\nx = np.loadtxt('f')",
}


@pytest.mark.parametrize("source", BAD.values(), ids=BAD.keys())
def test_checker_flags(source):
    assert check_source(source)


@pytest.mark.parametrize("source", GOOD.values(), ids=GOOD.keys())
def test_checker_accepts(source):
    assert check_source(source) == []


def test_no_pickle_and_no_unsafe_np_load_anywhere_in_src():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20  # we are really looking at the package
    problems = [
        f"{path.relative_to(SRC)}:{line}: {what}"
        for path in files
        for line, what in check_source(path.read_text(encoding="utf-8"))
    ]
    assert problems == []
