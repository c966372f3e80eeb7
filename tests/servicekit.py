"""Fixtures the API and worker tests share: a migrated, seeded store per test on SQLite and PostgreSQL.

A conftest that imports them also defines `db_prefix`, naming its scratch databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.runtime import Runtime, open_runtime
from api.settings import ServiceSettings
from api.testing import T0, in_ci, postgres_reachable, scratch_database, seed_shop
from core.clock import VirtualClock

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def need_postgres() -> None:
    """Under CI an unreachable server fails the test; elsewhere it skips it."""
    if (why := postgres_reachable()) is not None:
        if in_ci():
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, db_prefix: str) -> Iterator[str]:
    if request.param == "postgresql":
        need_postgres()
    with scratch_database(request.param, tmp_path, db_prefix) as url:
        yield url


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def runtime(db_url: str, clock: VirtualClock) -> Iterator[Runtime]:
    rt = open_runtime(ServiceSettings(database_url=db_url, demo=True), clock=clock)
    seed_shop(rt.engine)
    yield rt
    rt.close()
