"""Exceptions as stored entities with a state machine (architecture.md, step 2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.errors import TransitionNotAllowed
from core.events import DomainEvent, event
from core.models import ExceptionState, ExceptionType, OrderException
from core.store import UnitOfWork

S = ExceptionState
EXCEPTION_TRANSITIONS: dict[str, frozenset[str]] = {
    S.open: frozenset({S.working}),
    S.working: frozenset({S.awaiting_approval, S.resolved, S.rejected, S.failed, S.open}),
    S.awaiting_approval: frozenset({S.working, S.resolved, S.rejected, S.escalated}),
    S.failed: frozenset({S.open}),
    S.resolved: frozenset(),
    S.rejected: frozenset(),
    S.escalated: frozenset({S.working, S.resolved, S.rejected}),
}
TERMINAL = frozenset({S.resolved, S.rejected, S.failed})


def subject_of(type_: str, *, order_id: str, shipment_id: str | None = None, sku: str | None = None,
               location: str | None = None, return_id: str | None = None) -> str:
    """What an exception is about; detectors use it so one trigger raises one exception."""
    match type_:
        case ExceptionType.delay:
            return f"shipment:{shipment_id}"
        case ExceptionType.stockout:
            return f"line:{order_id}:{sku}:{location}"
        case ExceptionType.fraud_hold:
            return f"order:{order_id}"
        case ExceptionType.return_dispute:
            return f"return:{return_id}"
    raise ValueError(f"unknown exception type {type_!r}")


def raise_exception(
    uow: UnitOfWork, *, type: str, order_id: str, at: datetime, shipment_id: str | None = None,
    sku: str | None = None, location: str | None = None, short_qty: int | None = None,
    return_id: str | None = None, note: str | None = None, detail: dict[str, Any] | None = None,
) -> OrderException:
    """Store a new open exception and its `exception.raised` event in the caller's transaction."""
    ExceptionType(type)
    exc = OrderException(
        id=uow.next_id("exception", "EX-"), type=type, state=S.open, order_id=order_id,
        subject=subject_of(type, order_id=order_id, shipment_id=shipment_id, sku=sku,
                           location=location, return_id=return_id),
        shipment_id=shipment_id, sku=sku, location=location, short_qty=short_qty,
        return_id=return_id, note=note, detail=detail or {}, raised_at=at, updated_at=at,
    )
    uow.session.add(exc)
    uow.session.flush()
    uow.emit(event("exception.raised", exc.id, at, exception_type=type, order_id=order_id,
                   subject=exc.subject, **({"note": note} if note else {})))
    return exc


def move_exception(exc: OrderException, to: str, at: datetime, **data: Any) -> DomainEvent:
    """Change an exception's state, or refuse naming it, its state and the transition."""
    if to not in EXCEPTION_TRANSITIONS.get(exc.state, frozenset()):
        raise TransitionNotAllowed("exception", exc.id, exc.state, f"move to {to}")
    previous, exc.state, exc.updated_at = exc.state, to, at
    if to in TERMINAL:
        exc.resolved_at = at
    return event(f"exception.{to}", exc.id, at, previous=previous, **data)
