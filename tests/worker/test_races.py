"""Races around a decision: every approved effect is applied exactly once, and no exception is stranded.

Each interleaving is forced with a hook the test waits on (a commit hook or a paused thread), never a sleep.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from servicekit import Pause, on_commit_of
from sqlalchemy import update
from sqlmodel import Session, col, func, select

import agents.graph
import tools.runner
from agents import decisions
from agents.service import resume_exception
from api.app import create_app
from api.runtime import Runtime
from api.testing import seed_fraud_holds
from api.worker import Worker, claim_next
from core.clock import VirtualClock
from core.models import ActionRecord, AuditEntry, Order, OrderException, Refund

LEAD = {"Authorization": "Bearer demo-lead"}


def applied_once_each(runtime: Runtime, exc_id: str) -> None:
    """Every record of the exception applied, each key applied exactly once in the audit."""
    with Session(runtime.engine) as s:
        records = s.exec(select(ActionRecord).where(ActionRecord.exception_id == exc_id)).all()
        assert sorted((r.action, r.status) for r in records) == [
            ("cancel_order", "applied"), ("notify_customer", "applied"), ("refund", "applied")]
        applied = [d["key"] for d in s.exec(select(AuditEntry.detail).where(AuditEntry.kind == "action.applied"))]
        assert sorted(applied) == sorted(r.idempotency_key for r in records)


def refunds(runtime: Runtime) -> list[int]:
    with Session(runtime.engine) as s:
        return list(s.exec(select(Refund.amount_cents).order_by(col(Refund.id))).all())


# --------------------------------------------------------------------------- item 1: the approval in the window


def test_an_approval_landing_between_the_first_plan_and_the_interrupt_is_applied_once_and_closes(
        runtime: Runtime) -> None:
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.8, sku="LAPTOP-14")  # F3: cancel, refund (lead), notify
    landed: list[Any] = []
    with TestClient(create_app(runtime=runtime)) as client:
        def approve_now() -> None:  # judge_and_apply has committed its held items; await_approval has not run
            landed.append(client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"},
                                      headers=LEAD))

        with on_commit_of("action.held", approve_now) as fired:
            Worker(runtime, worker_id="w1").drain()
    assert fired == [1]
    [r] = landed
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "working" and r.json()["resumed"] is False  # it did land inside the window
    with Session(runtime.engine) as s:
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.state == "resolved", exc
        assert s.get(Order, exc.order_id).status == "cancelled"  # type: ignore[union-attr]
    assert refunds(runtime) == [129_900]
    applied_once_each(runtime, exc_id)


def test_an_exception_parked_with_nothing_held_by_a_worker_is_resumed_after_the_lease(
        runtime: Runtime, clock: VirtualClock) -> None:
    """What the lost approval left behind before the fix: awaiting_approval, everything approved, a worker's
    claim. A worker takes such an exception up once the claim is stale, and finishes it."""
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.8, sku="LAPTOP-14")
    Worker(runtime, worker_id="w1").drain()
    with Session(runtime.engine) as s:
        s.execute(update(ActionRecord).where(col(ActionRecord.exception_id) == exc_id)
                  .values(status="approved", decided_by="lia (lead)", decided_at=clock.now(),
                          verdict={"decided_role": "lead"}))
        s.commit()
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.state == "awaiting_approval" and exc.claimed_by == "w1"

    lease = timedelta(seconds=runtime.settings.worker_lease_seconds)
    assert claim_next(runtime.engine, "w2", now=clock.now(), lease=lease) is None  # w1's claim is still live
    clock.advance(lease + timedelta(seconds=1))
    assert Worker(runtime, worker_id="w2").run_once() == exc_id
    with Session(runtime.engine) as s:
        assert s.get(OrderException, exc_id).state == "resolved"  # type: ignore[union-attr]
    assert refunds(runtime) == [129_900]
    applied_once_each(runtime, exc_id)


@pytest.mark.parametrize("recorded", [False, True])
def test_an_exception_waiting_with_nothing_held_and_nothing_decided_is_not_taken_up_as_an_orphan(
        runtime: Runtime, clock: VirtualClock, recorded: bool) -> None:
    """Nothing held and nothing decided: a supervisor must look (the planner failed, or its plan left undone
    what the book gives); no worker resumes it, since the graph would only wait again."""
    [exc_id] = seed_fraud_holds(runtime.engine, 1)
    if recorded:
        Worker(runtime, worker_id="w1").drain()  # F1: release_hold applied
    with Session(runtime.engine) as s:
        s.execute(update(OrderException).where(col(OrderException.id) == exc_id)
                  .values(state="awaiting_approval", claimed_by="w1", claimed_at=clock.now()))
        s.commit()
        assert (s.exec(select(func.count()).select_from(ActionRecord)).one() > 0) is recorded
    clock.advance(timedelta(seconds=runtime.settings.worker_lease_seconds + 1))
    assert Worker(runtime, worker_id="w2").run_once() is None


def test_a_fraud_hold_left_waiting_for_a_release_is_not_taken_up_as_an_orphan_until_one_is_added(
        runtime: Runtime, clock: VirtualClock) -> None:
    """Its cancellation rejected, the order on hold: nothing held, something decided, but nothing to resume.
    A supervisor's release_hold is; a release whose resume died is taken up after the lease."""
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.8, sku="LAPTOP-14")
    Worker(runtime, worker_id="w1").drain()
    with TestClient(create_app(runtime=runtime)) as client:
        r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "reject"}, headers=LEAD)
        assert r.status_code == 200 and r.json()["state"] == "awaiting_approval", r.text
    lease = timedelta(seconds=runtime.settings.worker_lease_seconds)
    clock.advance(lease + timedelta(seconds=1))
    assert claim_next(runtime.engine, "w2", now=clock.now(), lease=lease) is None
    with Session(runtime.engine) as s:  # a release recorded whose resume never ran
        order_id = s.get(OrderException, exc_id).order_id  # type: ignore[union-attr]
        s.add(ActionRecord(exception_id=exc_id, idempotency_key=f"{exc_id}:release_hold:x", action="release_hold",
                           args={"order_id": order_id}, status="approved", planner="supervisor:lia", confidence=1.0,
                           verdict={"decided_role": "lead", "added": True}, policy_version="test",
                           proposed_at=clock.now(), decided_at=clock.now(), decided_by="lia (lead)"))
        s.commit()
    assert Worker(runtime, worker_id="w2").run_once() == exc_id
    with Session(runtime.engine) as s:
        assert s.get(OrderException, exc_id).state == "resolved"  # type: ignore[union-attr]
        assert s.get(Order, order_id).status != "on_hold"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- item 2: overlapping resumes


def _edited_refund_all_decided(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> str:
    """F3 held for a lead; the lead edits the refund to 12,700 and approves the rest. The API's own resume is
    switched off here: the test runs the resumes itself."""
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.8, sku="LAPTOP-14")
    Worker(runtime, worker_id="w1").drain()
    monkeypatch.setattr(decisions, "resume_exception", lambda *_a, **_k: None)
    with TestClient(create_app(runtime=runtime)) as client:
        actions = client.get(f"/exceptions/{exc_id}", headers=LEAD).json()["actions"]
        [refund] = [a["key"] for a in actions if a["action"] == "refund"]
        r = client.post(f"/exceptions/{exc_id}/decision", headers=LEAD, json={
            "decision": "edit", "actions": [{"key": refund, "args": {"amount_cents": 12_700}}]})
        assert r.status_code == 200, r.text
        r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=LEAD)
        assert r.status_code == 200, r.text
    with Session(runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(ActionRecord).where(
            ActionRecord.exception_id == exc_id, ActionRecord.status == "approved")).one() == 3
    return exc_id


def _start(runtime: Runtime, exc_id: str, name: str, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            resume_exception(runtime.engine, exc_id, clock=runtime.clock, checkpointer=runtime.checkpointer,
                             decided_by="lia (lead)")
        except BaseException as err:  # reported by the test
            errors.append(err)

    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    return t


def test_two_resumes_that_both_read_the_approved_records_apply_the_edited_refund_once(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reads its ready records and stops; B resumes to the end; A goes on with what it read."""
    exc_id = _edited_refund_all_decided(runtime, monkeypatch)
    a_read = Pause(monkeypatch, tools.runner, "_ready", thread="A")
    errors: list[BaseException] = []
    a = _start(runtime, exc_id, "A", errors)
    assert a_read.reached.wait(60)
    b = _start(runtime, exc_id, "B", errors)
    b.join(60)
    assert not b.is_alive()
    a_read.go()
    a.join(60)
    assert not a.is_alive() and errors == []
    assert refunds(runtime) == [12_700]
    applied_once_each(runtime, exc_id)
    with Session(runtime.engine) as s:
        assert s.get(OrderException, exc_id).state == "resolved"  # type: ignore[union-attr]


def test_a_resume_that_rejudged_before_another_applied_does_not_bring_the_refund_back_to_pay_it_again(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both resumes start from the interrupt. B re-judges and stops before applying; A re-judges (reads the
    approved records) and stops; B applies and closes; A goes on: what it read as approved was applied
    meanwhile, and must stay applied, not be brought back and paid again."""
    exc_id = _edited_refund_all_decided(runtime, monkeypatch)
    b_resumed = Pause(monkeypatch, agents.graph, "UnitOfWork", thread="B")  # B's first step, from the interrupt
    a_resumed = Pause(monkeypatch, agents.graph, "UnitOfWork", thread="A")  # A's too: the same checkpoint
    b_read = Pause(monkeypatch, tools.runner, "_ready", thread="B")
    a_judged = Pause(monkeypatch, agents.graph, "records_of", thread="A")
    errors: list[BaseException] = []
    b = _start(runtime, exc_id, "B", errors)
    assert b_resumed.reached.wait(60), errors
    a = _start(runtime, exc_id, "A", errors)
    assert a_resumed.reached.wait(60), errors
    b_resumed.go()
    assert b_read.reached.wait(60), errors
    a_resumed.go()
    assert a_judged.reached.wait(60), errors
    b_applied = threading.Event()
    with on_commit_of("action.applied", b_applied.set):
        b_read.go()
        assert b_applied.wait(60), errors
    a_judged.go()
    b.join(60)
    a.join(60)
    assert not a.is_alive() and not b.is_alive() and errors == []
    assert refunds(runtime) == [12_700]
    applied_once_each(runtime, exc_id)
