"""README: the code example runs and prints what its comments say; its links and picture exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import SRC
from .test_demo import svg_texts

ROOT = SRC.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_quick_start_commands():
    block = section("Quick start")
    assert "./run demo" in block and "./run test" in block
    assert "./run bench" not in block and "./run bench" in section("Benchmarks")


def test_code_example_runs_as_shown(tmp_path):
    code = re.search(r"```python\n(.*?)```", section("In code"), re.S).group(1)
    assert len(code.strip().splitlines()) <= 18
    (tmp_path / "example.py").write_text(code)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    promised = re.search(r"# (\[[\d. ]+\])", code).group(1)
    assert proc.stdout.splitlines()[0] == promised
    assert "4 of 4 parameters ok" in proc.stdout
    texts = " ".join(svg_texts(tmp_path / "xor.svg"))
    assert "layers.0.weight" in texts and ".grad" in texts


def test_links_and_the_demo_picture_exist():
    targets = re.findall(r"\]\(([^)#]+)\)", README)
    assert targets
    for target in targets:
        assert (ROOT / target).is_file(), target
    picture = re.search(r"!\[[^\]]*\]\(([^)]+)\)", section("The main job: `gradsight demo`"))
    texts = " ".join(svg_texts(ROOT / picture.group(1)))
    for word in ("W", "b", "V", "c", ".grad", "(4, 2) float64"):
        assert word in texts
