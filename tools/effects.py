"""What each write action does to the OMS, once its preconditions have passed.

Each effect runs inside the caller's unit of work, changes entities through
the core's state machines, and returns the events and a summary of what
changed for the audit. Preconditions are not re-stated here: the tool runner
checks them (policies.preconditions) in the same transaction first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from core.errors import NotFound, PreconditionFailed
from core.events import DomainEvent, event
from core.jsonvalue import iso
from core.lifecycle import LINE, ORDER, RETURN, SHIPMENT, step
from core.models import (
    Lane,
    Location,
    Notification,
    Order,
    OrderLine,
    Return,
    Shipment,
    ShipmentLine,
    StoreCredit,
)
from core.services import pay_back
from policies import actions as a
from tools import stock


@dataclass
class EffectContext:
    session: Session
    now: datetime
    exception_id: str
    order_id: str
    events: list[DomainEvent] = field(default_factory=list)

    def emit(self, e: DomainEvent) -> None:
        self.events.append(e)


def _order(cx: EffectContext, order_id: str) -> Order:
    order = cx.session.get(Order, order_id)
    if order is None:
        raise NotFound("order", order_id)
    return order


def _lines(cx: EffectContext, order_id: str, sku: str, statuses: tuple[str, ...]) -> list[OrderLine]:
    return list(cx.session.exec(
        select(OrderLine).where(OrderLine.order_id == order_id, OrderLine.sku == sku,
                                col(OrderLine.status).in_(statuses)).order_by(col(OrderLine.line_no))).all())


def _split(cx: EffectContext, line: OrderLine, qty: int) -> OrderLine:
    """Carve `qty` units off a line into a new line of their own (the rest stays as it was)."""
    if qty >= line.qty:
        return line
    last = cx.session.exec(select(OrderLine.line_no).where(OrderLine.order_id == line.order_id)
                           .order_by(col(OrderLine.line_no).desc())).first() or 0
    line.qty -= qty
    part = OrderLine(order_id=line.order_id, line_no=last + 1, sku=line.sku, qty=qty,
                     unit_price_cents=line.unit_price_cents, location=line.location, status=line.status,
                     reserved=line.reserved, expected_at=line.expected_at)
    cx.session.add(part)
    cx.session.flush()
    return part


def _take_units(cx: EffectContext, order_id: str, sku: str, qty: int, statuses: tuple[str, ...],
                prefer_location: str | None = None) -> list[OrderLine]:
    """Lines holding exactly `qty` units of `sku`, split where needed, preferring one location.

    Units that hold no reservation go first: they are the ones short (a stockout at allocation,
    or units a short pick wrote off), and moving, backordering or cancelling them leaves the
    units found, and their reservation and shipment, where they are.
    """
    lines = _lines(cx, order_id, sku, statuses)
    lines.sort(key=lambda x: (x.location != prefer_location, x.reserved, x.line_no))
    taken, left = [], qty
    for line in lines:
        if left <= 0:
            break
        part = _split(cx, line, min(left, line.qty))
        taken.append(part)
        left -= part.qty
    if left > 0:
        raise PreconditionFailed(f"order {order_id} has not {qty} units of {sku} in {statuses}")
    return taken


def _unreserve(cx: EffectContext, line: OrderLine) -> None:
    if line.reserved:
        stock.release(cx.session, line.location, line.sku, line.qty)
        line.reserved = False


def _eta(cx: EffectContext, location: str, region: str, service: str) -> datetime:
    loc = cx.session.get(Location, location)
    lane = cx.session.exec(select(Lane).where(Lane.from_location == location, Lane.to_region == region,
                                              Lane.service == service)).first()
    if loc is None or lane is None:
        raise PreconditionFailed(f"no {service} lane from {location} to {region}")
    return cx.now + timedelta(hours=loc.handling_hours + lane.transit_hours)


def notify_customer(cx: EffectContext, x: a.NotifyCustomer) -> dict[str, Any]:
    order = _order(cx, x.order_id)
    note = Notification(order_id=order.id, customer_id=order.customer_id, topic=x.topic, body=x.body,
                        eta=x.eta, exception_id=cx.exception_id, at=cx.now)
    cx.session.add(note)
    cx.emit(event("customer.notified", order.id, cx.now, topic=x.topic))
    return {"notified": order.customer_id, "topic": x.topic}


def reroute_shipment(cx: EffectContext, x: a.RerouteShipment) -> dict[str, Any]:
    s = cx.session.get(Shipment, x.shipment_id)
    if s is None:
        raise NotFound("shipment", x.shipment_id)
    order = _order(cx, s.order_id)
    eta = _eta(cx, x.to_location, order.ship_region, x.service)
    items = list(cx.session.exec(select(ShipmentLine).where(ShipmentLine.shipment_id == s.id)).all())
    if x.reship:
        new_id = f"{s.id}-R{_reships(cx, s.id) + 1}"
        for item in items:
            stock.reserve(cx.session, x.to_location, item.sku, item.qty)
        cx.session.add(Shipment(id=new_id, order_id=s.order_id, location=x.to_location, service=x.service,
                                status="created", eta=eta, reship_of=s.id, created_at=cx.now))
        cx.session.flush()
        cx.session.add_all(ShipmentLine(shipment_id=new_id, sku=i.sku, qty=i.qty) for i in items)
        cx.emit(event("shipment.reshipped", new_id, cx.now, reship_of=s.id, location=x.to_location,
                      service=x.service, eta=eta))
        return {"shipment_id": new_id, "reship_of": s.id, "eta": iso(eta)}
    before = (s.location, s.service, s.eta)
    if x.to_location != s.location:
        for item in items:
            stock.reserve(cx.session, x.to_location, item.sku, item.qty)
            for line in _lines(cx, s.order_id, item.sku, ("open",)):
                if line.location == s.location:
                    _unreserve(cx, line)
                    line.location, line.reserved = x.to_location, True
    # Through the state machine: a picked parcel moving elsewhere is picked again at its new location.
    cx.emit(step(SHIPMENT, s, s.id, "reroute" if x.to_location != s.location else "revise_eta", cx.now,
                 from_location=before[0], to_location=x.to_location, service=x.service, eta=eta))
    s.location, s.service, s.eta = x.to_location, x.service, eta
    return {"from": f"{before[0]}/{before[1]}", "to": f"{x.to_location}/{x.service}", "eta": iso(eta)}


def _reships(cx: EffectContext, shipment_id: str) -> int:
    return len(cx.session.exec(select(Shipment.id).where(Shipment.reship_of == shipment_id)).all())


def reallocate_line(cx: EffectContext, x: a.ReallocateLine) -> dict[str, Any]:
    stock.reserve(cx.session, x.to_location, x.sku, x.qty)
    moved = _take_units(cx, x.order_id, x.sku, x.qty, ("open", "backordered"), prefer_location=None)
    for line in moved:
        _unreserve(cx, line)
        if line.status == "backordered":
            cx.emit(step(LINE, line, f"{line.order_id}#{line.line_no}", "reopen", cx.now))
        line.location, line.reserved = x.to_location, True
    cx.emit(event("line.reallocated", x.order_id, cx.now, sku=x.sku, qty=x.qty, to_location=x.to_location))
    return {"moved": x.qty, "sku": x.sku, "to": x.to_location}


def backorder_line(cx: EffectContext, x: a.BackorderLine) -> dict[str, Any]:
    for line in _take_units(cx, x.order_id, x.sku, x.qty, ("open",)):
        _unreserve(cx, line)
        cx.emit(step(LINE, line, f"{line.order_id}#{line.line_no}", "backorder", cx.now,
                     expected_at=x.expected_at))
        line.expected_at = x.expected_at
    return {"backordered": x.qty, "sku": x.sku, "expected_at": iso(x.expected_at)}


def cancel_line(cx: EffectContext, x: a.CancelLine) -> dict[str, Any]:
    lost = {i.sku for s in cx.session.exec(select(Shipment).where(Shipment.order_id == x.order_id,
                                                                   Shipment.status == "lost")).all()
            for i in cx.session.exec(select(ShipmentLine).where(ShipmentLine.shipment_id == s.id)).all()}
    statuses = ("open", "backordered", "shipped") if x.sku in lost else ("open", "backordered")
    for line in _take_units(cx, x.order_id, x.sku, x.qty, statuses):
        _unreserve(cx, line)
        name = "cancel_lost" if line.status == "shipped" else "cancel"
        cx.emit(step(LINE, line, f"{line.order_id}#{line.line_no}", name, cx.now))
    return {"cancelled": x.qty, "sku": x.sku}


def cancel_order(cx: EffectContext, x: a.CancelOrder) -> dict[str, Any]:
    order = _order(cx, x.order_id)
    cx.emit(step(ORDER, order, order.id, "cancel", cx.now, reason=x.reason))
    lines = cx.session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    for line in lines:
        if line.status != "cancelled":
            _unreserve(cx, line)
            line.status = "cancelled"
    for s in cx.session.exec(select(Shipment).where(Shipment.order_id == order.id)).all():
        if s.status in ("created", "picked"):
            cx.emit(step(SHIPMENT, s, s.id, "cancel", cx.now))
    return {"cancelled": order.id, "reason": x.reason}


def _pay_back(cx: EffectContext, order_id: str, amount: int, reason: str) -> None:
    """Through the core's one write path for refunded money (guarded UPDATE and refund row together)."""
    cx.emit(pay_back(cx.session, order_id, amount, reason=reason, at=cx.now, exception_id=cx.exception_id))


def refund(cx: EffectContext, x: a.Refund) -> dict[str, Any]:
    _pay_back(cx, x.order_id, x.amount_cents, x.reason)
    if x.reason in ("shipping_fee", "goodwill"):
        _order(cx, x.order_id).goodwill_given = True
    return {"refunded": x.amount_cents, "reason": x.reason}


def store_credit(cx: EffectContext, x: a.StoreCredit) -> dict[str, Any]:
    cx.session.add(StoreCredit(customer_id=x.customer_id, amount_cents=x.amount_cents, reason=x.reason,
                               exception_id=cx.exception_id, at=cx.now))
    if x.reason == "delay":
        _order(cx, cx.order_id).goodwill_given = True
    cx.emit(event("customer.credited", x.customer_id, cx.now, amount_cents=x.amount_cents, reason=x.reason))
    return {"credited": x.amount_cents, "reason": x.reason}


def release_hold(cx: EffectContext, x: a.ReleaseHold) -> dict[str, Any]:
    order = _order(cx, x.order_id)
    cx.emit(step(ORDER, order, order.id, "release", cx.now))
    return {"released": order.id}


def _return(cx: EffectContext, return_id: str) -> Return:
    ret = cx.session.get(Return, return_id)
    if ret is None:
        raise NotFound("return", return_id)
    return ret


def approve_return(cx: EffectContext, x: a.ApproveReturn) -> dict[str, Any]:
    ret = _return(cx, x.return_id)
    cx.emit(step(RETURN, ret, ret.id, "approve", cx.now, amount_cents=x.amount_cents))
    ret.refund_cents = x.amount_cents
    if x.amount_cents > 0:
        _pay_back(cx, ret.order_id, x.amount_cents, "return")
    return {"approved": ret.id, "refunded": x.amount_cents}


def deny_return(cx: EffectContext, x: a.DenyReturn) -> dict[str, Any]:
    ret = _return(cx, x.return_id)
    cx.emit(step(RETURN, ret, ret.id, "deny", cx.now, reason=x.reason))
    ret.decision_reason = x.reason
    return {"denied": ret.id, "reason": x.reason}


EFFECTS: dict[type[a._Args], Callable[[EffectContext, Any], dict[str, Any]]] = {
    a.NotifyCustomer: notify_customer, a.RerouteShipment: reroute_shipment,
    a.ReallocateLine: reallocate_line, a.BackorderLine: backorder_line, a.CancelLine: cancel_line,
    a.CancelOrder: cancel_order, a.Refund: refund, a.StoreCredit: store_credit,
    a.ReleaseHold: release_hold, a.ApproveReturn: approve_return, a.DenyReturn: deny_return,
}
