"""The browser tests skip with a note without Chromium, except under CI, where they fail."""

from __future__ import annotations

import inspect

import pytest

from . import helpers
from .helpers import NO_BROWSER, requires_browser


@requires_browser
def needs_a_browser(tmp_path):
    return f"ran in {tmp_path.name}"


@pytest.fixture
def no_chromium(monkeypatch):
    monkeypatch.setattr(helpers.shutil, "which", lambda name: None)


def test_without_chromium_a_browser_test_is_skipped_with_a_note(no_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium installed") as info:
        needs_a_browser(tmp_path=None)
    assert str(info.value) == NO_BROWSER and "./run test" in NO_BROWSER


def test_without_chromium_under_ci_a_browser_test_fails(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and no Chromium"):
        needs_a_browser(tmp_path=None)


def test_with_chromium_the_test_runs_with_its_fixtures(tmp_path, monkeypatch):
    monkeypatch.setattr(helpers.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setenv("CI", "true")
    assert needs_a_browser(tmp_path=tmp_path) == f"ran in {tmp_path.name}"
    assert list(inspect.signature(needs_a_browser).parameters) == ["tmp_path"]  # pytest's view
