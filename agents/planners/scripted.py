"""A scripted planner: a recorded case's `proposals` (shared/spec/cases.md) stand in for the first plan.

QA tests the judge and the tools with what a careless or hostile planner might say. Each entry is taken
as a planner would have said it: `action`, its arguments, and optionally `confidence` (default 1.0) and
`rationale`; every other key is an argument. An entry that cannot be read as an action (not an object,
no action name, a confidence that is not a number in [0, 1]) still reaches the judge, as a proposal it
denies as malformed; nothing is dropped or repaired here. Later plans of the same exception (after an
event) come from the planner it stands in for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agents.planners.base import Plan, Planner
from core.facts import Facts
from policies.actions import Proposal

NOT_ARGUMENTS = ("action", "confidence", "rationale")
NO_ACTION = "(no action)"
"""The action name of an entry that names none (no action of the book)."""


def proposal_of(entry: Any) -> Proposal:
    """One scripted entry as a proposal; a malformed entry is marked so that the judge denies it, saying why."""
    if not isinstance(entry, dict):
        return Proposal(action=NO_ACTION, args={}, confidence=0.0,
                        malformed=f"a proposal is an object, not {json.dumps(entry, default=str)[:80]}")
    raw = entry.get("action")
    action = raw if isinstance(raw, str) else NO_ACTION if raw is None else json.dumps(raw, default=str)[:80]
    args = {k: v for k, v in entry.items() if k not in NOT_ARGUMENTS}
    rationale = entry.get("rationale", "")
    rationale = rationale if isinstance(rationale, str) else json.dumps(rationale, default=str)
    confidence = entry.get("confidence", 1.0)
    malformed = None
    if not isinstance(raw, str):
        malformed = "the proposal names no action" if raw is None else "the action name must be text"
    elif isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        malformed = f"confidence must be a number from 0 to 1, not {json.dumps(confidence, default=str)[:40]}"
    if malformed is not None:
        confidence = 0.0
    return Proposal(action=action, args=args, confidence=float(confidence), rationale=rationale, malformed=malformed)


class ScriptedPlanner:
    """Proposes the script for the exception's first plan, then hands over to `then` (the real planner)."""

    name = "scripted"
    version = "proposals-1"

    def __init__(self, entries: Sequence[Any], then: Planner) -> None:
        self.entries, self.then = tuple(entries), then
        self._used = False

    def plan(self, facts: Facts) -> Plan:
        if self._used:
            return self.then.plan(facts)
        self._used = True
        return Plan(proposals=tuple(proposal_of(e) for e in self.entries), planner=self.name, version=self.version,
                    notes=(f"{len(self.entries)} scripted proposal(s) stand in for the {self.then.name} planner",))
