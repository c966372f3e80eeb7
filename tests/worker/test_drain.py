"""Four worker processes on PostgreSQL drain 2,000 exceptions: each claimed once, each resolved once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlmodel import Session

from api.runtime import open_runtime
from api.settings import ServiceSettings
from api.testing import drain_with_processes, seed_fraud_holds, seed_shop
from core.audit import verify_store

N = 2_000


@pytest.mark.postgres
def test_four_workers_drain_two_thousand_exceptions_each_handled_exactly_once(pg_url: str) -> None:
    rt = open_runtime(ServiceSettings(database_url=pg_url))
    seed_shop(rt.engine)
    seed_fraud_holds(rt.engine, N)  # F1: one release_hold each
    started = time.perf_counter()
    drain_with_processes(pg_url, 4, timeout=240)
    elapsed = time.perf_counter() - started
    with Session(rt.engine) as s:
        q = lambda sql: s.execute(text(sql)).all()  # noqa: E731
        assert q("SELECT state, count(*) FROM exceptions GROUP BY state") == [("resolved", N)]
        assert q("SELECT count(*), count(DISTINCT exception_id) FROM auditentry WHERE kind = 'claimed'") == [(N, N)]
        assert q("SELECT action, status, count(*), count(DISTINCT exception_id) FROM action_record "
                 "GROUP BY action, status") == [("release_hold", "applied", N, N)]
        assert q("SELECT count(*) FROM auditentry WHERE kind = 'action.applied'") == [(N,)]
        assert q("SELECT count(*) FROM event WHERE type = 'order.released'") == [(N,)]
        workers = dict(q("SELECT actor, count(*) FROM auditentry WHERE kind = 'claimed' GROUP BY actor"))
        assert len(workers) == 4 and all(n > 0 for n in workers.values())
    audit = verify_store(rt.engine)
    assert audit.ok and audit.trails == N and audit.records == N, audit.failures[:1]
    rt.close()
    print(f"\n{N} exceptions, 4 workers: {elapsed:.1f} s ({N / elapsed:.1f}/s); claims per worker {workers}")
