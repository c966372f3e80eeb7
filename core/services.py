"""Service layer: one function per command, one transaction per call.

Each function opens a UnitOfWork, loads what it needs, calls the pure domain
functions (`lifecycle`, `inventory`, `allocation`, `detectors`), emits their
events into the outbox and commits; a refusal raises a `DomainError` and
rolls everything back. The API, the worker, the tools, the simulator and the
evals all go through here, so each behaviour has one path.

Stock moves are conditional atomic UPDATEs (`... WHERE on_hand - reserved >=
:qty`), so two sessions racing for the last unit cannot both win, on SQLite
or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, bindparam
from sqlmodel import Session, col, select

from core import inventory as stockops
from core.allocation import LineNeed, plan_allocation
from core.clock import utc
from core.detectors import (
    Triggers,
    delay_hours,
    detect_delay,
    detect_fraud_hold,
    detect_return_dispute,
)
from core.errors import InsufficientStock, NotFound, PreconditionFailed
from core.events import DomainEvent, event
from core.exceptions import TERMINAL, raise_exception, subject_of
from core.jsonvalue import iso
from core.lifecycle import LINE, ORDER, RETURN, SHIPMENT, step
from core.models import (
    Customer,
    ExceptionType,
    Inventory,
    Lane,
    LineStatus,
    Location,
    Order,
    OrderException,
    OrderLine,
    OrderStatus,
    Product,
    Refund,
    Return,
    ReturnLine,
    ReturnStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from core.routing import LaneQuote, build_options, cheapest
from core.sqlfast import Link, Statements
from core.store import UnitOfWork


@dataclass(frozen=True)
class OmsRules:
    """The numbers the OMS obeys, handed in by the composition root from the policy book."""

    triggers: Triggers
    carbon_cents_per_kg: int


@dataclass(frozen=True)
class LineRequest:
    sku: str
    qty: int


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    ship_region: str
    ship_address_id: str
    shipping_method: str
    fee_cents: int
    promised_by: datetime
    lines: tuple[LineRequest, ...]
    order_id: str | None = None
    """Given by an importer; otherwise the next `O-` id."""


@dataclass(frozen=True)
class Short:
    sku: str
    location: str
    short_qty: int


@dataclass(frozen=True)
class AllocationResult:
    order_id: str
    shipments: tuple[str, ...]
    shorts: tuple[Short, ...]
    exceptions: tuple[str, ...]


@dataclass(frozen=True)
class PickResult:
    shipment_id: str
    picked: bool
    shorts: tuple[Short, ...] = ()
    exceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class CarrierUpdate:
    """What a carrier tells us about a parcel: a new ETA, a loss, or a delivery."""

    status: Literal["in_transit", "lost", "delivered"]
    eta: datetime | None = None
    scan: bool = True
    remark: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a command changed that callers may want: new exception ids, the entity's new status."""

    status: str
    exceptions: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- helpers

# Core statements for the lifecycle's hot paths, compiled once per dialect and run on the unit of work's
# driver connection (`uow.link`, `core.sqlfast`): an ORM load, flush and identity map per row, or even
# Core's per-execution machinery, cost several times the SQL they wrap. Rows come back as plain mutable
# views the pure state machines can step. A transition with one source state is applied by a conditional
# UPDATE (`advance_order`), selecting only to word a refusal.
_O, _L, _S, _SL = Order.__table__, OrderLine.__table__, Shipment.__table__, ShipmentLine.__table__
_C, _P, _INV = Customer.__table__, Product.__table__, Inventory.__table__
_LANE, _LOC = Lane.__table__, Location.__table__
_ID: sa.BindParameter[str] = bindparam("id")
_KEY: sa.BindParameter[str] = bindparam("key")
_QTY: sa.BindParameter[int] = bindparam("q")
_AT_STOCK = (_INV.c.location == bindparam("l")) & (_INV.c.sku == bindparam("s"))
_VIEWS = (  # what the fulfilment commands read of a shipment, its order, its lines and the order's lines
    [_S.c[k] for k in ("id", "order_id", "location", "service", "status", "eta", "reship_of")],
    [_O.c[k] for k in ("id", "customer_id", "status", "ship_address_id", "promised_by")],
    [_SL.c[k] for k in ("id", "sku", "qty")],
    [_L.c[k] for k in ("id", "order_id", "line_no", "sku", "location", "status")],
)


def _shipment_query(*, with_lines: bool) -> sa.Select[Any]:
    """A shipment with its order and its lines, and the order's lines if asked: one row per combination."""
    shp, order, items, lines = _VIEWS
    query = (sa.select(*shp, *order, *items, *(lines if with_lines else ()))
             .join_from(_S, _O, _O.c.id == _S.c.order_id).outerjoin(_SL, _SL.c.shipment_id == _S.c.id))
    if with_lines:
        query = query.outerjoin(_L, _L.c.order_id == _O.c.id)
    return query.where(_S.c.id == _ID).order_by(_SL.c.id, *((_L.c.line_no,) if with_lines else ()))

_SQL: dict[str, Any] = {
    "customer": sa.select(_C.c.id).where(_C.c.id == _ID),
    "location": sa.select(_LOC.c.id).where(_LOC.c.id == _ID),
    "product": sa.select(_P.c.sku).where(_P.c.sku == _ID),
    "order": sa.select(_O).where(_O.c.id == _ID),
    "shipment_order": _shipment_query(with_lines=False),
    "shipment_order_lines": _shipment_query(with_lines=True),
    "lines": sa.select(_L).where(_L.c.order_id == _ID).order_by(_L.c.line_no),
    "prices": sa.select(_P.c.sku, _P.c.price_cents).where(_P.c.sku.in_(bindparam("skus", expanding=True))),
    "quotes": sa.select(_LOC.c.id, _LOC.c.handling_hours, _LANE.c.service, _LANE.c.transit_hours,
                        _LANE.c.cost_cents, _LANE.c.co2_grams)
              .join_from(_LANE, _LOC, _LOC.c.id == _LANE.c.from_location)
              .where(_LANE.c.to_region == bindparam("region"), _LANE.c.service == bindparam("service"))
              .order_by(_LANE.c.from_location),
    "stock": sa.select(_INV.c.location, _INV.c.sku, _INV.c.on_hand, _INV.c.reserved)
             .where(_INV.c.sku.in_(bindparam("skus", expanding=True))),
    "reserve": sa.update(_INV).where(_AT_STOCK, _INV.c.on_hand - _INV.c.reserved >= _QTY)
               .values(reserved=_INV.c.reserved + _QTY),
    "release": sa.update(_INV).where(_AT_STOCK, _INV.c.reserved >= _QTY).values(reserved=_INV.c.reserved - _QTY),
    "consume": sa.update(_INV).where(_AT_STOCK, _INV.c.reserved >= _QTY, _INV.c.on_hand >= _QTY)
               .values(on_hand=_INV.c.on_hand - _QTY, reserved=_INV.c.reserved - _QTY),
    "receive": sa.update(_INV).where(_AT_STOCK).values(on_hand=_INV.c.on_hand + _QTY)
               .returning(_INV.c.on_hand, _INV.c.reserved),
    "insert_stock": sa.insert(_INV),
    "delivered_to": sa.update(_C).where(_C.c.id == _KEY).values(delivered_orders=_C.c.delivered_orders + 1)
                    .returning(_C.c.delivered_addresses),
    "insert_order": sa.insert(_O),
    "insert_lines": sa.insert(_L),
    "insert_shipment": sa.insert(_S),
    "insert_items": sa.insert(_SL),
    "set_order": sa.update(_O).where(_O.c.id == _KEY),
    "advance_order": sa.update(_O).where(_O.c.id == _KEY, _O.c.status == bindparam("was")).returning(*_O.c),
    "set_line": sa.update(_L).where(_L.c.id == _KEY),
    "set_shipment": sa.update(_S).where(_S.c.id == _KEY),
    "set_item": sa.update(_SL).where(_SL.c.id == _KEY),
    "set_customer": sa.update(_C).where(_C.c.id == _KEY),
    "drop_item": sa.delete(_SL).where(_SL.c.id == _KEY),
}
"""`set_*` take the row's key as `key` and the columns to write as the other parameters; `advance_order`
also the state it must still be in (`was`)."""
_DB = Statements(_SQL)
"""The same statements, run on the driver cursor (see `core.sqlfast` for why)."""


class _ShipmentView(Protocol):
    id: str
    status: str
    eta: datetime


class _OrderView(Protocol):
    id: str
    promised_by: datetime


def _get(session: Session, model: type[Any], ident: str, what: str) -> Any:
    row = session.get(model, ident)
    if row is None:
        raise NotFound(what, ident)
    return row


def _load(conn: Connection | Link, query: str, ident: str, what: str) -> Any:
    """One row by key as a mutable view (`SimpleNamespace`), or `NotFound` like `_get`."""
    row = _DB.first(conn, query, {"id": ident})
    if row is None:
        raise NotFound(what, ident)
    return row


def _load_shipment(conn: Connection | Link, shipment_id: str, *,
                   with_lines: bool = False) -> tuple[Any, Any, list[Any], list[Any]]:
    """A shipment, its order, its lines (by id) and, if asked, the order's lines (by number): one round trip.

    The rows are the join's combinations (one at least: a shipment always has its order,
    an order its lines); each entity becomes one mutable view, in order, however often it repeats.
    """
    rows = _DB.tuples(conn, "shipment_order_lines" if with_lines else "shipment_order", {"id": shipment_id})
    if not rows:
        raise NotFound("shipment", shipment_id)
    views: list[dict[Any, SimpleNamespace]] = [{}, {}, {}, {}]
    for row in rows:
        start = 0
        for seen, columns in zip(views, _VIEWS, strict=True):
            values = row[start:start + len(columns)]
            start += len(columns)
            if values and values[0] is not None and values[0] not in seen:
                seen[values[0]] = SimpleNamespace(**{c.key: v for c, v in zip(columns, values, strict=True)})
    (shp,), (order,) = views[0].values(), views[1].values()
    return shp, order, list(views[2].values()), list(views[3].values())


def _advance_order(conn: Connection | Link, order_id: str, name: str, **values: Any) -> Any:
    """Move an order out of a transition's one source state by one conditional UPDATE ... RETURNING.

    The returned view is put back in that source state, so `step` then records the
    transition and its event as if the order had been loaded first. A missing order or
    one in another state changes nothing and is worded by loading it: `NotFound`, or
    `TransitionNotAllowed` naming its state.
    """
    (was,) = ORDER.transitions[name].sources
    order = _DB.first(conn, "advance_order", {"key": order_id, "was": was, **values})
    if order is None:
        current = _load(conn, "order", order_id, "order")
        ORDER.target(order_id, current.status, name)
        raise PreconditionFailed(f"order {order_id} changed while it was being moved; try again")
    order.status = was
    return order


def _rows(conn: Connection | Link, query: str, ident: str) -> list[Any]:
    return _DB.all(conn, query, {"id": ident})


def _set(conn: Connection | Link, what: str, key: str | int, **values: Any) -> None:
    _DB.execute(conn, f"set_{what}", {"key": key, **values})


def _lines(session: Session, order_id: str) -> list[OrderLine]:
    return list(session.exec(select(OrderLine).where(OrderLine.order_id == order_id)
                             .order_by(col(OrderLine.line_no))).all())


def _line_id(line: Any) -> str:
    return f"{line.order_id}/{line.line_no}"


def _quotes(conn: Connection | Link, region: str, service: str) -> list[LaneQuote]:
    return [LaneQuote(*r) for r in _DB.tuples(conn, "quotes", {"region": region, "service": service})]


def _flushed(session: Session) -> Connection:
    """The session's connection after flushing pending ORM changes, as `session.execute` would autoflush."""
    session.flush()
    return session.connection()


def raise_once(uow: UnitOfWork, *, type: str, trigger: str, order_id: str, at: datetime,
               **fields: Any) -> OrderException | None:
    """Raise an exception unless its subject already has one open, or one for this same trigger.

    This is what makes a detector that runs every tick raise one exception per trigger.
    """
    detail = dict(fields.pop("detail", None) or {})
    subject = subject_of(type, order_id=order_id, shipment_id=fields.get("shipment_id"),
                         sku=fields.get("sku"), location=fields.get("location"),
                         return_id=fields.get("return_id"))
    uow.session.flush()
    for exc in uow.session.exec(select(OrderException).where(OrderException.subject == subject)).all():
        if exc.state not in TERMINAL or exc.detail.get("trigger") == trigger:
            return None
    detail["trigger"] = trigger
    return raise_exception(uow, type=type, order_id=order_id, at=at, detail=detail, **fields)


def _ids(*excs: OrderException | None) -> tuple[str, ...]:
    return tuple(e.id for e in excs if e is not None)


# --------------------------------------------------------------------------- stock (atomic SQL)


def reserve_stock(session: Session, location: str, sku: str, qty: int) -> bool:
    """Reserve atomically: true only if on_hand − reserved covered `qty` at the moment of the UPDATE."""
    return _move_stock(_flushed(session), "reserve", location, sku, qty)


def release_stock(session: Session, location: str, sku: str, qty: int) -> bool:
    return _move_stock(_flushed(session), "release", location, sku, qty)


def consume_stock(session: Session, location: str, sku: str, qty: int) -> bool:
    """Reserved units leave (dispatch) or are written off (missing at pick): both columns drop."""
    return _move_stock(_flushed(session), "consume", location, sku, qty)


def _move_stock(conn: Connection | Link, move: Literal["reserve", "release", "consume"], location: str, sku: str,
                qty: int) -> bool:
    """One conditional UPDATE: true only if the row met the move's condition at that moment."""
    if move == "reserve" and qty <= 0:
        raise PreconditionFailed(f"quantity must be positive, got {qty}")
    return _DB.execute(conn, move, {"q": qty, "l": location, "s": sku}) == 1


def stock_snapshot(session: Session, skus: Sequence[str]) -> dict[tuple[str, str], int]:
    return _stock_snapshot(_flushed(session), skus)


def receive_stock(engine: Engine, location: str, sku: str, qty: int, *, at: datetime) -> Outcome:
    """Units arrive at a location (a replenishment, a transfer): on hand grows; `stock.received` says so.

    The status of the outcome is the new ATP there, as text.
    """
    if qty <= 0:
        raise PreconditionFailed(f"quantity must be positive, got {qty}")
    with UnitOfWork(engine) as uow:
        c = uow.link
        row = _DB.first(c, "receive", {"q": qty, "l": location, "s": sku})
        if row is None:  # the first units of this sku here
            _load(c, "location", location, "location")
            _load(c, "product", sku, "product")
            _DB.execute(c, "insert_stock", {"location": location, "sku": sku, "on_hand": qty, "reserved": 0})
            row = SimpleNamespace(on_hand=qty, reserved=0)
        uow.emit(event("stock.received", f"{location}/{sku}", at, location=location, sku=sku, qty=qty,
                       on_hand=row.on_hand, atp=stockops.atp(row)))
        uow.commit()
        return Outcome(str(stockops.atp(row)))


def _stock_snapshot(conn: Connection | Link, skus: Sequence[str]) -> dict[tuple[str, str], int]:
    rows = _DB.all(conn, "stock", {"skus": sorted(set(skus))})
    return {(r.location, r.sku): stockops.atp(r) for r in rows}


# --------------------------------------------------------------------------- money back (the refund ledger)


def pay_back(session: Session, order_id: str, amount: int, *, reason: str, at: datetime,
             exception_id: str | None = None) -> DomainEvent:
    """Pay `amount` back on an order: the one write path for refunded money, whoever refunds.

    A guarded UPDATE (the total can never pass what was captured) and the refund row go
    together, so an order's `refunded_cents` is always the sum of its refund rows.
    Returns the `payment.refunded` event for the caller's outbox.
    """
    if amount <= 0:
        raise PreconditionFailed(f"a refund must be positive, got {amount}")
    refunded = col(Order.refunded_cents)
    result = session.execute(sa.update(Order).where(col(Order.id) == order_id,
                                                    refunded + amount <= col(Order.captured_cents))
                             .values(refunded_cents=refunded + amount))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed(f"refund of {amount} exceeds what is refundable on {order_id}")
    session.add(Refund(order_id=order_id, amount_cents=amount, reason=reason, exception_id=exception_id, at=at))
    return event("payment.refunded", order_id, at, amount_cents=amount, reason=reason)


# --------------------------------------------------------------------------- capture and screening


def place_order(engine: Engine, cmd: PlaceOrder, *, at: datetime, rules: OmsRules) -> str:
    """Capture an order: lines at catalog price, payment captured, each line at its preferred location.

    The preferred location is the cheapest option that meets the promise, stock
    not considered; allocation moves lines to where the stock is.
    """
    if not cmd.lines:
        raise PreconditionFailed("an order needs at least one line")
    with UnitOfWork(engine) as uow:
        c = uow.link
        _load(c, "customer", cmd.customer_id, "customer")
        quotes = _quotes(c, cmd.ship_region, cmd.shipping_method)
        options = build_options(quotes, now=at, promised_by=cmd.promised_by, current_cost_cents=0,
                                carbon_cents_per_kg=rules.carbon_cents_per_kg, has_atp=lambda _loc: True)
        home = cheapest(o for o in options if o.meets_promise) or cheapest(options)
        if home is None:
            raise PreconditionFailed(f"no {cmd.shipping_method} lane serves region {cmd.ship_region!r}")
        order_id = cmd.order_id or uow.next_id("order", "O-")
        prices: dict[str, int] = {sku: price for sku, price in
                                  _DB.tuples(c, "prices", {"skus": sorted({x.sku for x in cmd.lines})})}
        lines: list[dict[str, Any]] = []
        for n, req in enumerate(cmd.lines, start=1):
            if req.sku not in prices:
                raise NotFound("product", req.sku)
            lines.append({"order_id": order_id, "line_no": n, "sku": req.sku, "qty": req.qty,
                          "unit_price_cents": prices[req.sku], "location": home.location})
        captured = sum(x["qty"] * x["unit_price_cents"] for x in lines) + cmd.fee_cents
        _DB.execute(c, "insert_order", {
            "id": order_id, "customer_id": cmd.customer_id, "placed_at": at, "status": OrderStatus.placed,
            "ship_region": cmd.ship_region, "ship_address_id": cmd.ship_address_id,
            "shipping_method": cmd.shipping_method, "fee_cents": cmd.fee_cents, "promised_by": cmd.promised_by,
            "captured_cents": captured})
        _DB.executemany(c, "insert_lines", lines)
        uow.emit(event("order.placed", order_id, at, customer_id=cmd.customer_id,
                       shipping_method=cmd.shipping_method, promised_by=cmd.promised_by,
                       captured_cents=captured, lines=[{"sku": x["sku"], "qty": x["qty"]} for x in lines]))
        uow.commit()
        return order_id


def screen_order(engine: Engine, order_id: str, score: float, *, at: datetime, rules: OmsRules) -> Outcome:
    """Record the payment screening score; at or above the hold score, hold and raise `fraud_hold`."""
    if not 0 <= score <= 1:
        raise PreconditionFailed(f"fraud score must be in [0, 1], got {score}")
    hold = detect_fraud_hold(score, rules.triggers)
    with UnitOfWork(engine) as uow:
        order = _advance_order(uow.link, order_id, "screen", fraud_score=score,
                               status=OrderStatus.on_hold if hold else OrderStatus.placed)
        uow.emit(step(ORDER, order, order_id, "screen", at, fraud_score=score))
        raised: tuple[str, ...] = ()
        if hold:
            uow.emit(step(ORDER, order, order_id, "hold", at, fraud_score=score))
            raised = _ids(raise_once(uow, type=ExceptionType.fraud_hold, trigger=f"score:{score}",
                                     order_id=order_id, at=at, detail={"fraud_score": score}))
        uow.commit()
        return Outcome(order.status, raised)


def release_hold(engine: Engine, order_id: str, *, at: datetime, fraud_score: float | None = None) -> Outcome:
    """Take an order off hold (a re-score or a supervisor's decision); it goes back to allocation."""
    with UnitOfWork(engine) as uow:
        order: Order = _get(uow.session, Order, order_id, "order")
        data = {} if fraud_score is None else {"fraud_score": fraud_score}
        uow.emit(step(ORDER, order, order_id, "release", at, **data))
        if fraud_score is not None:
            order.fraud_score = fraud_score
        uow.commit()
        return Outcome(order.status)


def rescore_order(engine: Engine, order_id: str, fraud_score: float, *, at: datetime) -> Outcome:
    """Payment screening scores the order again (more signals came in): the score changes, nothing else.

    A held order stays held: whether the new score releases it is the fraud
    policy's call, made on the `order.rescored` event.
    """
    if not 0 <= fraud_score <= 1:
        raise PreconditionFailed(f"fraud score must be in [0, 1], got {fraud_score}")
    with UnitOfWork(engine) as uow:
        order: Order = _get(uow.session, Order, order_id, "order")
        if order.status == OrderStatus.cancelled:
            raise PreconditionFailed(f"order {order_id} is cancelled: there is nothing to score")
        uow.emit(event("order.rescored", order_id, at, previous=order.fraud_score, fraud_score=fraud_score,
                       status=order.status))
        order.fraud_score = fraud_score
        uow.commit()
        return Outcome(order.status)


def cancel_order(engine: Engine, order_id: str, *, at: datetime, reason: str) -> Outcome:
    """Cancel every open line, release their reservations, cancel unshipped shipments.

    Money is not moved here: refunds are their own action.
    """
    with UnitOfWork(engine) as uow:
        s = uow.session
        order: Order = _get(s, Order, order_id, "order")
        uow.emit(step(ORDER, order, order_id, "cancel", at, reason=reason))
        for line in _lines(s, order_id):
            if line.status in (LineStatus.open, LineStatus.backordered):
                if line.reserved:
                    release_stock(s, line.location, line.sku, line.qty)
                    line.reserved = False
                    uow.emit(event("stock.released", f"{line.location}/{line.sku}", at, qty=line.qty,
                                   order_id=order_id))
                uow.emit(step(LINE, line, _line_id(line), "cancel", at))
        for shp in s.exec(select(Shipment).where(Shipment.order_id == order_id)
                          .order_by(col(Shipment.id))).all():
            if shp.status in (ShipmentStatus.created, ShipmentStatus.picked):
                uow.emit(step(SHIPMENT, shp, shp.id, "cancel", at))
        uow.commit()
        return Outcome(order.status)


# --------------------------------------------------------------------------- allocation and routing


def allocate_order(engine: Engine, order_id: str, *, at: datetime, rules: OmsRules) -> AllocationResult:
    """Reserve ATP for every line, route by the option rules, create one shipment per location.

    A line no location can cover raises `stockout`; a shipment whose ETA is
    already past the trigger raises `delay`. Never oversells: each reservation
    is a conditional UPDATE, and one that loses a race counts as short.
    """
    with UnitOfWork(engine) as uow:
        c = uow.link
        order = _advance_order(c, order_id, "allocate", status=OrderStatus.allocated)
        uow.emit(step(ORDER, order, order_id, "allocate", at))
        lines = [x for x in _rows(c, "lines", order_id) if x.status == LineStatus.open and not x.reserved]
        plan = plan_allocation(
            [LineNeed(x.line_no, x.sku, x.qty) for x in lines],
            _quotes(c, order.ship_region, order.shipping_method),
            _stock_snapshot(c, [x.sku for x in lines]),
            now=at, promised_by=order.promised_by, carbon_cents_per_kg=rules.carbon_cents_per_kg)
        by_no = {x.line_no: x for x in lines}
        groups: dict[str, list[Any]] = {}
        etas: dict[str, datetime] = {}
        shorts: list[Short] = []
        raised: list[OrderException | None] = []
        for a in plan:
            line = by_no[a.line_no]
            line.location = a.location
            if a.short_qty == 0 and _move_stock(uow.link, "reserve", a.location, a.sku, a.qty):
                line.reserved = True
                groups.setdefault(a.location, []).append(line)
                etas[a.location] = a.eta
                uow.emit(event("stock.reserved", f"{a.location}/{a.sku}", at, qty=a.qty, order_id=order_id))
                continue
            short = Short(a.sku, a.location, a.qty)
            shorts.append(short)
            uow.emit(event("stock.short", f"{a.location}/{a.sku}", at, qty=a.qty, order_id=order_id,
                           stage="allocation"))
            raised.append(raise_once(uow, type=ExceptionType.stockout, trigger="allocation",
                                     order_id=order_id, at=at, sku=a.sku, location=a.location,
                                     short_qty=a.qty, detail={"stage": "allocation", "line_qty": a.qty}))
        if plan:
            _DB.executemany(c, "set_line", [{"key": by_no[a.line_no].id, "location": by_no[a.line_no].location,
                                          "reserved": by_no[a.line_no].reserved} for a in plan])
        shipment_ids = []
        for location in sorted(groups):
            shp = SimpleNamespace(id=uow.next_id("shipment", "S-"), order_id=order_id, location=location,
                                  service=order.shipping_method, status=ShipmentStatus.created,
                                  eta=etas[location], created_at=at)
            _DB.execute(c, "insert_shipment", vars(shp))
            _DB.executemany(c, "insert_items", [{"shipment_id": shp.id, "sku": x.sku, "qty": x.qty}
                                             for x in groups[location]])
            shipment_ids.append(shp.id)
            uow.emit(event("shipment.created", shp.id, at, order_id=order_id, location=location,
                           service=shp.service, eta=shp.eta,
                           lines=[{"sku": x.sku, "qty": x.qty} for x in groups[location]]))
            raised.append(_check_delay(uow, shp, order, at, rules.triggers))
        uow.commit()
        return AllocationResult(order_id, tuple(shipment_ids), tuple(shorts), _ids(*raised))


# --------------------------------------------------------------------------- fulfilment


def pick_shipment(engine: Engine, shipment_id: str, *, at: datetime,
                  found: Mapping[str, int] | None = None) -> PickResult:
    """Pick a shipment's lines. `found` says how many of a sku the picker actually found.

    A short pick writes the missing units off (on hand and reserved drop
    together), raises `stockout` for them, and leaves the shipment `created`
    until the exception is resolved. The shipment line keeps only the units
    found (and goes when none were), so it matches the reservation left
    behind: picking again, or dispatching, never takes the written-off units twice.
    """
    with UnitOfWork(engine) as uow:
        c = uow.link
        shp, order, items, _ = _load_shipment(c, shipment_id)
        SHIPMENT.target(shipment_id, shp.status, "pick")
        shorts, raised = [], []
        for item in items:
            missing = item.qty - min(item.qty, (found or {}).get(item.sku, item.qty))
            if missing <= 0:
                continue
            if not _move_stock(uow.link, "consume", shp.location, item.sku, missing):
                raise PreconditionFailed(f"{shp.location} holds no reservation of {missing} {item.sku}")
            if missing < item.qty:
                _set(c, "item", item.id, qty=item.qty - missing)
            else:
                _DB.execute(c, "drop_item", {"key": item.id})
            _set_aside_written_off(c, shp.order_id, item.sku, shp.location, missing)
            shorts.append(Short(item.sku, shp.location, missing))
            uow.emit(event("stock.written_off", f"{shp.location}/{item.sku}", at, qty=missing,
                           shipment_id=shipment_id))
            raised.append(raise_once(uow, type=ExceptionType.stockout, trigger=f"pick:{shipment_id}",
                                     order_id=shp.order_id, at=at, sku=item.sku, location=shp.location,
                                     short_qty=missing, shipment_id=shipment_id,
                                     detail={"stage": "pick", "line_qty": item.qty,
                                             "found": item.qty - missing}))
        if shorts:
            uow.emit(event("shipment.short_picked", shipment_id, at, order_id=shp.order_id,
                           shorts=[{"sku": x.sku, "short_qty": x.short_qty} for x in shorts]))
            uow.commit()
            return PickResult(shipment_id, False, tuple(shorts), _ids(*raised))
        uow.emit(step(SHIPMENT, shp, shipment_id, "pick", at, order_id=shp.order_id))
        _set(c, "shipment", shipment_id, status=shp.status)
        if order.status == OrderStatus.allocated:
            uow.emit(step(ORDER, order, order.id, "start_fulfillment", at))
            _set(c, "order", order.id, status=order.status)
        uow.commit()
        return PickResult(shipment_id, True)


def _set_aside_written_off(c: Connection | Link, order_id: str, sku: str, location: str, qty: int) -> None:
    """Units written off at pick leave their line's reservation: they move to a line of their own, unreserved.

    The write-off consumed their reservation. A line still saying `reserved` for them
    would make any later release of it (reallocating, backordering or cancelling the
    missing units, or cancelling the order) give back units reserved for other orders.
    The units found stay on the original line (and its number), still reserved.
    """
    lines = _rows(c, "lines", order_id)
    next_no = max(x.line_no for x in lines) + 1
    for line in reversed([x for x in lines if (x.sku, x.location, x.status) == (sku, location, LineStatus.open)
                          and x.reserved]):
        if qty <= 0:
            break
        take = min(qty, line.qty)
        qty -= take
        if take == line.qty:
            _set(c, "line", line.id, reserved=False)
            continue
        _set(c, "line", line.id, qty=line.qty - take)
        _DB.execute(c, "insert_lines", {
            "order_id": order_id, "line_no": next_no, "sku": sku, "qty": take,
            "unit_price_cents": line.unit_price_cents, "location": location, "status": line.status,
            "reserved": False, "expected_at": line.expected_at, "shipping_limit_at": line.shipping_limit_at})
        next_no += 1


def dispatch_shipment(engine: Engine, shipment_id: str, *, at: datetime) -> Outcome:
    """Hand a picked shipment to the carrier: its stock leaves, its lines ship."""
    with UnitOfWork(engine) as uow:
        c = uow.link
        shp, order, items, lines = _load_shipment(c, shipment_id, with_lines=True)
        uow.emit(step(SHIPMENT, shp, shipment_id, "dispatch", at, order_id=shp.order_id, eta=shp.eta))
        _set(c, "shipment", shipment_id, status=shp.status, dispatched_at=at)
        for item in items:
            if not _move_stock(c, "consume", shp.location, item.sku, item.qty):
                raise InsufficientStock(shp.location, item.sku, item.qty, 0)
            line = next((x for x in lines if x.sku == item.sku and x.location == shp.location
                         and x.status == LineStatus.open), None)
            if line is not None:
                line.reserved = False
                uow.emit(step(LINE, line, _line_id(line), "ship", at, shipment_id=shipment_id))
                _set(c, "line", line.id, status=line.status, reserved=False)
        if order.status != OrderStatus.shipped and all(  # a reshipment leaves an order that already shipped
                x.status in (LineStatus.shipped, LineStatus.delivered, LineStatus.cancelled) for x in lines):
            uow.emit(step(ORDER, order, order.id, "ship", at))
            _set(c, "order", order.id, status=order.status)
        uow.commit()
        return Outcome(shp.status)


def carrier_update(engine: Engine, shipment_id: str, update: CarrierUpdate, *, at: datetime,
                   rules: OmsRules) -> Outcome:
    """Apply a carrier's scan: a revised ETA, a lost parcel, or a delivery; detect delays on the spot."""
    with UnitOfWork(engine) as uow:
        c = uow.link
        shp, order, items, lines = _load_shipment(c, shipment_id, with_lines=update.status == "delivered")
        remark = {"remark": update.remark} if update.remark else {}
        raised: OrderException | None = None
        if update.status == "delivered":
            uow.emit(step(SHIPMENT, shp, shipment_id, "deliver", at, order_id=order.id,
                          scan=update.scan, **remark))
            _set(c, "shipment", shipment_id, status=shp.status, delivered_at=at, carrier_delivered_scan=update.scan)
            _deliver_lines(uow, shp, order, items, lines, at)
        elif update.status == "lost":
            uow.emit(step(SHIPMENT, shp, shipment_id, "lose", at, order_id=order.id, **remark))
            _set(c, "shipment", shipment_id, status=shp.status)
            raised = _check_delay(uow, shp, order, at, rules.triggers, note=update.remark)
        else:
            if update.eta is None:
                raise PreconditionFailed("an in-transit update carries the new ETA")
            uow.emit(step(SHIPMENT, shp, shipment_id, "revise_eta", at, order_id=order.id,
                          previous_eta=shp.eta, eta=update.eta, **remark))
            shp.eta = update.eta
            _set(c, "shipment", shipment_id, eta=update.eta)
            raised = _check_delay(uow, shp, order, at, rules.triggers, note=update.remark)
        uow.commit()
        return Outcome(shp.status, _ids(raised))


def _check_delay(uow: UnitOfWork, shp: _ShipmentView, order: _OrderView, at: datetime, triggers: Triggers,
                 note: str | None = None) -> OrderException | None:
    trigger = detect_delay(shp.status, shp.eta, order.promised_by, triggers)
    if trigger is None:
        return None
    return raise_once(uow, type=ExceptionType.delay, trigger=trigger, order_id=order.id, at=at,
                      shipment_id=shp.id, note=note,
                      detail={"delay_hours": round(delay_hours(shp.eta, order.promised_by), 4),
                              "eta": iso(shp.eta), "promised_by": iso(order.promised_by),
                              "lost": shp.status == ShipmentStatus.lost})


def _deliver_lines(uow: UnitOfWork, shp: Any, order: Any, items: list[Any], lines: list[Any], at: datetime) -> None:
    c = uow.link
    for item in items:
        # A reshipment (D4) carries lines that shipped from the lost parcel's location, not from its own.
        line = next((x for x in lines if x.sku == item.sku and x.status == LineStatus.shipped
                     and (shp.reship_of is not None or x.location == shp.location)), None)
        if line is not None:
            uow.emit(step(LINE, line, _line_id(line), "deliver", at, shipment_id=shp.id))
            _set(c, "line", line.id, status=line.status)
    if order.status == OrderStatus.shipped and all(
            x.status in (LineStatus.delivered, LineStatus.cancelled) for x in lines):
        uow.emit(step(ORDER, order, order.id, "deliver", at))
        _set(c, "order", order.id, status=order.status)
        customer = _DB.first(c, "delivered_to", {"key": order.customer_id})
        if customer is None:
            raise NotFound("customer", order.customer_id)
        addresses = customer.delivered_addresses
        if order.ship_address_id not in addresses:
            _set(c, "customer", order.customer_id, delivered_addresses=[*addresses, order.ship_address_id])


def tick(engine: Engine, *, at: datetime, rules: OmsRules) -> tuple[str, ...]:
    """Run every detector over current state; safe to call as often as you like.

    Each trigger raises one exception: a condition that stays true does not raise again.
    """
    with UnitOfWork(engine) as uow:
        s = uow.session
        raised: list[OrderException | None] = []
        live = [ShipmentStatus.created, ShipmentStatus.picked, ShipmentStatus.in_transit,
                ShipmentStatus.lost]
        for shp, order in s.exec(select(Shipment, Order).join(Order, col(Order.id) == col(Shipment.order_id))
                                 .where(col(Shipment.status).in_(live)).order_by(col(Shipment.id))).all():
            raised.append(_check_delay(uow, shp, order, at, rules.triggers))
        for order in s.exec(select(Order).where(Order.status == OrderStatus.on_hold)
                            .order_by(col(Order.id))).all():
            if detect_fraud_hold(order.fraud_score, rules.triggers):
                raised.append(raise_once(uow, type=ExceptionType.fraud_hold,
                                         trigger=f"score:{order.fraud_score}", order_id=order.id, at=at,
                                         detail={"fraud_score": order.fraud_score}))
        for ret in s.exec(select(Return).where(Return.status == "disputed").order_by(col(Return.id))).all():
            if detect_return_dispute(ret.status):
                raised.append(raise_once(uow, type=ExceptionType.return_dispute, trigger="disputed",
                                         order_id=ret.order_id, at=at, return_id=ret.id,
                                         note=ret.claim or None, detail={"reason": ret.reason}))
        uow.commit()
        return _ids(*raised)


# --------------------------------------------------------------------------- returns


def open_return(engine: Engine, order_id: str, items: Sequence[LineRequest], *, at: datetime,
                reason: str | None, evidence: bool = False, claim: str = "") -> str:
    """A customer sends delivered goods back; `reason` may be None when only the claim says why."""
    with UnitOfWork(engine) as uow:
        s = uow.session
        _get(s, Order, order_id, "order")
        delivered = {x.sku: x.qty for x in _lines(s, order_id) if x.status == LineStatus.delivered}
        for item in items:
            if delivered.get(item.sku, 0) < item.qty:
                raise PreconditionFailed(f"order {order_id} has no {item.qty} delivered {item.sku} to return")
        ret = Return(id=uow.next_id("return", "R-"), order_id=order_id, reason=reason, evidence=evidence,
                     claim=claim, status="open")
        s.add(ret)
        s.flush()
        s.add_all(ReturnLine(return_id=ret.id, sku=x.sku, qty=x.qty) for x in items)
        uow.emit(event("return.opened", ret.id, at, order_id=order_id, reason=reason, evidence=evidence,
                       lines=[{"sku": x.sku, "qty": x.qty} for x in items]))
        uow.commit()
        return ret.id


def dispute_return(engine: Engine, return_id: str, *, at: datetime, claim: str | None = None,
                   reason: str | None = None, evidence: bool | None = None) -> Outcome:
    """The customer disputes a return: the return becomes `disputed` and raises `return_dispute`."""
    with UnitOfWork(engine) as uow:
        ret: Return = _get(uow.session, Return, return_id, "return")
        uow.emit(step(RETURN, ret, return_id, "dispute", at, order_id=ret.order_id, claim=claim,
                      reason=reason))
        if claim:
            ret.claim = claim
        if reason is not None:
            ret.reason = reason
        if evidence is not None:
            ret.evidence = evidence
        raised = raise_once(uow, type=ExceptionType.return_dispute, trigger="disputed", order_id=ret.order_id,
                            at=at, return_id=return_id, note=ret.claim or None, detail={"reason": ret.reason})
        uow.commit()
        return Outcome(ret.status, _ids(raised))


def add_return_evidence(engine: Engine, return_id: str, *, at: datetime, evidence: bool,
                        claim: str | None = None) -> Outcome:
    """The customer sends evidence (photos, a carrier report) or more words for an undecided return."""
    with UnitOfWork(engine) as uow:
        ret: Return = _get(uow.session, Return, return_id, "return")
        if ret.status not in (ReturnStatus.open, ReturnStatus.disputed):
            raise PreconditionFailed(f"return {return_id} is {ret.status}: it is already decided")
        uow.emit(event("return.evidence_received", return_id, at, order_id=ret.order_id, evidence=evidence,
                       claim=claim, status=ret.status))
        ret.evidence = evidence
        if claim:
            ret.claim = claim
        uow.commit()
        return Outcome(ret.status)


def settle_return(engine: Engine, return_id: str, *, at: datetime, approve: bool,
                  reason: str | None = None) -> Outcome:
    """The OMS's routine decision on an undisputed return: approve refunds its paid value (capped)."""
    with UnitOfWork(engine) as uow:
        s = uow.session
        ret: Return = _get(s, Return, return_id, "return")
        order: Order = _get(s, Order, ret.order_id, "order")
        if not approve:
            uow.emit(step(RETURN, ret, return_id, "deny", at, order_id=order.id, reason=reason))
            ret.decision_reason = reason
            uow.commit()
            return Outcome(ret.status)
        prices = {x.sku: x.unit_price_cents for x in _lines(s, order.id)}
        items = s.exec(select(ReturnLine).where(ReturnLine.return_id == return_id)).all()
        amount = min(sum(prices[x.sku] * x.qty for x in items), order.refundable_cents)
        uow.emit(step(RETURN, ret, return_id, "approve", at, order_id=order.id, amount_cents=amount))
        ret.refund_cents, ret.decision_reason = amount, reason
        if amount > 0:
            uow.emit(pay_back(s, order.id, amount, reason="return", at=at))
        uow.commit()
        return Outcome(ret.status)


def promise_for(engine: Engine, region: str, service: str, lines: Sequence[LineRequest], *, at: datetime,
                slack_hours: float, rules: OmsRules) -> datetime:
    """The promise a storefront would quote: the ETA of the option allocation would take, plus slack.

    It looks at stock the way allocation will (one location for the whole
    order if one can serve it), so a promise is late only when the world changes.
    """
    with Session(engine) as s:
        quotes = _quotes(_flushed(s), region, service)
        atp = stock_snapshot(s, [x.sku for x in lines])
    plan = plan_allocation([LineNeed(n, x.sku, x.qty) for n, x in enumerate(lines, start=1)], quotes, atp,
                           now=at, promised_by=at, carbon_cents_per_kg=rules.carbon_cents_per_kg)
    return utc(max(a.eta for a in plan)) + timedelta(hours=slack_hours)
