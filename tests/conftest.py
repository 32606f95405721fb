"""Shared fixtures: the reference data beside the checkout, and small run directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Beside the checkout; $HARNESS_SHARED_DATA names it for a checkout kept elsewhere.
SHARED_DATA = Path(os.environ.get("HARNESS_SHARED_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (GSM8K test, MATH-500); skips when the checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (kept beside the checkout)")
    return SHARED_DATA
