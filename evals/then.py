"""A case's `then` steps (cases.md): OMS events and supervisors' decisions, each at its own time.

An event step changes the world through the OMS's own command (`core.services`) at the step's
time, then lets the outbox's consumer (`agents.replan.consume_events`) plan again what the event
made stale. A decision step goes through the one decision service (`agents.decisions`) with the
step's role; an entry names held actions the way `expect` matches them. A decision the service
refuses fails the case with its reason. The agents are imported only when a step needs them, so
`evals` still imports without them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from core.clock import FixedClock
from core.detectors import Triggers
from core.services import (
    CarrierUpdate,
    OmsRules,
    add_return_evidence,
    carrier_update,
    receive_stock,
    rescore_order,
)
from evals.case import (
    CarrierUpdateEvent,
    Case,
    DecisionIn,
    EventIn,
    RescoreEvent,
    ReturnEvidenceEvent,
    Step,
    StockReceivedEvent,
)
from evals.matching import field_matches
from policies.book import PolicyBook

ACTORS = {"supervisor": "eval supervisor", "lead": "eval lead"}


class StepFailed(Exception):
    """A step could not be taken as the case says (a refused decision, an entry naming no held action)."""


def run_then(engine: Engine, exception_id: str, case: Case, *, planner: Any, checkpointer: Any,
             book: PolicyBook) -> list[str]:
    """Run every step in order; the failures, as sentences (the first refused step ends the run)."""
    for i, step in enumerate(case.then or ()):
        try:
            _run_step(engine, exception_id, step, planner=planner, checkpointer=checkpointer, book=book)
        except StepFailed as err:
            return [f"then[{i}] ({_kind(step)} at {step.at.isoformat()}): {err}"]
    return []


def _kind(step: Step) -> str:
    if step.decision is not None:
        return f"{step.decision.role} {step.decision.decision}"
    assert step.event is not None
    return f"event {step.event.type}"


def _run_step(engine: Engine, exception_id: str, step: Step, *, planner: Any, checkpointer: Any,
              book: PolicyBook) -> None:
    clock = FixedClock(step.at)
    if step.event is not None:
        apply_event(engine, step.event, step, book)
        from agents.replan import consume_events

        consume_events(engine, clock=clock, planner=planner, checkpointer=checkpointer, book=book)
        return
    assert step.decision is not None
    decide(engine, exception_id, step.decision, clock=clock, planner=planner, checkpointer=checkpointer, book=book)


def apply_event(engine: Engine, ev: EventIn, step: Step, book: PolicyBook) -> None:
    """The OMS's own command for the event, at the step's time (a delivery sets `delivered_at` to it)."""
    from core.errors import DomainError

    try:
        if isinstance(ev, CarrierUpdateEvent):
            scan = True if ev.carrier_delivered_scan is None else ev.carrier_delivered_scan
            rules = OmsRules(Triggers(delay_hours=book.triggers.delay_hours,
                                      fraud_hold_score=book.triggers.fraud_hold_score),
                             carbon_cents_per_kg=book.carbon.cents_per_kg_default)
            carrier_update(engine, ev.shipment_id, CarrierUpdate(status=ev.status, eta=ev.eta, scan=scan),
                           at=step.at, rules=rules)
        elif isinstance(ev, RescoreEvent):
            rescore_order(engine, ev.order_id, float(ev.fraud_score), at=step.at)
        elif isinstance(ev, StockReceivedEvent):
            receive_stock(engine, ev.location, ev.sku, ev.qty, at=step.at)
        elif isinstance(ev, ReturnEvidenceEvent):
            add_return_evidence(engine, ev.return_id, at=step.at, evidence=ev.evidence, claim=ev.claim)
    except DomainError as err:
        raise StepFailed(f"the OMS refused the event: {err}") from err


def decide(engine: Engine, exception_id: str, d: DecisionIn, *, clock: FixedClock, planner: Any,
           checkpointer: Any, book: PolicyBook) -> Any:
    """The decision through the service, with the step's role; held actions chosen the way `expect` matches."""
    from agents import decisions as service
    from agents.service import result_of

    choices = additions = None
    if d.decision == "add":
        additions = [service.Addition(action=e.action, args=dict(e.fields)) for e in d.actions or ()]
    elif d.actions is not None:
        held = [a for a in result_of(engine, exception_id).actions if a.status == "held"]
        taken: set[str] = set()
        choices = []
        for j, entry in enumerate(d.actions):
            key = next((a.key for a in held if a.key not in taken and a.action == entry.action
                        and all(name in a.args and field_matches(value, a.args[name])
                                for name, value in entry.fields.items())), None)
            if key is None:
                waiting = ", ".join(f"{a.action} {_show(a.args)}" for a in held) or "nothing"
                raise StepFailed(f"actions[{j}] ({entry.action} {_show(entry.fields)}) names no held action "
                                 f"(held: {waiting})")
            taken.add(key)
            choices.append(service.Choice(key=key, args=dict(entry.set) if entry.set is not None else None))
    request = service.DecisionRequest(decision=d.decision, choices=choices, additions=additions or (), note=d.note)
    try:
        return service.decide(engine, exception_id, request, actor=ACTORS[d.role], role=d.role, clock=clock,
                              checkpointer=checkpointer, planner=planner, book=book, resumer_prefix="eval:")
    except service.DecisionRefused as err:
        raise StepFailed(f"the decision was refused ({err.status}): {_detail(err.detail)}") from err


def _detail(detail: str | list[dict[str, Any]]) -> str:
    if isinstance(detail, str):
        return detail
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in detail)


def _show(args: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k} {v}" for k, v in args.items() if k != "body") + ")"
