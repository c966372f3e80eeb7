"""The approvals queue's order and its idea of routine, on plain dicts shaped like the API's."""

from __future__ import annotations

from typing import Any

from ui.queue import BookLimits, QueueItem, describe, edits, humanize, sort_queue

LIMITS = BookLimits(routine_money_cents=5_000, lead_over_cents=100_000,
                    irreversible=frozenset({"cancel_order", "cancel_line", "release_hold"}), topics=("delay",))


def action(name: str, role: str = "supervisor", **args: Any) -> dict[str, Any]:
    return {"key": f"k-{name}", "action": name, "args": args, "status": "held", "required_role": role,
            "confidence": 1.0}


def item(exc_id: str, *actions: dict[str, Any], type_: str = "fraud_hold", age: float = 1.0,
         promised_by: str = "2026-03-10T00:00:00Z", expires_at: str | None = "2026-03-03T00:00:00Z") -> QueueItem:
    detail = {"id": exc_id, "type": type_, "raised_at": "2026-03-02T00:00:00Z", "age_hours": age,
              "expires_at": expires_at, "actions": list(actions)}
    return QueueItem(detail, {"status": "on_hold", "promised_by": promised_by})


def test_a_promise_at_risk_goes_before_more_money_and_more_money_before_age() -> None:
    old = item("EX-1", action("notify_customer", topic="verification"), age=30)
    rich = item("EX-2", action("refund", amount_cents=9_000))
    late = item("EX-3", action("notify_customer", topic="delay"), type_="delay")
    assert [i.id for i in sort_queue([old, rich, late])] == ["EX-3", "EX-2", "EX-1"]


def test_an_order_promised_within_a_day_of_the_api_clock_is_at_risk() -> None:
    assert item("EX-1", action("notify_customer"), promised_by="2026-03-02T20:00:00Z").promise_at_risk
    assert not item("EX-1", action("notify_customer"), promised_by="2026-03-05T00:00:00Z").promise_at_risk


def test_routine_means_no_lead_nothing_irreversible_and_money_within_the_standard_ceiling() -> None:
    assert item("EX-1", action("notify_customer")).routine(LIMITS)
    assert item("EX-2", action("store_credit", amount_cents=5_000)).routine(LIMITS)
    assert not item("EX-3", action("store_credit", amount_cents=5_001)).routine(LIMITS)
    assert not item("EX-4", action("cancel_order")).routine(LIMITS)
    assert not item("EX-5", action("approve_return", role="lead", amount_cents=10)).routine(LIMITS)


def test_a_hold_within_two_hours_of_its_expiry_warns() -> None:
    soon = item("EX-1", action("notify_customer"), age=23)
    assert soon.expiring_soon and humanize(soon.time_left) == "1h 00m"
    assert not item("EX-2", action("notify_customer"), age=1).expiring_soon
    assert not item("EX-3", action("notify_customer"), expires_at=None).expiring_soon


def test_an_action_reads_as_one_line_with_money_in_dollars_and_no_message_body() -> None:
    assert describe(action("refund", amount_cents=1_500, reason="shipping_fee")) == \
        "refund(amount=$15.00, reason=shipping_fee)"
    assert describe(action("notify_customer", topic="delay", body="Hi")) == "notify_customer(topic=delay)"


def test_only_editable_arguments_that_changed_count_as_an_edit() -> None:
    refund = action("refund", amount_cents=1_500, reason="goodwill")
    assert edits(refund, {"amount_cents": 1_500}) == {}
    assert edits(refund, {"amount_cents": 1_000, "reason": "other"}) == {"amount_cents": 1_000}
