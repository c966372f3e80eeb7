"""Held actions do not wait forever: each gets a deadline by its action class, and a sweep expires them.

An expired action is never applied. Its exception leaves the supervisors'
queue as `escalated` (whatever else of it was still held expires with it,
since an escalated case is decided outside the tower), and the audit says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from api.settings import ServiceSettings
from core.audit import AuditLog
from core.exceptions import move_exception
from core.jsonvalue import iso
from core.models import ActionRecord, ExceptionState, OrderException
from core.store import UnitOfWork
from policies.book import PolicyBook

EXPIRY_ACTOR = "system:expiry"


def max_wait(settings: ServiceSettings, action: str, book: PolicyBook) -> timedelta:
    """The settings' wait for the action's class in the run's book."""
    try:
        name = book.autonomy.class_of(action).name
    except StopIteration:
        name = "irreversible"  # an unknown action waits no longer than the strictest class
    return timedelta(hours=settings.hold_hours(name))


def stamp_deadlines(engine: Engine, settings: ServiceSettings, *, now: datetime, book: PolicyBook,
                    exception_id: str | None = None) -> int:
    """Give every held action without a deadline one: now + its class's max wait. Returns how many.

    With deadlines off (`tower up`'s virtual clock runs days ahead in seconds) no deadline is set, so
    nothing expires and every held action stays decidable.
    """
    if not settings.hold_deadlines:
        return 0
    with Session(engine) as s:
        query = select(ActionRecord.id, ActionRecord.action).where(
            ActionRecord.status == "held", col(ActionRecord.expires_at).is_(None))
        if exception_id is not None:
            query = query.where(ActionRecord.exception_id == exception_id)
        rows = s.exec(query).all()
        stamped = 0
        for record_id, action in rows:
            res = s.execute(update(ActionRecord)
                            .where(col(ActionRecord.id) == record_id, col(ActionRecord.expires_at).is_(None))
                            .values(expires_at=now + max_wait(settings, action, book)))
            stamped += res.rowcount  # type: ignore[attr-defined]
        s.commit()
        return stamped


def sweep_expired(engine: Engine, settings: ServiceSettings, *, now: datetime, book: PolicyBook) -> list[str]:
    """Expire held actions past their deadline and escalate their exceptions; returns the escalated ids."""
    stamp_deadlines(engine, settings, now=now, book=book)
    with Session(engine) as s:
        due = sorted(set(s.exec(select(ActionRecord.exception_id).where(
            ActionRecord.status == "held", col(ActionRecord.expires_at) <= now)).all()))
    return [exc_id for exc_id in due if _escalate(engine, exc_id, now)]


def _escalate(engine: Engine, exception_id: str, now: datetime) -> bool:
    with UnitOfWork(engine) as uow:
        s = uow.session
        # Lock the exception first (a no-op UPDATE): decisions on it take the same lock, so one of us wins.
        s.execute(update(OrderException).where(col(OrderException.id) == exception_id)
                  .values(claimed_at=OrderException.claimed_at))
        held = s.exec(select(ActionRecord).where(ActionRecord.exception_id == exception_id,
                                                 ActionRecord.status == "held").order_by(col(ActionRecord.id))).all()
        late = [r.idempotency_key for r in held if r.expires_at is not None and r.expires_at <= now]
        if not late:
            return False
        audit = AuditLog()
        for rec in held:
            why = "its deadline passed" if rec.idempotency_key in late else "its case escalated"
            res = s.execute(update(ActionRecord).where(col(ActionRecord.id) == rec.id, ActionRecord.status == "held")
                            .values(status="expired", decided_by=EXPIRY_ACTOR, decided_at=now,
                                    verdict={**rec.verdict, "expired": {"at": iso(now), "why": why}}))
            if res.rowcount:  # type: ignore[attr-defined]
                audit.add(now, exception_id, EXPIRY_ACTOR, "action.expired",
                          {"key": rec.idempotency_key, "action": rec.action, "why": why,
                           "expires_at": iso(rec.expires_at) if rec.expires_at else None})
        exc = s.get(OrderException, exception_id)
        if exc is not None and exc.state == ExceptionState.awaiting_approval:
            uow.emit(move_exception(exc, ExceptionState.escalated, now, reason="held actions expired",
                                    expired=late))
            audit.add(now, exception_id, EXPIRY_ACTOR, "escalated", {"expired": late})
        audit.write(s)
        uow.commit()
        return True
