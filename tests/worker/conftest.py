"""Worker fixtures: a migrated store of its own per test, SQLite file or PostgreSQL database, with a shop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servicekit import need_postgres

from api.testing import scratch_database


@pytest.fixture
def db_prefix() -> str:
    return "tower_worker"


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    need_postgres()
    with scratch_database("postgresql", tmp_path, "tower_worker") as url:
        yield url


