"""Section 5 of the book at its boundaries: F1 release, F2 gray zone, F3 review, F4 cancel."""

from __future__ import annotations

from typing import Any

import pytest
from policy_world import NOW, World_, add_shipment, customer, fraud_case, line, order, set_lines

CANCEL = ["cancel_order", "notify_customer", "refund"]


def _held(w: World_, score: float, **who: Any) -> None:
    order(w)["status"] = "on_hold"
    order(w)["fraud_score"] = score
    customer(w).update(who)


@pytest.mark.parametrize(("score", "rule"), [(0.0, "F1"), (0.29, "F1"), (0.30, "F2")])
def test_a_score_below_0_30_releases_the_hold(world: World_, score: float, rule: str) -> None:
    _held(world, score)  # a trusted customer, so F2 releases too, but by its own rule
    run = fraud_case(world).work()
    assert run.applied() == ["release_hold"]
    assert run.one("release_hold").rule_ids[0] == rule


@pytest.mark.parametrize(("who", "released"), [
    ({"delivered_orders": 3}, True),
    ({"delivered_orders": 2}, False),
    ({"chargebacks": 1}, False),
    ({"delivered_addresses": ["A-7"]}, False),
    ({"delivered_addresses": ["A-7", "A-1"]}, True),
])
def test_gray_zone_releases_only_a_trusted_customer_at_a_known_address(
        world: World_, who: dict[str, Any], released: bool) -> None:
    _held(world, 0.45, **who)
    run = fraud_case(world).work()
    if released:
        assert run.applied() == ["release_hold"]
        assert run.outcome == "auto"
    else:
        assert run.applied() == []
        assert run.held() == ["notify_customer"]
        assert run.one("notify_customer").args["topic"] == "verification"
        assert run.outcome == "approval"


def test_gray_zone_to_a_new_shipping_address_is_held_asking_to_verify(world: World_) -> None:
    _held(world, 0.69)
    order(world)["ship_to"]["address_id"] = "A-9"
    run = fraud_case(world).work()
    assert run.held() == ["notify_customer"]
    assert run.applied() == []


@pytest.mark.parametrize(("score", "outcome"), [
    (0.69, "release"),
    (0.70, "held"),
    (0.89, "held"),
    (0.90, "cancel"),
    (1.0, "cancel"),
])
def test_the_score_bands_at_0_70_and_0_90(world: World_, score: float, outcome: str) -> None:
    _held(world, score)
    run = fraud_case(world).work()
    if outcome == "release":
        assert run.applied() == ["release_hold"]
    elif outcome == "held":
        assert run.applied() == []
        assert run.held() == CANCEL
        assert all("F3" in a.rule_ids for a in run.with_status("held"))
    else:
        assert run.applied() == CANCEL
        assert run.held() == []


def test_f4_cancels_with_reason_fraud_refunds_everything_and_tells_the_customer(world: World_) -> None:
    set_lines(world, line(price=40_000, qty=2), fee=1_500)
    _held(world, 0.95)
    run = fraud_case(world).work()
    assert run.one("cancel_order").args == {"order_id": "O-1", "reason": "fraud"}
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 81_500, "reason": "order_cancel"}
    assert run.one("notify_customer").args["topic"] == "cancellation"


@pytest.mark.parametrize(("merchandise", "held"), [(100_000, False), (100_001, True)])
def test_f4_over_100000_of_merchandise_is_held(world: World_, merchandise: int, held: bool) -> None:
    set_lines(world, line(price=merchandise))
    _held(world, 0.95)
    run = fraud_case(world).work()
    assert (run.held() if held else run.applied()) == CANCEL


@pytest.mark.parametrize(("status", "held"), [("created", False), ("picked", False), ("in_transit", True),
                                              ("lost", True)])
def test_f4_with_a_shipment_that_has_left_is_held(world: World_, status: str, held: bool) -> None:
    add_shipment(world, status=status, eta=NOW)
    _held(world, 0.95)
    run = fraud_case(world).work()
    assert (run.held() if held else run.applied()) == CANCEL


def test_fraud_messages_never_name_fraud_risk_or_a_score(world: World_) -> None:
    _held(world, 0.95)
    run = fraud_case(world).work()
    body = run.one("notify_customer").args["body"].lower()
    assert not any(word in body for word in ("fraud", "risk", "score"))
