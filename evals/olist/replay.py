"""Replay Olist history through the OMS and the agents, as if the control tower had been running then.

A discrete-event loop on a virtual clock, like the simulator's: every recorded
happening (a purchase, a hand-off, a delivery, a review) and every detector
check (a shipping limit, a promise + 4 h) is an agenda entry (time, sequence,
step). Orders enter in purchase-time order; every state change goes through
`core.services`; every exception is worked at once by the same graph and rules
planner the worker runs (`agents.service.work_exception`), under the book as
written. Detectors read the store at their moment, never the recorded future.

Composition root: the book's numbers (triggers, carbon price) arrive in `rules`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, text
from sqlmodel import Session, col, select

from agents.service import work_exception
from core import services
from core.clock import VirtualClock, utc
from core.detectors import delay_hours
from core.jsonvalue import iso
from core.models import Customer, ExceptionType, Lane, Location, OrderException, OrderLine, Product, Shipment
from core.olist.detect import dispatch_eta, missed_dispatch, overdue, overdue_eta
from core.olist.mapping import SERVICE, UNKNOWN_ITEM, UNKNOWN_SELLER, Mapped, ReplayOrder, ReviewCase
from core.olist.ratecard import RateCard
from core.services import CarrierUpdate, LineRequest, OmsRules, PlaceOrder
from core.store import UnitOfWork
from core.world import CustomerIn, ItemQty, LineIn, OrderIn, Payment, ShipmentIn, Shipping, ShipTo, World, import_world

FRAUD_SCORE = 0.0
"""The extract has no payment screening score; every order screens clean (so no `fraud_hold` is raised)."""


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    step: Callable[[datetime], None] = field(compare=False)


@dataclass(frozen=True)
class Raised:
    """One exception the replay raised: by which check, on which order, and when against the promise."""

    exception_id: str
    type: str
    check: str
    order_id: str
    raised_at: datetime
    promised_by: datetime


@dataclass
class ReplayLog:
    """What the driver knows that the store does not: which check raised what."""

    raised: list[Raised] = field(default_factory=list)
    orders: int = 0
    reviews: int = 0
    started: datetime | None = None
    ended: datetime | None = None


class OlistReplay:
    def __init__(self, engine: Engine, mapped: Mapped, card: RateCard, *, rules: OmsRules,
                 on_order: Callable[[], None] | None = None) -> None:
        self.engine, self.mapped, self.card, self.rules = engine, mapped, card, rules
        self.on_order = on_order
        self._agenda: list[_Due] = []
        self._n = 0
        self.clock: VirtualClock | None = None
        self.log = ReplayLog()
        self._region = {x["id"]: x["region"] for x in mapped.locations}
        self._lanes = {(x["from_location"], x["to_region"]): x for x in mapped.lanes}
        self._open: dict[tuple[str, str], int] = {}

    # ---- the agenda

    def at(self, when: datetime, step: Callable[[datetime], None]) -> None:
        self._n += 1
        heapq.heappush(self._agenda, _Due(utc(when), self._n, step))

    def run(self, limit: int | None = None) -> ReplayLog:
        """Load the network, schedule the first `limit` orders (purchase order) and their reviews, run to idle."""
        orders = self.mapped.orders[:limit] if limit is not None else self.mapped.orders
        self._load_network()
        for o in orders:
            self.at(o.placed_at, lambda t, o=o: self.place(t, o))
        first, last = (orders[0].placed_at, orders[-1].placed_at) if orders else (None, None)
        for r in self.mapped.reviews:
            if limit is None or (first is not None and last is not None and first <= r.placed_at <= last):
                self.at(r.disputed_at, lambda t, r=r: self.review(t, r))
        if not self._agenda:
            return self.log
        self.clock = VirtualClock(self._agenda[0].at)
        self.log.started = self.clock.now()
        while self._agenda:
            due = heapq.heappop(self._agenda)
            now = self.clock.set(max(due.at, self.clock.now()))
            due.step(now)
        self.log.ended = self.clock.now()
        return self.log

    def _load_network(self) -> None:
        """Sellers, listings, customers and the placeholder seller's lanes, in bulk; seller lanes open with use."""
        m = self.mapped
        with self.engine.begin() as conn:
            for model, rows in ((Location, m.locations), (Product, m.products), (Customer, m.customers),
                                (Lane, [x for x in m.lanes if x["from_location"] == UNKNOWN_SELLER])):
                if rows:
                    conn.execute(insert(model.__table__), rows)  # type: ignore[attr-defined]

    def _lanes_in_use(self, o: ReplayOrder, delta: int) -> None:
        """A seller's lane to a state is open while it has a parcel bound there (rates from the card).

        A listing's stock is only ever at its own seller, so no other seller's lane
        can serve an alternative: the option searches give the same answers over
        the open lanes as over all 4,000, at a fraction of the cost.
        """
        with self.engine.begin() as conn:
            for seller in sorted({x.seller for x in o.lines} - {UNKNOWN_SELLER}):
                key = (seller, o.ship_region)
                before = self._open.get(key, 0)
                self._open[key] = before + delta
                if before == 0 and delta > 0:
                    conn.execute(insert(Lane.__table__), [self._lanes[key]])  # type: ignore[attr-defined]
                elif before + delta == 0:
                    conn.execute(delete(Lane.__table__).where(  # type: ignore[attr-defined]
                        Lane.from_location == seller, Lane.to_region == o.ship_region))

    # ---- exceptions

    def _work(self, ids: tuple[str, ...] | list[str], check: str, order: ReplayOrder | ReviewCase,
              now: datetime) -> None:
        assert self.clock is not None
        for eid in ids:
            with Session(self.engine) as s:
                exc = s.get(OrderException, eid)
                assert exc is not None
                kind = exc.type
            self.log.raised.append(Raised(eid, kind, check, order.id, now, order.promised_by))
            work_exception(self.engine, eid, clock=self.clock)

    # ---- the lifecycle, as recorded

    def place(self, now: datetime, o: ReplayOrder) -> None:
        self._lanes_in_use(o, +1)
        self._stock_and_price(o)
        services.place_order(self.engine, PlaceOrder(
            customer_id=o.customer_id, ship_region=o.ship_region, ship_address_id=o.address_id,
            shipping_method=SERVICE, fee_cents=o.fee_cents, promised_by=o.promised_by,
            lines=tuple(LineRequest(x.sku, x.qty) for x in o.lines), order_id=o.id), at=now, rules=self.rules)
        services.screen_order(self.engine, o.id, FRAUD_SCORE, at=now, rules=self.rules)
        result = services.allocate_order(self.engine, o.id, at=now, rules=self.rules)
        self._deadlines(o, result.shipments)
        self.log.orders += 1
        if self.on_order is not None:
            self.on_order()
        self._work(result.exceptions, "allocation", o, now)
        if o.status == "canceled":
            # Olist records no cancellation time: the order is cancelled as it is placed, before any check.
            services.cancel_order(self.engine, o.id, at=now, reason="cancelled in the marketplace's records")
            self._lanes_in_use(o, -1)
            return
        if o.carrier_at is not None:
            self.at(o.carrier_at, lambda t: self.hand_off(t, o))
        if o.delivered_at is not None:
            self.at(o.delivered_at, lambda t: self.deliver(t, o))
        for sid in result.shipments:
            dispatch_by = self._dispatch_by(sid)
            if dispatch_by is not None:
                self.at(dispatch_by, lambda t, sid=sid: self.check_dispatch(t, o, sid))
            self.at(o.promised_by + timedelta(hours=self.rules.triggers.delay_hours),
                    lambda t, sid=sid: self.check_overdue(t, o, sid))

    def hand_off(self, now: datetime, o: ReplayOrder) -> None:
        for shp in self._shipments(o.id):
            if shp.status == "created":
                services.pick_shipment(self.engine, shp.id, at=now)
                services.dispatch_shipment(self.engine, shp.id, at=now)

    def deliver(self, now: datetime, o: ReplayOrder) -> None:
        for shp in self._shipments(o.id):
            if shp.status in ("created", "picked"):
                self.hand_off(now, o)
            if shp.status in ("created", "picked", "in_transit"):
                services.carrier_update(self.engine, shp.id, CarrierUpdate("delivered", scan=True), at=now,
                                        rules=self.rules)
        self._lanes_in_use(o, -1)

    def check_dispatch(self, now: datetime, o: ReplayOrder, sid: str) -> None:
        shp = self._shipment(sid)
        if not missed_dispatch(shp.status, shp.dispatch_by, now):
            return
        eta = dispatch_eta(now, self._lanes[(shp.location, o.ship_region)]["transit_hours"])
        raised = services.carrier_update(self.engine, sid, CarrierUpdate(
            "in_transit", eta=eta, remark="the seller missed its shipping limit"), at=now, rules=self.rules).exceptions
        if not raised:
            with UnitOfWork(self.engine) as uow:
                exc = services.raise_once(
                    uow, type=ExceptionType.delay, trigger=f"dispatch_by:{iso(now)}", order_id=o.id, at=now,
                    shipment_id=sid, note="the seller missed its shipping limit",
                    detail={"delay_hours": round(delay_hours(eta, o.promised_by), 4), "eta": iso(eta),
                            "promised_by": iso(o.promised_by), "lost": False, "missed_dispatch": True})
                uow.commit()
                raised = (exc.id,) if exc is not None else ()
        self._work(raised, "missed_dispatch", o, now)

    def check_overdue(self, now: datetime, o: ReplayOrder, sid: str) -> None:
        shp = self._shipment(sid)
        if not overdue(shp.status, o.promised_by, now, self.rules.triggers):
            return
        rate = self.card.rate(self._region[shp.location], o.ship_region)
        eta = overdue_eta(shp.status, now, rate.transit_hours, rate.overdue_hours)
        raised = services.carrier_update(self.engine, sid, CarrierUpdate(
            "in_transit", eta=eta, remark="no delivery scan 4 h past the promise"), at=now, rules=self.rules).exceptions
        self._work(raised, "overdue", o, now)

    def review(self, now: datetime, r: ReviewCase) -> None:
        """A labelled complaint: its order, rebuilt from the review row, is delivered history; the claim disputes it."""
        sid = f"S-{r.order_id}"
        address = f"{r.order_id}-address"
        customer = CustomerIn(id=r.customer_id, name=f"Cliente {r.customer_id}",
                              email=f"{r.customer_id.lower()}@clientes.olist.invalid", tier="standard", locale="pt-BR",
                              delivered_orders=1, chargebacks=0, refunds_90d=0, returns_90d=0,
                              delivered_addresses=[address])
        import_world(self.engine, World(locations=[], lanes=[], products=[], inventory=[], customers=[customer],
                                        orders=[
            OrderIn(id=r.order_id, customer=r.customer_id, placed_at=r.placed_at, status="delivered",
                    ship_to=ShipTo(region=r.ship_region, address_id=address),
                    shipping=Shipping(method=SERVICE, fee_cents=r.fee_cents, promised_by=r.promised_by),
                    lines=[LineIn(sku=r.sku, qty=r.qty, unit_price_cents=r.unit_price_cents,
                                  location=UNKNOWN_SELLER, status="delivered")],
                    payment=Payment(captured_cents=r.qty * r.unit_price_cents + r.fee_cents, refunded_cents=0),
                    fraud_score=FRAUD_SCORE, goodwill_given=False,
                    shipments=[ShipmentIn(id=sid, location=UNKNOWN_SELLER, service=SERVICE, status="delivered",
                                          eta=r.promised_by, lines=[ItemQty(sku=r.sku, qty=r.qty)],
                                          delivered_at=r.delivered_at, carrier_delivered_scan=True)],
                    returns=[])]))
        rid = services.open_return(self.engine, r.order_id, [LineRequest(r.sku, r.qty)], at=now, reason=None,
                                   claim=r.claim)
        raised = services.dispute_return(self.engine, rid, at=now, claim=r.claim).exceptions
        self.log.reviews += 1
        self._work(raised, "review", r, now)

    # ---- store helpers

    def _stock_and_price(self, o: ReplayOrder) -> None:
        """A marketplace listing is stocked with what it sold, at the price it sold at, as the order arrives."""
        with self.engine.begin() as conn:
            for x in o.lines:
                conn.execute(text("UPDATE product SET price_cents = :p WHERE sku = :s"),
                             {"p": x.unit_price_cents, "s": x.sku})
                if x.sku == UNKNOWN_ITEM:
                    continue
                conn.execute(text(
                    "INSERT INTO inventory (location, sku, on_hand, reserved) VALUES (:l, :s, :q, 0) "
                    "ON CONFLICT (location, sku) DO UPDATE SET on_hand = inventory.on_hand + :q"),
                    {"l": x.seller, "s": x.sku, "q": x.qty})

    def _deadlines(self, o: ReplayOrder, shipments: tuple[str, ...]) -> None:
        """The sellers' shipping limits onto the lines, and each shipment's earliest onto its `dispatch_by`."""
        if all(x.shipping_limit_at is None for x in o.lines):
            return
        with UnitOfWork(self.engine) as uow:
            s = uow.session
            lines = s.exec(select(OrderLine).where(OrderLine.order_id == o.id).order_by(col(OrderLine.line_no))).all()
            limits: dict[str, list[datetime]] = {}
            for line, x in zip(lines, o.lines, strict=True):
                line.shipping_limit_at = x.shipping_limit_at
                if x.shipping_limit_at is not None:
                    limits.setdefault(line.location, []).append(x.shipping_limit_at)
            for sid in shipments:
                shp = s.get(Shipment, sid)
                assert shp is not None
                shp.dispatch_by = min(limits.get(shp.location, []), default=None)
            uow.commit()

    def _dispatch_by(self, sid: str) -> datetime | None:
        return self._shipment(sid).dispatch_by

    def _shipment(self, sid: str) -> Shipment:
        with Session(self.engine) as s:
            shp = s.get(Shipment, sid)
            assert shp is not None
            return shp

    def _shipments(self, order_id: str) -> list[Shipment]:
        with Session(self.engine) as s:
            rows = s.execute(text("SELECT id FROM shipment WHERE order_id = :o ORDER BY id"), {"o": order_id}).all()
            return [shp for (sid,) in rows if (shp := s.get(Shipment, sid)) is not None]


