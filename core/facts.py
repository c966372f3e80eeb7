"""A read-only snapshot of everything the policy needs to judge one exception.

Built from the store by `load_facts`; the rules, the judge and the planners
are pure functions of it, which is what makes a verdict reproducible and
testable without a database.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from core.errors import NotFound
from core.models import (
    ActionRecord,
    Customer,
    Inventory,
    Lane,
    Location,
    Order,
    OrderException,
    OrderLine,
    Product,
    Return,
    ReturnLine,
    Shipment,
    ShipmentLine,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LineFacts(_Frozen):
    line_no: int
    sku: str
    qty: int
    unit_price_cents: int
    location: str
    status: str


class ItemFacts(_Frozen):
    sku: str
    qty: int


class ShipmentFacts(_Frozen):
    id: str
    location: str
    service: str
    status: str
    eta: datetime
    delivered_at: datetime | None
    carrier_delivered_scan: bool
    lines: tuple[ItemFacts, ...]


class ReturnFacts(_Frozen):
    id: str
    reason: str | None
    evidence: bool
    claim: str
    status: str
    lines: tuple[ItemFacts, ...]


class OrderFacts(_Frozen):
    id: str
    customer_id: str
    status: str
    ship_region: str
    ship_address_id: str
    shipping_method: str
    fee_cents: int
    promised_by: datetime
    captured_cents: int
    refunded_cents: int
    fraud_score: float
    goodwill_given: bool
    lines: tuple[LineFacts, ...]
    shipments: tuple[ShipmentFacts, ...]
    returns: tuple[ReturnFacts, ...]

    @property
    def refundable_cents(self) -> int:
        return self.captured_cents - self.refunded_cents

    @property
    def merchandise_cents(self) -> int:
        """Σ qty × unit price over lines not cancelled."""
        return sum(x.qty * x.unit_price_cents for x in self.lines if x.status != "cancelled")

    def shipment(self, shipment_id: str | None) -> ShipmentFacts | None:
        return next((s for s in self.shipments if s.id == shipment_id), None)

    def return_(self, return_id: str | None) -> ReturnFacts | None:
        return next((r for r in self.returns if r.id == return_id), None)

    def unit_price(self, sku: str) -> int:
        return next(x.unit_price_cents for x in self.lines if x.sku == sku)


class CustomerFacts(_Frozen):
    id: str
    name: str
    email: str
    tier: str
    locale: str
    delivered_orders: int
    chargebacks: int
    refunds_90d: int
    returns_90d: int
    delivered_addresses: tuple[str, ...]


class ProductFacts(_Frozen):
    sku: str
    name: str
    price_cents: int
    returnable: bool
    restock_at: datetime | None


class LocationFacts(_Frozen):
    id: str
    kind: str
    region: str
    handling_hours: float


class LaneFacts(_Frozen):
    from_location: str
    to_region: str
    service: str
    transit_hours: float
    cost_cents: int
    co2_grams: int


class StockFacts(_Frozen):
    location: str
    sku: str
    on_hand: int
    reserved: int

    @property
    def atp(self) -> int:
        return max(self.on_hand - self.reserved, 0)


class ExceptionFacts(_Frozen):
    id: str
    type: str
    order_id: str
    shipment_id: str | None = None
    sku: str | None = None
    location: str | None = None
    short_qty: int | None = None
    return_id: str | None = None
    note: str | None = None


class PriorAction(_Frozen):
    """An action already applied or held for this exception (ceilings count them)."""

    action: str
    status: str
    args: dict[str, object]


class Facts(_Frozen):
    now: datetime
    carbon_cents_per_kg: int
    exception: ExceptionFacts
    order: OrderFacts
    customer: CustomerFacts
    products: dict[str, ProductFacts]
    locations: dict[str, LocationFacts]
    lanes: tuple[LaneFacts, ...]
    stock: tuple[StockFacts, ...]
    prior_actions: tuple[PriorAction, ...] = ()

    def atp(self, location: str, sku: str) -> int:
        return next((s.atp for s in self.stock if s.location == location and s.sku == sku), 0)

    def lanes_to(self, region: str) -> list[LaneFacts]:
        return [x for x in self.lanes if x.to_region == region]

    def lane(self, location: str, region: str, service: str) -> LaneFacts | None:
        return next((x for x in self.lanes if (x.from_location, x.to_region, x.service)
                     == (location, region, service)), None)


def load_facts(session: Session, exception_id: str, now: datetime,
               carbon_cents_per_kg: int) -> Facts:
    exc = session.get(OrderException, exception_id)
    if exc is None:
        raise NotFound("exception", exception_id)
    order = session.get(Order, exc.order_id)
    if order is None:
        raise NotFound("order", exc.order_id)
    customer = session.get(Customer, order.customer_id)
    if customer is None:
        raise NotFound("customer", order.customer_id)
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id)
                         .order_by(col(OrderLine.line_no))).all()
    shipments = session.exec(select(Shipment).where(Shipment.order_id == order.id)
                             .order_by(col(Shipment.id))).all()
    ship_ids = [s.id for s in shipments]
    ship_lines = session.exec(select(ShipmentLine).where(col(ShipmentLine.shipment_id).in_(ship_ids))
                              .order_by(col(ShipmentLine.id))).all() if ship_ids else []
    returns = session.exec(select(Return).where(Return.order_id == order.id)
                           .order_by(col(Return.id))).all()
    ret_ids = [r.id for r in returns]
    ret_lines = session.exec(select(ReturnLine).where(col(ReturnLine.return_id).in_(ret_ids))
                             .order_by(col(ReturnLine.id))).all() if ret_ids else []
    skus = sorted({x.sku for x in lines})
    products = session.exec(select(Product).where(col(Product.sku).in_(skus))).all()
    lanes = session.exec(select(Lane).where(Lane.to_region == order.ship_region)
                         .order_by(col(Lane.id))).all()
    loc_ids = sorted({x.from_location for x in lanes} | {x.location for x in lines}
                     | {s.location for s in shipments})
    locations = session.exec(select(Location).where(col(Location.id).in_(loc_ids))).all()
    stock = session.exec(select(Inventory).where(col(Inventory.sku).in_(skus))
                         .order_by(col(Inventory.location), col(Inventory.sku))).all()
    prior = session.exec(select(ActionRecord).where(ActionRecord.exception_id == exc.id)
                         .where(col(ActionRecord.status).in_(["applied", "held"]))
                         .order_by(col(ActionRecord.id))).all()

    def items(rows: list[ShipmentLine] | list[ReturnLine], key: str, owner: str) -> tuple[ItemFacts, ...]:
        return tuple(ItemFacts(sku=r.sku, qty=r.qty) for r in rows if getattr(r, key) == owner)

    return Facts(
        now=now,
        carbon_cents_per_kg=carbon_cents_per_kg,
        exception=ExceptionFacts(
            id=exc.id, type=exc.type, order_id=exc.order_id, shipment_id=exc.shipment_id,
            sku=exc.sku, location=exc.location, short_qty=exc.short_qty,
            return_id=exc.return_id, note=exc.note),
        order=OrderFacts(
            id=order.id, customer_id=order.customer_id, status=order.status,
            ship_region=order.ship_region, ship_address_id=order.ship_address_id,
            shipping_method=order.shipping_method, fee_cents=order.fee_cents,
            promised_by=order.promised_by, captured_cents=order.captured_cents,
            refunded_cents=order.refunded_cents, fraud_score=order.fraud_score,
            goodwill_given=order.goodwill_given,
            lines=tuple(LineFacts(line_no=x.line_no, sku=x.sku, qty=x.qty,
                                  unit_price_cents=x.unit_price_cents, location=x.location,
                                  status=x.status) for x in lines),
            shipments=tuple(ShipmentFacts(
                id=s.id, location=s.location, service=s.service, status=s.status, eta=s.eta,
                delivered_at=s.delivered_at, carrier_delivered_scan=s.carrier_delivered_scan,
                lines=items(list(ship_lines), "shipment_id", s.id)) for s in shipments),
            returns=tuple(ReturnFacts(
                id=r.id, reason=r.reason, evidence=r.evidence, claim=r.claim, status=r.status,
                lines=items(list(ret_lines), "return_id", r.id)) for r in returns),
        ),
        customer=CustomerFacts(
            id=customer.id, name=customer.name, email=customer.email, tier=customer.tier,
            locale=customer.locale, delivered_orders=customer.delivered_orders,
            chargebacks=customer.chargebacks, refunds_90d=customer.refunds_90d,
            returns_90d=customer.returns_90d,
            delivered_addresses=tuple(customer.delivered_addresses or ())),
        products={p.sku: ProductFacts(sku=p.sku, name=p.name, price_cents=p.price_cents,
                                      returnable=p.returnable, restock_at=p.restock_at)
                  for p in products},
        locations={x.id: LocationFacts(id=x.id, kind=x.kind, region=x.region,
                                       handling_hours=x.handling_hours) for x in locations},
        lanes=tuple(LaneFacts(from_location=x.from_location, to_region=x.to_region,
                              service=x.service, transit_hours=x.transit_hours,
                              cost_cents=x.cost_cents, co2_grams=x.co2_grams) for x in lanes),
        stock=tuple(StockFacts(location=s.location, sku=s.sku, on_hand=s.on_hand,
                               reserved=s.reserved) for s in stock),
        prior_actions=tuple(PriorAction(action=a.action, status=a.status, args=a.args)
                            for a in prior),
    )
