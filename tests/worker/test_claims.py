"""Claims: one worker per exception at a time, a dead worker's claim lapses, nothing is lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import decisions
from api.app import create_app
from api.runtime import Runtime
from api.testing import seed_fraud_holds
from api.worker import Worker, claim_next
from core.clock import VirtualClock
from core.models import AuditEntry, OrderException

LEASE = timedelta(seconds=120)


def test_a_claimed_exception_is_not_claimed_again_until_its_lease_lapses(runtime: Runtime,
                                                                          clock: VirtualClock) -> None:
    [exc_id] = seed_fraud_holds(runtime.engine, 1)
    first = claim_next(runtime.engine, "w1", now=clock.now(), lease=LEASE)
    assert first is not None and (first.exception_id, first.state) == (exc_id, "open")
    assert claim_next(runtime.engine, "w2", now=clock.now() + LEASE - timedelta(seconds=1), lease=LEASE) is None
    again = claim_next(runtime.engine, "w2", now=clock.now() + LEASE + timedelta(seconds=1), lease=LEASE)
    assert again is not None and again.exception_id == exc_id
    with Session(runtime.engine) as s:
        claims = s.exec(select(AuditEntry.actor).where(AuditEntry.kind == "claimed").order_by(AuditEntry.id)).all()
        assert claims == ["w1", "w2"]
        assert s.get(OrderException, exc_id).claimed_by == "w2"  # type: ignore[union-attr]


def test_a_worker_takes_the_oldest_first_and_resolves_each_once(runtime: Runtime) -> None:
    ids = seed_fraud_holds(runtime.engine, 3)
    worker = Worker(runtime, worker_id="w1")
    assert [worker.run_once(), worker.run_once(), worker.run_once(), worker.run_once()] == [*ids, None]
    with Session(runtime.engine) as s:
        assert {e.state for e in s.exec(select(OrderException)).all()} == {"resolved"}


def test_a_resume_that_died_in_the_api_is_finished_by_a_worker_after_the_lease(
        runtime: Runtime, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.8, sku="LAPTOP-14")  # F3: held for a lead
    Worker(runtime, worker_id="w1").drain()

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the API process died here")

    monkeypatch.setattr(decisions, "resume_exception", crash)
    with TestClient(create_app(runtime=runtime)) as client:
        r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"},
                        headers={"Authorization": "Bearer demo-lead"})
    assert r.status_code == 200 and r.json()["resumed"] is False and "died" in r.json()["resume_error"]
    assert r.json()["state"] == "awaiting_approval"

    worker = Worker(runtime, worker_id="w2")
    assert worker.run_once() is None  # the API's claim is still live
    clock.advance(timedelta(seconds=runtime.settings.worker_lease_seconds + 1))
    assert worker.run_once() == exc_id
    with Session(runtime.engine) as s:
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.state == "resolved"
        assert exc.resolution is not None and exc.resolution["outcome"] == "approval"
