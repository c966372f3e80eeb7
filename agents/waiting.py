"""Why a waiting exception waits, and what a supervisor can still do about it.

One place answers both for the graph (which must not close an exception whose order cannot move
on: policy.md section 1, "No order left stranded") and for the decision service (whose response
says why the exception still waits and lists the supervisor's options).
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select

from core.models import ActionRecord, Event, ExceptionState, Order, OrderException, OrderStatus

_X, _O, _A, _E = OrderException.__table__, Order.__table__, ActionRecord.__table__, Event.__table__
_SUBJECT = (select(_X.c.type, _X.c.order_id, _X.c.state, _O.c.status.label("order_status"))
            .select_from(_X.outerjoin(_O, _O.c.id == _X.c.order_id)).where(_X.c.id == bindparam("id")))
_HELD = (select(_A.c.required_role, func.count()).where(_A.c.exception_id == bindparam("id"), _A.c.status == "held")
         .group_by(_A.c.required_role))
_LAST_WAIT = (select(_E.c.data).where(_E.c.aggregate_id == bindparam("id"), _E.c.type == "exception.awaiting_approval")
              .order_by(_E.c.seq.desc()).limit(1))
STRANDED_OPTIONS = ("add release_hold", "add cancel_order")
"""cancel_order is added with its order_cancel refund (the decision service refuses it alone)."""
HELD_OPTIONS = ("approve", "edit", "reject")


def stranded_reason(conn: Connection, exception_id: str) -> str | None:
    """Why the exception may not close yet because of its order, or None.

    A fraud hold closes only when its order is released or cancelled: while the order is still on
    hold (its cancellation was rejected, or a verification notice went out), it waits for a re-score
    or a supervisor's release_hold or cancel_order.
    """
    row = conn.execute(_SUBJECT, {"id": exception_id}).first()
    if row is None or row.type != "fraud_hold" or row.order_status != OrderStatus.on_hold:
        return None
    return (f"order {row.order_id} is on hold: release or cancel it (add release_hold, or cancel_order with its "
            "order_cancel refund)")


def held_counts(conn: Connection, exception_id: str) -> dict[str | None, int]:
    """Held records by the role that must decide them."""
    return {role: int(n) for role, n in conn.execute(_HELD, {"id": exception_id})}


def waiting_for(conn: Connection, exception_id: str) -> str | None:
    """Why the exception still waits for a supervisor (None unless it is awaiting approval)."""
    row = conn.execute(_SUBJECT, {"id": exception_id}).first()
    if row is None or row.state != ExceptionState.awaiting_approval:
        return None
    held = held_counts(conn, exception_id)
    parts = []
    if total := sum(held.values()):
        leads = held.get("lead", 0)
        parts.append(f"{total} held action{'s' if total != 1 else ''} wait{'s' if total == 1 else ''} for a decision"
                     + (f" ({leads} for a lead)" if leads else ""))
    if reason := stranded_reason(conn, exception_id):
        parts.append(reason)
    if not parts:  # the planner failed, or its plan left undone what the book gives: the wait says which
        data = conn.execute(_LAST_WAIT, {"id": exception_id}).scalar()
        reason = data.get("reason") if isinstance(data, dict) else None
        parts.append(str(reason) if reason else "a supervisor must look: nothing is held")
    return "; ".join(parts)


def options(conn: Connection, exception_id: str) -> list[str]:
    """What a supervisor can still do: decide held actions, release or cancel a stranded order, add an action."""
    row = conn.execute(_SUBJECT, {"id": exception_id}).first()
    if row is None or row.state not in (ExceptionState.awaiting_approval, ExceptionState.working):
        return []
    out: list[str] = []
    if sum(held_counts(conn, exception_id).values()):
        out += HELD_OPTIONS
    if row.state == ExceptionState.awaiting_approval:
        if stranded_reason(conn, exception_id):
            out += STRANDED_OPTIONS
        out.append("add")
    return out
