"""The README's words and numbers are what the code does.

Each claim the README makes in prose (not in a code block, which
tests/docs/test_pages.py runs) is read from the page and checked against the
thing it describes: the files the demo writes (and its ``--help``), the
examples' thresholds, the Hypothesis sweep sizes, the article it is about.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def gradsight(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg"}
    env.setdefault("MPLCONFIGDIR", str(Path(cwd) / ".mplconfig"))
    return subprocess.run(
        [sys.executable, "-m", "gradsight", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def files_named(text: str) -> set[str]:
    """File names (name.ext) quoted in ``text``, in backticks or plain."""
    return set(re.findall(r"\b[\w-]+\.(?:svg|html|py|png|csv|md)\b", text))


def count_claimed(text: str) -> int:
    word = re.search(r"\b(\w+) files\b", text)
    assert word, f"no 'N files' in {text!r}"
    return NUMBER_WORDS[word.group(1)]


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> set[str]:
    cwd = tmp_path_factory.mktemp("demo")
    run = gradsight("demo", "--out", "out", "--epochs", "50", cwd=cwd)
    assert run.returncode == 0, run.stderr
    return {p.name for p in (cwd / "out").iterdir()}


def test_readme_names_every_file_the_demo_writes(demo_files):
    item = re.search(r"\n4\. writes (.*?)\n\n", README, re.S).group(1)
    named = files_named(item)
    fallback = {"loss.csv"}  # written instead of loss.png without matplotlib
    assert named - fallback == demo_files
    assert count_claimed(item) == len(demo_files)


# demo --help names the files without a count: tests/cli/test_demo.py


def test_examples_thresholds_are_the_ones_their_tests_assert():
    section = README.split("## Examples\n", 1)[1].split("\n## ", 1)[0]
    tests = (ROOT / "tests" / "examples" / "test_examples.py").read_text(encoding="utf-8")
    assert "MSE < 0.01" in section and 'result["final_loss"] < 0.01' in tests
    assert section.count("above 95% test accuracy") == 2
    assert tests.count('result["test_accuracy"] >= 0.95') == 2
    assert not re.search(r"\d+\.\d+ ?%", section), "a measured accuracy: state what a test holds"


def test_hypothesis_sweep_sizes_are_the_tests():
    m = re.search(r"draws (\d+) Hypothesis examples per generated test instead of (\d+)", README)
    deep, default = m.groups()
    source = (ROOT / "tests" / "ops" / "test_generated.py").read_text(encoding="utf-8")
    assert f"max_examples={deep} if DEEP else {default}" in source


def test_auto_task_class_limit_is_the_code():
    from gradsight.cli.data import MAX_AUTO_CLASSES

    m = re.search(r"whole\s+numbers with at most (\d+) distinct values", README)
    assert int(m.group(1)) == MAX_AUTO_CLASSES


def test_readme_says_what_the_article_is():
    intro = README.split("\n## ", 1)[0]
    assert "Chinese-language" in intro and "(docs/article.md)" in intro
    article = (ROOT / "docs" / "article.md").read_text(encoding="utf-8")
    assert "in Chinese" in article and "two-layer sigmoid network" in article
    assert "NumPy listing" in article


def test_no_measured_accuracy_is_promised_for_train():
    for line in README.splitlines():
        if line.startswith("gradsight train"):
            assert not re.search(r"\d+(\.\d+)? ?%", line), line
