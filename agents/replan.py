"""The outbox's consumer: OMS events that change a waiting exception's facts plan it again.

policy.md section 1, "Plans go stale". Two steps, each safe to run from many workers at once:

1. **Read** (`read_events`): in one short transaction, take the cursor's row (`outbox_cursor`, a
   conditional UPDATE: consumers queue on it), read the events after it in `seq` order, write one
   `replan_due` row per (waiting exception, event) that changes its facts, and move the cursor past
   them. The rows and the cursor commit together, so every event is read at least once and enqueued
   exactly once; a replayed event (the cursor set back) finds its rows and adds none.
2. **Re-plan** (`replan_due`): for each exception with rows not yet done, take its claim as a worker
   does (a conditional UPDATE over no live claim), re-plan it on the newest of its events
   (`agents.service.replan_exception`), mark its rows done and let the claim go. An exception
   someone else holds (a worker, the API resuming a decision, another consumer) is left for a later
   pass; one that stopped waiting needs nothing.

Which events change an exception's facts: an event on its order, shipments, lines, return or
customer, or stock of its order's SKUs. An event its own actions caused (`data.exception_id`) does
not, nor do the exception's own moves.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Connection, Engine, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from agents.planners.base import Planner
from agents.service import is_parked, replan_exception
from agents.stale import event_dict, newest_due
from core.clock import Clock
from core.models import (
    ActionRecord,
    Event,
    ExceptionState,
    Order,
    OrderException,
    OrderLine,
    OutboxCursor,
    ReplanDue,
    Return,
    Shipment,
)
from core.store import UnitOfWork
from policies.book import PolicyBook

CURSOR = "replan"
"""The consumer's row in `outbox_cursor`."""
IGNORED = ("exception", "simulation")
"""Aggregates whose events change no exception's facts (an exception's own moves, a simulation's start)."""
WAITING = (ExceptionState.awaiting_approval, ExceptionState.working)
"""Who an event is enqueued for: a waiting exception, or one being worked whose plan may predate the event."""
DEFAULT_LEASE = timedelta(seconds=120)

_E, _C, _D, _A = Event.__table__, OutboxCursor.__table__, ReplanDue.__table__, ActionRecord.__table__
_X, _O, _L, _S, _R = (OrderException.__table__, Order.__table__, OrderLine.__table__, Shipment.__table__,
                      Return.__table__)
_TAKE = update(_C).where(_C.c.name == CURSOR).values(holder=bindparam("holder"), leased_at=bindparam("at"))
"""Takes the cursor's row for the transaction (SQLite: the write lock): readers queue here."""
_MOVE = update(_C).where(_C.c.name == CURSOR).values(seq=bindparam("seq"))
_AFTER = (select(_E.c.seq, _E.c.at, _E.c.type, _E.c.aggregate, _E.c.aggregate_id, _E.c.data)
          .where(_E.c.seq > bindparam("after")).order_by(_E.c.seq).limit(bindparam("limit")))
REPLANNER_PREFIX = "replan:"
"""A consumer's claims: one consumer never takes another's live claim."""
RESUMER_PREFIX = "api:"
"""The API's claims while it resumes a graph for a supervisor's decision (api.decisions)."""
_HELD = select(_A.c.id).where(_A.c.exception_id == _X.c.id, _A.c.status == "held").exists()
_CLAIM = update(_X).where(
    _X.c.id == bindparam("xid"),
    or_(_X.c.claimed_by.is_(None), _X.c.claimed_at < bindparam("stale"), _X.c.claimed_by == bindparam("me"),
        # The worker that parked it at its interrupt with items to decide is done with it (its claim is only
        # left to lapse); nobody runs a graph parked like that but a consumer or the API, whose claims count.
        (_X.c.state == ExceptionState.awaiting_approval) & _HELD
        & _X.c.claimed_by.not_like(REPLANNER_PREFIX + "%") & _X.c.claimed_by.not_like(RESUMER_PREFIX + "%")),
).values(claimed_by=bindparam("me"), claimed_at=bindparam("at"))
_RELEASE = (update(_X).where(_X.c.id == bindparam("xid"), _X.c.claimed_by == bindparam("me"))
            .values(claimed_by=None, claimed_at=None))
_DONE = (update(_D).where(_D.c.exception_id == bindparam("xid"), _D.c.event_seq <= bindparam("upto"),
                          _D.c.done_at.is_(None)).values(done_at=bindparam("when")))


def default_holder() -> str:
    return f"{REPLANNER_PREFIX}{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Lag:
    """How far the consumer is behind: events not yet read, the oldest one's time, and re-plans not yet done."""

    events: int
    oldest_at: datetime | None
    due: int

    def oldest_age_seconds(self, now: datetime) -> float | None:
        return None if self.oldest_at is None else round(max((now - self.oldest_at).total_seconds(), 0.0), 3)


def lag(conn: Connection) -> Lag:
    cursor = conn.execute(select(_C.c.seq).where(_C.c.name == CURSOR)).scalar() or 0
    count, oldest = conn.execute(select(func.count(), func.min(_E.c.at)).where(_E.c.seq > cursor)).one()
    due = conn.execute(select(func.count()).select_from(_D).where(_D.c.done_at.is_(None))).scalar_one()
    return Lag(events=int(count), oldest_at=oldest, due=int(due))


def consume_events(
    engine: Engine, *, clock: Clock, planner: Planner | None = None,
    checkpointer: BaseCheckpointSaver[str] | None = None, book: PolicyBook | None = None, limit: int = 500,
    holder: str | None = None, lease: timedelta = DEFAULT_LEASE,
    keep_claim: Callable[[str], AbstractContextManager[object]] | None = None,
    before_replan: Callable[[str], None] | None = None,
) -> int:
    """Read the outbox after the cursor and re-plan every waiting exception whose facts changed; returns
    how many events were consumed.

    `keep_claim` wraps each re-plan (the worker renews the claim with a heartbeat there);
    `before_replan` is a test hook that runs once the exception is claimed, before its graph runs.
    """
    me = holder or default_holder()
    consumed = read_events(engine, now=clock.now(), holder=me, limit=limit)
    replan_due(engine, clock=clock, planner=planner, checkpointer=checkpointer, book=book, holder=me, lease=lease,
               keep_claim=keep_claim, before_replan=before_replan)
    return consumed


def read_events(engine: Engine, *, now: datetime, holder: str, limit: int = 500) -> int:
    """Enqueue the re-plans the events after the cursor call for, and move the cursor past them (one commit)."""
    _ensure_cursor(engine)
    with UnitOfWork(engine) as uow:
        conn = uow.conn
        conn.execute(_TAKE, {"holder": holder, "at": now})
        after = int(conn.execute(select(_C.c.seq).where(_C.c.name == CURSOR)).scalar_one())
        events = conn.execute(_AFTER, {"after": after, "limit": limit}).all()
        if not events:
            uow.rollback()
            return 0
        rows: list[dict[str, Any]] = []
        for e in events:
            rows += [{"exception_id": x, "event_seq": e.seq, "at": e.at} for x in affected(conn, e)]
        if rows:
            known = {(r.exception_id, r.event_seq) for r in conn.execute(
                select(_D.c.exception_id, _D.c.event_seq).where(_D.c.event_seq.between(events[0].seq,
                                                                                        events[-1].seq)))}
            rows = [r for r in rows if (r["exception_id"], r["event_seq"]) not in known]
            if rows:
                conn.execute(insert(_D), rows)
        conn.execute(_MOVE, {"seq": events[-1].seq})
        try:
            uow.commit()
        except IntegrityError:  # another reader enqueued these first (its cursor move wins): nothing lost
            uow.rollback()
            return 0
        return len(events)


def _ensure_cursor(engine: Engine) -> None:
    with engine.connect() as conn:
        if conn.execute(select(_C.c.seq).where(_C.c.name == CURSOR)).first() is not None:
            return
        try:
            conn.execute(insert(_C).values(name=CURSOR, seq=0))
            conn.commit()
        except IntegrityError:  # another consumer made it first
            conn.rollback()


def affected(conn: Connection, e: Any) -> list[str]:
    """The waiting exceptions whose facts this event changes (policy.md section 1), in id order."""
    if e.aggregate in IGNORED:
        return []
    data: dict[str, Any] = e.data or {}
    orders: set[str] = set()
    customers: set[str] = set()
    skus: set[str] = set()
    if isinstance(data.get("order_id"), str):
        orders.add(data["order_id"])
    match e.aggregate:
        case "order" | "payment":
            orders.add(e.aggregate_id)
        case "shipment":
            orders.update(conn.execute(select(_S.c.order_id).where(_S.c.id == e.aggregate_id)).scalars())
        case "return":
            orders.update(conn.execute(select(_R.c.order_id).where(_R.c.id == e.aggregate_id)).scalars())
        case "line":
            orders.add(e.aggregate_id.replace("#", "/").split("/", 1)[0])
        case "customer":  # a customer's id, or (customer.notified) the order the message was about
            customers.add(e.aggregate_id)
            orders.add(e.aggregate_id)
        case "stock":
            sku = data.get("sku") or e.aggregate_id.split("/", 1)[-1]
            skus.add(str(sku))
    if isinstance(data.get("sku"), str) and e.aggregate != "stock":
        skus.add(data["sku"])
    who = []
    if orders:
        who.append(_X.c.order_id.in_(sorted(orders)))
    if customers:
        who.append(_X.c.order_id.in_(select(_O.c.id).where(_O.c.customer_id.in_(sorted(customers)))))
    if skus:
        who.append(_X.c.order_id.in_(select(_L.c.order_id).where(_L.c.sku.in_(sorted(skus)))))
    if not who:
        return []
    found = conn.execute(select(_X.c.id).where(_X.c.state.in_([str(s) for s in WAITING]), or_(*who))
                         .order_by(_X.c.id)).scalars()
    own = data.get("exception_id")
    return [x for x in found if x != own]


def replan_due(
    engine: Engine, *, clock: Clock, planner: Planner | None = None,
    checkpointer: BaseCheckpointSaver[str] | None = None, book: PolicyBook | None = None,
    holder: str | None = None, lease: timedelta = DEFAULT_LEASE,
    keep_claim: Callable[[str], AbstractContextManager[object]] | None = None,
    before_replan: Callable[[str], None] | None = None,
) -> list[str]:
    """Re-plan each exception with re-plans due that no one else holds; returns the ids re-planned."""
    me = holder or default_holder()
    done: list[str] = []
    for exception_id, named, upto in _due(engine):
        now = clock.now()
        with UnitOfWork(engine) as uow:
            state = uow.conn.execute(select(_X.c.state).where(_X.c.id == exception_id)).scalar()
            if state not in (ExceptionState.awaiting_approval, ExceptionState.working):
                uow.conn.execute(_DONE, {"xid": exception_id, "upto": upto, "when": now})  # stopped waiting
                uow.commit()
                continue
            if state == ExceptionState.working or uow.conn.execute(_CLAIM, {
                    "xid": exception_id, "me": me, "at": now, "stale": now - lease}).rowcount != 1:
                uow.rollback()  # being worked, or someone else holds it: a later pass
                continue
            uow.commit()
        try:
            if not is_parked(exception_id, checkpointer):  # its graph has not reached the interrupt: a later pass
                continue
            with keep_claim(exception_id) if keep_claim is not None else nullcontext():
                if before_replan is not None:
                    before_replan(exception_id)
                replan_exception(engine, exception_id, event=_event(engine, named), clock=clock, planner=planner,
                                 checkpointer=checkpointer, book=book, actor=me)
            with UnitOfWork(engine) as uow:
                uow.conn.execute(_DONE, {"xid": exception_id, "upto": upto, "when": clock.now()})
                uow.commit()
            done.append(exception_id)
        finally:
            with UnitOfWork(engine) as uow:
                uow.conn.execute(_RELEASE, {"xid": exception_id, "me": me})
                uow.commit()
    return done


def _due(engine: Engine) -> Iterator[tuple[str, int, int]]:
    """Each exception with re-plans due (oldest first): the event it is planned on, and the newest due."""
    with engine.connect() as conn:
        rows = conn.execute(select(_D.c.exception_id, _D.c.event_seq, _D.c.at).where(_D.c.done_at.is_(None))
                            .order_by(_D.c.event_seq)).all()
    by_exception: dict[str, list[tuple[int, datetime]]] = {}
    for exception_id, seq, at in rows:
        by_exception.setdefault(str(exception_id), []).append((int(seq), at))
    for exception_id, due in by_exception.items():
        found = newest_due(due)
        if found is not None:
            yield exception_id, found[0], found[1]


def _event(engine: Engine, seq: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return event_dict(conn, seq)


__all__ = ["REPLANNER_PREFIX", "Lag", "affected", "consume_events", "lag", "read_events", "replan_due"]
