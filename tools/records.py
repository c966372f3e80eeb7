"""Proposals and verdicts as durable action records, one per (exception, action), keyed for idempotency.

The graph's hot path reads and writes records with Core statements on the
session's connection (`RecordRow` is a plain view): an ORM object per record,
and the flushes and reloads it needs, cost more than the writes themselves.
`records_of` still returns ORM objects for the paths that edit records in
place (supervisor decisions).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlmodel import Session, col

from core.audit import AuditLog
from core.models import ActionRecord
from policies.actions import Proposal, canonical_args
from policies.judge import Verdict

STATUS_FOR = {"apply": "pending", "hold": "held", "deny": "denied"}
APPLICABLE = ("pending", "approved")
"""What an applier may still take: a record leaves these statuses exactly once (`claim_record`)."""

_A = ActionRecord.__table__
_ROW_COLUMNS = (_A.c.id, _A.c.exception_id, _A.c.idempotency_key, _A.c.action, _A.c.args, _A.c.status,
                _A.c.confidence, _A.c.rationale, _A.c.verdict, _A.c.required_role, _A.c.decided_by)
_ROWS = select(*_ROW_COLUMNS).where(_A.c.exception_id == bindparam("x")).order_by(_A.c.id)
_ROWS_IN = (select(*_ROW_COLUMNS).where(_A.c.exception_id == bindparam("x"),
                                        _A.c.status.in_(bindparam("statuses", expanding=True))).order_by(_A.c.id))
_ROW_FOR_UPDATE = select(*_ROW_COLUMNS).where(_A.c.id == bindparam("id")).with_for_update()
_INSERT = insert(_A).returning(_A.c.id, sort_by_parameter_order=True)
_STILL_APPLICABLE = (_A.c.id == bindparam("rid")) & _A.c.status.in_(APPLICABLE)
_CLAIM = update(_A).where(_STILL_APPLICABLE).values(status=_A.c.status)
_FINISH = update(_A).where(_STILL_APPLICABLE).values(
    status=bindparam("status"), result=bindparam("result"), applied_at=bindparam("applied_at"))
_HELD = select(func.count()).select_from(_A).where(_A.c.exception_id == bindparam("x"), _A.c.status == "held")


@dataclass(slots=True)
class RecordRow:
    """An action record as the runner, the close step and the service read it: values, no ORM state."""

    id: int
    exception_id: str
    idempotency_key: str
    action: str
    args: dict[str, Any]
    status: str
    confidence: float
    rationale: str
    verdict: dict[str, Any]
    required_role: str | None
    decided_by: str | None


def idempotency_key(exception_id: str, action: str, args: dict[str, Any], occurrence: int) -> str:
    """Same exception, same action, same effect → same key; a message's wording is not its identity."""
    try:
        ident = {k: v for k, v in canonical_args(action, args).items() if k != "body"}
    except ValueError:
        ident = {k: str(v) for k, v in args.items() if k != "body"}
    blob = json.dumps([exception_id, action, ident, occurrence], sort_keys=True, default=str)
    return f"{exception_id}:{action}:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def record_proposals(
    session: Session, exception_id: str, proposals: Sequence[Proposal], verdicts: Sequence[Verdict], *,
    planner: str, now: datetime, actor: str, audit: AuditLog | None = None,
) -> list[RecordRow]:
    """Store each proposal with its verdict once; a replayed judge step finds and returns the same rows.

    Audit entries go to `audit` when given (the caller writes it before committing), else are written here.
    """
    conn = session.connection()
    log = audit if audit is not None else AuditLog()
    known = {r.idempotency_key: r for r in record_rows(conn, exception_id)}
    seen: Counter[str] = Counter()
    records: list[RecordRow | None] = []
    new: list[dict[str, Any]] = []
    for p, v in zip(proposals, verdicts, strict=True):
        base = idempotency_key(exception_id, p.action, p.args, 0)
        seen[base] += 1
        key = idempotency_key(exception_id, p.action, p.args, seen[base] - 1)
        if key in known:  # a replayed judge step: the record stands as it was
            records.append(known[key])
            continue
        try:
            args = canonical_args(p.action, p.args)
        except ValueError:
            args = json.loads(json.dumps(p.args, default=str))
        if "body" in p.args:
            args["body"] = str(p.args["body"])
        status, verdict = STATUS_FOR[v.decision], _verdict_json(v, p)
        new.append({"exception_id": exception_id, "idempotency_key": key, "action": p.action, "args": args,
                    "status": status, "planner": planner, "confidence": p.confidence, "rationale": p.rationale,
                    "verdict": verdict, "policy_version": v.policy_version, "required_role": v.required_role,
                    "proposed_at": now})
        log.add(now, exception_id, actor, f"action.{status}",
                {"key": key, "action": p.action, "args": args, "planner": planner, "confidence": p.confidence,
                 "verdict": verdict})
        records.append(None)
    ids = [r[0] for r in conn.execute(_INSERT, new)] if new else []
    fresh = iter(RecordRow(id=i, exception_id=exception_id, idempotency_key=n["idempotency_key"],
                           action=n["action"], args=n["args"], status=n["status"], confidence=n["confidence"],
                           rationale=n["rationale"], verdict=n["verdict"], required_role=n["required_role"],
                           decided_by=None) for i, n in zip(ids, new, strict=True))
    if audit is None:
        log.write(session)
    return [r if r is not None else next(fresh) for r in records]


def _verdict_json(v: Verdict, p: Proposal) -> dict[str, Any]:
    return {"decision": v.decision, "rule_ids": list(v.rule_ids), "reasons": list(v.reasons),
            "required_role": v.required_role, "cited_by_planner": list(p.rule_ids), "assumed": dict(p.assumed)}


def held_count(session: Session | Connection, exception_id: str) -> int:
    conn = session.connection() if isinstance(session, Session) else session
    return int(conn.execute(_HELD, {"x": exception_id}).scalar_one())


def record_rows(conn: Connection, exception_id: str, statuses: Sequence[str] | None = None) -> list[RecordRow]:
    """An exception's records in id order, by one Core query (no autoflush: write records by Core too)."""
    if statuses is None:
        result = conn.execute(_ROWS, {"x": exception_id})
    else:
        result = conn.execute(_ROWS_IN, {"x": exception_id, "statuses": list(statuses)})
    return [RecordRow(*r) for r in result]


def record_for_update(conn: Connection, record_id: int) -> RecordRow:
    """One record, locked for the rest of the transaction where the database can (PostgreSQL)."""
    return RecordRow(*conn.execute(_ROW_FOR_UPDATE, {"id": record_id}).one())


def claim_record(conn: Connection, rec: RecordRow) -> bool:
    """Take a record for this transaction before applying it: true only if it is still pending or approved.

    A conditional UPDATE that must hit its row: it holds the row (PostgreSQL) or the store's write
    lock (SQLite) until the transaction ends, and a concurrent applier that finished the record first
    makes it hit nothing. So of two overlapping runs that both read the record as ready, one applies it.
    """
    return bool(conn.execute(_CLAIM, {"rid": rec.id}).rowcount == 1)


def finish_record(conn: Connection, rec: RecordRow, status: str, now: datetime, actor: str,
                  result: dict[str, Any], audit: AuditLog) -> bool:
    """Set a record's outcome and log it (same audit detail as ever: key, action, args, result).

    Only over a pending or approved record: an outcome never overwrites another. Returns whether it did.
    """
    applied_at = now if status == "applied" else None
    done = conn.execute(_FINISH, {"rid": rec.id, "status": status, "result": result, "applied_at": applied_at})
    if done.rowcount != 1:
        return False
    rec.status = status
    audit.add(now, rec.exception_id, actor, f"action.{status}",
              {"key": rec.idempotency_key, "action": rec.action, "args": rec.args, "result": result})
    return True


def records_of(session: Session, exception_id: str, statuses: Sequence[str] | None = None) -> list[ActionRecord]:
    query = select(ActionRecord).where(col(ActionRecord.exception_id) == exception_id)
    if statuses is not None:
        query = query.where(col(ActionRecord.status).in_(list(statuses)))
    return list(session.scalars(query.order_by(col(ActionRecord.id))).all())
