"""The docs runner itself: how it reads fences, tags, and how it reports a failing block."""

from __future__ import annotations

import pytest

from .blocks import Block, read_blocks
from .test_pages import run_block

PAGE = """# A page

```python
x = 1
```

Some text.

```text
gs.save(mapping, path)   # a signature: shown, not run
```

1. In a list:

   ```python requires=numpy
   y = x + 1
   ```

```bash
./run demo
```
"""


def test_reads_lang_options_lines_and_indented_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    blocks = read_blocks(page)
    assert [(b.lang, b.line) for b in blocks] == [
        ("python", 3),
        ("text", 9),
        ("python", 15),
        ("bash", 19),
    ]
    assert [b.runnable for b in blocks] == [True, False, True, False]
    assert blocks[2].code == "y = x + 1\n" and blocks[2].requires() == ["numpy"]
    assert blocks[2].missing() == []


def test_an_unclosed_fence_is_an_error_naming_its_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nx = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: the ``` fence opened here is never closed"):
        read_blocks(page)


def test_an_unknown_option_is_an_error_not_a_skip():
    block = Block("docs/x.md", 7, "python", ["requires=numpy", "skip"], "x = 1\n")
    with pytest.raises(
        ValueError, match=r"docs/x.md, the ```python block at line 7: unknown option 'skip'"
    ):
        block.check_options()


def test_a_missing_package_skips_the_rest_of_the_page(tmp_path):
    block = Block("docs/x.md", 3, "python", ["requires=no_such_package_gs"], "raise SystemError\n")
    with pytest.raises(pytest.skip.Exception, match="docs/x.md.*no_such_package_gs"):
        run_block(block, tmp_path / "x.md", {})


def test_a_failing_block_is_named_with_its_page_line(tmp_path):
    ns: dict = {}
    run_block(Block("docs/x.md", 3, "python", [], "a = 2\n"), tmp_path / "x.md", ns)
    assert ns["a"] == 2  # blocks share one namespace, in order
    bad = Block("docs/x.md", 10, "python", [], "b = a + 1\nc = undefined_name\n")
    with pytest.raises(pytest.fail.Exception) as failed:
        run_block(bad, tmp_path / "x.md", ns)
    message = str(failed.value)
    assert message.startswith("docs/x.md, the ```python block at line 10 failed: NameError")
    assert f'File "{tmp_path / "x.md"}", line 12' in message  # the page's own line
    syntax = Block("docs/x.md", 20, "python", [], "def f(:\n")
    with pytest.raises(pytest.fail.Exception, match="block at line 20 failed: SyntaxError"):
        run_block(syntax, tmp_path / "x.md", ns)


def test_a_raises_block_must_raise_that_error(tmp_path):
    ns: dict = {}
    shows = Block("docs/x.md", 5, "python", ["raises=LookupError"], "{}['missing']\n")
    run_block(shows, tmp_path / "x.md", ns)  # KeyError is a LookupError: as the page says
    quiet = Block("docs/x.md", 9, "python", ["raises=KeyError"], "x = 1\n")
    with pytest.raises(pytest.fail.Exception, match="line 9 should raise KeyError"):
        run_block(quiet, tmp_path / "x.md", ns)
    other = Block("docs/x.md", 13, "python", ["raises=KeyError"], "1 / 0\n")
    with pytest.raises(pytest.fail.Exception, match="line 13 failed: ZeroDivisionError"):
        run_block(other, tmp_path / "x.md", ns)
    with pytest.raises(ValueError, match="unknown option 'raises'"):
        Block("docs/x.md", 1, "python", ["raises"], "").check_options()
