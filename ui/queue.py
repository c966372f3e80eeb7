"""The approvals queue as data: what each waiting item asks for, how urgent it is, whether it is routine.

Pure functions over the API's JSON, so the order of the queue is tested without Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MONEY_ARGS = ("amount_cents",)
EDITABLE_ARGS = ("amount_cents", "topic", "to_location")
AT_RISK_TYPES = ("delay", "stockout")
AT_RISK_WITHIN = timedelta(hours=24)
EXPIRY_WARNING = timedelta(hours=2)
CLOSED_ORDER_STATES = ("delivered", "cancelled")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def money(cents: int | float | None) -> str:
    if cents is None:
        return "–"
    return f"${cents / 100:,.2f}"


@dataclass(frozen=True)
class BookLimits:
    """The policy book's numbers the queue needs, read from GET /policy."""

    routine_money_cents: int
    lead_over_cents: int
    irreversible: frozenset[str]
    topics: tuple[str, ...]

    @classmethod
    def from_policy(cls, policy: dict[str, Any]) -> BookLimits:
        sections = policy["sections"]
        classes = {c["name"]: c["actions"] for c in sections["autonomy"]["classes"]}
        return cls(routine_money_cents=int(sections["money"]["goodwill_ceiling_cents"]["standard"]),
                   lead_over_cents=int(sections["money"]["lead_approval_over_cents"]),
                   irreversible=frozenset(classes.get("irreversible", ())),
                   topics=tuple(sections["messages"]["topics"]))


@dataclass(frozen=True)
class QueueItem:
    """One exception awaiting approval, with its detail and its order."""

    detail: dict[str, Any]
    order: dict[str, Any] | None

    @property
    def id(self) -> str:
        return str(self.detail["id"])

    @property
    def held(self) -> list[dict[str, Any]]:
        return [a for a in self.detail["actions"] if a["status"] == "held"]

    @property
    def money_cents(self) -> int:
        return sum(int(a["args"].get(k) or 0) for a in self.held for k in MONEY_ARGS)

    @property
    def lead_needed(self) -> bool:
        return any(a.get("required_role") == "lead" for a in self.held)

    @property
    def api_now(self) -> datetime:
        """The API's clock (virtual under a simulation): raised_at + age."""
        raised = parse_time(self.detail["raised_at"])
        assert raised is not None
        return raised + timedelta(hours=float(self.detail["age_hours"]))

    @property
    def expires_at(self) -> datetime | None:
        return parse_time(self.detail.get("expires_at"))

    @property
    def time_left(self) -> timedelta | None:
        return None if self.expires_at is None else self.expires_at - self.api_now

    @property
    def expiring_soon(self) -> bool:
        left = self.time_left
        return left is not None and timedelta(0) < left <= EXPIRY_WARNING

    @property
    def overdue(self) -> bool:
        """Past its deadline: the API refuses a decision on it (409) and a sweep escalates it."""
        left = self.time_left
        return left is not None and left <= timedelta(0)

    @property
    def promise_at_risk(self) -> bool:
        if self.detail["type"] in AT_RISK_TYPES:
            return True
        if self.order is None or self.order["status"] in CLOSED_ORDER_STATES:
            return False
        promised = parse_time(self.order["promised_by"])
        return promised is not None and promised - self.api_now <= AT_RISK_WITHIN

    @property
    def min_confidence(self) -> float:
        return min((float(a["confidence"]) for a in self.held), default=1.0)

    def urgency(self) -> tuple[bool, int, float, str]:
        """Sort key, most urgent first: promise at risk, then money, then age."""
        return (not self.promise_at_risk, -self.money_cents, -float(self.detail["age_hours"]), self.id)

    def routine(self, limits: BookLimits) -> bool:
        """No lead needed, nothing irreversible, and no more money than the standard goodwill ceiling."""
        return (bool(self.held) and not self.lead_needed
                and not any(a["action"] in limits.irreversible for a in self.held)
                and self.money_cents <= limits.routine_money_cents)


def sort_queue(items: list[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=QueueItem.urgency)


def describe(action: dict[str, Any]) -> str:
    """One line for a proposed action: its name and arguments, money as dollars, the message body left out."""
    parts = []
    for key, value in action["args"].items():
        if key == "body":
            continue
        parts.append(f"{key.removesuffix('_cents')}={money(value)}" if key in MONEY_ARGS else f"{key}={value}")
    return f"{action['action']}({', '.join(parts)})"


def edits(action: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The arguments a supervisor changed (only the editable ones)."""
    return {k: v for k, v in new.items() if k in EDITABLE_ARGS and k in action["args"] and v != action["args"][k]}


def humanize(delta: timedelta | None) -> str:
    if delta is None:
        return "–"
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    if minutes >= 48 * 60:
        return f"{sign}{minutes // (24 * 60)}d {minutes % (24 * 60) // 60}h"
    return f"{sign}{minutes // 60}h {minutes % 60:02d}m"
