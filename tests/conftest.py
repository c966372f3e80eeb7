"""Shared fixtures: a fresh migrated in-memory store, the book's rules, a tiny two-warehouse shop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.detectors import Triggers
from core.models import Customer, Inventory, Lane, Location, Product
from core.services import OmsRules
from core.store import fresh_memory_engine
from policies.book import BOOK

pytest_plugins = ["servicekit"]  # the service's store fixtures (clock, db_url, runtime), shared by api/ and worker/

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def t0() -> datetime:
    return T0


@pytest.fixture
def engine() -> Engine:
    return fresh_memory_engine()


@pytest.fixture
def rules() -> OmsRules:
    return OmsRules(Triggers(delay_hours=BOOK.triggers.delay_hours,
                             fraud_hold_score=BOOK.triggers.fraud_hold_score),
                    carbon_cents_per_kg=BOOK.carbon.cents_per_kg_default)


@pytest.fixture
def shop(engine: Engine) -> Engine:
    """WH-E (east, cheap to east) and WH-W (west); SKU-A stocked at both, SKU-B at WH-W only."""
    with Session(engine) as s:
        s.add_all([Location(id="WH-E", kind="warehouse", region="east", handling_hours=4),
                   Location(id="WH-W", kind="warehouse", region="west", handling_hours=4),
                   Product(sku="SKU-A", name="Kettle", price_cents=4_000),
                   Product(sku="SKU-B", name="Lamp", price_cents=9_000, returnable=False),
                   Customer(id="C-1", name="Ada", email="ada@example.com")])
        s.flush()
        s.add_all([Lane(from_location="WH-E", to_region="east", service="standard", transit_hours=20,
                        cost_cents=600, co2_grams=900),
                   Lane(from_location="WH-W", to_region="east", service="standard", transit_hours=44,
                        cost_cents=1_100, co2_grams=2_400),
                   Inventory(location="WH-E", sku="SKU-A", on_hand=3, reserved=0),
                   Inventory(location="WH-W", sku="SKU-A", on_hand=5, reserved=0),
                   Inventory(location="WH-W", sku="SKU-B", on_hand=2, reserved=0)])
        s.commit()
    return engine
