"""Fixtures the API and worker tests share: a migrated, seeded store per test on SQLite and PostgreSQL.

A conftest that imports them also defines `db_prefix`, naming its scratch databases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from api.runtime import Runtime, open_runtime
from api.settings import ServiceSettings
from api.testing import T0, in_ci, postgres_reachable, scratch_database, seed_shop
from core.audit import AUDITED_KINDS
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


# --------------------------------------------------------------------------- race hooks and ledger checks


@contextmanager
def on_commit_of(kind: str, hook: Callable[[], None]) -> Iterator[list[int]]:
    """Run `hook` once, right after the first transaction that wrote an audit entry of `kind` commits.

    The hook runs in the committing thread, before that thread goes on: a window between two steps of
    the graph, opened deterministically (no sleep). Yields a list that holds 1 once the hook ran.
    """
    fired: list[int] = []

    def after_rollback(session: OrmSession) -> None:
        session.info.pop(AUDITED_KINDS, None)

    def after_commit(session: OrmSession) -> None:  # core.audit.AuditLog leaves the kinds it wrote in `info`
        if kind in session.info.pop(AUDITED_KINDS, ()) and not fired:
            fired.append(1)
            hook()

    event.listen(OrmSession, "after_rollback", after_rollback)
    event.listen(OrmSession, "after_commit", after_commit)
    try:
        yield fired
    finally:
        event.remove(OrmSession, "after_rollback", after_rollback)
        event.remove(OrmSession, "after_commit", after_commit)


class Pause:
    """Stop one named thread right after its first call of `module.name` returns, until `go()`.

    `reached` is set when the thread stops there: the test waits on it, then lets others run.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str, thread: str) -> None:
        self.reached, self._go, self.thread = threading.Event(), threading.Event(), thread
        original = getattr(module, name)

        def paused(*args: object, **kwargs: object) -> object:
            out = original(*args, **kwargs)
            if threading.current_thread().name == thread and not self.reached.is_set():
                self.reached.set()
                if not self._go.wait(120):
                    raise TimeoutError(f"{thread} was never let go after {name}")
            return out

        monkeypatch.setattr(module, name, paused)

    def go(self) -> None:
        self._go.set()


def ledger_mismatches(engine: Engine) -> list[tuple[str, int, int]]:
    """Orders whose refunded cents differ from the sum of their refund rows: (order, refunded, rows)."""
    with Session(engine) as s:
        rows = s.execute(text(
            "SELECT o.id, o.refunded_cents, COALESCE(SUM(r.amount_cents), 0) FROM orders o "
            "LEFT JOIN refund r ON r.order_id = o.id GROUP BY o.id, o.refunded_cents "
            "HAVING o.refunded_cents <> COALESCE(SUM(r.amount_cents), 0) ORDER BY o.id")).all()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]
