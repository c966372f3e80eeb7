"""Held actions wait only so long: past their class's deadline they expire, unapplied, and the case escalates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from api_helpers import as_
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.holds import sweep_expired
from api.runtime import Runtime
from core.clock import VirtualClock
from core.models import Notification


def test_a_held_action_gets_the_deadline_of_its_class(client: TestClient, runtime: Runtime,
                                                      held: Callable[..., str]) -> None:
    runtime.settings = runtime.settings.model_copy(update={"hold_max_wait_hours": {"communication": 2}})
    exc_id = held(0.45)
    [action] = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()["actions"]
    assert action["expires_at"] == "2026-03-02T10:00:00Z"


def test_the_sweep_expires_overdue_actions_escalates_and_audits_and_applies_nothing(
        client: TestClient, runtime: Runtime, clock: VirtualClock, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    clock.advance(timedelta(hours=23))
    assert sweep_expired(runtime.engine, runtime.settings, now=clock.now(), book=runtime.book) == []
    clock.advance(timedelta(hours=1))
    assert sweep_expired(runtime.engine, runtime.settings, now=clock.now(), book=runtime.book) == [exc_id]
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert d["state"] == "escalated"
    assert [a["status"] for a in d["actions"]] == ["expired"]
    assert {"action.expired", "escalated"} <= {a["kind"] for a in d["audit"]}
    assert "exception.escalated" in {e["type"] for e in d["events"]}
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("supervisor"))
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    with Session(runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(Notification)).one() == 0


def test_a_decision_after_the_deadline_is_refused_even_before_the_sweep(
        client: TestClient, clock: VirtualClock, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    clock.advance(timedelta(hours=25))
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("supervisor"))
    assert r.status_code == 409 and "expired" in r.json()["detail"]


def test_with_deadlines_off_a_held_action_stays_decidable_however_far_the_clock_runs(
        client: TestClient, runtime: Runtime, clock: VirtualClock, held: Callable[..., str]) -> None:
    runtime.settings = runtime.settings.model_copy(update={"hold_deadlines": False})  # what `tower up` runs with
    exc_id = held(0.45)
    clock.advance(timedelta(days=30))
    assert sweep_expired(runtime.engine, runtime.settings, now=clock.now(), book=runtime.book) == []
    [action] = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()["actions"]
    assert action["expires_at"] is None
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("supervisor"))
    assert r.status_code == 200
