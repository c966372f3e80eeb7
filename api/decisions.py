"""Supervisors' decisions on held actions: checked, recorded once, then the graph resumes.

Each item is recorded with a conditional UPDATE (`... WHERE status = 'held'`),
so of two supervisors deciding the same item one wins and the other is told it
was already decided. Every decision on an exception first takes a lock on the
exception's row, which serialises them: exactly one decision sees that nothing
is left undecided, and only that one resumes the graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from agents.replan import REPLANNER_PREFIX, withdrawn_refusal
from agents.service import resume_exception
from api.auth import Principal
from api.holds import stamp_deadlines
from api.leases import Heartbeat
from api.queries import actions_of
from api.runtime import Runtime
from api.schemas import DecisionIn, DecisionOut
from core.audit import AuditLog
from core.facts import load_facts
from core.models import ActionRecord, ExceptionState, OrderException
from policies.actions import Proposal, canonical_args
from policies.judge import Approval, judge
from tools.records import records_of
from tools.runner import foreign_ref_checker

log = logging.getLogger(__name__)
RESUMER_PREFIX = "api:"


class DecisionRefused(Exception):
    """Why a decision was not recorded; `status` is the HTTP status it maps to."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(str(detail))
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class _Item:
    record: ActionRecord
    args: dict[str, Any] | None
    verdict: dict[str, Any]


def _field_error(loc: list[str | int], msg: str, kind: str, **ctx: Any) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind, **({"ctx": ctx} if ctx else {})}


def _already(rec: ActionRecord) -> str:
    if rec.status == "expired":
        return f"{rec.idempotency_key} expired unanswered at {rec.decided_at or rec.expires_at}: it was escalated"
    if rec.decided_by:
        return (f"{rec.idempotency_key} was already decided: {rec.status} by {rec.decided_by} "
                f"at {rec.decided_at.isoformat() if rec.decided_at else '?'}")
    return f"{rec.idempotency_key} is not waiting for a decision: it is {rec.status}"


def _select(records: list[ActionRecord], body: DecisionIn, exception_id: str,
            now: datetime) -> list[tuple[ActionRecord, dict[str, Any] | None]]:
    choices = body.actions
    if choices is None:
        chosen = [(r, None) for r in records if r.status == "held"]
        if not chosen:
            decided = [r for r in records if r.decided_by]
            raise DecisionRefused(409, _already(decided[-1]) if decided else
                                  f"nothing of {exception_id} is waiting for a decision")
    else:
        by_key = {r.idempotency_key: r for r in records}
        chosen, seen, errors = [], set(), []
        for i, c in enumerate(choices):
            rec = by_key.get(c.key)
            if rec is None:
                errors.append(_field_error(["actions", i, "key"], f"{exception_id} has no action {c.key!r}",
                                           "unknown_key"))
            elif c.key in seen:
                errors.append(_field_error(["actions", i, "key"], f"{c.key!r} is chosen twice", "duplicate_key"))
            else:
                seen.add(c.key)
                chosen.append((rec, c.args))
        if errors:
            raise DecisionRefused(422, errors)
        if not chosen:
            raise DecisionRefused(422, [_field_error(["actions"], "choose at least one action", "empty")])
    for rec, _ in chosen:
        if rec.status == "withdrawn":  # the plan went stale: say what changed and what is held now
            held = [(r.idempotency_key, r.action, r.args) for r in records if r.status == "held"]
            raise DecisionRefused(409, withdrawn_refusal(rec.idempotency_key, rec.verdict, held))
        if rec.status != "held":
            raise DecisionRefused(409, _already(rec))
        if rec.expires_at is not None and rec.expires_at <= now:
            raise DecisionRefused(409, f"{rec.idempotency_key} expired at {rec.expires_at.isoformat()}: "
                                       "it can no longer be decided")
    errors = []
    for i, (_rec, args) in enumerate(chosen):
        if body.decision == "edit" and not args:
            errors.append(_field_error(["actions", i, "args"], "an edit carries the new args of each action",
                                       "missing"))
        if body.decision != "edit" and args:
            errors.append(_field_error(["actions", i, "args"], "args are only for an edit", "unexpected"))
    if errors:
        raise DecisionRefused(422, errors)
    return chosen


def _lead_needed(rec: ActionRecord, reasons: list[str] | None = None) -> DecisionRefused:
    why = "; ".join(reasons or rec.verdict.get("reasons", []))
    return DecisionRefused(403, f"a lead must approve {rec.idempotency_key} ({rec.action}): {why}")


def _plan(s: Session, rt: Runtime, exc: OrderException, body: DecisionIn, principal: Principal,
          now: datetime) -> list[_Item]:
    records = records_of(s, exc.id)
    chosen = _select(records, body, exc.id, now)
    role = principal.role
    stamp = {"decided_role": role, "edited": body.decision == "edit", "decision_note": body.note}
    if body.decision == "reject":
        return [_Item(r, None, {**r.verdict, **stamp}) for r, _ in chosen]
    if body.decision == "approve":
        for rec, _ in chosen:
            if rec.required_role == "lead" and role != "lead":
                raise _lead_needed(rec)
        return [_Item(r, None, {**r.verdict, **stamp}) for r, _ in chosen]
    facts = load_facts(s, exc.id, now, rt.book.carbon.cents_per_kg_default)
    edits: dict[int, tuple[int, dict[str, Any]]] = {}
    errors = []
    for i, (rec, edit) in enumerate(chosen):
        assert edit is not None and rec.id is not None
        try:
            edits[rec.id] = (i, canonical_args(rec.action, {**rec.args, **edit}, strict=True))
        except ValueError as err:
            errors.append(_field_error(["actions", i, "args"], str(err), "invalid_args"))
    if errors:
        raise DecisionRefused(422, errors)
    # Judge the edits with the rest of what is still in play, as the graph will: a refund sees its cancellation.
    batch = [r for r in records if r.status in ("held", "approved")]
    proposals = [Proposal(action=r.action, args=edits[r.id][1] if r.id in edits else r.args, confidence=r.confidence,
                          rationale=r.rationale, assumed=r.verdict.get("assumed", {})) for r in batch]
    approvals = [Approval(role=role if r.id in edits or r.status == "held"  # type: ignore[arg-type]
                          else r.verdict.get("decided_role", "supervisor"),
                          edited=r.id in edits or bool(r.verdict.get("edited"))) for r in batch]
    verdicts = judge(proposals, facts, approval=approvals, is_foreign_ref=foreign_ref_checker(s, facts.customer.id),
                     book=rt.book)
    items = []
    for rec, v in zip(batch, verdicts, strict=True):
        if rec.id not in edits:
            continue
        i, args = edits[rec.id]
        if v.decision == "deny":
            errors.append(_field_error(["actions", i, "args"], "the policy denies this edit: " + "; ".join(v.reasons),
                                       "policy_denied", rule_ids=list(v.rule_ids), reasons=list(v.reasons)))
        elif v.decision == "hold":
            raise _lead_needed(rec, list(v.reasons))
        else:
            edit_verdict = {"decision": v.decision, "rule_ids": list(v.rule_ids), "reasons": list(v.reasons),
                            "policy_version": v.policy_version, "before": rec.args}
            items.append(_Item(rec, args, {**rec.verdict, **stamp, "edit": edit_verdict}))
    if errors:
        raise DecisionRefused(422, errors)
    return items


def _record(s: Session, rt: Runtime, exc_id: str, items: list[_Item], body: DecisionIn, principal: Principal,
            now: datetime) -> bool:
    """Write every item or none; returns whether this decision left nothing held (and so resumes)."""
    s.execute(update(OrderException).where(col(OrderException.id) == exc_id)
              .values(claimed_at=OrderException.claimed_at))  # row lock: decisions on one exception queue up here
    status = "rejected" if body.decision == "reject" else "approved"
    audit = AuditLog()
    for item in items:
        rec = item.record
        values: dict[str, Any] = {"status": status, "decided_by": principal.name, "decided_at": now,
                                  "verdict": item.verdict}
        if item.args is not None:
            values["args"] = item.args
        res = s.execute(update(ActionRecord).where(
            col(ActionRecord.id) == rec.id, ActionRecord.status == "held",
            or_(col(ActionRecord.expires_at).is_(None), col(ActionRecord.expires_at) > now)).values(**values))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            s.rollback()
            current = s.get(ActionRecord, rec.id)
            if current is not None and current.status == "withdrawn":  # withdrawn meanwhile by a re-plan
                held = [(r.idempotency_key, r.action, r.args) for r in records_of(s, exc_id, ["held"])]
                raise DecisionRefused(409, withdrawn_refusal(current.idempotency_key, current.verdict, held))
            raise DecisionRefused(409, _already(current) if current else f"{rec.idempotency_key} is gone")
        audit.add(now, exc_id, principal.name, f"decision.{body.decision}",
                  {"key": rec.idempotency_key, "action": rec.action, "status": status,
                   "role": principal.role, "note": body.note,
                   **({"args": item.args, "before": rec.args} if item.args is not None else {})})
    left = s.exec(select(func.count()).select_from(ActionRecord).where(
        ActionRecord.exception_id == exc_id, ActionRecord.status == "held")).one()
    resume = False
    if left == 0:
        # Not while the outbox's consumer re-plans it (its live claim): that re-plan judges these approvals
        # against the new facts (withdrawn if its plan no longer gives them, else applied under the guards).
        replanning = col(OrderException.claimed_by).like(REPLANNER_PREFIX + "%") & (
            col(OrderException.claimed_at) >= now - timedelta(seconds=rt.settings.worker_lease_seconds))
        res = s.execute(update(OrderException).where(
            col(OrderException.id) == exc_id, OrderException.state == ExceptionState.awaiting_approval,
            ~replanning).values(claimed_by=RESUMER_PREFIX + principal.name, claimed_at=now))
        resume = res.rowcount == 1  # type: ignore[attr-defined]
    audit.write(s)
    s.commit()
    return resume


def decide(rt: Runtime, exception_id: str, body: DecisionIn, principal: Principal) -> DecisionOut:
    """Check, record, and when nothing is left undecided, resume the graph so the approved is applied."""
    now = rt.clock.now()
    with Session(rt.engine) as s:
        exc = s.get(OrderException, exception_id)
        if exc is None:
            raise DecisionRefused(404, f"exception {exception_id!r} does not exist")
        items = _plan(s, rt, exc, body, principal, now)
    with Session(rt.engine) as s:
        resume = _record(s, rt, exception_id, items, body, principal, now)
    error = None
    if resume:
        try:
            with Heartbeat(rt.engine, exception_id, RESUMER_PREFIX + principal.name, clock=rt.clock,
                           every=rt.settings.worker_lease_seconds / 3):
                resume_exception(rt.engine, exception_id, clock=rt.clock, checkpointer=rt.checkpointer,
                                 decided_by=principal.name, planner=rt.planner(), book=rt.book)
        except Exception as err:  # the decision stands; a worker resumes the thread after the lease
            log.exception("resuming %s failed", exception_id)
            error = f"{type(err).__name__}: {err}"
        stamp_deadlines(rt.engine, rt.settings, now=rt.clock.now(), book=rt.book, exception_id=exception_id)
    with Session(rt.engine) as s:
        state = s.get(OrderException, exception_id).state  # type: ignore[union-attr]
        actions = actions_of(s, exception_id)
    return DecisionOut(exception_id=exception_id, decision=body.decision,
                       decided=[i.record.idempotency_key for i in items], decided_by=principal.name,
                       resumed=resume and error is None, state=state, actions=actions, resume_error=error)
