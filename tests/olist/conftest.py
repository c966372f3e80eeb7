"""Fixtures of the Olist replay tests: the hand-copied rows of `olist_rows`, written under a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from olist_rows import write_extract


@pytest.fixture
def olist_root(tmp_path: Path) -> Path:
    return write_extract(tmp_path / "olist")
