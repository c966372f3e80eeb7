"""A world snapshot (shared/spec/cases.md, `world`): its schema, its reference checks, its import.

A snapshot either loads whole into a fresh store or not at all: the import
runs in one transaction, after every field and reference has been checked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt
from sqlalchemy import Engine
from sqlmodel import Session

from core.models import (
    Customer,
    Inventory,
    Lane,
    Location,
    Order,
    OrderLine,
    Product,
    Refund,
    Return,
    ReturnLine,
    Shipment,
    ShipmentLine,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Service = Literal["standard", "express", "same_day"]


class WorldSettings(_Strict):
    carbon_cents_per_kg: NonNegativeInt | None = Field(default=None, description="None: the book's default")


class LocationIn(_Strict):
    id: str
    kind: Literal["warehouse", "store", "3pl", "seller"]
    region: str
    handling_hours: float = Field(ge=0)


class LaneIn(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: str = Field(alias="from")
    to_region: str
    service: Service
    transit_hours: float = Field(ge=0)
    cost_cents: NonNegativeInt
    co2_grams: NonNegativeInt


class ProductIn(_Strict):
    sku: str
    name: str
    price_cents: NonNegativeInt
    returnable: bool
    restock_at: AwareDatetime | None


class InventoryIn(_Strict):
    location: str
    sku: str
    on_hand: NonNegativeInt
    reserved: NonNegativeInt


class CustomerIn(_Strict):
    id: str
    name: str
    email: str
    tier: Literal["standard", "gold", "platinum"]
    locale: str
    delivered_orders: NonNegativeInt
    chargebacks: NonNegativeInt
    refunds_90d: NonNegativeInt
    returns_90d: NonNegativeInt
    delivered_addresses: list[str]


class ShipTo(_Strict):
    region: str
    address_id: str


class Shipping(_Strict):
    method: Service
    fee_cents: NonNegativeInt
    promised_by: AwareDatetime


class LineIn(_Strict):
    sku: str
    qty: int = Field(gt=0)
    unit_price_cents: NonNegativeInt
    location: str
    status: Literal["open", "shipped", "delivered", "cancelled", "backordered"]


class Payment(_Strict):
    captured_cents: NonNegativeInt
    refunded_cents: NonNegativeInt


class ItemQty(_Strict):
    sku: str
    qty: int = Field(gt=0)


class ShipmentIn(_Strict):
    id: str
    location: str
    service: Service
    status: Literal["created", "picked", "in_transit", "delivered", "lost"]
    eta: AwareDatetime
    lines: list[ItemQty]
    delivered_at: AwareDatetime | None
    carrier_delivered_scan: bool


class ReturnIn(_Strict):
    id: str
    lines: list[ItemQty]
    reason: Literal["damaged", "wrong_item", "not_as_described", "changed_mind", "not_received"] | None
    evidence: bool
    claim: str
    status: Literal["open", "disputed"]


class OrderIn(_Strict):
    id: str
    customer: str
    placed_at: AwareDatetime
    status: Literal["on_hold", "allocated", "in_fulfillment", "shipped", "delivered", "cancelled"]
    ship_to: ShipTo
    shipping: Shipping
    lines: list[LineIn]
    payment: Payment
    fraud_score: float = Field(ge=0, le=1)
    goodwill_given: bool
    shipments: list[ShipmentIn]
    returns: list[ReturnIn]


class World(_Strict):
    settings: WorldSettings = WorldSettings()
    locations: list[LocationIn]
    lanes: list[LaneIn]
    products: list[ProductIn]
    inventory: list[InventoryIn]
    customers: list[CustomerIn]
    orders: list[OrderIn]


def reference_errors(world: World) -> list[tuple[str, str]]:
    """Every id that does not resolve or is given twice, as (field path, message)."""
    errors: list[tuple[str, str]] = []
    locations = _unique(errors, "world.locations", [x.id for x in world.locations])
    skus = _unique(errors, "world.products", [p.sku for p in world.products], key="sku")
    customers = _unique(errors, "world.customers", [c.id for c in world.customers])
    _unique(errors, "world.orders", [o.id for o in world.orders])
    _unique(errors, "world.orders[*].shipments",
            [s.id for o in world.orders for s in o.shipments])
    _unique(errors, "world.orders[*].returns", [r.id for o in world.orders for r in o.returns])

    def need(value: str, known: set[str], path: str, what: str) -> None:
        if value not in known:
            errors.append((path, f"{what} {value!r} does not exist"))

    lanes: set[tuple[str, str, str]] = set()
    for i, lane in enumerate(world.lanes):
        need(lane.from_, locations, f"world.lanes[{i}].from", "location")
        key = (lane.from_, lane.to_region, lane.service)
        if key in lanes:
            errors.append((f"world.lanes[{i}]", f"lane {key} is given twice"))
        lanes.add(key)
    stock: set[tuple[str, str]] = set()
    for i, inv in enumerate(world.inventory):
        need(inv.location, locations, f"world.inventory[{i}].location", "location")
        need(inv.sku, skus, f"world.inventory[{i}].sku", "sku")
        if (inv.location, inv.sku) in stock:
            errors.append((f"world.inventory[{i}]", f"stock of {inv.sku} at {inv.location} is given twice"))
        stock.add((inv.location, inv.sku))
    for i, order in enumerate(world.orders):
        at = f"world.orders[{i}]"
        need(order.customer, customers, f"{at}.customer", "customer")
        order_skus = {line.sku for line in order.lines}
        for j, line in enumerate(order.lines):
            need(line.sku, skus, f"{at}.lines[{j}].sku", "sku")
            need(line.location, locations, f"{at}.lines[{j}].location", "location")
        for j, shipment in enumerate(order.shipments):
            need(shipment.location, locations, f"{at}.shipments[{j}].location", "location")
            for k, item in enumerate(shipment.lines):
                need(item.sku, order_skus, f"{at}.shipments[{j}].lines[{k}].sku", "order line sku")
        for j, ret in enumerate(order.returns):
            for k, item in enumerate(ret.lines):
                need(item.sku, order_skus, f"{at}.returns[{j}].lines[{k}].sku", "order line sku")
    return errors


def _unique(errors: list[tuple[str, str]], path: str, ids: list[str], key: str = "id") -> set[str]:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            errors.append((f"{path}[{i}].{key}" if "*" not in path else path,
                           f"{key} {ident!r} is given twice"))
        seen.add(ident)
    return seen


def import_world(engine: Engine, world: World) -> None:
    """Load a checked snapshot into an empty store, in one transaction."""
    with Session(engine) as session:
        for group in _row_groups(world):
            session.add_all(group)
            session.flush()
        session.commit()


def _row_groups(world: World) -> list[list[object]]:
    """Rows in the order their foreign keys need (there are no ORM relationships to sort them)."""
    rows: list[object] = []
    rows += [Location(id=x.id, kind=x.kind, region=x.region, handling_hours=x.handling_hours)
             for x in world.locations]
    rows += [Product(sku=p.sku, name=p.name, price_cents=p.price_cents, returnable=p.returnable,
                     restock_at=p.restock_at) for p in world.products]
    groups = [rows]
    rows = []
    rows += [Lane(from_location=x.from_, to_region=x.to_region, service=x.service,
                  transit_hours=x.transit_hours, cost_cents=x.cost_cents, co2_grams=x.co2_grams)
             for x in world.lanes]
    rows += [Inventory(location=x.location, sku=x.sku, on_hand=x.on_hand, reserved=x.reserved)
             for x in world.inventory]
    rows += [Customer(**c.model_dump()) for c in world.customers]
    groups.append(rows)
    orders: list[object] = []
    rows = []
    for o in world.orders:
        orders.append(Order(
            id=o.id, customer_id=o.customer, placed_at=o.placed_at, status=o.status,
            ship_region=o.ship_to.region, ship_address_id=o.ship_to.address_id,
            shipping_method=o.shipping.method, fee_cents=o.shipping.fee_cents,
            promised_by=o.shipping.promised_by, captured_cents=o.payment.captured_cents,
            refunded_cents=o.payment.refunded_cents, fraud_score=o.fraud_score,
            goodwill_given=o.goodwill_given,
        ))
        rows += [OrderLine(order_id=o.id, line_no=n, sku=x.sku, qty=x.qty,
                           unit_price_cents=x.unit_price_cents, location=x.location,
                           status=x.status)
                 for n, x in enumerate(o.lines, start=1)]
        for s in o.shipments:
            rows.append(Shipment(id=s.id, order_id=o.id, location=s.location, service=s.service,
                                 status=s.status, eta=s.eta, delivered_at=s.delivered_at,
                                 carrier_delivered_scan=s.carrier_delivered_scan))
            rows += [ShipmentLine(shipment_id=s.id, sku=x.sku, qty=x.qty) for x in s.lines]
        if o.payment.refunded_cents:  # what was refunded before the snapshot is on the ledger too
            rows.append(Refund(order_id=o.id, amount_cents=o.payment.refunded_cents, reason="before_import",
                               at=o.placed_at))
        for r in o.returns:
            rows.append(Return(id=r.id, order_id=o.id, reason=r.reason, evidence=r.evidence,
                               claim=r.claim, status=r.status))
            rows += [ReturnLine(return_id=r.id, sku=x.sku, qty=x.qty) for x in r.lines]
    parents: list[object] = [r for r in rows if isinstance(r, Shipment | Return)]
    children = [r for r in rows if not isinstance(r, Shipment | Return)]
    return [*groups, orders, parents, children]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
