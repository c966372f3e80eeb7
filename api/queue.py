"""The approvals queue, server side: one page of waiting exceptions, sorted and filtered in SQL, and its owners.

The dashboard used to fetch every waiting exception with its detail and order
and sort them in the browser session: fine for nine, eleven seconds for 183.
Here one query ranks the waiting exceptions by the sums of their held
actions (money, first deadline, needs a lead), which the store's triggers keep
on each exception's row (migration 0003), and returns one page with its
total; a second reads the held actions of that page only. A card
(`queue_card`) adds what a supervisor decides from: the order, the return's
claim and evidence, every action, and each rule id's sentence from the book.

Owners are people, apart from a worker's claim (`claimed_by`, a lease): a
supervisor takes an item ("mine"), the others see who holds it, and taking one
someone else holds is refused naming the holder. One conditional UPDATE does
it, so two supervisors taking the same item at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, bindparam, case, func, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from api.queries import action_out, get_order
from api.schemas import ActionOut, OrderOut
from core.clock import hours_between, utc
from core.models import ActionRecord, ExceptionState, Order, OrderException, Return
from policies.book import RULES, PolicyBook

Sort = Literal["urgency", "money", "age", "deadline"]
SORTS: tuple[Sort, ...] = ("urgency", "money", "age", "deadline")
MAX_PAGE = 100
"""Items per page at most: a page is drawn as cards."""
MAX_OFFSET = 100_000
AT_RISK_TYPES = ("delay", "stockout")
AT_RISK_WITHIN = timedelta(hours=24)
"""An order promised within a day of now is at risk, whatever its exception."""
CLOSED_ORDER_STATES = ("delivered", "cancelled")
WAITING = ExceptionState.awaiting_approval
MONEY_SECTION = "M"
"""Rule ids of the book's money section (M1-M5): an item one of them holds is never routine."""


# --------------------------------------------------------------------------- what crosses the boundary


class ReturnFacts(BaseModel):
    id: str
    reason: str | None
    claim: str = Field(description="the customer's own words: plain text, never markup")
    evidence: bool
    status: str


class QueueItem(BaseModel):
    """One waiting exception as the queue lists it: enough to rank, filter and decide routine items."""

    id: str
    type: str
    state: str
    order_id: str
    customer_id: str
    subject: str
    raised_at: datetime
    age_hours: float
    held: int = Field(description="actions waiting for a decision")
    money_cents: int = Field(description="the money the held actions would pay out")
    deadline: datetime | None = Field(description="when the first held action expires (then it escalates)")
    needs_lead: bool
    promise_at_risk: bool
    owner: str | None = Field(description="the supervisor who took it, if anyone has")
    owned_at: datetime | None
    routine: bool = Field(description="every held action meets its class's confidence threshold, none needs a lead "
                                      "or is irreversible, no money rule held it, and the money is within the "
                                      "standard goodwill ceiling")
    rule_ids: list[str] = Field(description="the rules the held actions cite, in order of first mention")
    rules: dict[str, str] = Field(description="each rule id the actions cite, with its sentence from the book")
    actions: list[ActionOut] = Field(description="the held actions")
    note: str | None = Field(description="what the exception was raised with (a return's claim): plain text")
    detail: dict[str, Any]
    order_status: str
    promised_by: datetime
    shipping: str = Field(description="method and region")
    captured_cents: int
    refunded_cents: int
    fraud_score: float
    return_: ReturnFacts | None = Field(alias="return", serialization_alias="return",
                                        description="the return a dispute is about: reason, claim, evidence")

    model_config = {"populate_by_name": True}


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int = Field(description="waiting exceptions matching the filters, across all pages")
    limit: int
    offset: int
    sort: Sort


class QueueCard(QueueItem):
    """The item with its whole order and every action of the exception, whatever its status."""

    order: OrderOut | None
    all_actions: list[ActionOut] = Field(description="every action of the exception, whatever its status")


class OwnerOut(BaseModel):
    exception_id: str
    owner: str | None
    owned_at: datetime | None


# --------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class QueueFilter:
    types: tuple[str, ...] = ()
    rule: str | None = None
    min_cents: int | None = None
    max_cents: int | None = None
    needs_lead: bool | None = None
    owner: str | None = None
    """A name, or "" for items nobody holds."""


def queue_page(session: Session, f: QueueFilter, *, book: PolicyBook, now: datetime, sort: Sort, limit: int,
               offset: int) -> QueuePage:
    """One page: the held actions' sums are on each exception's row (kept by the store's triggers), so a page
    reads the waiting exceptions and their orders, and then the held actions of its own items only."""
    x, o, r = OrderException.__table__.c, Order.__table__.c, Return.__table__.c
    at_risk = case((or_(x.type.in_(AT_RISK_TYPES),
                        and_(o.status.notin_(CLOSED_ORDER_STATES), o.promised_by <= now + AT_RISK_WITHIN)), 1),
                   else_=0)
    where: list[Any] = [x.state == WAITING]
    if f.types:
        where.append(x.type.in_(f.types))
    if f.rule is not None:
        where.append(x.queue_rules.like(f'%"{f.rule}"%'))
    if f.min_cents is not None:
        where.append(x.queue_cents >= f.min_cents)
    if f.max_cents is not None:
        where.append(x.queue_cents <= f.max_cents)
    if f.needs_lead is not None:
        where.append(x.queue_lead == (1 if f.needs_lead else 0))
    if f.owner is not None:
        where.append(x.owner.is_(None) if f.owner == "" else x.owner == f.owner)
    query = (core_select(x.id, x.type, x.state, x.order_id, o.customer_id, x.subject, x.raised_at, x.owner,
                         x.owned_at, x.queue_held.label("held"), x.queue_cents.label("money"),
                         x.queue_deadline.label("deadline"), x.queue_lead.label("lead"), at_risk.label("at_risk"),
                         x.note, x.detail, o.status.label("order_status"), o.promised_by, o.shipping_method,
                         o.ship_region, o.captured_cents, o.refunded_cents, o.fraud_score,
                         r.id.label("return_id"), r.reason.label("return_reason"), r.claim.label("return_claim"),
                         r.evidence.label("return_evidence"), r.status.label("return_status"))
             .select_from(OrderException.__table__.join(Order.__table__, o.id == x.order_id)
                          .outerjoin(Return.__table__, r.id == x.return_id)).where(*where))
    orders: dict[str, list[Any]] = {
        "urgency": [at_risk.desc(), x.queue_cents.desc(), x.raised_at.asc()],
        "money": [x.queue_cents.desc(), x.raised_at.asc()],
        "age": [x.raised_at.asc()],
        "deadline": [case((x.queue_deadline.is_(None), 1), else_=0), x.queue_deadline.asc(), x.raised_at.asc()],
    }
    order_by = orders[sort]
    rows = session.connection().execute(query.order_by(*order_by, x.id).limit(limit).offset(offset)).all()
    total = int(session.connection().execute(core_select(func.count()).select_from(OrderException.__table__)
                                             .where(*where)).scalar_one())
    actions = _held_actions(session, [r.id for r in rows])
    items = [_item(r, actions.get(r.id, []), book, now) for r in rows]
    return QueuePage(items=items, total=total, limit=limit, offset=offset, sort=sort)


def _held_actions(session: Session, ids: Sequence[str]) -> dict[str, list[ActionRecord]]:
    out: dict[str, list[ActionRecord]] = {}
    if not ids:
        return out
    for r in session.exec(select(ActionRecord).where(col(ActionRecord.exception_id).in_(list(ids)),
                                                     ActionRecord.status == "held").order_by(col(ActionRecord.id))):
        out.setdefault(r.exception_id, []).append(r)
    return out


def routine_action(r: ActionRecord | ActionOut, book: PolicyBook) -> bool:
    """Routine: at or above its class's threshold (no A1), no money rule on it, no lead, nothing irreversible."""
    rule_ids = [str(x) for x in r.verdict.get("rule_ids", [])]
    try:
        cls = book.autonomy.class_of(r.action)
    except StopIteration:
        return False
    return (r.confidence >= cls.auto_confidence and "A1" not in rule_ids
            and not any(x.startswith(MONEY_SECTION) for x in rule_ids)
            and r.required_role != "lead" and cls.name != "irreversible")


def _routine(held: Sequence[ActionRecord], money: int, book: PolicyBook) -> bool:
    return (bool(held) and all(routine_action(r, book) for r in held)
            and money <= book.money.goodwill_ceiling_cents["standard"])


def _rule_ids(records: Sequence[ActionRecord | ActionOut]) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        for x in r.verdict.get("rule_ids", []):
            seen.setdefault(str(x), None)
    return list(seen)


def _sentences(records: Sequence[ActionRecord | ActionOut]) -> dict[str, str]:
    return {x: RULES.get(x, "") for x in _rule_ids(records)}


def _item(r: Any, held: list[ActionRecord], book: PolicyBook, now: datetime) -> QueueItem:
    raised = utc(_dt(r.raised_at))
    money = int(r.money or 0)
    return QueueItem(id=r.id, type=r.type, state=r.state, order_id=r.order_id, customer_id=r.customer_id,
                     subject=r.subject, raised_at=raised, age_hours=round(max(hours_between(now, raised), 0), 4),
                     held=int(r.held), money_cents=money,
                     deadline=None if r.deadline is None else utc(_dt(r.deadline)),
                     needs_lead=bool(r.lead), promise_at_risk=bool(r.at_risk), owner=r.owner,
                     owned_at=None if r.owned_at is None else utc(_dt(r.owned_at)),
                     routine=_routine(held, money, book), rule_ids=_rule_ids(held), rules=_sentences(held),
                     actions=[action_out(a) for a in held], note=r.note, detail=r.detail or {},
                     order_status=r.order_status, promised_by=utc(_dt(r.promised_by)),
                     shipping=f"{r.shipping_method} to {r.ship_region}", captured_cents=r.captured_cents,
                     refunded_cents=r.refunded_cents, fraud_score=r.fraud_score,
                     return_=None if r.return_id is None else ReturnFacts(
                         id=r.return_id, reason=r.return_reason, claim=r.return_claim or "",
                         evidence=bool(r.return_evidence), status=r.return_status))


def _dt(value: datetime | str) -> datetime:
    """An aggregate (min) over a SQLite column bypasses the column type and hands back text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# --------------------------------------------------------------------------- one card


def queue_card(session: Session, exception_id: str, *, book: PolicyBook, now: datetime) -> QueueCard | None:
    """The card of one exception (waiting or not: a card stays readable after its decision)."""
    e = session.get(OrderException, exception_id)
    if e is None:
        return None
    order = get_order(session, e.order_id)
    records = list(session.exec(select(ActionRecord).where(ActionRecord.exception_id == e.id)
                                .order_by(col(ActionRecord.id))).all())
    held = [r for r in records if r.status == "held"]
    money = sum(int(r.args.get("amount_cents") or 0) for r in held)
    deadline = min((utc(r.expires_at) for r in held if r.expires_at is not None), default=None)
    at_risk = e.type in AT_RISK_TYPES or (
        order is not None and order.status not in CLOSED_ORDER_STATES
        and utc(order.promised_by) <= now + AT_RISK_WITHIN)
    ret = session.get(Return, e.return_id) if e.return_id else None
    all_out = [action_out(r) for r in records]
    return QueueCard(
        id=e.id, type=e.type, state=e.state, order_id=e.order_id,
        customer_id=order.customer_id if order is not None else "", subject=e.subject, raised_at=utc(e.raised_at),
        age_hours=round(max(hours_between(e.resolved_at or now, e.raised_at), 0), 4), held=len(held),
        money_cents=money, deadline=deadline, needs_lead=any(r.required_role == "lead" for r in held),
        promise_at_risk=at_risk, owner=e.owner, owned_at=None if e.owned_at is None else utc(e.owned_at),
        routine=_routine(held, money, book), rule_ids=_rule_ids(held), rules=_sentences(all_out),
        actions=[action_out(r) for r in held], note=e.note, detail=e.detail,
        order_status=order.status if order else "", promised_by=utc(order.promised_by if order else e.raised_at),
        shipping=f"{order.shipping_method} to {order.ship_region}" if order else "",
        captured_cents=order.captured_cents if order else 0, refunded_cents=order.refunded_cents if order else 0,
        fraud_score=order.fraud_score if order else 0.0, order=order,
        return_=None if ret is None else ReturnFacts(id=ret.id, reason=ret.reason, claim=ret.claim,
                                                     evidence=ret.evidence, status=ret.status),
        all_actions=all_out)


# --------------------------------------------------------------------------- owners


class NotWaiting(Exception):
    """The exception does not exist (404) or no longer waits (409)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class HeldByOther(Exception):
    """Someone else holds the item: 409 naming them."""

    def __init__(self, exception_id: str, owner: str, since: datetime | None) -> None:
        when = f" since {utc(since).isoformat()}" if since is not None else ""
        super().__init__(f"{exception_id} is held by {owner}{when}: they give it back, or decide it")
        self.detail = str(self)


_X = OrderException.__table__


def take(session: Session, exception_id: str, who: str, *, now: datetime) -> OwnerOut:
    """Take a waiting item as `who`'s: one conditional UPDATE (nobody holds it, or `who` does already)."""
    result = session.connection().execute(
        update(_X).where(_X.c.id == exception_id, _X.c.state == WAITING,
                         or_(_X.c.owner.is_(None), _X.c.owner == who))
        .values(owner=who, owned_at=case((_X.c.owner == who, _X.c.owned_at),
                                          else_=bindparam("now", now, type_=_X.c.owned_at.type))))
    if result.rowcount == 1:
        session.commit()
        return _owner_of(session, exception_id)
    session.rollback()
    e = session.get(OrderException, exception_id)
    if e is None:
        raise NotWaiting(404, f"exception {exception_id!r} does not exist")
    if e.state != WAITING:
        raise NotWaiting(409, f"{exception_id} is {e.state}, not waiting for a decision: nothing to take")
    assert e.owner is not None and e.owner != who
    raise HeldByOther(exception_id, e.owner, e.owned_at)


def give_back(session: Session, exception_id: str, who: str) -> OwnerOut:
    """Give an item back: only its holder may; giving back what nobody holds changes nothing."""
    result = session.connection().execute(
        update(_X).where(_X.c.id == exception_id, _X.c.owner == who).values(owner=None, owned_at=None))
    session.commit()
    if result.rowcount != 1:
        e = session.get(OrderException, exception_id)
        if e is None:
            raise NotWaiting(404, f"exception {exception_id!r} does not exist")
        if e.owner is not None and e.owner != who:
            raise HeldByOther(exception_id, e.owner, e.owned_at)
    return _owner_of(session, exception_id)


def _owner_of(session: Session, exception_id: str) -> OwnerOut:
    row = session.connection().execute(core_select(_X.c.owner, _X.c.owned_at).where(_X.c.id == exception_id)).one()
    return OwnerOut(exception_id=exception_id, owner=row[0], owned_at=None if row[1] is None else utc(_dt(row[1])))

