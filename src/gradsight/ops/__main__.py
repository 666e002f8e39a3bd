"""``python -m gradsight.ops``: print the op table generated from the declarations.

``--markdown`` prints the docs' table, ``--classification`` the classification
of NumPy's callables (classify.py); ``--docs docs/engine.md`` rewrites both
tables between that page's markers; the default prints one line
per op with its primitive, NumPy callables, Tensor methods, gs names and
trace label.
"""

from __future__ import annotations

import sys

from gradsight.ops import classify, declare


def _lines() -> list:
    out = []
    for op in sorted(declare.OPS.values(), key=lambda o: o.name):
        prim = op.prim.name if op.prim is not None else "-"
        numpy = ",".join(sorted(getattr(f, "__name__", repr(f)) for f in op.numpy)) or "-"
        methods = ",".join(sorted(op.methods)) or "-"
        gs_names = ",".join(op.exports) or "-"
        jvp = "jvp" if op.jvp is not None else "no jvp"
        out.append(
            f"{op.name:22} {op.gradient:9} prim={prim:14} label={op.label:14} {jvp:6} "
            f"gs={gs_names} np={numpy} Tensor={methods}" + (f"  [{op.kinks}]" if op.kinks else "")
        )
    return out


def _rewrite(path: str, begin: str, end: str, body: str) -> None:
    """Replace the text between the line holding ``begin`` and the ``end`` marker."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n", text.index(begin)) + 1
    stop = text.index(end)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:start] + body + text[stop:])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--docs" in argv:
        path = argv[argv.index("--docs") + 1]
        _rewrite(path, "<!-- ops-table:begin", "<!-- ops-table:end -->", declare.markdown())
        _rewrite(
            path, "<!-- numpy-classes:begin", "<!-- numpy-classes:end -->", classify.markdown()
        )
    elif "--classification" in argv:
        print(classify.markdown(), end="")
    elif "--markdown" in argv:
        print(declare.markdown(), end="")
    else:
        print("\n".join(_lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
