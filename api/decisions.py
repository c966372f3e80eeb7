"""`POST /exceptions/{id}/decision` over the decision service (`agents.decisions`).

The service checks, records and resumes; this adapter reads the body into a decision request
(errors name the field), renews the API's claim while the graph runs on, stamps deadlines on
whatever is held afterwards, and maps the service's refusals to 4xx.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from agents import decisions as service
from agents.decisions import DecisionRefused, field_error
from agents.replan import RESUMER_PREFIX
from api.auth import Principal
from api.holds import stamp_deadlines
from api.leases import Heartbeat
from api.queries import actions_of
from api.runtime import Runtime
from api.schemas import DecisionIn, DecisionOut

__all__ = ["RESUMER_PREFIX", "DecisionRefused", "decide", "request_of"]


def request_of(body: DecisionIn) -> service.DecisionRequest:
    """The body as a decision request: keys for approve/reject/edit, {action, args} for add."""
    errors: list[dict[str, Any]] = []
    if body.decision == "add":
        if not body.actions:
            raise DecisionRefused(422, [field_error(["actions"], "add names 1 to 20 actions, each {action, args}",
                                                    "missing")])
        additions = []
        for i, c in enumerate(body.actions):
            if c.key is not None:
                errors.append(field_error(["actions", i, "key"], "an added action has no key: give action and args",
                                          "unexpected"))
            elif c.action is None:
                errors.append(field_error(["actions", i, "action"], "name the action to add", "missing"))
            else:
                additions.append(service.Addition(action=c.action, args=dict(c.args or {})))
        if errors:
            raise DecisionRefused(422, errors)
        return service.DecisionRequest(decision="add", additions=additions, note=body.note)
    choices = None
    if body.actions is not None:
        choices = []
        for i, c in enumerate(body.actions):
            if c.action is not None:
                errors.append(field_error(["actions", i, "action"], f"only `add` names an action; {body.decision} "
                                          "chooses held items by key", "unexpected"))
            elif c.key is None:
                errors.append(field_error(["actions", i, "key"], "choose a held item by its key", "missing"))
            else:
                choices.append(service.Choice(key=c.key, args=c.args))
        if errors:
            raise DecisionRefused(422, errors)
    return service.DecisionRequest(decision=body.decision, choices=choices, note=body.note)


def decide(rt: Runtime, exception_id: str, body: DecisionIn, principal: Principal) -> DecisionOut:
    """Decide through the service; the response says what became of each item and what is left to do."""
    if principal.role not in ("supervisor", "lead"):
        raise DecisionRefused(403, f"a {principal.role} may not decide held actions")
    request = request_of(body)

    def keep_alive(holder: str) -> Heartbeat:
        return Heartbeat(rt.engine, exception_id, holder, clock=rt.clock, every=rt.settings.worker_lease_seconds / 3)

    out = service.decide(rt.engine, exception_id, request, actor=principal.name, role=principal.role,
                         clock=rt.clock, checkpointer=rt.checkpointer, planner=rt.planner(), book=rt.book,
                         resumer_prefix=RESUMER_PREFIX, keep_alive=keep_alive,
                         lease_seconds=rt.settings.worker_lease_seconds)
    if out.resumed or out.resume_error is not None or request.decision == "add":
        stamp_deadlines(rt.engine, rt.settings, now=rt.clock.now(), book=rt.book, exception_id=exception_id)
    with Session(rt.engine) as s:
        actions = actions_of(s, exception_id)
    return DecisionOut(exception_id=exception_id, decision=out.decision, decided=out.decided,
                       decided_by=out.decided_by, resumed=out.resumed, state=out.state, actions=actions,
                       resume_error=out.resume_error,
                       items=out.items,
                       waiting_for=out.waiting_for, options=out.options)
