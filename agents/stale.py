"""What a new plan does to the records of a stale one (policy.md section 1, "Plans go stale").

When an OMS event changes the facts of a waiting exception it is planned again on the new facts.
Each action record still waiting (held, or approved and not yet applied) is compared by its key
(action and arguments, a message's body aside) with the new plan:

- not given any more, or given with any argument changed (another key): `withdrawn`, naming the
  event, so no supervisor approves a proposal made on facts that have since changed;
- given again and held: it takes the new plan's verdict (still held, with today's reasons, or left as
  it is when they are the same; applied when no rule asks for approval any more; denied when the book
  now denies it);
- given again and approved: it stays approved and is applied under the tools' guards;
- new: recorded and judged like any proposal (`tools.records.record_proposals`).

Records already applied stay applied: the same proposal finds its record and is not repeated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from core.audit import AuditLog
from core.jsonvalue import iso
from core.models import ActionRecord, Event, ReplanDue
from policies.actions import Proposal
from policies.judge import Verdict
from tools.records import STATUS_FOR, idempotency_key, record_rows

_A = ActionRecord.__table__
_MOVE = (update(_A).where(_A.c.id == bindparam("rid"), _A.c.status == bindparam("was"))
         .values(status=bindparam("status"), verdict=bindparam("verdict"), required_role=bindparam("role")))
"""Conditional on the status read: a supervisor's decision that landed first is not overwritten."""

WAITING = ("held", "approved")
_E, _D = Event.__table__, ReplanDue.__table__
_EVENT = select(_E).where(_E.c.seq == bindparam("seq"))
_DUE = (select(_D.c.event_seq, _D.c.at).where(_D.c.exception_id == bindparam("x"), _D.c.done_at.is_(None),
                                              _D.c.event_seq > bindparam("after")).order_by(_D.c.event_seq))


def event_dict(conn: Connection, seq: int) -> dict[str, Any]:
    """An outbox event as a re-plan carries it (JSON: it is checkpointed)."""
    e = conn.execute(_EVENT, {"seq": seq}).one()
    return {"seq": e.seq, "type": e.type, "aggregate": e.aggregate, "aggregate_id": e.aggregate_id,
            "at": iso(e.at), "data": dict(e.data or {})}


def newest_due(rows: Sequence[tuple[int, datetime]]) -> tuple[int, int] | None:
    """Of an exception's due events (in seq order): the one to plan on, and the newest seq.

    It is planned once, on the newest facts, with "now" the newest event's time; of the events of that
    moment (one OMS command writes several: the shipment's, its lines', its order's) it names the first,
    the command's own.
    """
    best: tuple[datetime, int, int] | None = None
    for seq, at in rows:
        best = (at, seq, seq) if best is None or at > best[0] else (best[0], best[1], seq)
    return None if best is None else (best[1], best[2])


def due_event(conn: Connection, exception_id: str, after_seq: int) -> dict[str, Any] | None:
    """The event a waiting exception is due to be planned again on (agents.replan enqueued it), if any."""
    found = newest_due([(r.event_seq, r.at) for r in conn.execute(_DUE, {"x": exception_id, "after": after_seq})])
    return None if found is None else event_dict(conn, found[0])


def proposal_keys(exception_id: str, proposals: Sequence[Proposal]) -> list[str]:
    """The record key each proposal of a batch gets (as `record_proposals` computes it)."""
    seen: Counter[str] = Counter()
    keys = []
    for p in proposals:
        base = idempotency_key(exception_id, p.action, p.args, 0)
        seen[base] += 1
        keys.append(idempotency_key(exception_id, p.action, p.args, seen[base] - 1))
    return keys


def withdrawal(event: dict[str, Any]) -> dict[str, Any]:
    """The `withdrawn` entry of a record's verdict: which event, when, and what changed, in one sentence."""
    return {"event_id": event.get("seq"), "type": str(event.get("type", "")), "at": str(event.get("at", "")),
            "summary": describe(event)}


def describe(event: dict[str, Any]) -> str:
    """One sentence saying what an OMS event changed."""
    kind, ident = str(event.get("type", "")), str(event.get("aggregate_id", ""))
    data: dict[str, Any] = event.get("data") or {}
    match kind:
        case "shipment.delivered":
            return f"shipment {ident} was delivered at {event.get('at')}"
        case "shipment.lost":
            return f"the carrier reported shipment {ident} lost"
        case "shipment.eta_revised":
            return f"the carrier moved the ETA of shipment {ident} to {data.get('eta')}"
        case "order.rescored":
            return f"order {ident} was re-scored from {data.get('previous')} to {data.get('fraud_score')}"
        case "stock.received":
            return f"{data.get('qty')} of {data.get('sku')} arrived at {data.get('location')}"
        case "return.evidence_received":
            return f"the customer sent evidence for return {ident}"
        case "replan.requested":
            return f"a re-plan was requested: {data.get('reason', 'the facts changed')}"
    return f"{kind} on {event.get('aggregate', 'entity')} {ident} at {event.get('at')}"


def reconcile(conn: Connection, exception_id: str, proposals: Sequence[Proposal], verdicts: Sequence[Verdict], *,
              event: dict[str, Any], now: datetime, actor: str, audit: AuditLog) -> list[str]:
    """Withdraw what the new plan no longer gives and re-judge what it gives again; returns the withdrawn keys.

    Runs in the judging transaction, before the new plan's records are written, under the exception's
    row lock: a decision on the same records either committed before (its status is read here and
    respected) or comes after and finds the record withdrawn.
    """
    given = dict(zip(proposal_keys(exception_id, proposals), zip(proposals, verdicts, strict=True), strict=True))
    why = withdrawal(event)
    withdrawn: list[str] = []
    for rec in record_rows(conn, exception_id, WAITING):
        found = given.get(rec.idempotency_key)
        if found is None:
            verdict = {**rec.verdict, "withdrawn": why}
            if conn.execute(_MOVE, {"rid": rec.id, "was": rec.status, "status": "withdrawn", "verdict": verdict,
                                    "role": rec.required_role}).rowcount == 1:
                withdrawn.append(rec.idempotency_key)
                audit.add(now, exception_id, actor, "action.withdrawn",
                          {"key": rec.idempotency_key, "action": rec.action, "args": rec.args, "was": rec.status,
                           "withdrawn": why})
            continue
        if rec.status != "held":
            continue  # approved on the same action and arguments: applied under the tools' guards
        v = found[1]
        status = STATUS_FOR[v.decision]
        if status == "held" and (rec.verdict.get("rule_ids"), rec.verdict.get("reasons"), rec.required_role) == (
                list(v.rule_ids), list(v.reasons), v.required_role):
            continue  # held again for the same reasons: the record stands as it is
        verdict = {**rec.verdict, "decision": v.decision, "rule_ids": list(v.rule_ids), "reasons": list(v.reasons),
                   "required_role": v.required_role, "replanned": why}
        if conn.execute(_MOVE, {"rid": rec.id, "was": "held", "status": status, "verdict": verdict,
                                "role": v.required_role}).rowcount == 1:  # audited: the record's digest changed
            audit.add(now, exception_id, actor, f"action.{status}",
                      {"key": rec.idempotency_key, "action": rec.action, "args": rec.args, "replanned": why,
                       "verdict": verdict})
    return withdrawn
