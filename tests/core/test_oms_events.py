"""The OMS events a shop sends while exceptions wait (policy book, "Plans go stale"): stock received, a re-score,
a customer's evidence. Each is a command with its event in the outbox, and refuses what makes no sense."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from test_services import _in_transit, get, place, stock

from core.errors import NotFound, PreconditionFailed
from core.models import Event, Order, Return
from core.services import (
    CarrierUpdate,
    LineRequest,
    OmsRules,
    add_return_evidence,
    carrier_update,
    open_return,
    receive_stock,
    rescore_order,
    screen_order,
    settle_return,
)


def last_event(engine: Engine, type_: str) -> Event:
    with Session(engine) as s:
        found = s.exec(select(Event).where(Event.type == type_).order_by(col(Event.seq).desc())).first()
        assert found is not None, type_
        return found


def test_received_stock_adds_to_on_hand_and_says_how_much_is_available(shop: Engine, t0: datetime) -> None:
    assert receive_stock(shop, "WH-E", "SKU-A", 4, at=t0).status == "7"
    assert stock(shop, "WH-E", "SKU-A") == (7, 0)
    e = last_event(shop, "stock.received")
    assert (e.aggregate_id, e.data) == ("WH-E/SKU-A", {"location": "WH-E", "sku": "SKU-A", "qty": 4, "on_hand": 7,
                                                       "atp": 7})


def test_the_first_units_of_a_sku_at_a_location_make_its_stock_row(shop: Engine, t0: datetime) -> None:
    receive_stock(shop, "WH-E", "SKU-B", 2, at=t0)
    assert stock(shop, "WH-E", "SKU-B") == (2, 0)


@pytest.mark.parametrize(("location", "sku", "qty", "error"), [
    ("WH-E", "SKU-A", 0, PreconditionFailed), ("WH-E", "SKU-A", -3, PreconditionFailed),
    ("WH-NOWHERE", "SKU-A", 1, NotFound), ("WH-E", "SKU-NONE", 1, NotFound)])
def test_receiving_nothing_or_at_an_unknown_place_is_refused_and_changes_nothing(
        shop: Engine, t0: datetime, location: str, sku: str, qty: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        receive_stock(shop, location, sku, qty, at=t0)
    assert stock(shop, "WH-E", "SKU-A") == (3, 0)
    with Session(shop) as s:
        assert s.exec(select(Event).where(Event.type == "stock.received")).first() is None


def test_a_rescore_changes_the_score_and_leaves_the_hold_to_the_policy(shop: Engine, rules: OmsRules,
                                                                       t0: datetime) -> None:
    oid = place(shop, rules, t0)
    assert screen_order(shop, oid, 0.8, at=t0, rules=rules).status == "on_hold"
    assert rescore_order(shop, oid, 0.12, at=t0 + timedelta(hours=3)).status == "on_hold"
    order = get(shop, Order, oid)
    assert (order.status, order.fraud_score) == ("on_hold", 0.12)
    e = last_event(shop, "order.rescored")
    assert (e.aggregate_id, e.data) == (oid, {"previous": 0.8, "fraud_score": 0.12, "status": "on_hold"})
    with pytest.raises(PreconditionFailed, match="fraud score"):
        rescore_order(shop, oid, 1.5, at=t0)
    with pytest.raises(NotFound):
        rescore_order(shop, "O-NONE", 0.1, at=t0)


def test_evidence_for_an_undecided_return_is_recorded_and_for_a_decided_one_refused(
        shop: Engine, rules: OmsRules, t0: datetime) -> None:
    oid, sid = _in_transit(shop, rules, t0)
    carrier_update(shop, sid, CarrierUpdate("delivered"), at=t0 + timedelta(hours=24), rules=rules)
    rid = open_return(shop, oid, [LineRequest("SKU-A", 1)], at=t0 + timedelta(days=2), reason="damaged",
                      claim="dented")
    assert add_return_evidence(shop, rid, at=t0 + timedelta(days=3), evidence=True).status == "open"
    ret = get(shop, Return, rid)
    assert (ret.evidence, ret.claim) == (True, "dented")
    e = last_event(shop, "return.evidence_received")
    assert (e.aggregate_id, e.data) == (rid, {"order_id": oid, "evidence": True, "claim": None, "status": "open"})
    add_return_evidence(shop, rid, at=t0 + timedelta(days=3), evidence=True, claim="photos attached")
    assert get(shop, Return, rid).claim == "photos attached"
    settle_return(shop, rid, at=t0 + timedelta(days=4), approve=True)
    with pytest.raises(PreconditionFailed, match="already decided"):
        add_return_evidence(shop, rid, at=t0 + timedelta(days=5), evidence=True)
