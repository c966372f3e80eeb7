"""World snapshots load whole into a fresh store, or not at all."""

from __future__ import annotations

import json

import pytest
from casekit import SHARED_CASES, shared_case
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.models import Inventory, Order, OrderLine, Refund, Shipment
from core.store import fresh_memory_engine
from core.world import World, import_world, reference_errors


def test_every_world_of_the_shared_suite_imports() -> None:
    files = sorted(SHARED_CASES.glob("*.json"))
    if not files:
        pytest.skip("the shared example suite is not beside the repository")
    for path in files:
        world = World.model_validate(json.loads(path.read_text())["world"])
        assert reference_errors(world) == [], path.name
        engine = fresh_memory_engine()
        import_world(engine, world)
        with Session(engine) as s:
            assert len(s.exec(select(Order)).all()) == len(world.orders), path.name


def test_an_unresolved_reference_is_named_by_its_field() -> None:
    raw = shared_case("delay-express-gold-30h")["world"]
    raw["orders"][0]["shipments"][0]["location"] = "DC-NOWHERE"
    assert reference_errors(World.model_validate(raw)) == [
        ("world.orders[0].shipments[0].location", "location 'DC-NOWHERE' does not exist")]


def test_an_unknown_key_is_refused_naming_the_field() -> None:
    raw = shared_case("delay-express-gold-30h")["world"]
    raw["orders"][0]["shiping"] = raw["orders"][0]["shipping"]
    with pytest.raises(ValidationError) as err:
        World.model_validate(raw)
    assert err.value.errors()[0]["loc"] == ("orders", 0, "shiping")


def test_a_snapshot_that_fails_mid_import_leaves_nothing_behind() -> None:
    raw = shared_case("delay-express-gold-30h")["world"]
    raw["orders"][0]["lines"][0]["sku"] = "NO-SUCH-SKU"  # the check would catch it; import it anyway
    engine = fresh_memory_engine()
    with pytest.raises(IntegrityError):
        import_world(engine, World.model_validate(raw))
    with Session(engine) as s:
        for table in (Order, OrderLine, Shipment, Inventory):
            assert s.exec(select(table)).all() == []


def test_what_a_snapshot_already_refunded_is_on_the_refund_ledger() -> None:
    raw = shared_case("delay-express-gold-30h")["world"]
    raw["orders"][0]["payment"]["refunded_cents"] = 1_000
    engine = fresh_memory_engine()
    import_world(engine, World.model_validate(raw))
    with Session(engine) as s:
        order = s.get(Order, raw["orders"][0]["id"])
        rows = s.exec(select(Refund).where(Refund.order_id == raw["orders"][0]["id"])).all()
        assert order is not None and order.refunded_cents == sum(r.amount_cents for r in rows) == 1_000
        assert [(r.reason, r.exception_id) for r in rows] == [("before_import", None)]
