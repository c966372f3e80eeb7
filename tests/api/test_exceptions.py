"""Exceptions as supervisors and the dashboard read them: filtered lists, whole timelines, KPIs, the book."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from api_helpers import as_, order_body
from fastapi.testclient import TestClient

from core.clock import VirtualClock


def test_exceptions_filter_by_state_type_order_customer_and_age(client: TestClient, held: Callable[..., str],
                                                               clock: VirtualClock) -> None:
    waiting = held(0.45)
    clock.advance(timedelta(hours=5))
    r = client.post("/orders", json=order_body(customer_id="C-2", fraud_score=0.1), headers=as_("agent"))
    assert r.json()["exceptions"] == []

    def ids(**params: object) -> list[str]:
        page = client.get("/exceptions", params=params, headers=as_("viewer")).json()
        assert page["total"] == len(page["items"])
        return [x["id"] for x in page["items"]]

    assert ids(status="awaiting_approval") == [waiting]
    assert ids(type="fraud_hold", customer="C-1") == [waiting]
    assert ids(order="O-000001") == [waiting]
    assert ids(customer="C-2") == []
    assert ids(min_age_hours=4) == [waiting]
    assert ids(min_age_hours=6) == []
    assert ids(status="resolved") == []


def test_a_listed_exception_shows_when_its_first_held_action_expires(client: TestClient,
                                                                    held: Callable[..., str]) -> None:
    held(0.45)
    item = client.get("/exceptions", params={"status": "awaiting_approval"}, headers=as_("viewer")).json()["items"][0]
    assert item["held"] == 1
    assert item["expires_at"] == "2026-03-03T08:00:00Z"  # notify_customer: communication, 24 h by default


def test_an_exception_shows_its_whole_timeline(client: TestClient, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert d["state"] == "awaiting_approval"
    [action] = d["actions"]
    assert action["action"] == "notify_customer" and action["status"] == "held"
    assert action["rule_ids"] == ["F2"] and action["reasons"] and action["required_role"] == "supervisor"
    assert action["key"].startswith(f"{exc_id}:notify_customer:")
    assert {"exception.raised", "exception.working", "exception.awaiting_approval"} <= {e["type"] for e in d["events"]}
    assert {"claimed", "planned", "action.held"} <= {a["kind"] for a in d["audit"]}
    assert len(d["timeline"]) == len(d["events"]) + len(d["audit"])
    assert [t["at"] for t in d["timeline"]] == sorted(t["at"] for t in d["timeline"])


def test_an_unknown_exception_is_a_404(client: TestClient) -> None:
    assert client.get("/exceptions/EX-404", headers=as_("viewer")).status_code == 404


def test_kpis_count_open_work_auto_resolution_and_money_paid_out(client: TestClient,
                                                                 held: Callable[..., str]) -> None:
    held(0.45)  # waits for a supervisor
    held(0.45, address="A-1")  # F2: a trusted customer at a known address is released
    k = client.get("/kpis", headers=as_("viewer")).json()
    assert k["open_by_type_and_state"] == [{"type": "fraud_hold", "state": "awaiting_approval", "count": 1}]
    assert k["closed"] == 1 and k["auto_resolved"] == 1 and k["auto_resolution_rate"] == 1.0
    assert k["mean_hours_to_resolution"] == 0.0
    assert k["paid_out"]["total_cents"] == 0


def test_the_policy_shows_the_books_numbers_rules_and_version(client: TestClient) -> None:
    p = client.get("/policy", headers=as_("viewer")).json()
    assert p["version"].startswith("default@")
    assert p["sections"]["money"]["goodwill_ceiling_cents"]["gold"] == 15_000
    rules = {r["id"]: r for r in p["rules"]}
    assert rules["M4"]["section"] == "money" and "lead" in rules["M4"]["description"]
    assert {"D1", "S1", "F4", "R8"} <= set(rules)
