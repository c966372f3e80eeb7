"""The approvals page's pure helpers: dollars both ways, one line per action, deadlines, the add form, outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from ui.client import decided_items, said, tally
from ui.queue import ADD_FIELDS, add_args, cents, deadline_of, describe, edits, humanize, money, outcome_lines


def action(name: str, status: str = "held", **args: Any) -> dict[str, Any]:
    return {"key": f"k-{name}", "action": name, "args": args, "status": status, "rule_ids": [], "reasons": []}


@pytest.mark.parametrize(("typed", "expected"), [
    (25, 2_500), (25.5, 2_550), ("25.00", 2_500), ("$1,304.00", 130_400), (0.1 + 0.2, 30), ("12.345", 1_235),
    ("abc", None), ("", None), (None, None), ("nan", None)])
def test_dollars_typed_become_whole_cents(typed: Any, expected: int | None) -> None:
    assert cents(typed) == expected


def test_money_reads_in_dollars_with_two_decimals() -> None:
    assert [money(x) for x in (0, 5, 130_400, -1, None)] == ["$0.00", "$0.05", "$1,304.00", "-$0.01", "–"]


def test_an_action_reads_as_one_line_with_money_in_dollars_and_no_message_body() -> None:
    assert describe(action("refund", amount_cents=1_500, reason="shipping_fee")) == \
        "refund(amount=$15.00, reason=shipping_fee)"
    assert describe(action("notify_customer", topic="delay", body="Hi")) == "notify_customer(topic=delay)"


def test_an_edit_in_dollars_goes_out_as_cents_and_only_what_changed() -> None:
    refund = action("refund", amount_cents=1_500, reason="goodwill")
    assert edits(refund, {"amount": 15.0}) == {}
    assert edits(refund, {"amount": 10.0, "reason": "other"}) == {"amount_cents": 1_000}
    assert edits(action("notify_customer", topic="delay"), {"topic": "backorder"}) == {"topic": "backorder"}


def test_a_deadline_is_read_on_the_api_clock_and_warns_two_hours_before() -> None:
    item = {"raised_at": "2026-03-02T00:00:00Z", "deadline": "2026-03-03T00:00:00Z"}
    soon = deadline_of({**item, "age_hours": 23})
    assert soon.state == "soon" and humanize(soon.left) == "1h 00m"
    assert deadline_of({**item, "age_hours": 1}).state == "ok"
    assert deadline_of({**item, "age_hours": 25}).state == "overdue"
    assert deadline_of({**item, "deadline": None, "age_hours": 1}).state == "none"


def test_the_add_form_sends_cents_whole_numbers_and_names_what_is_missing() -> None:
    assert add_args("refund", {"order_id": "O-1", "amount_cents": "25.00", "reason": "goodwill"}) == (
        {"order_id": "O-1", "amount_cents": 2_500, "reason": "goodwill"}, [])
    _, problems = add_args("cancel_line", {"order_id": "O-1", "sku": "", "qty": "two"})
    assert problems == ["sku: required", "qty: a whole number"]
    assert set(ADD_FIELDS) == {"notify_customer", "reroute_shipment", "reallocate_line", "backorder_line",
                               "cancel_line", "cancel_order", "refund", "store_credit", "release_hold",
                               "approve_return", "deny_return"}


def test_what_a_decision_did_comes_from_its_items_or_else_from_the_decided_records() -> None:
    denied = {**action("refund", "denied", amount_cents=2_500), "rule_ids": ["P7", "M1"],
              "reasons": ["nothing to recover"]}
    with_items = {"exception_id": "EX-1", "decision": "approve", "decided_by": "sam", "state": "resolved",
                  "decided": ["k-refund", "k-notify_customer"], "actions": [],
                  "items": [denied, action("notify_customer", "applied", topic="delay")]}
    assert tally(decided_items(with_items)) == {"denied": 1, "applied": 1}
    assert said("EX-1", with_items) == "EX-1: approve by sam: 1 denied, 1 applied; the exception is now resolved"
    assert outcome_lines(decided_items(with_items)) == [
        "refund(amount=$25.00): denied (P7, M1: nothing to recover)", "notify_customer(topic=delay): applied"]
    older = {**with_items, "items": None, "actions": [denied, action("cancel_order", "held")]}
    assert decided_items(older) == [denied]  # the records the decision named, as they are after it
