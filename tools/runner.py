"""Runs one write tool under its guards: idempotent, preconditions against current state, one transaction.

Whatever a planner said and whoever approved, an action is applied only if
its preconditions and message checks hold against the OMS as it is at the
moment of writing; applying the same record twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.errors import DomainError
from core.facts import load_facts
from core.models import ActionRecord, AuditEntry, Order
from core.store import UnitOfWork
from policies import actions as a
from policies.book import BOOK, PolicyBook
from policies.judge import processing_rank
from policies.messages import message_problems
from policies.preconditions import precondition_problem
from tools.effects import EFFECTS, EffectContext
from tools.records import held_count, records_of

DONE = frozenset({"applied", "denied", "rejected", "expired", "failed"})
APPLICABLE = frozenset({"pending", "approved"})


def foreign_ref_checker(session: Session, customer_id: str) -> Callable[[str], bool]:
    """True for an order id that belongs to another customer: a message must never carry it."""
    def is_foreign(ref: str) -> bool:
        order = session.get(Order, ref)
        return order is not None and order.customer_id != customer_id
    return is_foreign


def apply_record(engine: Engine, record_id: int, *, now: datetime, actor: str) -> ActionRecord:
    """Apply a pending or approved action once; return the record in its final state."""
    with UnitOfWork(engine) as uow:
        s = uow.session
        rec = s.exec(select(ActionRecord).where(ActionRecord.id == record_id).with_for_update()).one()
        if rec.status in DONE:
            return rec
        if rec.status not in APPLICABLE:
            raise DomainError(f"action {rec.idempotency_key} is {rec.status}: it cannot be applied")
        problem = _guard(s, rec, now)
        if problem is not None:
            _finish(uow, rec, "denied", now, actor, {"error": problem})
            uow.commit()
            return rec
        args = a.parse_args(rec.action, rec.args)
        cx = EffectContext(session=s, now=now, exception_id=rec.exception_id,
                           order_id=_order_id(s, rec.exception_id))
        try:
            result = EFFECTS[type(args)](cx, args)
        except DomainError as err:
            uow.rollback()
            return _deny_after_failure(engine, record_id, now, actor, str(err))
        uow.emit(*cx.events)
        _finish(uow, rec, "applied", now, actor, result)
        uow.commit()
        return rec


def apply_ready(engine: Engine, exception_id: str, *, now: datetime, actor: str, book: PolicyBook = BOOK) -> int:
    """Apply every pending or approved action of an exception, in order; return how many stay held.

    All in one transaction when every effect goes through; if one is refused
    by the OMS mid-way, the batch is rolled back and each is applied on its own.
    """
    with UnitOfWork(engine) as uow:
        s = uow.session
        ready = sorted(records_of(s, exception_id, ["pending", "approved"]),
                       key=lambda r: (processing_rank(r.action), r.id or 0))
        order_id = _order_id(s, exception_id)
        try:
            for rec in ready:
                _apply_in(uow, rec, now, actor, order_id, book)
        except DomainError:
            uow.rollback()
            ready_ids = [r.id for r in ready]
        else:
            held = held_count(s, exception_id)
            uow.commit()
            return held
    for record_id in ready_ids:
        assert record_id is not None
        apply_record(engine, record_id, now=now, actor=actor)
    with UnitOfWork(engine) as uow:
        return held_count(uow.session, exception_id)


def _apply_in(uow: UnitOfWork, rec: ActionRecord, now: datetime, actor: str, order_id: str,
              book: PolicyBook) -> None:
    """Guard and apply one record inside the caller's transaction; raise DomainError if the OMS refuses."""
    s = uow.session
    if rec.status in DONE:
        return
    problem = _guard(s, rec, now, book)
    if problem is not None:
        _finish(uow, rec, "denied", now, actor, {"error": problem})
        s.flush()
        return
    args = a.parse_args(rec.action, rec.args)
    cx = EffectContext(session=s, now=now, exception_id=rec.exception_id, order_id=order_id)
    result = EFFECTS[type(args)](cx, args)
    uow.emit(*cx.events)
    _finish(uow, rec, "applied", now, actor, result)
    s.flush()


def _guard(s: Session, rec: ActionRecord, now: datetime, book: PolicyBook = BOOK) -> str | None:
    facts = load_facts(s, rec.exception_id, now, book.carbon.cents_per_kg_default)
    try:
        args = a.parse_args(rec.action, rec.args)
    except ValueError as err:
        return str(err)
    if problem := precondition_problem(args, facts):
        return f"precondition failed at apply time: {problem}"
    if isinstance(args, a.NotifyCustomer):
        applied = [int(r.args["amount_cents"]) for r in s.exec(
            select(ActionRecord).where(ActionRecord.exception_id == rec.exception_id)).all()
            if "amount_cents" in r.args and r.status in ("applied", "pending", "approved")]
        problems = message_problems(
            args.body, customer_email=facts.customer.email, eta=args.eta, amounts_cents=applied,
            own_refs=[facts.order.id, facts.customer.id, *(x.id for x in facts.order.shipments),
                      *(x.id for x in facts.order.returns)],
            is_foreign_ref=foreign_ref_checker(s, facts.customer.id), book=book)
        if problems:
            return "message checks failed: " + "; ".join(problems)
    return None


def _order_id(s: Session, exception_id: str) -> str:
    from core.models import OrderException

    exc = s.get(OrderException, exception_id)
    assert exc is not None
    return exc.order_id


def _finish(uow: UnitOfWork, rec: ActionRecord, status: str, now: datetime, actor: str,
            result: dict[str, Any]) -> None:
    rec.status, rec.result = status, _jsonable(result)
    if status == "applied":
        rec.applied_at = now
    uow.session.add(rec)
    uow.session.add(AuditEntry(at=now, exception_id=rec.exception_id, actor=actor, kind=f"action.{status}",
                               detail={"key": rec.idempotency_key, "action": rec.action, "args": rec.args,
                                       "result": rec.result}))


def _deny_after_failure(engine: Engine, record_id: int, now: datetime, actor: str, error: str) -> ActionRecord:
    with UnitOfWork(engine) as uow:
        rec = uow.session.get(ActionRecord, record_id)
        assert rec is not None
        _finish(uow, rec, "denied", now, actor, {"error": f"refused by the OMS: {error}"})
        uow.commit()
        return rec


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
