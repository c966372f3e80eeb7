"""Two writers appending to one exception's audit trail on PostgreSQL never fork it: the second waits on the
exception's row lock and chains onto the first one's committed head."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.runtime import open_runtime
from api.settings import ServiceSettings
from api.testing import T0, seed_fraud_holds, seed_shop
from core.audit import AuditLog, verify_exception, verify_store

pytestmark = pytest.mark.postgres


def write_one(engine: Engine, exc_id: str, actor: str, commit: threading.Event | None = None,
              written: threading.Event | None = None) -> None:
    """One audited transaction; with `commit`, it holds its transaction open (and the lock) until told."""
    with Session(engine) as s:
        log = AuditLog()
        log.add(T0 + timedelta(minutes=1), exc_id, actor, "note", {"by": actor})
        log.write(s)
        if written is not None:
            written.set()
        if commit is not None:
            assert commit.wait(30)
        s.commit()


def lock_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar_one())


def test_a_second_writer_waits_for_the_first_and_chains_onto_its_head(pg_url: str) -> None:
    rt = open_runtime(ServiceSettings(database_url=pg_url))
    seed_shop(rt.engine)
    [exc_id] = seed_fraud_holds(rt.engine, 1)
    release, first_wrote = threading.Event(), threading.Event()
    first = threading.Thread(target=write_one, args=(rt.engine, exc_id, "first", release, first_wrote))
    second = threading.Thread(target=write_one, args=(rt.engine, exc_id, "second"))
    first.start()
    assert first_wrote.wait(30)  # the first holds seq 1 and the exception's row lock, uncommitted
    second.start()
    deadline = time.monotonic() + 30
    while lock_waiters(rt.engine) == 0:  # the interleaving: the second is blocked on the first's lock
        assert time.monotonic() < deadline, "the second writer never waited for the first"
        time.sleep(0.01)
    release.set()
    first.join(30)
    second.join(30)
    with Session(rt.engine) as s:
        rows = s.execute(text("SELECT seq, actor FROM auditentry WHERE exception_id = :x ORDER BY seq"),
                         {"x": exc_id}).all()
        check = verify_exception(s, exc_id)
    assert [tuple(r) for r in rows] == [(1, "first"), (2, "second")]
    assert check is not None and check.ok and check.entries == 2
    rt.close()


def test_many_writers_at_once_leave_one_verifying_trail(pg_url: str) -> None:
    rt = open_runtime(ServiceSettings(database_url=pg_url))
    seed_shop(rt.engine)
    [exc_id] = seed_fraud_holds(rt.engine, 1)
    start = threading.Barrier(4)

    def writer(name: str) -> None:
        start.wait()
        for _ in range(25):
            write_one(rt.engine, exc_id, name)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check = verify_store(rt.engine)
    assert check.ok, check.failures[:1]
    assert check.entries == 100
    rt.close()
