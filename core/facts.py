"""A read-only snapshot of everything the policy needs to judge one exception.

Built from the store by `load_facts`; the rules, the judge and the planners
are pure functions of it, which is what makes a verdict reproducible and
testable without a database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BindParameter, Connection, bindparam, select
from sqlmodel import Session

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
from core.sqlfast import Statements


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
    args: dict[str, Any]


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


_X, _O, _C = OrderException.__table__, Order.__table__, Customer.__table__
_L, _S, _SL = OrderLine.__table__, Shipment.__table__, ShipmentLine.__table__
_R, _RL, _P = Return.__table__, ReturnLine.__table__, Product.__table__
_LANE, _LOC, _INV, _A = Lane.__table__, Location.__table__, Inventory.__table__, ActionRecord.__table__
_ID: BindParameter[str] = bindparam("id")
_ORDER: BindParameter[str] = bindparam("order")
_SKUS: BindParameter[list[str]] = bindparam("skus", expanding=True)
_QUERIES: dict[str, Any] = {
    "exception": select(_X).where(_X.c.id == _ID),
    "order": select(_O).where(_O.c.id == _ID),
    "customer": select(_C).where(_C.c.id == _ID),
    "lines": select(_L).where(_L.c.order_id == _ORDER).order_by(_L.c.line_no),
    "shipments": select(_S).where(_S.c.order_id == _ORDER).order_by(_S.c.id),
    "ship_lines": select(_SL).join(_S).where(_S.c.order_id == _ORDER).order_by(_SL.c.id),
    "returns": select(_R).where(_R.c.order_id == _ORDER).order_by(_R.c.id),
    "ret_lines": select(_RL).join(_R).where(_R.c.order_id == _ORDER).order_by(_RL.c.id),
    "products": select(_P).where(_P.c.sku.in_(_SKUS)),
    "lanes": select(_LANE).where(_LANE.c.to_region == bindparam("region")).order_by(_LANE.c.id),
    "locations": select(_LOC).where(_LOC.c.id.in_(bindparam("ids", expanding=True))),
    "stock": select(_INV).where(_INV.c.sku.in_(_SKUS)).order_by(_INV.c.location, _INV.c.sku),
    "prior": select(_A.c.action, _A.c.status, _A.c.args).where(
        _A.c.exception_id == _ID, _A.c.status.in_(bindparam("statuses", expanding=True))).order_by(_A.c.id),
}
_COLUMNS = {name: tuple(c.key for c in q.selected_columns) for name, q in _QUERIES.items()}
_DB = Statements(_QUERIES)
"""Run on the driver cursor (`core.sqlfast`): load_facts runs before every guarded write, and
SQLAlchemy's per-execution work cost more than these small reads."""
_PRIOR = ["applied", "held"]


def load_facts(session: Session | Connection, exception_id: str, now: datetime,
               carbon_cents_per_kg: int, *, reuse: Facts | None = None) -> Facts:
    """One exception's slice of the OMS, by prepared column queries (this runs on every guarded write).

    `reuse`: facts of the same exception loaded earlier in the same transaction. Its
    products, locations and lanes (reference data no write tool changes) are taken
    from it when they cover what this load needs, instead of being read again; the
    order, its lines, shipments, returns, the customer, stock and prior actions
    are always read afresh. Takes a session or, where no ORM is needed, its unit's connection.
    """
    conn = session if isinstance(session, Connection) else session.connection()

    def rows(name: str, **params: Any) -> list[dict[str, Any]]:
        if any(isinstance(v, list) and not v for v in params.values()):
            return []  # IN () matches nothing
        columns = _COLUMNS[name]
        return [dict(zip(columns, r, strict=True)) for r in _DB.tuples(conn, name, params)]

    def one(name: str, ident: str) -> dict[str, Any]:
        found = rows(name, id=ident)
        if not found:
            raise NotFound(name, ident)
        return found[0]

    x = one("exception", exception_id)
    o = one("order", x["order_id"])
    c = one("customer", o["customer_id"])
    lines = rows("lines", order=o["id"])
    shipments = rows("shipments", order=o["id"])
    ship_lines = rows("ship_lines", order=o["id"]) if shipments else []
    returns = rows("returns", order=o["id"])
    ret_lines = rows("ret_lines", order=o["id"]) if returns else []
    skus = sorted({x["sku"] for x in lines})
    if reuse is not None and reuse.exception.id == exception_id and set(skus) <= reuse.products.keys():
        products = {k: reuse.products[k] for k in skus}
    else:
        products = {p["sku"]: ProductFacts(**{k: p[k] for k in ProductFacts.model_fields})
                    for p in rows("products", skus=skus)}
    if reuse is not None and reuse.order.ship_region == o["ship_region"]:
        lanes = reuse.lanes
    else:
        lanes = tuple(LaneFacts(**{k: r[k] for k in LaneFacts.model_fields})
                      for r in rows("lanes", region=o["ship_region"]))
    loc_ids = sorted({x.from_location for x in lanes} | {x["location"] for x in lines}
                     | {x["location"] for x in shipments})
    if reuse is not None and set(loc_ids) <= reuse.locations.keys():
        locations = {k: reuse.locations[k] for k in loc_ids}
    else:
        locations = {r["id"]: LocationFacts(**{k: r[k] for k in LocationFacts.model_fields})
                     for r in rows("locations", ids=loc_ids)}
    stock = rows("stock", skus=skus)
    prior = rows("prior", id=exception_id, statuses=_PRIOR)

    def items(source: list[dict[str, Any]], key: str, owner: str) -> tuple[ItemFacts, ...]:
        return tuple(ItemFacts(sku=r["sku"], qty=r["qty"]) for r in source if r[key] == owner)

    return Facts(
        now=now,
        carbon_cents_per_kg=carbon_cents_per_kg,
        exception=ExceptionFacts(**{k: x[k] for k in ExceptionFacts.model_fields}),
        order=OrderFacts(
            **{k: o[k] for k in OrderFacts.model_fields if k not in ("lines", "shipments", "returns")},
            lines=tuple(LineFacts(**{k: r[k] for k in LineFacts.model_fields}) for r in lines),
            shipments=tuple(ShipmentFacts(**{k: r[k] for k in ShipmentFacts.model_fields if k != "lines"},
                                          lines=items(ship_lines, "shipment_id", r["id"])) for r in shipments),
            returns=tuple(ReturnFacts(**{k: r[k] for k in ReturnFacts.model_fields if k != "lines"},
                                      lines=items(ret_lines, "return_id", r["id"])) for r in returns),
        ),
        customer=CustomerFacts(**{k: c[k] for k in CustomerFacts.model_fields if k != "delivered_addresses"},
                               delivered_addresses=tuple(c["delivered_addresses"] or ())),
        products=products,
        locations=locations,
        lanes=lanes,
        stock=tuple(StockFacts(**{k: r[k] for k in StockFacts.model_fields}) for r in stock),
        prior_actions=tuple(PriorAction(**r) for r in prior),
    )
