"""Read models for the API: every query the routes need, so route functions stay free of SQL."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from agents.replan import lag as replan_lag
from api.schemas import (
    ActionOut,
    AuditOut,
    AuditTrail,
    Count,
    DecisionRecord,
    EventOut,
    ExceptionDetail,
    ExceptionRef,
    ExceptionSummary,
    Kpis,
    LineOut,
    Money,
    OrderOut,
    OrderSummary,
    Page,
    PolicyOut,
    Promises,
    ReplanLag,
    Reroutes,
    RuleOut,
    ShipmentOut,
    StockOut,
    TimelineEntry,
)
from core.audit import check_trail
from core.clock import hours_between, utc
from core.exceptions import TERMINAL
from core.models import (
    ActionRecord,
    AuditEntry,
    Event,
    Inventory,
    Lane,
    Order,
    OrderException,
    OrderLine,
    Refund,
    Shipment,
    ShipmentStatus,
    StoreCredit,
)
from policies.book import RULES, PolicyBook

SECTION_OF_RULE = {"A": "autonomy", "M": "money", "D": "delays", "S": "stockouts", "F": "fraud", "R": "returns",
                   "P": "actions", "C": "messages", "N": "none"}


def _count(session: Session, query: Any) -> int:
    return int(session.exec(select(func.count()).select_from(query.subquery())).one())


# --------------------------------------------------------------------------- orders and stock


def order_summary(o: Order) -> OrderSummary:
    return OrderSummary(id=o.id, customer_id=o.customer_id, status=o.status, placed_at=o.placed_at,
                        promised_by=o.promised_by, shipping_method=o.shipping_method,
                        captured_cents=o.captured_cents, refunded_cents=o.refunded_cents, fraud_score=o.fraud_score)


def get_order(session: Session, order_id: str) -> OrderOut | None:
    o = session.get(Order, order_id)
    if o is None:
        return None
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.line_no))).all()
    shipments = session.exec(select(Shipment).where(Shipment.order_id == order_id).order_by(col(Shipment.id))).all()
    excs = session.exec(select(OrderException).where(OrderException.order_id == order_id)
                        .order_by(col(OrderException.id))).all()
    return OrderOut(
        **order_summary(o).model_dump(), ship_region=o.ship_region, ship_address_id=o.ship_address_id,
        fee_cents=o.fee_cents,
        lines=[LineOut(line_no=x.line_no, sku=x.sku, qty=x.qty, unit_price_cents=x.unit_price_cents,
                       location=x.location, status=x.status, expected_at=x.expected_at) for x in lines],
        shipments=[ShipmentOut(id=s.id, location=s.location, service=s.service, status=s.status, eta=s.eta,
                               delivered_at=s.delivered_at) for s in shipments],
        exceptions=[ExceptionRef(id=e.id, type=e.type, state=e.state) for e in excs])


def list_orders(session: Session, *, status: str | None, customer: str | None, limit: int,
                offset: int) -> Page[OrderSummary]:
    query = select(Order)
    if status is not None:
        query = query.where(Order.status == status)
    if customer is not None:
        query = query.where(Order.customer_id == customer)
    rows = session.exec(query.order_by(col(Order.placed_at), col(Order.id)).limit(limit).offset(offset)).all()
    return Page[OrderSummary](items=[order_summary(o) for o in rows], total=_count(session, query),
                              limit=limit, offset=offset)


def list_stock(session: Session, *, sku: str | None, location: str | None, limit: int,
               offset: int) -> Page[StockOut]:
    query = select(Inventory)
    if sku is not None:
        query = query.where(Inventory.sku == sku)
    if location is not None:
        query = query.where(Inventory.location == location)
    rows = session.exec(query.order_by(col(Inventory.location), col(Inventory.sku)).limit(limit).offset(offset)).all()
    return Page[StockOut](items=[StockOut(location=r.location, sku=r.sku, on_hand=r.on_hand, reserved=r.reserved,
                                          atp=r.atp) for r in rows],
                          total=_count(session, query), limit=limit, offset=offset)


# --------------------------------------------------------------------------- exceptions


@dataclass(frozen=True)
class ExceptionFilter:
    type: str | None = None
    status: str | None = None
    order: str | None = None
    customer: str | None = None
    min_age_hours: float | None = None
    max_age_hours: float | None = None


def _held_by_exception(session: Session, ids: Sequence[str]) -> dict[str, tuple[int, datetime | None]]:
    if not ids:
        return {}
    rows = session.exec(
        select(ActionRecord.exception_id, func.count(), func.min(ActionRecord.expires_at))
        .where(col(ActionRecord.exception_id).in_(list(ids)), ActionRecord.status == "held")
        .group_by(col(ActionRecord.exception_id))).all()
    out: dict[str, tuple[int, datetime | None]] = {}
    for exc_id, n, first in rows:
        out[exc_id] = (int(n), None if first is None else utc(_as_datetime(first)))
    return out


def _as_datetime(value: datetime | str) -> datetime:
    """min() over a SQLite column bypasses the column type and hands back text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _summary(e: OrderException, customer_id: str, held: tuple[int, datetime | None], now: datetime) -> ExceptionSummary:
    end = e.resolved_at or now
    return ExceptionSummary(id=e.id, type=e.type, state=e.state, order_id=e.order_id, customer_id=customer_id,
                            subject=e.subject, raised_at=e.raised_at, updated_at=e.updated_at,
                            resolved_at=e.resolved_at, age_hours=round(max(hours_between(end, e.raised_at), 0), 4),
                            held=held[0], expires_at=held[1], claimed_by=e.claimed_by)


def list_exceptions(session: Session, f: ExceptionFilter, *, now: datetime, limit: int,
                    offset: int) -> Page[ExceptionSummary]:
    query = select(OrderException, Order.customer_id).join(Order, col(Order.id) == col(OrderException.order_id))
    if f.type is not None:
        query = query.where(OrderException.type == f.type)
    if f.status is not None:
        query = query.where(OrderException.state == f.status)
    if f.order is not None:
        query = query.where(OrderException.order_id == f.order)
    if f.customer is not None:
        query = query.where(Order.customer_id == f.customer)
    if f.min_age_hours is not None:
        query = query.where(col(OrderException.raised_at) <= now - timedelta(hours=f.min_age_hours))
    if f.max_age_hours is not None:
        query = query.where(col(OrderException.raised_at) >= now - timedelta(hours=f.max_age_hours))
    rows = session.exec(query.order_by(col(OrderException.raised_at), col(OrderException.id))
                        .limit(limit).offset(offset)).all()
    held = _held_by_exception(session, [e.id for e, _ in rows])
    items = [_summary(e, cust, held.get(e.id, (0, None)), now) for e, cust in rows]
    return Page[ExceptionSummary](items=items, total=_count(session, query), limit=limit, offset=offset)


def action_out(r: ActionRecord) -> ActionOut:
    return ActionOut(key=r.idempotency_key, action=r.action, args=r.args, status=r.status, planner=r.planner,
                     confidence=r.confidence, rationale=r.rationale, rule_ids=list(r.verdict.get("rule_ids", [])),
                     reasons=list(r.verdict.get("reasons", [])), verdict=r.verdict, policy_version=r.policy_version,
                     required_role=r.required_role, proposed_at=r.proposed_at, decided_by=r.decided_by,
                     decided_at=r.decided_at, applied_at=r.applied_at, expires_at=r.expires_at, result=r.result)


def actions_of(session: Session, exception_id: str) -> list[ActionOut]:
    rows = session.exec(select(ActionRecord).where(ActionRecord.exception_id == exception_id)
                        .order_by(col(ActionRecord.id))).all()
    return [action_out(r) for r in rows]


def exception_detail(session: Session, exception_id: str, *, now: datetime) -> ExceptionDetail | None:
    e = session.get(OrderException, exception_id)
    if e is None:
        return None
    order = session.get(Order, e.order_id)
    customer_id = order.customer_id if order is not None else ""
    records = session.exec(select(ActionRecord).where(ActionRecord.exception_id == e.id)
                           .order_by(col(ActionRecord.id))).all()
    held = [r for r in records if r.status == "held"]
    first = min((r.expires_at for r in held if r.expires_at is not None), default=None)
    subjects = [x for x in (e.id, e.order_id, e.shipment_id, e.return_id) if x]
    events = session.exec(
        select(Event).where(or_(Event.aggregate_id == e.id,
                                col(Event.aggregate_id).in_(subjects) & (col(Event.at) >= e.raised_at),
                                col(Event.aggregate_id).startswith(f"{e.order_id}/") & (col(Event.at) >= e.raised_at)))
        .order_by(col(Event.seq))).all()
    audit = session.exec(select(AuditEntry).where(AuditEntry.exception_id == e.id)
                         .order_by(col(AuditEntry.seq), col(AuditEntry.id))).all()
    trail = check_trail(e.id, e.audit_seq, e.audit_head, audit, records)
    timeline = [TimelineEntry(at=x.at, source="event", kind=x.type, actor=None,
                              detail={"aggregate_id": x.aggregate_id, **x.data}) for x in events]
    timeline += [TimelineEntry(at=x.at, source="audit", kind=x.kind, actor=x.actor, detail=x.detail) for x in audit]
    timeline.sort(key=lambda t: (utc(t.at), t.source == "audit"))
    return ExceptionDetail(
        **_summary(e, customer_id, (len(held), first), now).model_dump(),
        shipment_id=e.shipment_id, sku=e.sku, location=e.location, short_qty=e.short_qty, return_id=e.return_id,
        note=e.note, detail=e.detail, resolution=e.resolution,
        actions=[action_out(r) for r in records],
        decisions=[DecisionRecord(key=r.idempotency_key, action=r.action, status=r.status, decided_by=r.decided_by,
                                  decided_at=r.decided_at, role=r.verdict.get("decided_role"),
                                  edited=bool(r.verdict.get("edited"))) for r in records if r.decided_by],
        events=[EventOut(seq=x.seq or 0, at=x.at, type=x.type, aggregate=x.aggregate, aggregate_id=x.aggregate_id,
                         data=x.data) for x in events],
        audit=[AuditOut(at=x.at, actor=x.actor, kind=x.kind, detail=x.detail, seq=x.seq, hash=x.hash) for x in audit],
        audit_trail=AuditTrail(verified=trail.ok, entries=trail.entries, records=trail.records,
                               problem=trail.problem, entry_id=trail.entry_id, seq=trail.seq),
        timeline=timeline)


# --------------------------------------------------------------------------- kpis and policy


def kpis(session: Session, *, now: datetime | None = None) -> Kpis:
    open_rows = session.exec(
        select(OrderException.type, OrderException.state, func.count())
        .where(col(OrderException.state).notin_(list(TERMINAL)))
        .group_by(col(OrderException.type), col(OrderException.state))
        .order_by(col(OrderException.type), col(OrderException.state))).all()
    closed = session.exec(select(OrderException.id, OrderException.raised_at, OrderException.resolved_at)
                          .where(col(OrderException.state).in_(["resolved", "rejected"]))).all()
    supervised = set(session.exec(select(ActionRecord.exception_id).where(col(ActionRecord.decided_by).is_not(None))
                                  .distinct()).all())
    auto = sum(1 for x in closed if x[0] not in supervised)
    hours = [hours_between(x[2], x[1]) for x in closed if x[2] is not None]
    refunds = int(session.exec(select(func.coalesce(func.sum(Refund.amount_cents), 0))).one())
    credits = int(session.exec(select(func.coalesce(func.sum(StoreCredit.amount_cents), 0))).one())
    by_agents = int(session.exec(select(func.coalesce(func.sum(Refund.amount_cents), 0))
                                 .where(col(Refund.exception_id).is_not(None))).one())
    by_agents += int(session.exec(select(func.coalesce(func.sum(StoreCredit.amount_cents), 0))
                                  .where(col(StoreCredit.exception_id).is_not(None))).one())
    delivered = session.exec(select(Shipment.delivered_at, Order.promised_by)
                             .join(Order, col(Order.id) == col(Shipment.order_id))
                             .where(Shipment.status == ShipmentStatus.delivered)).all()
    kept = sum(1 for at, promised in delivered if at is not None and utc(at) <= utc(promised))
    moved = session.exec(select(ActionRecord.args).where(ActionRecord.action == "reroute_shipment",
                                                         ActionRecord.status == "applied")).all()
    return Kpis(
        open_by_type_and_state=[Count(type=t, state=s, count=int(n)) for t, s, n in open_rows],
        closed=len(closed), auto_resolved=auto,
        auto_resolution_rate=round(auto / len(closed), 4) if closed else None,
        mean_hours_to_resolution=round(statistics.fmean(hours), 4) if hours else None,
        median_hours_to_resolution=round(statistics.median(hours), 4) if hours else None,
        paid_out=Money(refunds_cents=refunds, credits_cents=credits, total_cents=refunds + credits,
                       by_agents_cents=by_agents),
        promises=Promises(delivered_shipments=len(delivered), kept=kept,
                          rate=round(kept / len(delivered), 4) if delivered else None),
        reroutes=Reroutes(count=len(moved), co2_grams=sum(_reroute_co2(session, args) for args in moved)),
        replan_lag=_replan_lag(session, now))


def _replan_lag(session: Session, now: datetime | None) -> ReplanLag:
    behind = replan_lag(session.connection())
    return ReplanLag(events=behind.events, due=behind.due,
                     oldest_age_seconds=behind.oldest_age_seconds(now) if now is not None else None)


def _reroute_co2(session: Session, args: dict[str, Any]) -> int:
    """CO2 of the lane a reroute chose: from its new location to the order's region, by its service."""
    region = session.exec(select(Order.ship_region).join(Shipment, col(Shipment.order_id) == col(Order.id))
                          .where(Shipment.id == args.get("shipment_id"))).first()
    lane = session.exec(select(Lane.co2_grams).where(Lane.from_location == args.get("to_location"),
                                                     Lane.to_region == region,
                                                     Lane.service == args.get("service"))).first()
    return int(lane or 0)


def policy(book: PolicyBook) -> PolicyOut:
    """The run's book: its numbers by section, its version, the rule ids."""
    sections = book.model_dump(mode="json")
    name = sections.pop("name")
    return PolicyOut(name=name, version=book.version, sections=sections,
                     rules=[RuleOut(id=k, section=SECTION_OF_RULE.get(k[0], "other"), description=v)
                            for k, v in RULES.items()])
