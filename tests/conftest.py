"""Shared test configuration: Hypothesis profiles.

Choose one with ``HYPOTHESIS_PROFILE=<name>`` (default ``ci``):

- ``ci``: modest example counts, no per-example deadline (timings vary across
  machines), derandomized so a CI failure reproduces exactly on a rerun.
- ``dev``: fewer examples, for a quick edit-test loop.
- ``thorough``: many random examples, for hunting bugs before a release.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile("ci", max_examples=25, derandomize=True, database=None, **_common)
settings.register_profile("dev", max_examples=8, **_common)
settings.register_profile("thorough", max_examples=400, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
