"""Claims: one worker per exception at a time, a dead worker's claim lapses, nothing is lost."""

from __future__ import annotations

import queue
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from agents import decisions
from api.app import create_app
from api.cli import app
from api.runtime import Runtime
from api.settings import MIN_LEASE_SECONDS, ServiceSettings
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


def test_a_worker_renews_its_claim_while_its_graph_runs_so_no_one_takes_it_over(
        runtime: Runtime, clock: VirtualClock) -> None:
    [exc_id] = seed_fraud_holds(runtime.engine, 1)
    lease = timedelta(seconds=runtime.settings.worker_lease_seconds)
    renewed: queue.Queue[datetime] = queue.Queue()
    seen_by_w2: list[object] = []

    def a_long_step(claimed: str) -> None:  # the graph of w1 runs longer than the lease
        clock.advance(lease + timedelta(seconds=1))
        later = clock.now()
        while renewed.get(timeout=30) < later:  # w1's heartbeat renews at the advanced time
            pass
        seen_by_w2.append(claim_next(runtime.engine, "w2", now=clock.now(), lease=lease))

    w1 = Worker(runtime, worker_id="w1", after_claim=a_long_step, heartbeat_every=0.01, on_renew=renewed.put)
    assert w1.run_once() == exc_id
    assert seen_by_w2 == [None]  # w1's renewed claim was live: w2 got nothing
    with Session(runtime.engine) as s:
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.state == "resolved" and exc.claimed_by == "w1"
        assert s.exec(select(AuditEntry.actor).where(AuditEntry.kind == "claimed")).all() == ["w1"]


def test_a_lease_shorter_than_the_minimum_is_refused_with_a_message_naming_it(runtime: Runtime) -> None:
    url = runtime.settings.database_url
    out = CliRunner().invoke(app, ["worker", "--db", url, "--lease", str(MIN_LEASE_SECONDS / 2), "--exit-when-idle"])
    assert out.exit_code == 2
    assert "--lease" in out.output and f"{MIN_LEASE_SECONDS:g}" in out.output
    with pytest.raises(ValueError, match="worker_lease_seconds"):
        ServiceSettings(database_url=url, worker_lease_seconds=MIN_LEASE_SECONDS / 2)
