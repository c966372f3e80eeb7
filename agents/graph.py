"""The exception graph: gather → plan → judge → apply → (await approval → decide → apply)* → close.

Gathering and planning share a node, and so do judging and applying: each
node boundary is a checkpoint, and these are the two that matter. The plan is
checkpointed before anything is recorded (a model is never asked twice for one
exception), and judging and applying are idempotent together.

Thread id = exception id. Every node's side effects are idempotent (state
moves are conditional, action records are keyed, applying an applied record
is a no-op), because LangGraph re-runs an interrupted node from its start and
a replacement worker re-runs the node its predecessor died in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from sqlalchemy import Connection, bindparam, func, select, update

from agents.context import GraphContext
from agents.planners.base import PlannerFailure
from agents.stale import due_event, reconcile
from agents.state import ApprovalRequest, GraphState, HeldItem
from agents.waiting import stranded_reason
from core.audit import AuditLog
from core.errors import TransitionNotAllowed
from core.exceptions import move_exception
from core.facts import Facts, load_facts
from core.models import ActionRecord, Event, ExceptionState, OrderException
from core.store import UnitOfWork
from policies.actions import Proposal
from policies.judge import Approval, judge, judge_batch, processing_rank
from tools.records import record_proposals, record_rows, records_of
from tools.runner import apply_ready, foreign_ref_checker

Rt = Runtime[GraphContext]

_X = OrderException.__table__
_STATE = (select(_X.c.id, _X.c.type, _X.c.order_id, _X.c.subject, _X.c.state, _X.c.updated_at, _X.c.resolved_at)
          .where(_X.c.id == bindparam("id")))
_MOVE = update(_X).where(_X.c.id == bindparam("xid"), _X.c.state == bindparam("was"))
"""SET columns come from the parameters (state, updated_at, resolved_at, and resolution when closing)."""
_LOCK = update(_X).where(_X.c.id == bindparam("xid")).values(claimed_at=_X.c.claimed_at)
"""A no-op UPDATE that takes the exception's row (SQLite: the write lock): decisions take it first too."""
_A = ActionRecord.__table__
_LAST_SEQ = select(func.coalesce(func.max(Event.__table__.c.seq), 0))
"""The outbox's newest event as the facts are read: events up to it are in the plan's facts."""
_REJUDGE = update(_A).where(_A.c.id == bindparam("rid"), _A.c.status == "approved")
"""A re-judged record is written only while still approved: an overlapping resume may have applied it."""


def gather_and_plan(state: GraphState, runtime: Rt) -> GraphState:
    """Gather the facts (read tools), then ask the planner; checkpointed before anything is recorded."""
    cx = runtime.context
    now = cx.clock.now()
    replan = state.get("replan")
    with UnitOfWork(cx.engine) as uow:
        if replan is not None:
            uow.conn.execute(_LOCK, {"xid": state["exception_id"]})  # decisions take it first too
        exc = _exception(uow.conn, state["exception_id"])
        if exc.state in (ExceptionState.open, ExceptionState.failed):
            was = exc.state
            if exc.state == ExceptionState.failed:
                uow.emit(move_exception(exc, ExceptionState.open, now))
            uow.emit(move_exception(exc, ExceptionState.working, now, by=cx.actor))
            _save(uow.conn, exc, was)
        elif replan is not None and exc.state == ExceptionState.awaiting_approval:
            # Re-planning works the exception: from here until it waits again, no decision lands on it.
            uow.emit(move_exception(exc, ExceptionState.working, now, by=cx.actor, replan=replan.get("type")))
            _save(uow.conn, exc, ExceptionState.awaiting_approval)
        as_of = int(uow.conn.execute(_LAST_SEQ).scalar_one())
        facts = load_facts(uow.conn, exc.id, _plan_time(replan, now), cx.carbon_cents_per_kg)
        uow.commit()
    gathered: GraphState = {"facts": facts.model_dump(mode="json"), "as_of_seq": as_of,
                            "rounds": state.get("rounds", 0) if replan is not None else 0}
    try:
        result = cx.planner.plan(facts)
    except PlannerFailure as err:
        return {**gathered, "proposals": [], "planner": f"{cx.planner.name}:{cx.planner.version}",
                "plan_notes": [], "usage": {}, "failure": f"the planner failed: {err}"}
    return {**gathered, "proposals": [p.model_dump(mode="json") for p in result.proposals],
            "planner": f"{result.planner}:{result.version}", "plan_notes": list(result.notes),
            "usage": dict(result.usage), "failure": None}


def judge_and_apply(state: GraphState, runtime: Rt) -> GraphState:
    """Judge every proposal, record it with its verdict (keyed, so a re-run finds the same rows), apply what may be.

    Recording and applying share one transaction (apply_ready's `record`): one commit, and
    a re-run after a crash finds either nothing or both. If the OMS refuses the batch, the
    records are committed on their own first and each action is applied by itself.
    """
    cx = runtime.context
    now = cx.clock.now()
    facts = Facts.model_validate(state["facts"])
    proposals = [Proposal.model_validate(p) for p in state.get("proposals", [])]
    undone: list[str] = []

    replan = state.get("replan")

    def record(uow: UnitOfWork, audit: AuditLog) -> None:
        judged = judge_batch(proposals, facts, is_foreign_ref=foreign_ref_checker(uow.session, facts.customer.id),
                             book=cx.book)
        undone[:] = [judged.wait_reason] if judged.wait_reason else []
        audit.add(now, facts.exception.id, cx.actor, "planned",
                  {"planner": state.get("planner"), "notes": state.get("plan_notes", []),
                   "usage": state.get("usage", {}), "proposals": len(proposals), "failure": state.get("failure"),
                   "left_undone": undone[0] if undone else None,
                   **({"replanned_on": replan} if replan is not None else {})})
        if replan is not None:  # a stale plan's waiting records: withdrawn, or judged again (agents.stale)
            uow.conn.execute(_LOCK, {"xid": facts.exception.id})
            reconcile(uow.conn, facts.exception.id, proposals, judged.verdicts, event=replan, now=now,
                      actor=cx.actor, audit=audit)
        record_proposals(uow.session, facts.exception.id, proposals, judged.verdicts, planner=state["planner"],
                         now=now, actor=cx.actor, audit=audit)

    held = apply_ready(cx.engine, facts.exception.id, now=now, actor=cx.actor, book=cx.book,
                       order_id=facts.exception.order_id, record=record)
    reason = "; ".join(r for r in (state.get("failure"), *undone) if r) or None
    if held or reason:
        return {"held": held, "wait_reason": reason}
    return {"held": 0, **_close_or_wait(state, cx)}  # nothing waits: close here, one checkpoint fewer


def reapply(state: GraphState, runtime: Rt) -> GraphState:
    cx = runtime.context
    return {"held": apply_ready(cx.engine, state["exception_id"], now=cx.clock.now(), actor=cx.actor, book=cx.book)}


def _waits(state: GraphState) -> bool:
    """Something is held, or the exception itself waits (the planner failed, the plan left something undone)."""
    return bool(state.get("held") or state.get("wait_reason") or state.get("failure"))


def after_apply(state: GraphState) -> Literal["await_approval", "close"]:
    return "await_approval" if _waits(state) else "close"


def after_first_apply(state: GraphState) -> Literal["await_approval", "__end__"]:
    return "await_approval" if _waits(state) else "__end__"  # END


def await_approval(state: GraphState, runtime: Rt) -> GraphState:
    """Wait for supervisors, unless their decisions already came in: then go straight on to `decide`.

    Decisions are recorded under the exception's row lock, and this step reads what is held under the
    same lock: a decision either lands before (nothing is held any more, so the graph does not wait
    for a resume no one would send) or after (the exception is awaiting_approval, so the decision
    resumes it). A planner failure with nothing recorded still waits: a supervisor must look.
    """
    cx = runtime.context
    reason = state.get("wait_reason") or state.get("failure")
    with UnitOfWork(cx.engine) as uow:
        uow.conn.execute(_LOCK, {"xid": state["exception_id"]})
        exc = _exception(uow.conn, state["exception_id"])
        records = record_rows(uow.conn, exc.id)
        held = [r for r in records if r.status == "held"]
        decided = sum(1 for r in records if r.decided_by)
        if not held and decided > state.get("decided", 0):  # decided before we got here; left undone still waits
            # Unless the facts changed since the plan (an event is due for it: agents.replan): then what was
            # approved on the old facts goes back to planning with the rest (agents.stale), not to `decide`.
            stale = due_event(uow.conn, exc.id, int(state.get("as_of_seq", 0)))
            uow.commit()
            if stale is not None:
                return {"replan": stale}
            return {"rounds": state.get("rounds", 0) + 1, "failure": None, "replan": None}
        if exc.state == ExceptionState.working:
            uow.emit(move_exception(exc, ExceptionState.awaiting_approval, cx.clock.now(), reason=reason))
            _save(uow.conn, exc, ExceptionState.working)
        request = ApprovalRequest(exception_id=exc.id, reason=reason, items=[
            HeldItem(key=r.idempotency_key, action=r.action, args=r.args, confidence=r.confidence,
                     rationale=r.rationale, rule_ids=r.verdict.get("rule_ids", []),
                     reasons=r.verdict.get("reasons", []), required_role=r.required_role) for r in held])
        uow.commit()
    answer = interrupt(request.model_dump(mode="json"))
    if isinstance(answer, dict) and answer.get("kind") == "replan":  # the facts changed: plan again on them
        event = answer.get("event")
        return {"replan": dict(event) if isinstance(event, dict) else {"type": "replan.requested"}}
    return {"rounds": state.get("rounds", 0) + 1, "failure": None, "wait_reason": None, "replan": None}


def after_await(state: GraphState) -> Literal["gather_and_plan", "decide"]:
    """A resume with a re-plan event goes back to planning on fresh facts; a supervisors' resume to `decide`."""
    return "gather_and_plan" if state.get("replan") else "decide"


def _plan_time(replan: dict[str, Any] | None, now: datetime) -> datetime:
    """A re-plan is made with "now" = the time of the event that made the plan stale (policy.md section 1)."""
    at = None if replan is None else replan.get("at")
    if isinstance(at, datetime):
        return at
    return datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) and at else now


def decide(state: GraphState, runtime: Rt) -> GraphState:
    """Judge again what supervisors approved, against the state as it is now; the decisions are in the store.

    Another resume of the same thread may overlap this one (a resume that outlived its lease): each
    re-judged record is written only while it is still approved, and applying claims each record, so
    whatever overlaps, every effect is applied once.
    """
    cx = runtime.context
    now = cx.clock.now()
    with UnitOfWork(cx.engine) as uow:
        exc = _exception(uow.conn, state["exception_id"])
        if exc.state == ExceptionState.awaiting_approval:
            uow.emit(move_exception(exc, ExceptionState.working, now, by="supervisor"))
            _save(uow.conn, exc, ExceptionState.awaiting_approval)
        approved = records_of(uow.session, exc.id, ["approved"])
        if approved:
            facts = load_facts(uow.session, exc.id, now, cx.carbon_cents_per_kg)
            proposals = [Proposal(action=r.action, args=r.args, confidence=r.confidence,
                                  assumed=r.verdict.get("assumed", {})) for r in approved]
            approvals = [Approval(role=r.verdict.get("decided_role", "supervisor"),
                                  edited=bool(r.verdict.get("edited")), added=bool(r.verdict.get("added")))
                         for r in approved]
            verdicts = judge(proposals, facts, approval=approvals,
                             is_foreign_ref=foreign_ref_checker(uow.session, facts.customer.id), book=cx.book)
            # Written in the order applying claims records (processing rank, id): two overlapping resumes
            # take the same rows in the same order, so they wait for each other instead of deadlocking.
            judged = sorted(zip(approved, verdicts, strict=True), key=lambda rv: (processing_rank(rv[0].action),
                                                                                  rv[0].id))
            audit = AuditLog()
            for rec, v in judged:
                rejudged = {"decision": v.decision, "rule_ids": list(v.rule_ids), "reasons": list(v.reasons),
                            "policy_version": v.policy_version}
                status = {"apply": "approved", "hold": "held", "deny": "denied"}[v.decision]
                done = uow.conn.execute(_REJUDGE, {"rid": rec.id, "status": status, "required_role": v.required_role,
                                                   "verdict": {**rec.verdict, "rejudged": rejudged}})
                if done.rowcount == 1:  # else an overlapping resume took it on: it audits what it did
                    audit.add(now, exc.id, cx.actor, "action.rejudged",
                              {"key": rec.idempotency_key, "action": rec.action, "status": status, **rejudged})
            audit.write(uow.session)
        decided = sum(1 for r in record_rows(uow.conn, exc.id) if r.decided_by)
        uow.commit()
    # What await_approval has seen (only a later decision lets it go on unasked); the wait was answered.
    return {"decided": decided, "wait_reason": None}


def close(state: GraphState, runtime: Rt) -> GraphState:
    return _close_or_wait(state, runtime.context)


def _close_or_wait(state: GraphState, cx: GraphContext) -> GraphState:
    """Close the exception, unless its order cannot move on yet: then it waits (no order left stranded).

    A fraud hold whose order is still on hold (its cancellation rejected, a verification sent, a plan
    made again that gives nothing new) waits for a re-score or a supervisor's release or cancel.
    """
    with cx.engine.connect() as conn:
        stranded = stranded_reason(conn, state["exception_id"])
    if stranded is not None:
        return {"held": 0, "wait_reason": stranded}
    return {"outcome": _close(state, cx), "wait_reason": None}


def after_close(state: GraphState) -> Literal["await_approval", "__end__"]:
    return "await_approval" if state.get("wait_reason") else "__end__"  # END


def _close(state: GraphState, cx: GraphContext) -> str:
    """Write the resolution record and end the exception: resolved, or rejected if supervisors refused it all."""
    now = cx.clock.now()
    with UnitOfWork(cx.engine) as uow:
        uow.conn.execute(_LOCK, {"xid": state["exception_id"]})  # an overlapping resume closing too waits here
        exc = _exception(uow.conn, state["exception_id"])
        records = record_rows(uow.conn, exc.id)
        by_status: dict[str, list[dict[str, object]]] = {}
        for r in records:
            by_status.setdefault(r.status, []).append({"action": r.action, "args": r.args, "key": r.idempotency_key})
        decided = [r for r in records if r.decided_by]
        # Rejected only when supervisors rejected every action of the case and nothing of it was applied
        # (an addition the judge denied is no action of the case).
        case = [r for r in decided if not r.verdict.get("added") or r.status != "denied"]
        rejected_all = bool(case) and not by_status.get("applied") and all(r.status == "rejected" for r in case)
        final = ExceptionState.rejected if rejected_all else ExceptionState.resolved
        if exc.state in (ExceptionState.working, ExceptionState.awaiting_approval):
            was = exc.state
            resolution = {"outcome": "approval" if decided or state.get("rounds") else "auto",
                          "planner": state.get("planner"), "notes": state.get("plan_notes", []),
                          "actions": by_status}
            uow.emit(move_exception(exc, final, now))
            _save(uow.conn, exc, was, resolution=resolution)
        uow.commit()
        return str(exc.state)


def _exception(conn: Connection, exception_id: str) -> OrderException:
    """The exception's state as a detached entity: the state machine moves it, `_save` writes it back."""
    row = conn.execute(_STATE, {"id": exception_id}).first()
    if row is None:
        raise LookupError(f"exception {exception_id!r} does not exist")
    return OrderException(id=row.id, type=row.type, order_id=row.order_id, subject=row.subject, state=row.state,
                          updated_at=row.updated_at, resolved_at=row.resolved_at)


def _save(conn: Connection, exc: OrderException, was: str, **columns: object) -> None:
    """Write a moved state, only over the state it was moved from (a concurrent move is refused, not lost)."""
    done = conn.execute(_MOVE, {"xid": exc.id, "was": was, "state": exc.state, "updated_at": exc.updated_at,
                                "resolved_at": exc.resolved_at, **columns})
    if done.rowcount != 1:
        raise TransitionNotAllowed("exception", exc.id, "changed meanwhile", f"move from {was} to {exc.state}")


ExceptionGraph = CompiledStateGraph[GraphState, GraphContext, GraphState, GraphState]
"""The compiled graph: its state, its runtime context, its input and its output."""


def build_graph(checkpointer: BaseCheckpointSaver[str] | None = None) -> ExceptionGraph:
    g = StateGraph(GraphState, context_schema=GraphContext)
    g.add_node("gather_and_plan", gather_and_plan)
    g.add_node("judge_and_apply", judge_and_apply)
    g.add_node("await_approval", await_approval)
    g.add_node("decide", decide)
    g.add_node("reapply", reapply)
    g.add_node("close", close)
    g.add_edge(START, "gather_and_plan")
    g.add_edge("gather_and_plan", "judge_and_apply")
    g.add_conditional_edges("judge_and_apply", after_first_apply)
    g.add_conditional_edges("await_approval", after_await)
    g.add_edge("decide", "reapply")
    g.add_conditional_edges("reapply", after_apply)
    g.add_conditional_edges("close", after_close)
    return g.compile(checkpointer=checkpointer)


graph = build_graph()
"""Registered in langgraph.json for `langgraph dev` (which brings its own checkpointer)."""
