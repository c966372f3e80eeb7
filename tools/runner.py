"""Runs one write tool under its guards: idempotent, preconditions against current state, one transaction.

Whatever a planner said and whoever approved, an action is applied only if
its preconditions and message checks hold against the OMS as it is at the
moment of writing; applying the same record twice changes nothing. Each
record is claimed (`claim_record`) before its guard and effect run, so two
overlapping runs that both read it as ready apply it once between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, select
from sqlmodel import Session

from core.audit import AuditLog
from core.errors import DomainError
from core.facts import Facts, load_facts
from core.jsonvalue import jsonable
from core.models import ActionRecord, Order, OrderException
from core.store import UnitOfWork
from policies import actions as a
from policies.book import BOOK, PolicyBook
from policies.judge import processing_rank
from policies.messages import message_problems
from policies.preconditions import precondition_problem
from tools.effects import EFFECTS, EffectContext
from tools.records import (
    APPLICABLE,
    RecordRow,
    claim_record,
    finish_record,
    held_count,
    record_for_update,
    record_rows,
)

DONE = frozenset({"applied", "denied", "rejected", "expired", "failed", "withdrawn"})

_O, _X, _A = Order.__table__, OrderException.__table__, ActionRecord.__table__
_CUSTOMER_OF = select(_O.c.customer_id).where(_O.c.id == bindparam("id"))
_ORDER_OF = select(_X.c.order_id).where(_X.c.id == bindparam("id"))
_AMOUNTS = select(_A.c.args, _A.c.status).where(_A.c.exception_id == bindparam("x"))

Record = Callable[[UnitOfWork, AuditLog], None]
"""Writes the judge's records in the caller's transaction (see `apply_ready`)."""


def foreign_ref_checker(session: Session, customer_id: str) -> Callable[[str], bool]:
    """True for an order id that belongs to another customer: a message must never carry it."""
    def is_foreign(ref: str) -> bool:
        owner = session.connection().execute(_CUSTOMER_OF, {"id": ref}).scalar()
        return owner is not None and owner != customer_id
    return is_foreign


def apply_record(engine: Engine, record_id: int, *, now: datetime, actor: str,
                 book: PolicyBook = BOOK) -> RecordRow:
    """Apply a pending or approved action once; return the record in its final state."""
    with UnitOfWork(engine) as uow:
        rec = record_for_update(uow.conn, record_id)
        if rec.status in DONE:
            return rec
        if rec.status not in APPLICABLE:
            raise DomainError(f"action {rec.idempotency_key} is {rec.status}: it cannot be applied")
        audit = AuditLog()
        try:
            _apply_in(uow, rec, now, actor, _order_id(uow.conn, rec.exception_id), book, audit)
        except DomainError as err:
            uow.rollback()
            return _deny_after_failure(engine, record_id, now, actor, str(err))
        audit.write(uow.session)
        uow.commit()
        return rec if rec.status not in APPLICABLE else _current(engine, record_id)  # else another run took it


def apply_ready(engine: Engine, exception_id: str, *, now: datetime, actor: str, book: PolicyBook = BOOK,
                order_id: str | None = None, record: Record | None = None) -> int:
    """Apply every pending or approved action of an exception, in order; return how many stay held.

    All in one transaction when every effect goes through; if one is refused
    by the OMS mid-way, the batch is rolled back and each is applied on its own.
    `record`, when given, writes the judge's records first in the same transaction
    (one commit for judging and applying); if the batch is refused it is written
    again on its own and committed before the records are applied one by one.
    """
    with UnitOfWork(engine) as uow:
        audit = AuditLog()
        if record is not None:
            record(uow, audit)
        ready = _ready(uow.conn, exception_id)
        order_id = order_id or _order_id(uow.conn, exception_id)
        facts: Facts | None = None
        try:
            for rec in ready:
                facts = _apply_in(uow, rec, now, actor, order_id, book, audit, facts)
        except DomainError:
            uow.rollback()
        else:
            held = held_count(uow.conn, exception_id)
            audit.write(uow.session)
            uow.commit()
            return held
        if record is not None:
            audit = AuditLog()
            record(uow, audit)
            audit.write(uow.session)
            uow.commit()
        ready_ids = [r.id for r in _ready(uow.conn, exception_id)]
    for record_id in ready_ids:
        apply_record(engine, record_id, now=now, actor=actor, book=book)
    with UnitOfWork(engine) as uow:
        return held_count(uow.conn, exception_id)


def _ready(conn: Connection, exception_id: str) -> list[RecordRow]:
    """What may be applied, as read now (no lock: `_apply_in` claims each record before applying it)."""
    return sorted(record_rows(conn, exception_id, APPLICABLE), key=lambda r: (processing_rank(r.action), r.id))


def _apply_in(uow: UnitOfWork, rec: RecordRow, now: datetime, actor: str, order_id: str, book: PolicyBook,
              audit: AuditLog, reuse: Facts | None = None) -> Facts | None:
    """Claim, guard and apply one record inside the caller's transaction; raise DomainError if the OMS refuses.

    A record another run finished since it was read is left as that run left it. Returns the facts
    the guard read, so the next guard of the batch can reuse their reference data.
    """
    if rec.status in DONE or not claim_record(uow.conn, rec):
        return reuse
    s = uow.session
    problem, facts = _guard(s, rec, now, book, reuse)
    if problem is not None:
        finish_record(uow.conn, rec, "denied", now, actor, {"error": problem}, audit)
        return facts
    args = a.parse_args(rec.action, rec.args)
    cx = EffectContext(session=s, now=now, exception_id=rec.exception_id, order_id=order_id)
    result = EFFECTS[type(args)](cx, args)
    # Each event names the exception whose action caused it: its own effects never make its plan stale.
    uow.emit(*(replace(e, data={**e.data, "exception_id": rec.exception_id}) for e in cx.events))
    s.flush()  # the effect's ORM changes, before the next guard reads by Core
    finish_record(uow.conn, rec, "applied", now, actor, jsonable(result), audit)
    return facts


def _guard(s: Session, rec: RecordRow, now: datetime, book: PolicyBook = BOOK,
           reuse: Facts | None = None) -> tuple[str | None, Facts | None]:
    """The record's preconditions and message checks against the state as it is in this transaction."""
    facts = load_facts(s, rec.exception_id, now, book.carbon.cents_per_kg_default, reuse=reuse)
    try:
        args = a.parse_args(rec.action, rec.args)
    except ValueError as err:
        return str(err), facts
    if problem := precondition_problem(args, facts, book=book):
        return f"precondition failed at apply time: {problem}", facts
    if isinstance(args, a.NotifyCustomer):
        applied = [int(r.args["amount_cents"]) for r in s.connection().execute(_AMOUNTS, {"x": rec.exception_id})
                   if "amount_cents" in r.args and r.status in ("applied", "pending", "approved")]
        problems = message_problems(
            args.body, customer_email=facts.customer.email, eta=args.eta, amounts_cents=applied,
            own_refs=[facts.order.id, facts.customer.id, *(x.id for x in facts.order.shipments),
                      *(x.id for x in facts.order.returns)],
            is_foreign_ref=foreign_ref_checker(s, facts.customer.id), book=book)
        if problems:
            return "message checks failed: " + "; ".join(problems), facts
    return None, facts


def _order_id(conn: Connection, exception_id: str) -> str:
    return str(conn.execute(_ORDER_OF, {"id": exception_id}).scalar_one())


def _deny_after_failure(engine: Engine, record_id: int, now: datetime, actor: str, error: str) -> RecordRow:
    with UnitOfWork(engine) as uow:
        rec = record_for_update(uow.conn, record_id)
        audit = AuditLog()
        if not finish_record(uow.conn, rec, "denied", now, actor, {"error": f"refused by the OMS: {error}"}, audit):
            return rec  # another run finished it meanwhile: its outcome stands
        audit.write(uow.session)
        uow.commit()
        return rec


def _current(engine: Engine, record_id: int) -> RecordRow:
    with UnitOfWork(engine) as uow:
        return record_for_update(uow.conn, record_id)
