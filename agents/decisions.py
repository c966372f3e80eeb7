"""Supervisors' decisions on a waiting exception: checked, recorded once, then the graph resumes.

The one decision service: the HTTP API (`api.decisions`) and the eval runner's `then` steps both
decide through `decide`. A decision approves, rejects or edits held items, or adds actions of
section 7 for the exception's order (policy.md section 1, "Deciding held actions").

Each item is recorded with a conditional UPDATE (`... WHERE status = 'held'`), so of two
supervisors deciding the same item one wins and the other is told it was already decided. Every
decision on an exception first takes a lock on the exception's row, which serialises them: exactly
one decision sees that nothing is left undecided, and only that one resumes the graph. The result
says what became of every item this decision touched once the graph ran on (applied, denied and
why, still held, rejected), why the exception still waits and what a supervisor can still do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Engine, func, or_, update
from sqlmodel import Session, col, select

from agents import waiting
from agents.planners.base import Planner
from agents.replan import REPLANNER_PREFIX
from agents.service import resume_exception
from core.audit import AuditLog
from core.clock import Clock, utc
from core.facts import Facts, load_facts
from core.models import ActionRecord, ExceptionState, OrderException
from policies.actions import ARGS, Proposal, canonical_args
from policies.book import BOOK, PolicyBook
from policies.judge import Approval, Role, Verdict, judge
from tools.records import idempotency_key, records_of
from tools.runner import foreign_ref_checker

log = logging.getLogger(__name__)

Kind = Literal["approve", "reject", "edit", "add"]
DEAD = frozenset({"rejected", "denied", "withdrawn", "expired", "failed"})
"""Statuses of a record that will never take effect."""
UNDONE = ("held", "approved")
"""What a reject may still take back (and what goes with it): decided or not, not yet applied."""
MAX_ADDITIONS = 20


class DecisionRefused(Exception):
    """Why a decision was not recorded; `status` is the HTTP status it maps to (403, 404, 409, 422).

    `detail` is a sentence, or a list of field errors (`loc`, `msg`, `type`, `ctx`) for a 422.
    """

    def __init__(self, status: int, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(str(detail))
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Choice:
    """A held item by key, with new argument values for an edit."""

    key: str
    args: dict[str, Any] | None = None


@dataclass(frozen=True)
class Addition:
    """An action of section 7 a supervisor adds, with all its arguments."""

    action: str
    args: dict[str, Any]


@dataclass(frozen=True)
class DecisionRequest:
    decision: Kind
    choices: Sequence[Choice] | None = None
    """approve/reject/edit: the items chosen; None = every held item (approve and reject)."""
    additions: Sequence[Addition] = ()
    note: str | None = None


@dataclass(frozen=True)
class DecisionItem:
    """One item the decision touched, as it stands after the decision took effect."""

    key: str
    action: str
    args: dict[str, Any]
    status: str
    rule_ids: list[str]
    reasons: list[str]


@dataclass(frozen=True)
class DecisionResult:
    exception_id: str
    decision: str
    decided: list[str]
    decided_by: str
    resumed: bool
    state: str
    items: list[DecisionItem] = field(default_factory=list)
    waiting_for: str | None = None
    options: list[str] = field(default_factory=list)
    resume_error: str | None = None


@dataclass(frozen=True)
class _Item:
    record: ActionRecord
    status: str
    verdict: dict[str, Any]
    args: dict[str, Any] | None = None
    was: tuple[str, ...] = ("held",)


def field_error(loc: list[str | int], msg: str, kind: str, **ctx: Any) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind, **({"ctx": ctx} if ctx else {})}


def _held_now(records: Sequence[ActionRecord]) -> str:
    held = [f"{r.action} ({r.idempotency_key})" for r in records if r.status == "held"]
    return "held now: " + (", ".join(held) if held else "nothing")


def _already(rec: ActionRecord, records: Sequence[ActionRecord] = ()) -> str:
    if rec.status == "withdrawn":
        w = rec.verdict.get("withdrawn") or {}
        event = f"{w.get('type', 'an')} event" + (f" {w['event_id']}" if w.get("event_id") is not None else "")
        return (f"{rec.idempotency_key} ({rec.action}) was withdrawn by the {event} at {w.get('at', '?')}: "
                f"{w.get('summary', 'the facts changed')}; the plan was made again, {_held_now(records)}")
    if rec.status == "expired":
        return f"{rec.idempotency_key} expired unanswered at {rec.decided_at or rec.expires_at}: it was escalated"
    if rec.decided_by:
        return (f"{rec.idempotency_key} was already decided: {rec.status} by {rec.decided_by} "
                f"at {rec.decided_at.isoformat() if rec.decided_at else '?'}")
    return f"{rec.idempotency_key} is not waiting for a decision: it is {rec.status}"


def _select(records: list[ActionRecord], req: DecisionRequest, exception_id: str,
            now: datetime) -> list[tuple[ActionRecord, dict[str, Any] | None]]:
    chosen: list[tuple[ActionRecord, dict[str, Any] | None]]
    if req.choices is None:
        if req.decision == "edit":
            raise DecisionRefused(422, [field_error(["actions"], "an edit names the actions it edits", "missing")])
        chosen = [(r, None) for r in records if r.status == "held"]
        if not chosen:
            decided = [r for r in records if r.decided_by]
            raise DecisionRefused(409, _already(decided[-1], records) if decided else
                                  f"nothing of {exception_id} is waiting for a decision")
    else:
        by_key = {r.idempotency_key: r for r in records}
        chosen, seen, errors, unknown = [], set(), [], []
        for i, c in enumerate(req.choices):
            rec = by_key.get(c.key)
            if rec is None:
                unknown.append(field_error(["actions", i, "key"], f"{exception_id} has no action {c.key!r}",
                                           "unknown_key"))
            elif c.key in seen:
                errors.append(field_error(["actions", i, "key"], f"{c.key!r} is chosen twice", "duplicate_key"))
            else:
                seen.add(c.key)
                chosen.append((rec, c.args))
        if unknown:  # a well-formed key the exception does not hold (now): its state refuses it, not the schema
            raise DecisionRefused(409, unknown)
        if errors:
            raise DecisionRefused(422, errors)
        if not chosen:
            raise DecisionRefused(422, [field_error(["actions"], "choose at least one action", "empty")])
    for rec, _ in chosen:
        if rec.status != "held":
            raise DecisionRefused(409, _already(rec, records))
        if rec.expires_at is not None and utc(rec.expires_at) <= now:
            raise DecisionRefused(409, f"{rec.idempotency_key} expired at {rec.expires_at.isoformat()}: "
                                       "it can no longer be decided")
    errors = []
    for i, (_rec, args) in enumerate(chosen):
        if req.decision == "edit" and not args:
            errors.append(field_error(["actions", i, "args"], "an edit carries the new args of each action",
                                      "missing"))
        if req.decision != "edit" and args:
            errors.append(field_error(["actions", i, "args"], "args are only for an edit", "unexpected"))
    if errors:
        raise DecisionRefused(422, errors)
    return chosen


def _lead_needed(rec: ActionRecord | str, reasons: Sequence[str] | None = None) -> DecisionRefused:
    if isinstance(rec, str):
        return DecisionRefused(403, f"a lead must decide {rec}: {'; '.join(reasons or [])}")
    why = "; ".join(reasons or rec.verdict.get("reasons", []))
    return DecisionRefused(403, f"a lead must approve {rec.idempotency_key} ({rec.action}): {why}")


def goes_with(records: Sequence[ActionRecord], rejected: set[int]) -> list[ActionRecord]:
    """What a reject takes back with the records it rejects (section 1, "Deciding held actions").

    A cancellation's refund and notice go with it, a return decision's message with the decision:
    once no cancellation (of the order, or of any line) is left that could still take effect, its
    refunds and the cancellation notice are rejected too; likewise the return_decision message once
    no return decision is left. Only what is not yet applied (held or approved) is taken back.
    """
    alive = [r for r in records if r.id not in rejected and r.status not in DEAD]
    names = {r.action for r in records if r.id in rejected}
    live = {r.action for r in alive}
    out: list[ActionRecord] = []

    def take(pred: Callable[[ActionRecord], bool]) -> None:
        out.extend(r for r in alive if r.status in UNDONE and pred(r) and r not in out)

    if names & {"cancel_order", "cancel_line"}:
        if "cancel_order" not in live:
            take(lambda r: r.action == "refund" and r.args.get("reason") == "order_cancel")
        if "cancel_line" not in live:
            take(lambda r: r.action == "refund" and r.args.get("reason") == "line_cancel")
        if not live & {"cancel_order", "cancel_line"}:
            take(lambda r: r.action == "notify_customer" and r.args.get("topic") == "cancellation")
    if names & {"approve_return", "deny_return"} and not live & {"approve_return", "deny_return"}:
        take(lambda r: r.action == "notify_customer" and r.args.get("topic") == "return_decision")
    return out


def _stamp(role: Role, req: DecisionRequest, **extra: Any) -> dict[str, Any]:
    return {"decided_role": role, "edited": req.decision == "edit", "decision_note": req.note, **extra}


def _judge_with(s: Session, facts: Facts, records: Sequence[ActionRecord], extra: Sequence[Proposal],
                extra_approval: Approval, replace: dict[int, dict[str, Any]], role: Role,
                book: PolicyBook) -> tuple[list[ActionRecord], list[Verdict], list[Verdict]]:
    """Judge what is still in play (held and approved records, edits applied) with the additions, as the graph
    will: a refund sees its cancellation. Returns the batch records, their verdicts and the additions'."""
    batch = [r for r in records if r.status in UNDONE]
    proposals = [Proposal(action=r.action, args=replace.get(r.id or -1, r.args), confidence=r.confidence,
                          rationale=r.rationale, assumed=r.verdict.get("assumed", {})) for r in batch]
    approvals = [Approval(role=role if (r.id in replace or r.status == "held")
                          else r.verdict.get("decided_role", "supervisor"),
                          edited=r.id in replace or bool(r.verdict.get("edited")),
                          added=bool(r.verdict.get("added"))) for r in batch]
    verdicts = judge([*proposals, *extra], facts, approval=[*approvals, *([extra_approval] * len(extra))],
                     is_foreign_ref=foreign_ref_checker(s, facts.customer.id), book=book)
    return batch, verdicts[:len(batch)], verdicts[len(batch):]


def _verdict_json(v: Verdict) -> dict[str, Any]:
    return {"decision": v.decision, "rule_ids": list(v.rule_ids), "reasons": list(v.reasons),
            "policy_version": v.policy_version}


def _plan_edit(s: Session, exc: OrderException, records: list[ActionRecord], chosen: list[tuple[ActionRecord,
               dict[str, Any] | None]], req: DecisionRequest, role: Role, now: datetime,
               book: PolicyBook) -> list[_Item]:
    edits: dict[int, tuple[int, dict[str, Any]]] = {}
    errors = []
    for i, (rec, edit) in enumerate(chosen):
        assert edit is not None and rec.id is not None
        try:
            edits[rec.id] = (i, canonical_args(rec.action, {**rec.args, **edit}, strict=True))
        except ValueError as err:
            errors.append(field_error(["actions", i, "args"], str(err), "invalid_args"))
    if errors:
        raise DecisionRefused(422, errors)
    facts = load_facts(s, exc.id, now, book.carbon.cents_per_kg_default)
    batch, verdicts, _ = _judge_with(s, facts, records, [], Approval(role=role), {k: v[1] for k, v in edits.items()},
                                     role, book)
    items = []
    for rec, v in zip(batch, verdicts, strict=True):
        if rec.id not in edits:
            continue
        i, args = edits[rec.id]
        if v.decision == "deny":  # the original stays held, to be decided again
            errors.append(field_error(["actions", i, "args"], "the policy denies this edit: " + "; ".join(v.reasons),
                                      "policy_denied", rule_ids=list(v.rule_ids), reasons=list(v.reasons)))
        elif v.decision == "hold":
            raise _lead_needed(rec, list(v.reasons))
        else:
            items.append(_Item(rec, "approved", {**rec.verdict, **_stamp(role, req),
                                                 "edit": {**_verdict_json(v), "before": rec.args}}, args))
    if errors:
        raise DecisionRefused(422, errors)
    return items


def _check_additions(exc: OrderException, facts: Facts, req: DecisionRequest) -> list[Proposal]:
    """Each addition is an action of section 7 with valid arguments, about the exception's own order."""
    if not req.additions:
        raise DecisionRefused(422, [field_error(["actions"], "add at least one action", "missing")])
    if len(req.additions) > MAX_ADDITIONS:
        raise DecisionRefused(422, [field_error(["actions"], f"at most {MAX_ADDITIONS} actions at once",
                                                "too_long")])
    own = {"order_id": {facts.order.id}, "customer_id": {facts.customer.id},
           "shipment_id": {x.id for x in facts.order.shipments}, "return_id": {x.id for x in facts.order.returns}}
    out, errors = [], []
    for i, add in enumerate(req.additions):
        try:
            args = canonical_args(add.action, dict(add.args), strict=True)
        except (ValueError, KeyError) as err:
            errors.append(field_error(["actions", i, "args" if add.action in ARGS else "action"],
                                      str(err) if add.action in ARGS else
                                      f"{add.action!r} is not an action of section 7", "invalid_args"))
            continue
        wrong = [k for k, ids in own.items() if k in args and args[k] not in ids]
        if wrong:
            errors.append(field_error(["actions", i, "args", wrong[0]],
                                      f"{args[wrong[0]]!r} is not the {wrong[0].removesuffix('_id')} of "
                                      f"{exc.id}'s order {facts.order.id}", "foreign_ref"))
            continue
        out.append(Proposal(action=add.action, args=args, confidence=1.0,
                            rationale=req.note or "added by a supervisor"))
    if errors:
        raise DecisionRefused(422, errors)
    refundable = facts.order.refundable_cents
    for i, p in enumerate(out):  # a whole-order cancellation goes with its refund (section 2), in one decision
        if p.action == "cancel_order" and refundable > 0 and not any(
                q.action == "refund" and q.args.get("reason") == "order_cancel" for q in out):
            errors.append(field_error(
                ["actions", i], f"cancelling order {facts.order.id} refunds everything still refundable: add "
                f"refund {{order_id: {facts.order.id}, amount_cents: {refundable}, reason: order_cancel}} with it",
                "goes_with"))
    if errors:
        raise DecisionRefused(422, errors)
    return out


def _plan(s: Session, exc: OrderException, req: DecisionRequest, role: Role, now: datetime,
          book: PolicyBook) -> tuple[list[_Item], list[tuple[Proposal, Verdict]]]:
    """What this decision records: items on existing records, and additions with their verdicts."""
    records = records_of(s, exc.id)
    if req.decision == "add":
        if exc.state != ExceptionState.awaiting_approval:
            raise DecisionRefused(409, f"{exc.id} is {exc.state}: actions are added only while it waits for "
                                       "approval")
        facts = load_facts(s, exc.id, now, book.carbon.cents_per_kg_default)
        added = _check_additions(exc, facts, req)
        _, _, verdicts = _judge_with(s, facts, records, added, Approval(role=role, added=True), {}, role, book)
        return [], list(zip(added, verdicts, strict=True))
    chosen = _select(records, req, exc.id, now)
    if req.decision == "reject":
        ids = {r.id for r, _ in chosen if r.id is not None}
        items = [_Item(r, "rejected", {**r.verdict, **_stamp(role, req)}) for r, _ in chosen]
        items += [_Item(r, "rejected", {**r.verdict, **_stamp(role, req, rejected_with=sorted(
                  x.idempotency_key for x, _ in chosen))}, was=UNDONE) for r in goes_with(records, ids)]
        return items, []
    if req.decision == "approve":
        for rec, _ in chosen:
            if rec.required_role == "lead" and role != "lead":
                raise _lead_needed(rec)
        return [_Item(r, "approved", {**r.verdict, **_stamp(role, req)}) for r, _ in chosen], []
    return _plan_edit(s, exc, records, chosen, req, role, now, book), []


def _record(s: Session, exc_id: str, items: list[_Item], additions: list[tuple[Proposal, Verdict]],
            req: DecisionRequest, actor: str, role: Role, now: datetime, resumer: str,
            lease_seconds: float) -> tuple[list[str], bool]:
    """Write every item or none; returns the keys recorded and whether nothing is left held (so it resumes)."""
    s.execute(update(OrderException).where(col(OrderException.id) == exc_id)
              .values(claimed_at=OrderException.claimed_at))  # row lock: decisions on one exception queue up here
    if additions:  # the state is read again under the lock: a decision is taken only while the exception waits
        state = s.exec(select(OrderException.state).where(OrderException.id == exc_id)).one()
        if state != ExceptionState.awaiting_approval:
            s.rollback()
            raise DecisionRefused(409, f"{exc_id} is {state}: actions are added only while it waits for approval")
    audit = AuditLog()
    keys: list[str] = []
    for item in items:
        rec = item.record
        values: dict[str, Any] = {"status": item.status, "decided_by": actor, "decided_at": now,
                                  "verdict": item.verdict}
        if item.args is not None:
            values["args"] = item.args
        res = s.execute(update(ActionRecord).where(
            col(ActionRecord.id) == rec.id, col(ActionRecord.status).in_(item.was),
            or_(col(ActionRecord.expires_at).is_(None), col(ActionRecord.expires_at) > now)).values(**values))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            s.rollback()
            current = s.get(ActionRecord, rec.id)
            raise DecisionRefused(409, _already(current, records_of(s, exc_id)) if current else
                                  f"{rec.idempotency_key} is gone")
        keys.append(rec.idempotency_key)
        audit.add(now, exc_id, actor, f"decision.{req.decision}",
                  {"key": rec.idempotency_key, "action": rec.action, "status": item.status, "role": role,
                   "note": req.note, **({"args": item.args, "before": rec.args} if item.args is not None else {}),
                   **({"with": item.verdict["rejected_with"]} if "rejected_with" in item.verdict else {})})
    if additions:
        known = {k for (k,) in s.execute(select(ActionRecord.idempotency_key).where(
            ActionRecord.exception_id == exc_id)).all()}
        for p, v in additions:
            n = 0
            while (key := idempotency_key(exc_id, p.action, p.args, n)) in known:
                n += 1
            known.add(key)
            status = {"apply": "approved", "hold": "held", "deny": "denied"}[v.decision]
            verdict = {**_verdict_json(v), "required_role": v.required_role, "added": True,
                       "decided_role": role, "edited": False, "decision_note": req.note}
            s.add(ActionRecord(exception_id=exc_id, idempotency_key=key, action=p.action, args=p.args, status=status,
                               planner=f"supervisor:{actor}", confidence=1.0, rationale=p.rationale, verdict=verdict,
                               policy_version=v.policy_version, required_role=v.required_role, proposed_at=now,
                               decided_at=now, decided_by=actor))
            s.flush()
            keys.append(key)
            audit.add(now, exc_id, actor, "decision.add",
                      {"key": key, "action": p.action, "args": p.args, "status": status, "role": role,
                       "note": req.note, "verdict": verdict})
    left = s.exec(select(func.count()).select_from(ActionRecord).where(
        ActionRecord.exception_id == exc_id, ActionRecord.status == "held")).one()
    resume = False
    if left == 0:
        # Not while the outbox's consumer re-plans it (its live claim): that re-plan judges these approvals
        # against the new facts (withdrawn if its plan no longer gives them, else applied under the guards).
        # (coalesce: with no claim at all, NOT (NULL LIKE ...) would be NULL and match no row)
        replanning = func.coalesce(col(OrderException.claimed_by), "").like(REPLANNER_PREFIX + "%") & (
            col(OrderException.claimed_at) >= now - timedelta(seconds=lease_seconds))
        res = s.execute(update(OrderException).where(
            col(OrderException.id) == exc_id, col(OrderException.state) == ExceptionState.awaiting_approval,
            ~replanning).values(claimed_by=resumer, claimed_at=now))
        resume = res.rowcount == 1  # type: ignore[attr-defined]
    audit.write(s)
    s.commit()
    return keys, resume


def _item_of(rec: ActionRecord) -> DecisionItem:
    """A record as the decision's result reports it: the rule ids and reasons that explain its status."""
    v = rec.verdict
    rule_ids, reasons = list(v.get("rule_ids", [])), list(v.get("reasons", []))
    if rec.status == "denied":
        rejudged = v.get("rejudged") or {}
        if rejudged.get("decision") == "deny":
            rule_ids, reasons = list(rejudged.get("rule_ids", [])), list(rejudged.get("reasons", []))
        elif rec.result and "error" in rec.result:
            rule_ids, reasons = ["P7"], [str(rec.result["error"])]
    elif rec.status == "withdrawn" and isinstance(v.get("withdrawn"), dict):
        reasons = [str(v["withdrawn"].get("summary", "withdrawn"))]
    elif rec.status == "rejected" and v.get("rejected_with"):
        reasons = [f"rejected with {', '.join(v['rejected_with'])}, which it goes with"]
    elif rec.status in ("applied", "approved", "held") and isinstance(v.get("rejudged"), dict):
        rule_ids = list(v["rejudged"].get("rule_ids", rule_ids))
        reasons = list(v["rejudged"].get("reasons", reasons))
    elif rec.status == "approved":  # recorded; judged again and applied once nothing else of the case is held
        reasons = [*reasons, "approved: it is judged again and applied once nothing else of this case is held"]
    return DecisionItem(key=rec.idempotency_key, action=rec.action, args=dict(rec.args), status=rec.status,
                        rule_ids=rule_ids, reasons=reasons)


def decide(
    engine: Engine, exception_id: str, request: DecisionRequest, *, actor: str, role: Role, clock: Clock,
    checkpointer: BaseCheckpointSaver[str], planner: Planner | None = None, book: PolicyBook | None = None,
    resumer_prefix: str = "api:", keep_alive: Callable[[str], AbstractContextManager[Any]] | None = None,
    lease_seconds: float = 120.0,
) -> DecisionResult:
    """Check, record, and when nothing is left undecided, resume the graph so what was approved is applied.

    `keep_alive(holder)` wraps the resume (the API renews its claim with a heartbeat meanwhile);
    `lease_seconds` is how long a claim lives: a re-plan's claim younger than that is live, and the
    re-plan, not this decision, then takes the approvals on.
    Raises DecisionRefused when the decision is refused; nothing is recorded then.
    """
    book = book or BOOK
    now = clock.now()
    with Session(engine) as s:
        exc = s.get(OrderException, exception_id)
        if exc is None:
            raise DecisionRefused(404, f"exception {exception_id!r} does not exist")
        items, additions = _plan(s, exc, request, role, now, book)
    resumer = resumer_prefix + actor
    with Session(engine) as s:
        keys, resume = _record(s, exception_id, items, additions, request, actor, role, now, resumer,
                               lease_seconds)
    error = None
    if resume:
        try:
            with (keep_alive(resumer) if keep_alive is not None else nullcontext()):
                resume_exception(engine, exception_id, clock=clock, checkpointer=checkpointer, decided_by=actor,
                                 planner=planner, book=book)
        except Exception as err:  # the decision stands; a worker resumes the thread after the lease
            log.exception("resuming %s failed", exception_id)
            error = f"{type(err).__name__}: {err}"
    with Session(engine) as s:
        exc = s.get(OrderException, exception_id)
        assert exc is not None
        by_key = {r.idempotency_key: r for r in records_of(s, exception_id)}
        conn = s.connection()
        return DecisionResult(
            exception_id=exception_id, decision=request.decision, decided=keys, decided_by=actor,
            resumed=resume and error is None, state=str(exc.state),
            items=[_item_of(by_key[k]) for k in keys if k in by_key],
            waiting_for=waiting.waiting_for(conn, exception_id), options=waiting.options(conn, exception_id),
            resume_error=error)
