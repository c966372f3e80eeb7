"""The service layer on a real (in-memory SQLite) store: the lifecycle end to end, refusals, detectors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.errors import NotFound, TransitionNotAllowed
from core.models import (
    Customer,
    Event,
    Inventory,
    Order,
    OrderException,
    OrderLine,
    Refund,
    Return,
    Shipment,
    ShipmentLine,
)
from core.services import (
    CarrierUpdate,
    LineRequest,
    OmsRules,
    PlaceOrder,
    allocate_order,
    cancel_order,
    carrier_update,
    dispatch_shipment,
    dispute_return,
    open_return,
    pick_shipment,
    place_order,
    release_hold,
    screen_order,
    settle_return,
    tick,
)


def place(engine: Engine, rules: OmsRules, at: datetime, *lines: tuple[str, int],
          promise_hours: float = 48) -> str:
    cmd = PlaceOrder(customer_id="C-1", ship_region="east", ship_address_id="A-1", shipping_method="standard",
                     fee_cents=500, promised_by=at + timedelta(hours=promise_hours),
                     lines=tuple(LineRequest(sku, qty) for sku, qty in lines or [("SKU-A", 1)]))
    return place_order(engine, cmd, at=at, rules=rules)


def events(engine: Engine) -> list[Event]:
    with Session(engine) as s:
        return list(s.exec(select(Event).order_by(col(Event.seq))).all())


def exceptions(engine: Engine) -> list[OrderException]:
    with Session(engine) as s:
        return list(s.exec(select(OrderException).order_by(col(OrderException.id))).all())


def stock(engine: Engine, location: str, sku: str) -> tuple[int, int]:
    with Session(engine) as s:
        inv = s.get(Inventory, (location, sku))
        assert inv is not None
        return inv.on_hand, inv.reserved


def get(engine: Engine, model: type, ident: str):  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.get(model, ident)


def test_an_order_walks_the_whole_lifecycle_and_every_step_is_in_the_outbox(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid = place(shop, rules, t0, ("SKU-A", 2))
    assert screen_order(shop, oid, 0.05, at=t0, rules=rules).status == "placed"
    alloc = allocate_order(shop, oid, at=t0, rules=rules)
    assert alloc.shorts == () and alloc.exceptions == ()
    (sid,) = alloc.shipments
    assert get(shop, Shipment, sid).location == "WH-E"
    assert stock(shop, "WH-E", "SKU-A") == (3, 2)
    assert pick_shipment(shop, sid, at=t0 + timedelta(hours=2)).picked
    assert get(shop, Order, oid).status == "in_fulfillment"
    dispatch_shipment(shop, sid, at=t0 + timedelta(hours=4))
    assert stock(shop, "WH-E", "SKU-A") == (1, 0)
    assert get(shop, Order, oid).status == "shipped"
    carrier_update(shop, sid, CarrierUpdate("delivered"), at=t0 + timedelta(hours=24), rules=rules)
    assert get(shop, Order, oid).status == "delivered"
    customer = get(shop, Customer, "C-1")
    assert customer.delivered_orders == 1 and customer.delivered_addresses == ["A-1"]
    types = [e.type for e in events(shop)]
    assert types == ["order.placed", "order.screened", "order.allocated", "stock.reserved",
                     "shipment.created", "shipment.picked", "order.in_fulfillment", "shipment.dispatched",
                     "line.shipped", "order.shipped", "shipment.delivered", "line.delivered",
                     "order.delivered"]
    assert exceptions(shop) == []


def test_a_refused_transition_changes_nothing_in_the_store(shop: Engine, rules: OmsRules,
                                                            t0: datetime) -> None:
    oid = place(shop, rules, t0)
    screen_order(shop, oid, 0.0, at=t0, rules=rules)
    (sid,) = allocate_order(shop, oid, at=t0, rules=rules).shipments
    before = (len(events(shop)), stock(shop, "WH-E", "SKU-A"))
    with pytest.raises(TransitionNotAllowed) as err:
        dispatch_shipment(shop, sid, at=t0)
    assert str(err.value) == f"shipment '{sid}' is 'created': cannot dispatch"
    with pytest.raises(TransitionNotAllowed):
        allocate_order(shop, oid, at=t0, rules=rules)
    assert (len(events(shop)), stock(shop, "WH-E", "SKU-A")) == before
    assert get(shop, Shipment, sid).status == "created"


def test_allocation_takes_the_cheapest_location_that_has_the_stock_and_never_oversells(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    first = place(shop, rules, t0, ("SKU-A", 3))
    second = place(shop, rules, t0, ("SKU-A", 1))
    for oid in (first, second):
        screen_order(shop, oid, 0.0, at=t0, rules=rules)
        allocate_order(shop, oid, at=t0, rules=rules)
    with Session(shop) as s:
        locs = [x.location for x in s.exec(select(OrderLine).order_by(col(OrderLine.order_id))).all()]
    assert locs == ["WH-E", "WH-W"]
    assert stock(shop, "WH-E", "SKU-A") == (3, 3)


def test_a_line_no_location_can_cover_raises_one_stockout(shop: Engine, rules: OmsRules,
                                                          t0: datetime) -> None:
    oid = place(shop, rules, t0, ("SKU-A", 1), ("SKU-B", 5))
    screen_order(shop, oid, 0.0, at=t0, rules=rules)
    result = allocate_order(shop, oid, at=t0, rules=rules)
    (exc,) = exceptions(shop)
    assert (exc.type, exc.sku, exc.short_qty, exc.state) == ("stockout", "SKU-B", 5, "open")
    assert result.exceptions == (exc.id,)
    assert stock(shop, "WH-W", "SKU-B") == (2, 0)
    assert len(result.shipments) == 1


def test_a_short_pick_writes_off_the_missing_units_and_raises_a_stockout(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid = place(shop, rules, t0, ("SKU-A", 3))
    screen_order(shop, oid, 0.0, at=t0, rules=rules)
    (sid,) = allocate_order(shop, oid, at=t0, rules=rules).shipments
    result = pick_shipment(shop, sid, at=t0, found={"SKU-A": 1})
    assert not result.picked
    assert stock(shop, "WH-E", "SKU-A") == (1, 1)
    (exc,) = exceptions(shop)
    assert (exc.type, exc.short_qty, exc.location, exc.detail["stage"]) == ("stockout", 2, "WH-E", "pick")
    assert get(shop, Shipment, sid).status == "created"


def test_a_score_of_0_29_passes_screening(shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid = place(shop, rules, t0)
    assert screen_order(shop, oid, 0.29, at=t0, rules=rules).status == "placed"
    assert exceptions(shop) == []


def test_a_score_of_0_30_holds_the_order_and_raises_fraud_hold(shop: Engine, rules: OmsRules,
                                                               t0: datetime) -> None:
    oid = place(shop, rules, t0)
    outcome = screen_order(shop, oid, 0.30, at=t0, rules=rules)
    assert outcome.status == "on_hold"
    (exc,) = exceptions(shop)
    assert (exc.type, exc.order_id, outcome.exceptions) == ("fraud_hold", oid, (exc.id,))
    with pytest.raises(TransitionNotAllowed):
        allocate_order(shop, oid, at=t0, rules=rules)
    assert release_hold(shop, oid, at=t0, fraud_score=0.1).status == "placed"
    allocate_order(shop, oid, at=t0, rules=rules)


def _in_transit(shop: Engine, rules: OmsRules, t0: datetime) -> tuple[str, str]:
    oid = place(shop, rules, t0)
    screen_order(shop, oid, 0.0, at=t0, rules=rules)
    (sid,) = allocate_order(shop, oid, at=t0, rules=rules).shipments
    pick_shipment(shop, sid, at=t0)
    dispatch_shipment(shop, sid, at=t0 + timedelta(hours=1))
    return oid, sid


def test_an_eta_3h59_past_the_promise_is_not_a_delay(shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid, sid = _in_transit(shop, rules, t0)
    promised = get(shop, Order, oid).promised_by
    eta = promised + timedelta(hours=3, minutes=59)
    assert carrier_update(shop, sid, CarrierUpdate("in_transit", eta=eta), at=t0,
                          rules=rules).exceptions == ()
    assert tick(shop, at=t0, rules=rules) == ()


def test_an_eta_4h_past_the_promise_raises_one_delay_however_often_it_is_seen(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid, sid = _in_transit(shop, rules, t0)
    eta = get(shop, Order, oid).promised_by + timedelta(hours=4)
    out = carrier_update(shop, sid, CarrierUpdate("in_transit", eta=eta, remark="hub backlog"),
                         at=t0, rules=rules)
    assert len(out.exceptions) == 1
    assert tick(shop, at=t0 + timedelta(hours=1), rules=rules) == ()
    assert carrier_update(shop, sid, CarrierUpdate("in_transit", eta=eta), at=t0,
                          rules=rules).exceptions == ()
    (exc,) = exceptions(shop)
    assert (exc.type, exc.shipment_id, exc.note) == ("delay", sid, "hub backlog")
    assert exc.detail["delay_hours"] == 4


def test_a_lost_parcel_raises_a_delay_whatever_its_eta(shop: Engine, rules: OmsRules, t0: datetime) -> None:
    _, sid = _in_transit(shop, rules, t0)
    out = carrier_update(shop, sid, CarrierUpdate("lost"), at=t0 + timedelta(hours=5), rules=rules)
    assert out.status == "lost" and len(out.exceptions) == 1
    assert exceptions(shop)[0].detail["lost"] is True
    assert tick(shop, at=t0 + timedelta(hours=6), rules=rules) == ()


def test_a_dispute_raises_a_return_dispute_and_a_second_dispute_is_refused(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid, sid = _in_transit(shop, rules, t0)
    carrier_update(shop, sid, CarrierUpdate("delivered"), at=t0 + timedelta(hours=24), rules=rules)
    rid = open_return(shop, oid, [LineRequest("SKU-A", 1)], at=t0 + timedelta(days=3), reason=None,
                      claim="it arrived dented")
    out = dispute_return(shop, rid, at=t0 + timedelta(days=5), claim="you refused my refund??")
    (exc,) = exceptions(shop)
    assert (exc.type, exc.return_id, exc.note, out.exceptions) == (
        "return_dispute", rid, "you refused my refund??", (exc.id,))
    with pytest.raises(TransitionNotAllowed):
        dispute_return(shop, rid, at=t0 + timedelta(days=6))
    assert tick(shop, at=t0 + timedelta(days=6), rules=rules) == ()


def test_an_undisputed_return_is_settled_with_its_paid_value(shop: Engine, rules: OmsRules,
                                                             t0: datetime) -> None:
    oid, sid = _in_transit(shop, rules, t0)
    carrier_update(shop, sid, CarrierUpdate("delivered"), at=t0 + timedelta(hours=24), rules=rules)
    rid = open_return(shop, oid, [LineRequest("SKU-A", 1)], at=t0 + timedelta(days=3),
                      reason="changed_mind")
    settle_return(shop, rid, at=t0 + timedelta(days=4), approve=True)
    assert get(shop, Return, rid).refund_cents == 4_000
    assert get(shop, Order, oid).refunded_cents == 4_000
    with Session(shop) as s:  # on the refund ledger, as every refund is
        assert [(r.order_id, r.amount_cents, r.reason) for r in s.exec(select(Refund)).all()] == [
            (oid, 4_000, "return")]


def test_cancelling_an_order_gives_its_reservations_back(shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid = place(shop, rules, t0, ("SKU-A", 2))
    screen_order(shop, oid, 0.0, at=t0, rules=rules)
    (sid,) = allocate_order(shop, oid, at=t0, rules=rules).shipments
    cancel_order(shop, oid, at=t0, reason="customer")
    assert stock(shop, "WH-E", "SKU-A") == (3, 0)
    assert get(shop, Shipment, sid).status == "cancelled"
    with pytest.raises(TransitionNotAllowed):
        cancel_order(shop, oid, at=t0, reason="again")


def test_after_a_short_pick_the_shipment_keeps_only_the_units_found_so_it_can_be_picked_and_dispatched(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid = place(shop, rules, t0, ("SKU-A", 3))
    screen_order(shop, oid, 0.0, at=t0, rules=rules)
    (sid,) = allocate_order(shop, oid, at=t0, rules=rules).shipments
    assert not pick_shipment(shop, sid, at=t0, found={"SKU-A": 1}).picked
    with Session(shop) as s:
        assert [x.qty for x in s.exec(select(ShipmentLine).where(ShipmentLine.shipment_id == sid)).all()] == [1]
    assert pick_shipment(shop, sid, at=t0 + timedelta(hours=1), found={"SKU-A": 1}).picked
    dispatch_shipment(shop, sid, at=t0 + timedelta(hours=2))
    assert stock(shop, "WH-E", "SKU-A") == (0, 0)
    assert len(exceptions(shop)) == 1


def test_a_pick_that_finds_nothing_of_a_sku_drops_its_shipment_line(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid = place(shop, rules, t0, ("SKU-A", 2))
    screen_order(shop, oid, 0.0, at=t0, rules=rules)
    (sid,) = allocate_order(shop, oid, at=t0, rules=rules).shipments
    result = pick_shipment(shop, sid, at=t0, found={"SKU-A": 0})
    assert [x.short_qty for x in result.shorts] == [2]
    assert stock(shop, "WH-E", "SKU-A") == (1, 0)
    with Session(shop) as s:
        assert s.exec(select(ShipmentLine).where(ShipmentLine.shipment_id == sid)).all() == []


def test_screening_or_allocating_an_order_in_the_wrong_state_is_refused_by_name_and_changes_nothing(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    """Both move the order by one conditional UPDATE; a refusal is worded from the state it finds."""
    oid = place(shop, rules, t0)
    screen_order(shop, oid, 0.95, at=t0, rules=rules)  # held
    before = (len(events(shop)), get(shop, Order, oid).fraud_score, stock(shop, "WH-E", "SKU-A"))
    with pytest.raises(TransitionNotAllowed) as err:
        allocate_order(shop, oid, at=t0, rules=rules)
    assert str(err.value) == f"order '{oid}' is 'on_hold': cannot allocate"
    with pytest.raises(TransitionNotAllowed) as err:
        screen_order(shop, oid, 0.1, at=t0, rules=rules)
    assert str(err.value) == f"order '{oid}' is 'on_hold': cannot screen"
    assert (len(events(shop)), get(shop, Order, oid).fraud_score, stock(shop, "WH-E", "SKU-A")) == before
    assert get(shop, Order, oid).status == "on_hold"
    with pytest.raises(NotFound):
        allocate_order(shop, "O-404", at=t0, rules=rules)
    with pytest.raises(NotFound):
        screen_order(shop, "O-404", 0.1, at=t0, rules=rules)
