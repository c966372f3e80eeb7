"""Supervisors' decisions: recorded once per item, checked against roles and the policy, then the graph resumes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from api_helpers import as_
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from api.runtime import Runtime
from core.models import AuditEntry, Notification, Order, Refund


def detail(client: TestClient, exc_id: str) -> dict[str, Any]:
    return client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()  # type: ignore[no-any-return]


def keys(client: TestClient, exc_id: str, action: str | None = None) -> list[str]:
    return [a["key"] for a in detail(client, exc_id)["actions"] if action in (None, a["action"])]


def test_approving_every_held_item_resumes_the_graph_and_applies_it(client: TestClient, runtime: Runtime,
                                                                   held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve", "note": "known customer"},
                    headers=as_("supervisor"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["resumed"] is True and out["state"] == "resolved"
    assert [(a["action"], a["status"], a["decided_by"]) for a in out["actions"]] == [
        ("notify_customer", "applied", "sam (supervisor)")]
    assert out["actions"][0]["verdict"]["decided_role"] == "supervisor"
    with Session(runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(Notification)).one() == 1
        audit = s.exec(select(AuditEntry).where(AuditEntry.kind == "decision.approve")).one()
        assert audit.actor == "sam (supervisor)" and audit.detail["note"] == "known customer"


def test_rejecting_every_held_item_closes_the_exception_as_rejected(client: TestClient,
                                                                    held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "reject"}, headers=as_("lead"))
    assert r.status_code == 200
    assert r.json()["state"] == "rejected"
    assert [a["status"] for a in r.json()["actions"]] == ["rejected"]


def test_a_second_decision_on_a_decided_item_is_a_409_saying_so(client: TestClient,
                                                                held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    [key] = keys(client, exc_id)
    assert client.post(f"/exceptions/{exc_id}/decision", json={"decision": "reject", "actions": [key]},
                       headers=as_("supervisor")).status_code == 200
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve", "actions": [{"key": key}]},
                    headers=as_("supervisor-2"))
    assert r.status_code == 409
    assert "already decided" in r.json()["detail"] and "sam (supervisor)" in r.json()["detail"]


def test_two_supervisors_deciding_the_same_item_at_once_get_one_200_and_one_409(
        client: TestClient, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    [key] = keys(client, exc_id)
    start = threading.Barrier(2)
    codes: list[int] = []

    def decide(who: str, decision: str) -> None:
        with TestClient(client.app) as c:
            start.wait()
            r = c.post(f"/exceptions/{exc_id}/decision", json={"decision": decision, "actions": [key]},
                       headers=as_(who))
            codes.append(r.status_code)

    threads = [threading.Thread(target=decide, args=("supervisor", "approve")),
               threading.Thread(target=decide, args=("supervisor-2", "reject"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]
    d = detail(client, exc_id)
    assert len(d["decisions"]) == 1 and d["state"] in ("resolved", "rejected")


def test_a_supervisor_cannot_approve_what_needs_a_lead_but_a_lead_can(client: TestClient, runtime: Runtime,
                                                                      held: Callable[..., str]) -> None:
    exc_id = held(0.8, sku="LAPTOP-14")
    roles = {a["action"]: a["required_role"] for a in detail(client, exc_id)["actions"]}
    assert roles == {"cancel_order": "supervisor", "refund": "lead", "notify_customer": "supervisor"}
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("supervisor"))
    assert r.status_code == 403 and "a lead must approve" in r.json()["detail"]
    assert detail(client, exc_id)["decisions"] == []

    others = keys(client, exc_id, "cancel_order") + keys(client, exc_id, "notify_customer")
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve", "actions": others},
                    headers=as_("supervisor"))
    assert r.status_code == 200 and r.json()["resumed"] is False and r.json()["state"] == "awaiting_approval"

    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("lead"))
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert {a["action"]: a["status"] for a in r.json()["actions"]} == {
        "cancel_order": "applied", "refund": "applied", "notify_customer": "applied"}
    with Session(runtime.engine) as s:
        assert s.get(Order, "O-000001").status == "cancelled"  # type: ignore[union-attr]
        assert s.exec(select(func.sum(Refund.amount_cents))).one() == 129_900 + 500


def test_an_edit_the_policy_denies_is_a_422_with_its_reasons_and_records_nothing(
        client: TestClient, runtime: Runtime, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    [key] = keys(client, exc_id)
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "edit", "actions": [{"key": key, "args": {"body": "Your fraud score was too high."}}]})
    assert r.status_code == 422
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "actions", 0, "args"] and err["type"] == "policy_denied"
    assert err["ctx"]["rule_ids"] == ["C7"] and err["ctx"]["reasons"]
    d = detail(client, exc_id)
    assert d["actions"][0]["status"] == "held" and d["decisions"] == []
    with Session(runtime.engine) as s:
        assert s.exec(select(AuditEntry).where(col(AuditEntry.kind).startswith("decision"))).all() == []


def test_an_edit_the_policy_allows_is_judged_again_recorded_and_applied(client: TestClient, runtime: Runtime,
                                                                        held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    [key] = keys(client, exc_id)
    body = "Hello Dana, please confirm the new delivery address for order O-000001 by replying to this email."
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "edit", "actions": [{"key": key, "args": {"body": body}}], "note": "friendlier"})
    assert r.status_code == 200, r.text
    [action] = r.json()["actions"]
    assert action["status"] == "applied" and action["args"]["body"] == body
    assert action["verdict"]["edited"] is True and action["verdict"]["edit"]["decision"] == "apply"
    with Session(runtime.engine) as s:
        assert s.exec(select(Notification.body)).one() == body


def test_an_unknown_key_is_a_409_and_args_without_an_edit_a_422(client: TestClient,
                                                                held: Callable[..., str]) -> None:
    """A well-formed key the exception does not hold is refused by its state (409), naming the field."""
    exc_id = held(0.45)
    [key] = keys(client, exc_id)
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve", "actions": ["nope"]},
                    headers=as_("supervisor"))
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "actions", 0, "key"]
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve", "actions": []},
                    headers=as_("supervisor"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "actions"]
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"),
                    json={"decision": "approve", "actions": [{"key": key, "args": {"topic": "delay"}}]})
    assert r.status_code == 422
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "edit", "actions": [key]},
                    headers=as_("supervisor"))
    assert r.status_code == 422


def test_deciding_an_exception_with_nothing_held_is_a_409(client: TestClient, held: Callable[..., str]) -> None:
    exc_id = held(0.45, address="A-1")
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("supervisor"))
    assert r.status_code == 409
    assert client.post("/exceptions/EX-404/decision", json={"decision": "approve"},
                       headers=as_("supervisor")).status_code == 404


def test_an_edit_is_judged_with_the_rest_of_its_case_so_a_smaller_refund_needs_no_lead(
        client: TestClient, held: Callable[..., str]) -> None:
    exc_id = held(0.8, sku="LAPTOP-14")
    [refund] = keys(client, exc_id, "refund")
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "edit", "actions": [{"key": refund, "args": {"amount_cents": 90_000}}]})
    assert r.status_code == 200, r.text
    edited = next(a for a in r.json()["actions"] if a["key"] == refund)
    assert edited["status"] == "approved" and edited["args"]["amount_cents"] == 90_000
    assert r.json()["resumed"] is False
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "edit", "actions": [{"key": refund, "args": {"amount_cents": 1}}]})
    assert r.status_code == 409
