"""The approvals queue on the server: pages, sorts, filters, a card, and who holds an item ("mine")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import as_
from fastapi.testclient import TestClient

from api.queue import routine_action
from core.models import ActionRecord
from policies.book import BOOK


def page(client: TestClient, role: str = "viewer", **params: Any) -> dict[str, Any]:
    r = client.get("/queue", params=params, headers=as_(role))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def three(held: Callable[..., str]) -> dict[str, str]:
    """Two verification messages (F2, nothing paid) and one F3 cancel + refund of a laptop (a lead's)."""
    return {"first": held(0.45), "second": held(0.45, address="A-8"), "laptop": held(0.8, sku="LAPTOP-14")}


def test_the_first_page_ranks_money_first_and_shows_each_items_deadline_and_owner(
        client: TestClient, three: dict[str, str]) -> None:
    out = page(client)
    assert out["total"] == 3 and out["sort"] == "urgency"
    ids = [i["id"] for i in out["items"]]
    assert ids == [three["laptop"], three["first"], three["second"]]  # money first, then the older of the two
    laptop = out["items"][0]
    assert laptop["money_cents"] > 100_000 and laptop["needs_lead"] and not laptop["routine"]
    assert {"F3", "M4"} <= set(laptop["rule_ids"])
    assert all(i["deadline"] is not None and i["owner"] is None for i in out["items"])
    assert all(a["status"] == "held" for i in out["items"] for a in i["actions"])


def test_pages_split_the_queue_and_count_it_whole(client: TestClient, three: dict[str, str]) -> None:
    first, second = page(client, limit=2), page(client, limit=2, offset=2)
    assert [len(first["items"]), len(second["items"])] == [2, 1] and first["total"] == second["total"] == 3
    assert page(client, offset=50)["items"] == [] and page(client, offset=50)["total"] == 3


def test_sorts_by_age_and_by_deadline_put_the_oldest_first(client: TestClient, three: dict[str, str]) -> None:
    assert [i["id"] for i in page(client, sort="age")["items"]] == [three["first"], three["second"], three["laptop"]]
    assert page(client, sort="deadline")["items"][0]["id"] == three["first"]
    assert page(client, sort="money")["items"][0]["id"] == three["laptop"]


def test_filters_by_rule_amount_lead_and_type(client: TestClient, three: dict[str, str]) -> None:
    assert [i["id"] for i in page(client, rule="F3")["items"]] == [three["laptop"]]
    assert {i["id"] for i in page(client, rule="F2")["items"]} == {three["first"], three["second"]}
    assert page(client, rule="R5")["total"] == 0
    assert [i["id"] for i in page(client, min_cents=1)["items"]] == [three["laptop"]]
    assert page(client, max_cents=0)["total"] == 2
    assert [i["id"] for i in page(client, needs_lead=True)["items"]] == [three["laptop"]]
    assert page(client, needs_lead=False)["total"] == 2
    assert page(client, type="fraud_hold")["total"] == 3 and page(client, type="delay")["total"] == 0


def test_a_supervisor_takes_an_item_others_see_who_holds_it_and_cannot_take_it(
        client: TestClient, three: dict[str, str]) -> None:
    exc = three["first"]
    r = client.put(f"/queue/{exc}/owner", headers=as_("supervisor"))
    assert r.status_code == 200 and r.json()["owner"] == "sam (supervisor)"
    again = client.put(f"/queue/{exc}/owner", headers=as_("supervisor"))
    assert again.status_code == 200 and again.json()["owned_at"] == r.json()["owned_at"]
    other = client.put(f"/queue/{exc}/owner", headers=as_("supervisor-2"))
    assert other.status_code == 409 and "held by sam (supervisor)" in other.json()["detail"]
    assert client.delete(f"/queue/{exc}/owner", headers=as_("supervisor-2")).status_code == 409
    assert [i["id"] for i in page(client, "supervisor", owner="me")["items"]] == [exc]
    assert page(client, "supervisor-2", owner="me")["total"] == 0
    assert exc not in [i["id"] for i in page(client, owner="none")["items"]]
    assert page(client)["items"][1]["owner"] == "sam (supervisor)"
    back = client.delete(f"/queue/{exc}/owner", headers=as_("supervisor"))
    assert back.status_code == 200 and back.json()["owner"] is None
    assert client.put(f"/queue/{exc}/owner", headers=as_("supervisor-2")).json()["owner"] == "sol (supervisor)"


def test_a_viewer_may_read_the_queue_but_not_take_an_item(client: TestClient, three: dict[str, str]) -> None:
    assert client.put(f"/queue/{three['first']}/owner", headers=as_("viewer")).status_code == 403
    assert client.put("/queue/EX-999999/owner", headers=as_("supervisor")).status_code == 404


def test_an_item_that_no_longer_waits_cannot_be_taken(client: TestClient, three: dict[str, str]) -> None:
    exc = three["first"]
    assert client.post(f"/exceptions/{exc}/decision", json={"decision": "approve"},
                       headers=as_("supervisor")).status_code == 200
    # The verification went out and the order is still on hold: it waits (and can be taken) until released.
    assert client.put(f"/queue/{exc}/owner", headers=as_("supervisor")).status_code == 200
    order_id = client.get(f"/exceptions/{exc}", headers=as_("viewer")).json()["order_id"]
    r = client.post(f"/exceptions/{exc}/decision", headers=as_("supervisor"), json={
        "decision": "add", "actions": [{"action": "release_hold", "args": {"order_id": order_id}}]})
    assert r.status_code == 200 and r.json()["state"] == "resolved", r.text
    r = client.put(f"/queue/{exc}/owner", headers=as_("supervisor"))
    assert r.status_code == 409 and "not waiting" in r.json()["detail"]


def test_a_card_has_the_order_every_action_and_each_rule_with_its_sentence(
        client: TestClient, three: dict[str, str]) -> None:
    r = client.get(f"/queue/{three['laptop']}", headers=as_("viewer"))
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["order"]["id"] == card["order_id"] and card["return"] is None
    assert card["rules"]["F3"].startswith("Score 0.70 to 0.90") and "$1,000.00" in card["rules"]["M4"]
    assert len(card["all_actions"]) >= len(card["actions"]) == card["held"]
    assert client.get("/queue/EX-999999", headers=as_("viewer")).status_code == 404


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"offset": -1}, "offset"), ({"sort": "fame"}, "sort"),
    ({"type": "weather"}, "type"), ({"rule": "Z9"}, "rule"), ({"min_cents": -1}, "min_cents"),
    ({"min_cents": "ten"}, "min_cents"),
    ({"needs_lead": "maybe"}, "needs_lead"), ({"owner": "x" * 65}, "owner"),
])
def test_every_bad_parameter_is_a_422_naming_it(client: TestClient, params: dict[str, Any], field: str) -> None:
    r = client.get("/queue", params=params, headers=as_("viewer"))
    assert r.status_code == 422, r.text
    assert [e["loc"][:2] for e in r.json()["detail"]] == [["query", field]]


def test_an_empty_amount_range_is_an_empty_page_and_a_filter_may_name_several_types(client: TestClient) -> None:
    """The schema cannot say min <= max, so a range with nothing in it finds nothing rather than a 422; a list
    parameter takes one value per repeat (the app refuses repeats of single-valued parameters only)."""
    assert page(client, min_cents=500, max_cents=100)["total"] == 0
    both = client.get("/queue?type=fraud_hold&type=delay", headers=as_("viewer"))
    assert both.status_code == 200 and both.json()["total"] == page(client)["total"]
    twice = client.get("/queue?limit=5&limit=6", headers=as_("viewer"))
    assert twice.status_code == 422 and twice.json()["detail"][0]["loc"] == ["query", "limit"]


def _sums_agree(client: TestClient) -> None:
    for item in page(client)["items"]:
        card = client.get(f"/queue/{item['id']}", headers=as_("viewer")).json()
        assert [item[k] for k in ("held", "money_cents", "deadline", "needs_lead")] == \
            [card[k] for k in ("held", "money_cents", "deadline", "needs_lead")], item["id"]
        assert item["held"] == len(item["actions"])


def test_the_stored_sums_stay_true_whoever_writes_the_actions(client: TestClient, three: dict[str, str]) -> None:
    """The queue ranks by sums the store's triggers keep: after a partial reject they still match the records."""
    _sums_agree(client)
    laptop = page(client)["items"][0]
    refund = next(a for a in laptop["actions"] if a["action"] == "refund")
    r = client.post(f"/exceptions/{laptop['id']}/decision", json={"decision": "reject", "actions": [refund["key"]]},
                    headers=as_("lead"))
    assert r.status_code == 200, r.text
    after = next(i for i in page(client)["items"] if i["id"] == laptop["id"])
    assert after["money_cents"] == 0 and not after["needs_lead"] and after["held"] == laptop["held"] - 1
    _sums_agree(client)


def test_routine_needs_the_class_threshold_and_no_money_rule_lead_or_irreversible_action() -> None:
    """A 0.30-confidence reading (A1) is never routine, nor is anything a money rule held."""
    def rec(action: str, confidence: float, rule_ids: list[str], role: str = "supervisor") -> ActionRecord:
        return ActionRecord(exception_id="EX-1", idempotency_key="k", action=action, args={}, status="held",
                            planner="rules", confidence=confidence, verdict={"rule_ids": rule_ids},
                            policy_version="v", required_role=role)
    assert routine_action(rec("notify_customer", 0.80, ["F2"]), BOOK)
    assert not routine_action(rec("notify_customer", 0.79, ["F2"]), BOOK)
    assert not routine_action(rec("approve_return", 0.30, ["R3", "A1"]), BOOK)
    assert not routine_action(rec("approve_return", 0.95, ["R3", "A1"]), BOOK)  # the judge's reading held it
    assert not routine_action(rec("store_credit", 0.99, ["D3", "M2"]), BOOK)
    assert not routine_action(rec("refund", 0.99, ["D3"], role="lead"), BOOK)
    assert not routine_action(rec("release_hold", 0.99, ["F1"]), BOOK)
