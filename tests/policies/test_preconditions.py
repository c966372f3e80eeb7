"""Section 7's preconditions as pure checks, each at its edge, with the text and the rule each failure cites.

The judge runs them before anything else and every write tool again at apply time, so a check must be
right on its own, not only because N0 would deny the same proposal for another reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.facts import (
    CustomerFacts,
    ExceptionFacts,
    Facts,
    ItemFacts,
    LaneFacts,
    LineFacts,
    LocationFacts,
    OrderFacts,
    ProductFacts,
    ReturnFacts,
    ShipmentFacts,
    StockFacts,
)
from policies import actions as a
from policies.preconditions import Failure, Ledger, precondition_failure, precondition_problem

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RESTOCK = NOW + timedelta(days=3)


def line(n: int, sku: str, qty: int = 1, status: str = "open", at: str = "WH-A") -> LineFacts:
    return LineFacts(line_no=n, sku=sku, qty=qty, unit_price_cents=1_000, location=at, status=status)


def shipment(status: str, *items: tuple[str, int], id_: str = "S-1", at: str = "WH-A") -> ShipmentFacts:
    return ShipmentFacts(id=id_, location=at, service="standard", status=status, eta=NOW, delivered_at=None,
                         carrier_delivered_scan=False, lines=tuple(ItemFacts(sku=s, qty=q) for s, q in items))


def facts(*, lines: tuple[LineFacts, ...] = (line(1, "SKU-1", 2),), shipments: tuple[ShipmentFacts, ...] = (),
          status: str = "allocated", captured: int = 5_000, refunded: int = 0,
          returns: tuple[ReturnFacts, ...] = (), stock: tuple[tuple[str, str, int, int], ...] = ()) -> Facts:
    """O-1 of C-1 to region R; WH-A and WH-B with standard lanes to R (WH-C has none); SKU-2 has a restock."""
    return Facts(
        now=NOW, carbon_cents_per_kg=10,
        exception=ExceptionFacts(id="EX-1", type="stockout", order_id="O-1"),
        order=OrderFacts(id="O-1", customer_id="C-1", status=status, ship_region="R", ship_address_id="A-1",
                         shipping_method="standard", fee_cents=0, promised_by=NOW, captured_cents=captured,
                         refunded_cents=refunded, fraud_score=0.0, goodwill_given=False, lines=lines,
                         shipments=shipments, returns=returns),
        customer=CustomerFacts(id="C-1", name="Dana", email="dana@example.com", tier="standard", locale="en-US",
                               delivered_orders=0, chargebacks=0, refunds_90d=0, returns_90d=0,
                               delivered_addresses=()),
        products={"SKU-1": ProductFacts(sku="SKU-1", name="One", price_cents=1_000, returnable=True, restock_at=None),
                  "SKU-2": ProductFacts(sku="SKU-2", name="Two", price_cents=1_000, returnable=True,
                                        restock_at=RESTOCK)},
        locations={x: LocationFacts(id=x, kind="warehouse", region="R", handling_hours=0)
                   for x in ("WH-A", "WH-B", "WH-C")},
        lanes=tuple(LaneFacts(from_location=x, to_region="R", service="standard", transit_hours=24, cost_cents=500,
                              co2_grams=0) for x in ("WH-A", "WH-B")),
        stock=tuple(StockFacts(location=loc, sku=sku, on_hand=on, reserved=res) for loc, sku, on, res in stock),
    )


def check(action: str, f: Facts, ledger: Ledger | None = None, **args: Any) -> Failure | None:
    return precondition_failure(a.parse_args(action, args), f, ledger)


# --- reroute_shipment ----------------------------------------------------------------------------------

IN_TRANSIT = facts(shipments=(shipment("in_transit", ("SKU-1", 2)),), stock=(("WH-B", "SKU-1", 2, 0),))


@pytest.mark.parametrize(("status", "reship", "problem"), [
    ("created", False, None), ("picked", False, None), ("in_transit", True, None), ("lost", True, None),
    ("in_transit", False, "shipment S-1 is in_transit: only a reship can move it now"),
    ("lost", False, "shipment S-1 is lost: only a reship can move it now"),
    ("delivered", True, "shipment S-1 is delivered"), ("delivered", False, "shipment S-1 is delivered"),
])
def test_a_reroute_needs_a_shipment_not_delivered_and_a_reship_once_it_has_left(
        status: str, reship: bool, problem: str | None) -> None:
    f = facts(shipments=(shipment(status, ("SKU-1", 2)),), stock=(("WH-B", "SKU-1", 2, 0),))
    found = check("reroute_shipment", f, shipment_id="S-1", to_location="WH-B", service="standard", reship=reship)
    assert (found and found.text) == problem


@pytest.mark.parametrize(("on_hand", "reserved", "problem"), [
    (2, 0, None), (3, 1, None), (3, 2, "WH-B lacks the ATP for SKU-1"), (1, 0, "WH-B lacks the ATP for SKU-1"),
])
def test_a_reroute_needs_the_atp_at_its_location_to_the_unit(on_hand: int, reserved: int, problem: str | None) -> None:
    f = facts(shipments=(shipment("created", ("SKU-1", 2)),), stock=(("WH-B", "SKU-1", on_hand, reserved),))
    found = check("reroute_shipment", f, shipment_id="S-1", to_location="WH-B", service="standard")
    assert (found and found.text) == problem


def test_a_reroute_names_every_sku_short_at_the_location() -> None:
    f = facts(lines=(line(1, "SKU-1"), line(2, "SKU-2")),
              shipments=(shipment("created", ("SKU-1", 1), ("SKU-2", 1)),))
    found = check("reroute_shipment", f, shipment_id="S-1", to_location="WH-B", service="standard")
    assert found == Failure("WH-B lacks the ATP for SKU-1, SKU-2")


def test_a_shipment_keeps_its_own_goods_unless_it_is_reshipped() -> None:
    f = facts(shipments=(shipment("created", ("SKU-1", 2)),))
    assert check("reroute_shipment", f, shipment_id="S-1", to_location="WH-A", service="standard") is None
    lost = facts(shipments=(shipment("lost", ("SKU-1", 2)),))
    found = check("reroute_shipment", lost, shipment_id="S-1", to_location="WH-A", service="standard", reship=True)
    assert found == Failure("WH-A lacks the ATP for SKU-1")


@pytest.mark.parametrize(("to", "service", "problem"), [
    ("WH-C", "standard", "no standard lane from 'WH-C' to R"),
    ("WH-B", "express", "no express lane from 'WH-B' to R"),
    ("WH-X", "standard", "no standard lane from 'WH-X' to R"),
])
def test_a_reroute_needs_a_lane_from_a_known_location(to: str, service: str, problem: str) -> None:
    f = facts(shipments=(shipment("created", ("SKU-1", 2)),),
              stock=(("WH-B", "SKU-1", 5, 0), ("WH-C", "SKU-1", 5, 0), ("WH-X", "SKU-1", 5, 0)))
    assert check("reroute_shipment", f, shipment_id="S-1", to_location=to, service=service) == Failure(problem)


def test_a_reroute_of_another_orders_shipment_is_refused() -> None:
    found = check("reroute_shipment", IN_TRANSIT, shipment_id="S-9", to_location="WH-B", service="standard",
                  reship=True)
    assert found == Failure("shipment 'S-9' is not part of order 'O-1'")


# --- reallocate_line, backorder_line, cancel_line -------------------------------------------------------


@pytest.mark.parametrize(("on_hand", "reserved", "problem"), [
    (2, 0, None), (3, 1, None), (2, 1, "WH-B has 1 of SKU-1 available, 2 needed"),
    (0, 0, "WH-B has 0 of SKU-1 available, 2 needed"),
])
def test_a_move_needs_the_atp_to_the_unit(on_hand: int, reserved: int, problem: str | None) -> None:
    f = facts(stock=(("WH-B", "SKU-1", on_hand, reserved),))
    found = check("reallocate_line", f, order_id="O-1", sku="SKU-1", qty=2, to_location="WH-B")
    assert (found and found.text) == problem


@pytest.mark.parametrize(("lines", "qty", "problem"), [
    ((line(1, "SKU-1", 2),), 2, None),
    ((line(1, "SKU-1", 1), line(2, "SKU-1", 1, "backordered")), 2, None),
    ((line(1, "SKU-1", 1), line(2, "SKU-1", 1, "cancelled")), 2, "no open line of SKU-1 with 2 units"),
    ((line(1, "SKU-1", 1), line(2, "SKU-1", 1, "shipped")), 2, "no open line of SKU-1 with 2 units"),
    ((line(1, "SKU-1", 2), line(2, "SKU-2", 5)), 3, "no open line of SKU-1 with 3 units"),
])
def test_a_move_needs_that_many_units_still_open_of_that_sku(lines: tuple[LineFacts, ...], qty: int,
                                                              problem: str | None) -> None:
    f = facts(lines=lines, stock=(("WH-B", "SKU-1", 9, 0),))
    found = check("reallocate_line", f, order_id="O-1", sku="SKU-1", qty=qty, to_location="WH-B")
    assert (found and found.text) == problem


def test_a_move_to_an_unknown_location_or_of_another_order_is_refused() -> None:
    f = facts(stock=(("WH-X", "SKU-1", 9, 0),))
    assert check("reallocate_line", f, order_id="O-1", sku="SKU-1", qty=1, to_location="WH-X") == Failure(
        "location 'WH-X' serves no lane to R")
    assert check("reallocate_line", f, order_id="O-2", sku="SKU-1", qty=1, to_location="WH-B") == Failure(
        "order 'O-2' is not this exception's order 'O-1'")


@pytest.mark.parametrize(("sku", "qty", "problem"), [
    ("SKU-2", 1, None), ("SKU-1", 1, "SKU-1 has no restock date"), ("SKU-9", 1, "SKU-9 has no restock date"),
    ("SKU-2", 2, "no open line of SKU-2 with 2 units"),
])
def test_a_backorder_needs_a_restock_date_and_open_units(sku: str, qty: int, problem: str | None) -> None:
    f = facts(lines=(line(1, "SKU-1"), line(2, "SKU-2")))
    found = check("backorder_line", f, order_id="O-1", sku=sku, qty=qty, expected_at=RESTOCK.isoformat())
    assert (found and found.text) == problem


@pytest.mark.parametrize(("lines", "shipments", "qty", "problem"), [
    ((line(1, "SKU-1", 2),), (), 2, None),
    ((line(1, "SKU-1", 2, "shipped"),), (shipment("lost", ("SKU-1", 2)),), 2, None),
    ((line(1, "SKU-1", 1), line(2, "SKU-1", 1, "shipped")), (shipment("lost", ("SKU-1", 1)),), 2, None),
    ((line(1, "SKU-1", 2, "shipped"),), (shipment("in_transit", ("SKU-1", 2)),), 1,
     "1 of SKU-1 are not open or lost: shipped lines cannot be cancelled"),
    ((line(1, "SKU-1", 2, "cancelled"),), (), 1, "1 of SKU-1 are not open or lost: shipped lines cannot be cancelled"),
    ((line(1, "SKU-1", 1), line(2, "SKU-1", 1, "shipped")), (shipment("in_transit", ("SKU-1", 1)),), 2,
     "2 of SKU-1 are not open or lost: shipped lines cannot be cancelled"),
])
def test_cancelling_a_line_needs_units_not_shipped_or_lost(lines: tuple[LineFacts, ...],
                                                            shipments: tuple[ShipmentFacts, ...], qty: int,
                                                            problem: str | None) -> None:
    found = check("cancel_line", facts(lines=lines, shipments=shipments), order_id="O-1", sku="SKU-1", qty=qty)
    assert (found and found.text) == problem


@pytest.mark.parametrize(("status", "shipments", "problem"), [
    ("allocated", (shipment("in_transit", ("SKU-1", 2)), shipment("lost", ("SKU-1", 2), id_="S-2")), None),
    ("shipped", (shipment("delivered", ("SKU-1", 2)),), "order O-1 has a delivered shipment"),
    ("cancelled", (), "order O-1 is already cancelled"),
])
def test_cancelling_an_order_needs_no_shipment_delivered(status: str, shipments: tuple[ShipmentFacts, ...],
                                                         problem: str | None) -> None:
    found = check("cancel_order", facts(status=status, shipments=shipments), order_id="O-1", reason="x")
    assert (found and found.text) == problem


# --- money ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "refunded", "failure"), [
    (5_000, 0, None), (4_000, 1_000, None), (1, 0, None),
    (4_001, 1_000, Failure("refund of $40.01 exceeds the refundable $40.00 (M1)", "M1")),
    (0, 0, Failure("a refund must be more than 0", "M1")), (-1, 0, Failure("a refund must be more than 0", "M1")),
])
def test_a_refund_is_more_than_0_and_at_most_the_refundable(amount: int, refunded: int,
                                                            failure: Failure | None) -> None:
    found = check("refund", facts(refunded=refunded), order_id="O-1", amount_cents=amount, reason="goodwill")
    assert found == failure


def test_earlier_payouts_of_the_batch_use_up_the_refundable() -> None:
    ledger = Ledger()
    ledger.refunded_cents = 3_000
    assert check("refund", facts(), ledger, order_id="O-1", amount_cents=2_000, reason="goodwill") is None
    assert check("refund", facts(), ledger, order_id="O-1", amount_cents=2_001, reason="goodwill") == Failure(
        "refund of $20.01 exceeds the refundable $20.00 (M1)", "M1")
    assert check("approve_return", facts(returns=(_return("open"),)), ledger, return_id="R-1",
                 amount_cents=2_001) == Failure("approving $20.01 exceeds the refundable $20.00 (R8)", "R8")


@pytest.mark.parametrize(("reason", "status", "ledger", "failure"), [
    ("order_cancel", "allocated", {}, Failure("an order_cancel refund needs the order cancelled first (M5)", "M5")),
    ("order_cancel", "cancelled", {}, None),
    ("order_cancel", "allocated", {"order_cancelled": True}, None),
    ("order_cancel", "allocated", {"lines_cancelled": 1}, Failure(
        "an order_cancel refund needs the order cancelled first (M5)", "M5")),
    ("line_cancel", "allocated", {}, Failure("a line_cancel refund needs a cancelled line (M5)", "M5")),
    ("line_cancel", "allocated", {"lines_cancelled": 1}, None),
    ("line_cancel", "allocated", {"order_cancelled": True}, None),
    ("line_cancel", "cancelled", {}, None),
    ("return", "allocated", {}, None),
])
def test_a_cancellation_refund_needs_its_cancellation(reason: str, status: str, ledger: dict[str, Any],
                                                      failure: Failure | None) -> None:
    batch = Ledger()
    for key, value in ledger.items():
        setattr(batch, key, value)
    found = check("refund", facts(status=status), batch, order_id="O-1", amount_cents=1_000, reason=reason)
    assert found == failure


def test_a_line_cancelled_before_lets_a_line_cancel_refund_through_its_precondition() -> None:
    f = facts(lines=(line(1, "SKU-1"), line(2, "SKU-2", status="cancelled")))
    assert check("refund", f, order_id="O-1", amount_cents=1_000, reason="line_cancel") is None


@pytest.mark.parametrize(("customer", "amount", "problem"), [
    ("C-1", 1, None), ("C-1", 0, "a store credit must be more than 0"),
    ("C-1", -5, "a store credit must be more than 0"),
    ("C-2", 500, "customer 'C-2' is not this order's customer"),
])
def test_a_store_credit_goes_to_the_orders_customer_and_is_more_than_0(customer: str, amount: int,
                                                                       problem: str | None) -> None:
    found = check("store_credit", facts(), customer_id=customer, amount_cents=amount, reason="delay")
    assert (found and found.text) == problem


@pytest.mark.parametrize(("status", "problem"), [
    ("on_hold", None), ("allocated", "order O-1 is allocated, not on hold"),
    ("cancelled", "order O-1 is cancelled, not on hold"),
])
def test_release_needs_the_order_on_hold(status: str, problem: str | None) -> None:
    found = check("release_hold", facts(status=status), order_id="O-1")
    assert (found and found.text) == problem


def _return(status: str) -> ReturnFacts:
    return ReturnFacts(id="R-1", reason="damaged", evidence=True, claim="", status=status,
                       lines=(ItemFacts(sku="SKU-1", qty=1),))


@pytest.mark.parametrize(("status", "amount", "failure"), [
    ("open", 5_000, None), ("disputed", 0, None),
    ("open", 5_001, Failure("approving $50.01 exceeds the refundable $50.00 (R8)", "R8")),
    ("open", -1, Failure("an approved amount cannot be negative (-$0.01)")),
    ("approved", 1_000, Failure("return R-1 is already approved")),
    ("denied", 1_000, Failure("return R-1 is already denied")),
])
def test_approving_a_return_needs_it_undecided_and_at_most_the_refundable(status: str, amount: int,
                                                                          failure: Failure | None) -> None:
    found = check("approve_return", facts(returns=(_return(status),)), return_id="R-1", amount_cents=amount)
    assert found == failure


@pytest.mark.parametrize(("return_id", "status", "problem"), [
    ("R-1", "disputed", None), ("R-1", "approved", "return R-1 is already approved"),
    ("R-9", "open", "return 'R-9' is not part of order 'O-1'"),
])
def test_denying_a_return_needs_it_undecided_and_of_this_order(return_id: str, status: str,
                                                               problem: str | None) -> None:
    found = check("deny_return", facts(returns=(_return(status),)), return_id=return_id, reason="final_sale")
    assert (found and found.text) == problem


# --- notify_customer and the wrappers --------------------------------------------------------------------


def test_a_delay_message_needs_its_eta_and_any_message_this_order() -> None:
    f = facts()
    assert check("notify_customer", f, order_id="O-1", topic="delay", body="x") == Failure(
        "a delay message needs the ETA it promises")
    assert check("notify_customer", f, order_id="O-1", topic="delay", eta=NOW.isoformat(), body="x") is None
    assert check("notify_customer", f, order_id="O-1", topic="backorder", body="x") is None
    assert check("notify_customer", f, order_id="O-2", topic="backorder", body="x") == Failure(
        "order 'O-2' is not this exception's order 'O-1'")


def test_precondition_problem_is_the_failures_text_and_a_failure_cites_p7_unless_it_names_a_money_rule() -> None:
    args = a.parse_args("release_hold", {"order_id": "O-1"})
    assert precondition_problem(args, facts()) == "order O-1 is allocated, not on hold"
    assert precondition_problem(args, facts(status="on_hold")) is None
    assert precondition_failure(args, facts()) == Failure("order O-1 is allocated, not on hold", "P7")
    assert str(Failure("text", "M1")) == "text"
    spent = Ledger()
    spent.refunded_cents = 4_500
    refund = a.parse_args("refund", {"order_id": "O-1", "amount_cents": 600, "reason": "goodwill"})
    assert precondition_problem(refund, facts()) is None
    assert precondition_problem(refund, facts(), spent) == "refund of $6.00 exceeds the refundable $5.00 (M1)"


def test_a_fresh_ledger_has_used_up_nothing() -> None:
    ledger = Ledger()
    assert (ledger.refunded_cents, ledger.order_cancelled, ledger.lines_cancelled) == (0, False, 0)
