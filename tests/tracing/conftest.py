"""The traced tests run with verification on: each program's first replay runs beside
the eager step and is compared bit for bit (gs.trace(step, verify="first") by default).
Later replays run the replay itself, so both the program and its write-back are tested."""

from __future__ import annotations

import pytest

from gradsight.tracing.verify import ENV


@pytest.fixture(autouse=True)
def _verify_every_replay(monkeypatch):
    monkeypatch.setenv(ENV, "first")
