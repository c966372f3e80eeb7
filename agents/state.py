"""The exception graph's state and its typed interrupt request and response."""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, computed_field

from agents.hitl import ActionRequest, DecisionType, ReviewConfig, hitl_fields


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
    decided: int
    """How many records carried a decision when `decide` last ran: `await_approval` goes on without waiting
    only for a decision taken since (else a case that waits again after its decisions would loop)."""
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
    """The interrupt's value: the tower's own fields, and beside them the fields of LangChain's
    human-in-the-loop request (`action_requests`, `review_configs`: agents.hitl), derived from the
    held items so the two can never disagree, for a generic client (Agent Inbox, LangGraph Studio)."""

    model_config = ConfigDict(frozen=True)

    exception_id: str
    items: list[HeldItem]
    reason: str | None = None
    allowed: tuple[DecisionType, ...] = ("approve", "edit", "reject")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def action_requests(self) -> list[ActionRequest]:
        """Each held action as LangChain's action request: name, args, a Markdown description."""
        return hitl_fields(self.items, self.allowed, self.reason)["action_requests"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def review_configs(self) -> list[ReviewConfig]:
        """Index-aligned with `action_requests`: the decisions a reviewer may take on each."""
        return hitl_fields(self.items, self.allowed, self.reason)["review_configs"]


class ApprovalResponse(BaseModel):
    """What resumes the graph; the decisions themselves are stored per item, keyed by action key."""

    model_config = ConfigDict(frozen=True)

    decided_by: str
    note: str | None = None
