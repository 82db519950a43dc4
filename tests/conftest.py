"""Shared fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture()
def cache_path(tmp_path: Path) -> Path:
    """A fresh cache file per test."""
    return tmp_path / "cache.sqlite"
