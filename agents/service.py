"""One path per behaviour: the worker, the API and the eval runner all work exceptions through here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, Durability
from sqlalchemy import Engine, bindparam, select

from agents.context import GraphContext
from agents.graph import ExceptionGraph, build_graph
from agents.planners import get_planner
from agents.planners.base import Planner
from agents.state import ApprovalResponse, GraphState
from core.clock import Clock
from core.models import OrderException
from policies.book import BOOK, PolicyBook
from tools.records import record_rows

_BASE = build_graph()
_X = OrderException.__table__
_STATE = select(_X.c.state).where(_X.c.id == bindparam("id"))
DURABILITY: Durability = "sync"
"""Each step's checkpoint is written before the next step starts. LangGraph's default
("async") writes it while the next step runs: a worker dying then could leave the
records of `judge_and_apply` without the checkpoint of the plan before them, and the
replacement would ask the planner again. "exit" would checkpoint nothing until the end."""


@dataclass(frozen=True)
class ActionView:
    action: str
    status: str
    args: dict[str, Any]
    rule_ids: list[str]
    reasons: list[str]
    confidence: float
    required_role: str | None
    key: str = ""


@dataclass(frozen=True)
class WorkResult:
    exception_id: str
    state: str
    actions: list[ActionView] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """`auto` when nothing waits for a supervisor (a failed planner waits with no actions held)."""
        waiting = self.state == "awaiting_approval" or any(a.status == "held" for a in self.actions)
        return "approval" if waiting else "auto"


def compiled(checkpointer: BaseCheckpointSaver[str]) -> ExceptionGraph:
    """The graph bound to a checkpointer: a shallow copy of one compiled graph, nothing cached per saver."""
    return _BASE.copy(update={"checkpointer": checkpointer})


def _context(engine: Engine, clock: Clock, planner: Planner | None, carbon: int | None, actor: str,
             book: PolicyBook | None) -> GraphContext:
    book = book or BOOK
    return GraphContext(engine=engine, clock=clock, planner=planner or get_planner("rules", book=book),
                        carbon_cents_per_kg=book.carbon.cents_per_kg_default if carbon is None else carbon,
                        actor=actor, book=book)


def work_exception(
    engine: Engine, exception_id: str, *, clock: Clock, planner: Planner | None = None,
    carbon_cents_per_kg: int | None = None, checkpointer: BaseCheckpointSaver[str] | None = None,
    actor: str = "agent", book: PolicyBook | None = None,
) -> WorkResult:
    """Run the graph for one exception until it ends or waits for a supervisor.

    With a durable checkpointer, a thread that already started (a worker died
    mid-graph) continues from its last checkpoint instead of starting over.
    """
    graph = compiled(checkpointer or InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": exception_id}}
    payload: GraphState | None = {"exception_id": exception_id}
    if _started(engine, exception_id):
        snapshot = graph.get_state(config)
        if snapshot.interrupts:
            return result_of(engine, exception_id)
        if snapshot.next:
            payload = None
    graph.invoke(payload, config, context=_context(engine, clock, planner, carbon_cents_per_kg, actor, book),
                 durability=DURABILITY)
    return result_of(engine, exception_id)


def resume_exception(
    engine: Engine, exception_id: str, *, clock: Clock, checkpointer: BaseCheckpointSaver[str],
    decided_by: str, planner: Planner | None = None, carbon_cents_per_kg: int | None = None,
    book: PolicyBook | None = None,
) -> WorkResult:
    """Resume a waiting thread once its held items are decided (the decisions are in the store)."""
    graph = compiled(checkpointer)
    config: RunnableConfig = {"configurable": {"thread_id": exception_id}}
    graph.invoke(Command(resume=ApprovalResponse(decided_by=decided_by).model_dump()), config,
                 context=_context(engine, clock, planner, carbon_cents_per_kg, decided_by, book), durability=DURABILITY)
    return result_of(engine, exception_id)


def replan_exception(
    engine: Engine, exception_id: str, *, event: dict[str, Any], clock: Clock, planner: Planner | None = None,
    checkpointer: BaseCheckpointSaver[str] | None = None, book: PolicyBook | None = None,
    carbon_cents_per_kg: int | None = None, actor: str = "agent:replan",
) -> WorkResult:
    """Plan a waiting exception again because `event` changed its facts (policy.md section 1, "Plans go stale").

    A no-op unless the exception is awaiting_approval with its thread parked at the approval interrupt,
    and unless its plan was made after the event (`as_of_seq`: the plan's facts already hold it). The
    caller holds the exception's claim (agents.replan), so no other run works the thread meanwhile.
    """
    graph = compiled(checkpointer or InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": exception_id}}
    with engine.connect() as conn:
        state = conn.execute(_STATE, {"id": exception_id}).scalar()
    if state != "awaiting_approval":
        return result_of(engine, exception_id)
    snapshot = graph.get_state(config)
    seq = event.get("seq")
    if not snapshot.interrupts or (isinstance(seq, int) and seq <= int(snapshot.values.get("as_of_seq", 0))):
        return result_of(engine, exception_id)
    graph.invoke(Command(resume={"kind": "replan", "event": event}), config,
                 context=_context(engine, clock, planner, carbon_cents_per_kg, actor, book), durability=DURABILITY)
    return result_of(engine, exception_id)


def is_parked(exception_id: str, checkpointer: BaseCheckpointSaver[str] | None) -> bool:
    """Whether the exception's thread waits at its approval interrupt (so a resume lands where it should)."""
    if checkpointer is None:
        return False
    config: RunnableConfig = {"configurable": {"thread_id": exception_id}}
    return bool(compiled(checkpointer).get_state(config).interrupts)


def _started(engine: Engine, exception_id: str) -> bool:
    """Whether a worker already took this exception up (then its thread may have a checkpoint to resume)."""
    with engine.connect() as conn:
        state = conn.execute(_STATE, {"id": exception_id}).scalar()
        return state is not None and state != "open"


def result_of(engine: Engine, exception_id: str) -> WorkResult:
    """The exception's state and actions, by two Core reads (no session: nothing here is written)."""
    with engine.connect() as conn:
        state = conn.execute(_STATE, {"id": exception_id}).scalar()
        if state is None:
            raise LookupError(f"exception {exception_id!r} does not exist")
        views = [ActionView(action=r.action, status=r.status, args=dict(r.args),
                            rule_ids=list(r.verdict.get("rule_ids", [])), reasons=list(r.verdict.get("reasons", [])),
                            confidence=r.confidence, required_role=r.required_role, key=r.idempotency_key)
                 for r in record_rows(conn, exception_id)]
        return WorkResult(exception_id=exception_id, state=state, actions=views)
