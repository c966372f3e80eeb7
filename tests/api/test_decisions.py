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
    assert [(a["action"], a["status"], a["decided_by"]) for a in out["actions"]] == [
        ("notify_customer", "applied", "sam (supervisor)")]
    assert [(i["action"], i["status"]) for i in out["items"]] == [("notify_customer", "applied")]
    assert out["actions"][0]["verdict"]["decided_role"] == "supervisor"
    # The verification went out, but the order is still on hold: the exception waits for a release or a cancel.
    assert out["resumed"] is True and out["state"] == "awaiting_approval"
    assert "O-000001 is on hold" in out["waiting_for"]
    assert {"add release_hold", "add cancel_order"} <= set(out["options"])
    with Session(runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(Notification)).one() == 1
        audit = s.exec(select(AuditEntry).where(AuditEntry.kind == "decision.approve")).one()
        assert audit.actor == "sam (supervisor)" and audit.detail["note"] == "known customer"
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "add", "actions": [{"action": "release_hold", "args": {"order_id": "O-000001"}}]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["state"] == "resolved" and out["waiting_for"] is None and out["options"] == []
    assert [(i["action"], i["status"]) for i in out["items"]] == [("release_hold", "applied")]
    with Session(runtime.engine) as s:
        assert s.get(Order, "O-000001").status != "on_hold"  # type: ignore[union-attr]


def test_rejecting_a_fraud_cancellation_rejects_its_refund_and_notice_and_keeps_the_order_waiting(
        client: TestClient, runtime: Runtime, held: Callable[..., str]) -> None:
    """No order left stranded: the order stays on hold, so the exception waits for a release or a cancel."""
    exc_id = held(0.8, sku="LAPTOP-14")
    [cancel] = keys(client, exc_id, "cancel_order")
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "reject", "actions": [cancel]},
                    headers=as_("supervisor"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert sorted((i["action"], i["status"]) for i in out["items"]) == [
        ("cancel_order", "rejected"), ("notify_customer", "rejected"), ("refund", "rejected")]
    assert out["state"] == "awaiting_approval" and out["resumed"] is True
    assert "on hold" in out["waiting_for"] and "add release_hold" in out["options"]
    with Session(runtime.engine) as s:
        assert s.get(Order, "O-000001").status == "on_hold"  # type: ignore[union-attr]
        assert s.exec(select(func.count()).select_from(Notification)).one() == 0


def test_rejecting_everything_then_adding_a_release_resolves_with_the_order_released(
        client: TestClient, runtime: Runtime, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "reject"}, headers=as_("lead"))
    assert r.status_code == 200
    assert r.json()["state"] == "awaiting_approval"
    assert [a["status"] for a in r.json()["actions"]] == ["rejected"]
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "add", "actions": [{"action": "release_hold", "args": {"order_id": "O-000001"}}]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "resolved"  # something was applied: not `rejected`
    with Session(runtime.engine) as s:
        assert s.get(Order, "O-000001").status != "on_hold"  # type: ignore[union-attr]


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
    assert len(d["decisions"]) == 1 and d["state"] == "awaiting_approval"  # the order is still on hold


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


def test_an_approval_the_state_now_denies_is_reported_denied_with_its_rule_and_reason(
        client: TestClient, runtime: Runtime, held: Callable[..., str]) -> None:
    exc_id = held(0.8)  # F3: cancel, refund, notice held
    with Session(runtime.engine) as s:  # meanwhile everything captured was paid back elsewhere
        order = s.get(Order, "O-000001")
        assert order is not None
        order.refunded_cents = order.captured_cents
        s.add(order)
        s.commit()
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve"}, headers=as_("supervisor"))
    assert r.status_code == 200, r.text
    items = {i["action"]: i for i in r.json()["items"]}
    assert items["cancel_order"]["status"] == "applied"
    assert items["refund"]["status"] == "denied" and "P7" in items["refund"]["rule_ids"]
    assert items["refund"]["reasons"] and "refundable" in " ".join(items["refund"]["reasons"])
    assert r.json()["state"] == "resolved"  # the order is cancelled: it can move on


def test_an_add_names_the_field_that_is_wrong(client: TestClient, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    [key] = keys(client, exc_id)
    for actions, loc in [
        (None, ["body", "actions"]),
        ([{"key": key}], ["body", "actions", 0, "key"]),
        ([{"args": {"order_id": "O-000001"}}], ["body", "actions", 0, "action"]),
        ([{"action": "pay_everyone", "args": {}}], ["body", "actions", 0, "action"]),
        ([{"action": "release_hold", "args": {"order_id": "O-000002"}}], ["body", "actions", 0, "args", "order_id"]),
    ]:
        r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"),
                        json={"decision": "add", **({"actions": actions} if actions is not None else {})})
        assert r.status_code == 422, (actions, r.text)
        assert r.json()["detail"][0]["loc"] == loc, r.json()
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"),
                    json={"decision": "approve", "actions": [{"action": "release_hold"}]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "actions", 0, "action"]
    assert detail(client, exc_id)["decisions"] == []


def test_a_decision_on_a_withdrawn_item_is_a_409_naming_the_event_and_what_is_held_now(
        client: TestClient, runtime: Runtime, held: Callable[..., str]) -> None:
    from sqlalchemy import update

    from core.models import ActionRecord

    exc_id = held(0.45)
    [key] = keys(client, exc_id)
    with Session(runtime.engine) as s:
        s.execute(update(ActionRecord).where(col(ActionRecord.idempotency_key) == key).values(
            status="withdrawn", verdict={"withdrawn": {"event_id": 7, "type": "rescore", "at": "2026-03-10T15:00:00Z",
                                                       "summary": "the order was re-scored 0.10"}}))
        s.commit()
    r = client.post(f"/exceptions/{exc_id}/decision", json={"decision": "approve", "actions": [key]},
                    headers=as_("supervisor"))
    assert r.status_code == 409
    assert "rescore event 7" in r.json()["detail"] and "re-scored 0.10" in r.json()["detail"]
    assert "held now: nothing" in r.json()["detail"]
