"""The worker's loop consumes the outbox: a parked exception whose facts change is re-planned, once."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import Session, select

from api.runtime import Runtime
from api.testing import seed_fraud_holds
from api.worker import Worker
from core.clock import VirtualClock
from core.models import ActionRecord, AuditEntry, OrderException
from core.services import rescore_order


def _statuses(runtime: Runtime, exc_id: str) -> dict[str, str]:
    with Session(runtime.engine) as s:
        return {r.action: r.status for r in s.exec(select(ActionRecord).where(ActionRecord.exception_id == exc_id))}


def test_the_worker_loop_re_plans_an_exception_it_parked_when_it_is_re_scored(runtime: Runtime,
                                                                             clock: VirtualClock) -> None:
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.8)  # F3: cancellation held
    Worker(runtime, worker_id="w1", replans=False).drain()
    with Session(runtime.engine) as s:
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.state == "awaiting_approval" and exc.claimed_by == "w1"  # a live claim
        order_id = exc.order_id
    clock.advance(timedelta(minutes=5))
    rescore_order(runtime.engine, order_id, 0.05, at=clock.now())
    stop = threading.Event()
    Worker(runtime, worker_id="w2").run(stop, exit_when_idle=True)  # one pass: consume, then nothing to claim
    assert _statuses(runtime, exc_id) == {"cancel_order": "withdrawn", "refund": "withdrawn",
                                          "notify_customer": "withdrawn", "release_hold": "applied"}
    with Session(runtime.engine) as s:
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.state == "resolved" and exc.claimed_by is None


def test_two_workers_consuming_at_once_re_plan_an_exception_once(runtime: Runtime, clock: VirtualClock) -> None:
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.8)
    Worker(runtime, worker_id="w1", replans=False).drain()
    clock.advance(timedelta(minutes=5))
    with Session(runtime.engine) as s:
        order_id = s.get(OrderException, exc_id).order_id  # type: ignore[union-attr]
    rescore_order(runtime.engine, order_id, 0.05, at=clock.now())
    second = Worker(runtime, worker_id="w3")
    meanwhile: list[int] = []
    # w3 consumes while w2 holds the exception's claim, between its claim and its graph run
    first = Worker(runtime, worker_id="w2", before_replan=lambda _x: meanwhile.append(second.consume()))
    first.consume()
    assert meanwhile == [0]
    with Session(runtime.engine) as s:
        replans = [e for e in s.exec(select(AuditEntry).where(AuditEntry.exception_id == exc_id,
                                                               AuditEntry.kind == "planned")).all()
                   if "replanned_on" in e.detail]
    assert len(replans) == 1 and replans[0].actor == "replan:w2"
    assert _statuses(runtime, exc_id)["release_hold"] == "applied"
