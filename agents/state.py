"""The exception graph's state and its typed interrupt request and response."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict


class GraphState(TypedDict, total=False):
    exception_id: str
    facts: dict[str, Any]
    proposals: list[dict[str, Any]]
    planner: str
    plan_notes: list[str]
    usage: dict[str, float]
    failure: str | None
    wait_reason: str | None
    """Why the exception waits for a supervisor beyond its held actions: the planner failed, or the plan
    left undone what the book gives (policy.md section 1)."""
    held: int
    rounds: int
    replan: dict[str, Any] | None
    """The OMS event a waiting exception is being planned again on (policy.md section 1, "Plans go stale"):
    set by a `{"kind": "replan", "event": {...}}` resume, cleared by the next supervisors' resume."""
    as_of_seq: int
    """The outbox's newest event when the plan's facts were read: older events are already in them."""
    outcome: str


class HeldItem(BaseModel):
    """One held action as a supervisor sees it: what, why, and who may decide."""

    model_config = ConfigDict(frozen=True)

    key: str
    action: str
    args: dict[str, Any]
    confidence: float
    rationale: str
    rule_ids: list[str]
    reasons: list[str]
    required_role: str | None


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    exception_id: str
    items: list[HeldItem]
    reason: str | None = None
    allowed: tuple[Literal["approve", "edit", "reject"], ...] = ("approve", "edit", "reject")


class ApprovalResponse(BaseModel):
    """What resumes the graph; the decisions themselves are stored per item, keyed by action key."""

    model_config = ConfigDict(frozen=True)

    decided_by: str
    note: str | None = None
