"""Sections 1 and 2 of the book: goodwill ceilings, refundable, the lead line, abuse guard, confidence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from policy_world import (
    NOW,
    PROMISED,
    Case,
    World_,
    add_return,
    add_shipment,
    customer,
    delay_case,
    fraud_case,
    hours,
    lane,
    line,
    order,
    product,
    proposal,
    return_case,
    set_lines,
    set_method,
    set_stock,
    stockout_case,
)

from policies.judge import Approval

CEILINGS = [("standard", 5_000), ("gold", 15_000), ("platinum", 30_000)]


def _express_late(w: World_, fee: int, *, tier: str = "standard", refunded: int = 0) -> None:
    customer(w)["tier"] = tier
    set_method(w, "express", fee=fee)
    order(w)["payment"]["refunded_cents"] = refunded
    add_shipment(w, service="express", eta=PROMISED + hours(30))


# --- goodwill ceiling ----------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "ceiling"), CEILINGS)
def test_goodwill_exactly_at_the_tier_ceiling_is_applied(world: World_, tier: str, ceiling: int) -> None:
    _express_late(world, ceiling, tier=tier)
    run = delay_case(world).work()
    assert run.applied() == ["notify_customer", "refund"]
    assert run.one("refund").args["amount_cents"] == ceiling


@pytest.mark.parametrize(("tier", "ceiling"), CEILINGS)
def test_goodwill_one_cent_over_the_tier_ceiling_is_held_not_cut(world: World_, tier: str, ceiling: int) -> None:
    _express_late(world, ceiling + 1, tier=tier)
    run = delay_case(world).work()
    assert run.held() == ["refund"]
    assert run.applied() == ["notify_customer"]
    refund = run.one("refund")
    assert refund.args == {"order_id": "O-1", "amount_cents": ceiling + 1, "reason": "shipping_fee"}
    assert "M2" in refund.rule_ids


def test_a_refund_of_the_customers_own_money_does_not_count_against_the_ceiling(world: World_) -> None:
    set_lines(world, line(price=40_000))
    order(world)["status"] = "on_hold"
    order(world)["fraud_score"] = 0.95
    run = fraud_case(world).work()
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 40_000, "reason": "order_cancel"}
    assert run.one("refund").status == "applied"


# --- refundable ----------------------------------------------------------------------------------


def test_a_refund_over_the_refundable_amount_is_denied_and_the_rest_still_applies(world: World_) -> None:
    _express_late(world, 1_500, refunded=10_500)  # captured 11,500: 1,000 left
    run = delay_case(world).work()
    assert run.denied() == ["refund"]
    assert run.applied() == ["notify_customer"]
    assert run.outcome == "auto"


@pytest.mark.parametrize(("amount", "decision"), [(1_000, "apply"), (1_001, "deny")])
def test_a_refund_up_to_the_refundable_amount_is_allowed(world: World_, amount: int, decision: str) -> None:
    set_lines(world, line(price=1_000), line("SKU-2", price=500))
    order(world)["payment"]["refunded_cents"] = 500
    world["products"][0]["restock_at"] = None
    set_stock(world, "WH-A", on_hand=0)
    case = stockout_case(world)
    plan = case.plan()
    refund = next(s for s in plan.steps if s.action == "refund")
    assert refund.args == {"order_id": "O-1", "amount_cents": 1_000, "reason": "line_cancel"}
    cancel = next(s for s in plan.steps if s.action == "cancel_line")
    bumped = proposal(refund).model_copy(update={"args": {**refund.args, "amount_cents": amount}})
    verdict = case.judge([proposal(cancel), bumped])[1]
    assert verdict.decision == decision


def test_a_cancellation_refund_without_its_cancellation_is_denied(world: World_) -> None:
    set_lines(world, line(price=1_000), line("SKU-2", price=500))
    world["products"][0]["restock_at"] = None
    set_stock(world, "WH-A", on_hand=0)
    case = stockout_case(world)
    refund = next(s for s in case.plan().steps if s.action == "refund")
    verdict = case.judge([proposal(refund)])[0]
    assert verdict.decision == "deny" and "M5" in verdict.reasons[0]


# --- a lead for payouts over 100,000 -------------------------------------------------------------


def _big_return(w: World_, price: int) -> Case:
    set_lines(w, line(price=price))
    add_shipment(w, status="delivered", eta=NOW - timedelta(days=3), delivered_at=NOW - timedelta(days=3))
    add_return(w, "changed_mind")
    return return_case(w)


@pytest.mark.parametrize(("price", "held"), [(100_000, False), (100_001, True)])
def test_an_approve_return_over_100000_needs_a_lead(world: World_, price: int, held: bool) -> None:
    run = _big_return(world, price).work()
    approve = run.one("approve_return")
    assert approve.status == ("held" if held else "applied")
    assert approve.required_role == ("lead" if held else None)
    if held:  # the return_decision message waits with the decision it announces, for the same lead
        assert run.applied() == []
        assert run.one("notify_customer").status == "held"
        assert run.one("notify_customer").required_role == "lead"
        assert run.one("notify_customer").rule_ids == ["R5", "M4"]
    else:
        assert run.applied() == ["approve_return", "notify_customer"]


@pytest.mark.parametrize(("role", "decision"), [("supervisor", "hold"), ("lead", "apply")])
def test_only_a_lead_can_approve_a_payout_over_100000(world: World_, role: str, decision: str) -> None:
    case = _big_return(world, 100_001)
    approve = next(s for s in case.plan().steps if s.action == "approve_return")
    verdict = case.judge([proposal(approve)], approval=Approval(role=role))[0]  # type: ignore[arg-type]
    assert verdict.decision == decision


def test_a_line_cancel_refund_over_100000_waits_for_a_lead_while_the_cancel_applies(world: World_) -> None:
    set_lines(world, line(price=100_001), line("SKU-2", price=500))
    set_stock(world, "WH-A", on_hand=0)
    world["products"][0]["restock_at"] = None
    run = stockout_case(world).work()
    assert run.applied() == ["cancel_line", "notify_customer"]
    assert run.held() == ["refund"]
    assert run.one("refund").required_role == "lead"


def test_a_held_case_with_a_refund_over_100000_still_needs_a_lead(world: World_) -> None:
    set_lines(world, line(price=100_001))
    order(world)["status"] = "on_hold"
    order(world)["fraud_score"] = 0.95
    run = fraud_case(world).work()
    assert run.one("refund").required_role == "lead"
    assert run.one("cancel_order").required_role == "supervisor"


# --- abuse guard on goodwill ---------------------------------------------------------------------


@pytest.mark.parametrize(("field", "count", "held"), [
    ("refunds_90d", 2, False), ("refunds_90d", 3, True), ("returns_90d", 2, False), ("returns_90d", 3, True),
])
def test_the_abuse_guard_holds_goodwill_and_lets_the_message_go(
        world: World_, field: str, count: int, held: bool) -> None:
    customer(world)[field] = count
    add_shipment(world, eta=PROMISED + hours(72))
    run = delay_case(world).work()
    assert (run.held() if held else run.applied()) == (["store_credit"] if held else
                                                       ["notify_customer", "store_credit"])
    assert "notify_customer" in run.applied()


# --- section 1: confidence thresholds -------------------------------------------------------------


def _notify_case(w: World_) -> Case:
    add_shipment(w, eta=PROMISED + hours(12))
    return delay_case(w)


def _reroute_case(w: World_) -> Case:
    add_shipment(w, status="created", eta=PROMISED + hours(30))
    set_stock(w, "WH-B")
    w["lanes"].append(lane("WH-B", "express", transit=24, cost=1_000))
    return delay_case(w)


def _backorder_case(w: World_) -> Case:
    set_stock(w, "WH-A", on_hand=0)
    w["products"] = [product("SKU-1", restock_at=PROMISED)]
    return stockout_case(w)


def _approve_case(w: World_) -> Case:
    return _big_return(w, 5_000)


def _deny_case(w: World_) -> Case:
    add_shipment(w, status="delivered", eta=NOW - timedelta(days=40), delivered_at=NOW - timedelta(days=40))
    add_return(w, "changed_mind")
    return return_case(w)


def _refund_case(w: World_) -> Case:
    _express_late(w, 1_500)
    return delay_case(w)


def _credit_case(w: World_) -> Case:
    add_shipment(w, eta=PROMISED + hours(72))
    return delay_case(w)


def _release_case(w: World_) -> Case:
    order(w)["status"] = "on_hold"
    order(w)["fraud_score"] = 0.1
    return fraud_case(w)


def _cancel_case(w: World_) -> Case:
    order(w)["status"] = "on_hold"
    order(w)["fraud_score"] = 0.95
    return fraud_case(w)


def _cancel_line_case(w: World_) -> Case:
    set_lines(w, line(price=1_000), line("SKU-2", price=500))
    set_stock(w, "WH-A", on_hand=0)
    return stockout_case(w)


@pytest.mark.parametrize(("build", "action", "threshold"), [
    (_notify_case, "notify_customer", 0.80),
    (_reroute_case, "reroute_shipment", 0.90),
    (_backorder_case, "backorder_line", 0.90),
    (_approve_case, "approve_return", 0.90),
    (_deny_case, "deny_return", 0.90),
    (_refund_case, "refund", 0.95),
    (_credit_case, "store_credit", 0.95),
    (_release_case, "release_hold", 0.95),
    (_cancel_case, "cancel_order", 0.95),
    (_cancel_line_case, "cancel_line", 0.95),
])
@pytest.mark.parametrize(("below", "decision"), [(0.01, "hold"), (0.0, "apply")])
def test_an_action_below_its_class_confidence_threshold_is_held(
        world: World_, build: Callable[[World_], Case], action: str, threshold: float, below: float,
        decision: str) -> None:
    case = build(world)
    steps = case.plan().steps
    assert action in [s.action for s in steps]
    proposals = [proposal(s, confidence=round(threshold - below, 2) if s.action == action else 1.0) for s in steps]
    verdicts = case.judge(proposals)
    got = {s.action: v for s, v in zip(steps, verdicts, strict=True)}[action]
    assert got.decision == decision
    assert ("A1" in got.rule_ids) is (decision == "hold")
