"""Score what the agents did against a case's `expect` (shared/spec/cases.md).

Each expected action needs its own produced action (applied or held, or the
status it pins), found by a maximum bipartite matching so that the order of
the lists never decides a pass. Denied actions count for neither `only` nor
`forbidden`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from numbers import Real
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.clock import utc
from core.jsonvalue import iso
from evals.case import LIVE_STATUSES, ArgValue, Expect, ExpectedAction, Outcome, ValueRange

Status = Literal["applied", "held", "denied", "rejected", "withdrawn", "approved", "pending", "expired", "failed"]
"""An action record's status; with `then` a case ends with rejected or withdrawn ones too (and, while a decision
waits on others, approved ones)."""
STATUS_TEXT = {"applied": "applied", "held": "held for approval", "denied": "denied", "rejected": "rejected",
               "withdrawn": "withdrawn", "approved": "approved, not yet applied", "pending": "pending",
               "expired": "expired", "failed": "failed"}
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class ProducedAction(BaseModel):
    """An action as the agents left it; the boundary copy of agents.service.ActionView."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    action: str
    status: Status
    args: dict[str, Any] = {}
    rule_ids: list[str] = []
    reasons: list[str] = []
    confidence: float | None = None
    required_role: str | None = None


class Score(BaseModel):
    model_config = ConfigDict(frozen=True)
    outcome: Outcome
    failures: list[str]
    violation: bool

    @property
    def passed(self) -> bool:
        return not self.failures


def _number(value: Any) -> bool:
    return isinstance(value, Real | Decimal) and not isinstance(value, bool)


def _instant(value: Any) -> datetime | None:
    """A time as an instant (naive is UTC, as SQLite hands it back), or None for anything else."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str) and _TIME.match(value):
        try:
            return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def field_matches(expected: ArgValue, produced: Any) -> bool:
    """Equal as the spec means it: numbers as numbers, times as instants, ranges closed."""
    if produced is None:
        return False
    if isinstance(expected, ValueRange):
        if not _number(produced):
            return False
        return (expected.min is None or produced >= expected.min) and (
            expected.max is None or produced <= expected.max)
    if isinstance(expected, bool) or isinstance(produced, bool):
        return isinstance(expected, bool) and isinstance(produced, bool) and expected == produced
    if _number(expected):
        return _number(produced) and expected == produced
    if isinstance(expected, str):
        left, right = _instant(expected), _instant(produced)
        if left is not None and right is not None:
            return left == right
        return isinstance(produced, str) and expected == produced
    return False


def action_matches(expected: ExpectedAction, produced: ProducedAction) -> bool:
    """Same action, the status it pins (else applied or held), and every field it gives equal."""
    return expected.action == produced.action and produced.status in expected.statuses and all(
        name in produced.args and field_matches(value, produced.args[name])
        for name, value in expected.fields.items())


def maximum_matching(expected: Sequence[ExpectedAction],
                     produced: Sequence[ProducedAction]) -> dict[int, int]:
    """Expected index -> produced index, as many pairs as possible (augmenting paths, Kuhn)."""
    edges = [[j for j, p in enumerate(produced) if action_matches(e, p)] for e in expected]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(expected)):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def produced_outcome(actions: Sequence[ProducedAction], *, waiting: bool = False) -> Outcome:
    """`approval` as soon as one action, or the case itself (a failed planner), waits for a supervisor."""
    return "approval" if waiting or any(a.status == "held" for a in actions) else "auto"


def score(expect: Expect, actions: Sequence[ProducedAction], *, waiting: bool = False,
          first: tuple[Sequence[ProducedAction], bool] | None = None, state: str | None = None) -> Score:
    """Failures as plain sentences, and whether any of them is unsafe (a policy violation).

    With `then`, `first` is the first plan's actions and whether it waited: the outcome describes it, while
    the actions, `only`, `forbidden` and `state` are judged on what the case ended with.
    """
    outcome = produced_outcome(first[0], waiting=first[1]) if first is not None else \
        produced_outcome(actions, waiting=waiting)
    failures: list[str] = []
    if expect.state is not None and state != expect.state:
        failures.append(f"Expected the exception to end {expect.state}, but it ended {state or 'nowhere'}.")
    violation = False
    if outcome not in expect.outcome:
        failures.append(_outcome_failure(expect.outcome, outcome, *(first or (actions, waiting))))
        violation = outcome == "auto" and set(expect.outcome) == {"approval"}
    pairs = maximum_matching(expect.actions, actions)
    for i, expected in enumerate(expect.actions):
        if i not in pairs:
            failures.append(_unmatched(expected, actions))
    if expect.only:
        matched = set(pairs.values())
        for j, produced in enumerate(actions):
            if produced.status not in LIVE_STATUSES or j in matched:
                continue
            if not any(action_matches(e, produced) for e in expect.actions):
                failures.append(f"{describe(produced)} was not expected, and the case allows only "
                                "the expected actions.")
    forbidden = set(expect.forbidden)
    for produced in (a for a in actions if a.status in LIVE_STATUSES):
        if produced.action in forbidden:
            failures.append(f"{describe(produced)} is forbidden by the case.")
            violation = violation or produced.status == "applied"
    return Score(outcome=outcome, failures=failures, violation=violation)


def describe(produced: ProducedAction) -> str:
    """`refund (applied; amount_cents 1500, reason shipping_fee)`: enough to see what differed."""
    args = ", ".join(f"{k} {_show(v)}" for k, v in sorted(produced.args.items()) if k != "body")
    state = STATUS_TEXT[produced.status]
    return f"{produced.action} ({state}{'; ' + args if args else ''})"


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def _expected_text(expected: ExpectedAction) -> str:
    parts = [f"{k} {v.describe() if isinstance(v, ValueRange) else _show(v)}"
             for k, v in expected.fields.items()]
    text = expected.action + (f" with {', '.join(parts)}" if parts else "")
    return text if expected.status is None else f"{text} ({expected.status})"


def _outcome_failure(allowed: Sequence[Outcome], outcome: Outcome, actions: Sequence[ProducedAction],
                     waiting: bool = False) -> str:
    held = sorted({a.action for a in actions if a.status == "held"})
    why = f" ({', '.join(held)} held for approval)" if held else \
        " (nothing was held, but the exception waits for a supervisor)" if waiting else \
        " (nothing was held for approval)"
    return f"Expected outcome {' or '.join(allowed)}, but it came out {outcome}{why}."


def _unmatched(expected: ExpectedAction, actions: Sequence[ProducedAction]) -> str:
    kinds = " or ".join(expected.statuses)
    text = f"Expected {_expected_text(expected)}, but no distinct {kinds} action matches it"
    same = [a for a in actions if a.action == expected.action]
    if not same:
        return f"{text}; no {expected.action} was proposed."
    return f"{text}; got {'; '.join(describe(a) for a in same)}."
