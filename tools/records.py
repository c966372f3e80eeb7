"""Proposals and verdicts as durable action records, one per (exception, action), keyed for idempotency."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.models import ActionRecord, AuditEntry
from policies.actions import Proposal, canonical_args
from policies.judge import Verdict

STATUS_FOR = {"apply": "pending", "hold": "held", "deny": "denied"}
OPEN_STATUSES = ("pending", "held", "approved")


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
    planner: str, now: datetime, actor: str,
) -> list[ActionRecord]:
    """Store each proposal with its verdict once; a replayed judge step finds and returns the same rows."""
    seen: Counter[str] = Counter()
    records = []
    known = set(session.exec(select(ActionRecord.idempotency_key)
                             .where(ActionRecord.exception_id == exception_id)).all())
    for p, v in zip(proposals, verdicts, strict=True):
        base = idempotency_key(exception_id, p.action, p.args, 0)
        seen[base] += 1
        key = idempotency_key(exception_id, p.action, p.args, seen[base] - 1)
        if key in known:  # a replayed judge step: the record stands as it was
            records.append(session.exec(select(ActionRecord).where(ActionRecord.idempotency_key == key)).one())
            continue
        try:
            args = canonical_args(p.action, p.args)
        except ValueError:
            args = json.loads(json.dumps(p.args, default=str))
        if "body" in p.args:
            args["body"] = str(p.args["body"])
        rec = ActionRecord(
            exception_id=exception_id, idempotency_key=key, action=p.action, args=args,
            status=STATUS_FOR[v.decision], planner=planner, confidence=p.confidence, rationale=p.rationale,
            verdict=_verdict_json(v, p), policy_version=v.policy_version, required_role=v.required_role,
            proposed_at=now,
        )
        session.add(rec)
        session.add(AuditEntry(at=now, exception_id=exception_id, actor=actor, kind=f"action.{rec.status}",
                               detail={"key": key, "action": p.action, "args": args, "planner": planner,
                                       "confidence": p.confidence, "verdict": rec.verdict}))
        records.append(rec)
    session.flush()
    return records


def _verdict_json(v: Verdict, p: Proposal) -> dict[str, Any]:
    return {"decision": v.decision, "rule_ids": list(v.rule_ids), "reasons": list(v.reasons),
            "required_role": v.required_role, "cited_by_planner": list(p.rule_ids), "assumed": dict(p.assumed)}


def held_count(session: Session, exception_id: str) -> int:
    return session.exec(select(func.count()).select_from(ActionRecord).where(
        ActionRecord.exception_id == exception_id, ActionRecord.status == "held")).one()


def records_of(session: Session, exception_id: str, statuses: Sequence[str] | None = None) -> list[ActionRecord]:
    query = select(ActionRecord).where(ActionRecord.exception_id == exception_id)
    if statuses is not None:
        query = query.where(col(ActionRecord.status).in_(list(statuses)))
    return list(session.exec(query.order_by(col(ActionRecord.id))).all())
