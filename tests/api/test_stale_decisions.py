"""Plans that went stale, over HTTP: a decision on a withdrawn item is a 409 saying why; /kpis shows the lag."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api_helpers import as_
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.runtime import Runtime
from api.worker import Worker
from core.clock import VirtualClock
from core.models import OrderException
from core.services import rescore_order


def _order_of(runtime: Runtime, exc_id: str) -> str:
    with Session(runtime.engine) as s:
        exc = s.get(OrderException, exc_id)
        assert exc is not None
        return exc.order_id


def test_a_decision_on_an_item_withdrawn_by_a_re_score_is_a_409_naming_the_event_and_what_is_held_now(
        client: TestClient, runtime: Runtime, clock: VirtualClock, held: Callable[..., str]) -> None:
    exc_id = held(0.45)  # F2 at a new address: the verification message is held
    [item] = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()["actions"]
    assert item["status"] == "held"
    order_id = _order_of(runtime, exc_id)
    clock.advance(timedelta(hours=2))
    rescore_order(runtime.engine, order_id, 0.1, at=clock.now())
    worker = Worker(runtime, worker_id="test-worker")
    assert worker.consume() >= 1
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve", "actions": [item["key"]]},
                    headers=as_("supervisor"))
    assert r.status_code == 409, r.text
    said = r.json()["detail"]
    assert "withdrawn" in said and "order.rescored" in said and f"order {order_id} was re-scored" in said
    assert "held now: nothing" in said  # agents.decisions says what is held instead
    after = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert after["state"] == "resolved"
    assert {a["action"]: a["status"] for a in after["actions"]} == {"notify_customer": "withdrawn",
                                                                    "release_hold": "applied"}


def test_kpis_show_the_consumers_lag(client: TestClient, runtime: Runtime, clock: VirtualClock,
                                     held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    worker = Worker(runtime, worker_id="test-worker")
    worker.consume()
    worker.consume()  # the first pass's own events: read, nothing due
    lag = client.get("/kpis", headers=as_("viewer")).json()["replan_lag"]
    assert lag == {"events": 0, "oldest_age_seconds": None, "due": 0}
    clock.advance(timedelta(hours=1))
    rescore_order(runtime.engine, _order_of(runtime, exc_id), 0.1, at=clock.now())
    clock.advance(timedelta(minutes=10))
    lag = client.get("/kpis", headers=as_("viewer")).json()["replan_lag"]
    assert lag == {"events": 1, "oldest_age_seconds": 600.0, "due": 0}


def test_an_approval_that_lands_while_a_re_plan_holds_the_exception_does_not_resume_it_on_stale_facts(
        client: TestClient, runtime: Runtime, clock: VirtualClock, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    order_id = _order_of(runtime, exc_id)
    clock.advance(timedelta(hours=2))
    rescore_order(runtime.engine, order_id, 0.1, at=clock.now())
    landed: list[Any] = []

    def approve_meanwhile(_exception_id: str) -> None:  # between the consumer's claim and its graph run
        landed.append(client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"},
                                  headers=as_("supervisor")))

    Worker(runtime, worker_id="test-worker", before_replan=approve_meanwhile).consume()
    [r] = landed
    assert r.status_code == 200 and r.json()["resumed"] is False  # recorded; the re-plan, not the API, goes on
    after = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert after["state"] == "resolved"
    # approved on the old facts, not given by the new plan: withdrawn, never sent
    assert {a["action"]: a["status"] for a in after["actions"]} == {"notify_customer": "withdrawn",
                                                                    "release_hold": "applied"}
