"""Section 6 of the book at its boundaries: R1 window, R2 final sale, R3-R6 by reason, R7 abuse, R8 cut."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from policy_world import (
    NOW,
    PRICE,
    SKU,
    World_,
    actions,
    add_return,
    add_shipment,
    customer,
    line,
    order,
    product,
    return_case,
    set_lines,
    step,
)

DELIVERED = NOW - timedelta(days=10)
DECIDED = ["approve_return", "notify_customer"]
DENIED = ["deny_return", "notify_customer"]


def _returned(w: World_, reason: str | None, *, evidence: bool = True, scan: bool = True,
              delivered_at: datetime | None = DELIVERED, eta: datetime = DELIVERED) -> None:
    add_shipment(w, status="delivered", eta=eta, delivered_at=delivered_at, scan=scan)
    add_return(w, reason, evidence=evidence)


# --- R1: the window ------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "days"), [("standard", 30), ("gold", 60), ("platinum", 90)])
def test_the_last_instant_of_the_window_is_inside_it(world: World_, tier: str, days: int) -> None:
    customer(world)["tier"] = tier
    _returned(world, "changed_mind")
    run = return_case(world, now=DELIVERED + timedelta(days=days)).work()
    assert run.applied() == DECIDED
    assert run.one("approve_return").args == {"return_id": "R-1", "amount_cents": PRICE}


@pytest.mark.parametrize(("tier", "days"), [("standard", 30), ("gold", 60)])
def test_one_second_after_the_window_the_return_is_denied(world: World_, tier: str, days: int) -> None:
    customer(world)["tier"] = tier
    _returned(world, "changed_mind")
    run = return_case(world, now=DELIVERED + timedelta(days=days, seconds=1)).work()
    assert run.applied() == DENIED
    assert run.one("deny_return").args == {"return_id": "R-1", "reason": "outside_window"}
    assert run.one("notify_customer").args["topic"] == "return_decision"


def test_a_platinum_return_outside_the_window_is_held_proposing_the_denial(world: World_) -> None:
    customer(world)["tier"] = "platinum"
    _returned(world, "changed_mind")
    run = return_case(world, now=DELIVERED + timedelta(days=90, seconds=1)).work()
    assert run.applied() == []
    assert run.held() == DENIED
    assert run.one("deny_return").args["reason"] == "outside_window"


@pytest.mark.parametrize(("seconds", "decision"), [(0, "approve_return"), (1, "deny_return")])
def test_the_window_counts_from_the_eta_when_delivered_at_is_null(world: World_, seconds: int, decision: str) -> None:
    _returned(world, "changed_mind", delivered_at=None, eta=DELIVERED)
    plan = return_case(world, now=DELIVERED + timedelta(days=30, seconds=seconds)).plan()
    assert decision in actions(plan)


def test_the_window_counts_from_delivered_at_not_the_eta(world: World_) -> None:
    _returned(world, "changed_mind", delivered_at=DELIVERED, eta=DELIVERED - timedelta(days=5))
    plan = return_case(world, now=DELIVERED + timedelta(days=30)).plan()
    assert "approve_return" in actions(plan)


# --- R2: final sale ------------------------------------------------------------------------------


def _final_sale(w: World_) -> None:
    w["products"] = [product(SKU, returnable=False)]


@pytest.mark.parametrize("reason", ["changed_mind", "not_as_described"])
def test_final_sale_items_are_denied_for_changed_mind_and_not_as_described(world: World_, reason: str) -> None:
    _final_sale(world)
    _returned(world, reason)
    run = return_case(world).work()
    assert run.applied() == DENIED
    assert run.one("deny_return").args == {"return_id": "R-1", "reason": "final_sale"}


@pytest.mark.parametrize("reason", ["damaged", "wrong_item"])
def test_final_sale_items_damaged_or_wrong_hold_the_case_proposing_approval(world: World_, reason: str) -> None:
    _final_sale(world)
    _returned(world, reason, evidence=True)
    run = return_case(world).work()
    assert run.applied() == []
    assert run.held() == DECIDED
    assert run.one("approve_return").args == {"return_id": "R-1", "amount_cents": PRICE}


def test_final_sale_items_not_received_go_on_to_r6(world: World_) -> None:
    _final_sale(world)
    _returned(world, "not_received", scan=False)
    run = return_case(world).work()
    assert run.applied() == DECIDED
    assert "R6" in run.one("approve_return").rule_ids


# --- R3-R6: by reason ----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["damaged", "wrong_item"])
def test_damaged_or_wrong_with_evidence_is_approved_for_the_paid_value(world: World_, reason: str) -> None:
    _returned(world, reason, evidence=True)
    run = return_case(world).work()
    assert run.applied() == DECIDED
    assert run.one("approve_return").args == {"return_id": "R-1", "amount_cents": PRICE}
    assert run.one("notify_customer").args["topic"] == "return_decision"


@pytest.mark.parametrize("reason", ["damaged", "wrong_item"])
def test_damaged_or_wrong_without_evidence_only_asks_for_information(world: World_, reason: str) -> None:
    _returned(world, reason, evidence=False)
    run = return_case(world).work()
    assert run.describe() == [("applied", "notify_customer", {"order_id": "O-1", "topic": "info_request"})]


@pytest.mark.parametrize("reason", ["not_as_described", "changed_mind"])
def test_not_as_described_and_changed_mind_are_approved_without_the_shipping_fee(world: World_, reason: str) -> None:
    set_lines(world, line(price=7_000), fee=999)
    _returned(world, reason, evidence=False)
    run = return_case(world).work()
    assert run.applied() == DECIDED
    assert run.one("approve_return").args == {"return_id": "R-1", "amount_cents": 7_000}


def test_the_paid_value_is_the_returned_quantity_times_the_unit_price(world: World_) -> None:
    set_lines(world, line(qty=3, price=2_500), line("SKU-2", price=900))
    add_shipment(world, status="delivered", eta=DELIVERED, delivered_at=DELIVERED, scan=True)
    add_return(world, "changed_mind", items=[(SKU, 2)])
    assert step(return_case(world).plan(), "approve_return").args["amount_cents"] == 5_000


@pytest.mark.parametrize(("scan", "held"), [(False, False), (True, True)])
def test_not_received_is_approved_without_a_delivery_scan_and_held_with_one(
        world: World_, scan: bool, held: bool) -> None:
    _returned(world, "not_received", scan=scan)
    run = return_case(world).work()
    assert (run.held() if held else run.applied()) == DECIDED
    assert run.one("approve_return").args == {"return_id": "R-1", "amount_cents": PRICE}


# --- R7: the abuse guard -------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "count", "held"), [
    ("refunds_90d", 2, False), ("refunds_90d", 3, True), ("returns_90d", 2, False), ("returns_90d", 3, True),
])
def test_the_abuse_guard_holds_the_approval_and_its_message_waits_with_it(
        world: World_, field: str, count: int, held: bool) -> None:
    customer(world)[field] = count
    _returned(world, "damaged", evidence=True)
    run = return_case(world).work()
    if held:
        assert run.held() == DECIDED
        assert run.applied() == []
        assert run.one("approve_return").rule_ids == ["R3", "R7"]
        assert run.one("notify_customer").rule_ids == ["R3", "R7"]
    else:
        assert run.applied() == DECIDED


def test_the_abuse_guard_does_not_hold_a_denial(world: World_) -> None:
    customer(world)["refunds_90d"] = 5
    _returned(world, "changed_mind")
    run = return_case(world, now=DELIVERED + timedelta(days=31)).work()
    assert run.applied() == DENIED


# --- R8: never more than refundable --------------------------------------------------------------


@pytest.mark.parametrize(("refunded", "amount"), [(0, PRICE), (4_000, 6_000), (10_000 - PRICE, PRICE)])
def test_an_approved_amount_is_cut_to_the_refundable_amount(world: World_, refunded: int, amount: int) -> None:
    order(world)["payment"] = {"captured_cents": 10_000, "refunded_cents": refunded}
    _returned(world, "changed_mind")
    run = return_case(world).work()
    assert run.applied() == DECIDED
    assert run.one("approve_return").args["amount_cents"] == amount


# --- what counts as undecided --------------------------------------------------------------------


def test_an_open_return_is_not_yet_decided(world: World_) -> None:
    _returned(world, "changed_mind")
    order(world)["returns"][0]["status"] = "open"
    plan = return_case(world).plan()
    assert "approve_return" in actions(plan)
