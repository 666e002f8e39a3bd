"""Naming the typical mistake at the first divergence (filled in below)."""

from __future__ import annotations


def diagnose(report, hand: dict, auto: dict, atol: float, rtol: float):
    return None
