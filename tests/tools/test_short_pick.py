"""After a short pick, releasing the missing units never gives back a reservation that is still held."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.models import Inventory, OrderException, OrderLine, Product
from core.services import (
    LineRequest,
    OmsRules,
    PlaceOrder,
    allocate_order,
    cancel_order,
    pick_shipment,
    place_order,
    screen_order,
)
from policies.actions import Proposal
from policies.judge import Verdict
from tools.records import record_proposals
from tools.runner import apply_record


def _allocated(shop: Engine, rules: OmsRules, at: datetime, qty: int) -> tuple[str, str]:
    cmd = PlaceOrder(customer_id="C-1", ship_region="east", ship_address_id="A-1", shipping_method="standard",
                     fee_cents=500, promised_by=at + timedelta(hours=48), lines=(LineRequest("SKU-A", qty),))
    order_id = place_order(shop, cmd, at=at, rules=rules)
    screen_order(shop, order_id, 0.0, at=at, rules=rules)
    (shipment_id,) = allocate_order(shop, order_id, at=at, rules=rules).shipments
    return order_id, shipment_id


def _short_picked(shop: Engine, rules: OmsRules, at: datetime) -> tuple[str, str]:
    """Order 1 reserves 2 of SKU-A at WH-E and its pick finds 1; order 2 holds the third unit there."""
    first, shipment_id = _allocated(shop, rules, at, 2)
    _allocated(shop, rules, at, 1)
    assert _stock(shop, "WH-E") == (3, 3)
    assert not pick_shipment(shop, shipment_id, at=at, found={"SKU-A": 1}).picked
    assert _stock(shop, "WH-E") == (2, 2)  # the missing unit is written off with its reservation
    with Session(shop) as s:
        (exc,) = s.exec(select(OrderException).where(OrderException.type == "stockout")).all()
    return first, exc.id


def _stock(shop: Engine, location: str) -> tuple[int, int]:
    with Session(shop) as s:
        row = s.get(Inventory, (location, "SKU-A"))
        assert row is not None
        return row.on_hand, row.reserved


def _lines(shop: Engine, order_id: str) -> list[tuple[int, str, str, bool]]:
    with Session(shop) as s:
        return [(x.qty, x.location, x.status, x.reserved) for x in s.exec(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.line_no))).all()]


def _apply(shop: Engine, exception_id: str, action: str, args: dict, at: datetime) -> str:  # type: ignore[type-arg]
    verdict = Verdict(decision="apply", rule_ids=("test",), reasons=(), policy_version="test")
    with Session(shop) as s:
        [rec] = record_proposals(s, exception_id, [Proposal(action=action, args=args, confidence=1.0)], [verdict],
                                 planner="test", now=at, actor="test")
        s.commit()
    return apply_record(shop, rec.id, now=at, actor="test").status


def test_a_short_pick_leaves_the_missing_units_on_a_line_of_their_own_that_holds_no_reservation(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    order_id, _ = _short_picked(shop, rules, t0)
    assert _lines(shop, order_id) == [(1, "WH-E", "open", True), (1, "WH-E", "open", False)]


def test_reallocating_the_units_a_short_pick_wrote_off_keeps_the_reservation_of_the_units_found(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    order_id, exception_id = _short_picked(shop, rules, t0)
    status = _apply(shop, exception_id, "reallocate_line",
                    {"order_id": order_id, "sku": "SKU-A", "qty": 1, "to_location": "WH-W"}, t0)
    assert status == "applied"
    assert _stock(shop, "WH-E") == (2, 2)  # the unit found for order 1 and order 2's unit: both still held
    assert _stock(shop, "WH-W") == (5, 1)
    assert _lines(shop, order_id) == [(1, "WH-E", "open", True), (1, "WH-W", "open", True)]


def test_backordering_the_units_a_short_pick_wrote_off_releases_nothing(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    order_id, exception_id = _short_picked(shop, rules, t0)
    with Session(shop) as s:
        product = s.get(Product, "SKU-A")
        assert product is not None
        product.restock_at = t0 + timedelta(days=3)  # a backorder needs a restock date
        s.add(product)
        s.commit()
    status = _apply(shop, exception_id, "backorder_line",
                    {"order_id": order_id, "sku": "SKU-A", "qty": 1,
                     "expected_at": (t0 + timedelta(days=3)).isoformat()}, t0)
    assert status == "applied"
    assert _stock(shop, "WH-E") == (2, 2)
    assert _lines(shop, order_id) == [(1, "WH-E", "open", True), (1, "WH-E", "backordered", False)]


def test_cancelling_an_order_after_a_short_pick_gives_back_only_the_unit_found(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    order_id, _ = _short_picked(shop, rules, t0)
    cancel_order(shop, order_id, at=t0, reason="customer")
    assert _stock(shop, "WH-E") == (2, 1)  # order 2's unit stays reserved


def test_cancelling_the_units_a_short_pick_wrote_off_releases_nothing(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    order_id, exception_id = _short_picked(shop, rules, t0)
    assert _apply(shop, exception_id, "cancel_line", {"order_id": order_id, "sku": "SKU-A", "qty": 1}, t0) == "applied"
    assert _stock(shop, "WH-E") == (2, 2)
    assert _lines(shop, order_id) == [(1, "WH-E", "open", True), (1, "WH-E", "cancelled", False)]
