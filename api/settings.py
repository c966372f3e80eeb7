"""The service's settings: the core's `Settings` plus what only the API and the worker need.

Everything has an embedded default so `tower up` runs on a laptop with no
configuration; production overrides through `TOWER_*` environment variables
(JSON for the mappings, e.g. `TOWER_TOKENS='{"s3cret": {"name": "ana", "role": "lead"}}'`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.settings import Settings

Role = Literal["viewer", "agent", "supervisor", "lead"]


class TokenSpec(BaseModel):
    """Who holds a bearer token and what they may do."""

    name: str
    role: Role


DEMO_TOKENS: dict[str, TokenSpec] = {
    "demo-viewer": TokenSpec(name="vera (viewer)", role="viewer"),
    "demo-agent": TokenSpec(name="feed (agent)", role="agent"),
    "demo-supervisor": TokenSpec(name="sam (supervisor)", role="supervisor"),
    "demo-supervisor-2": TokenSpec(name="sol (supervisor)", role="supervisor"),
    "demo-lead": TokenSpec(name="lia (lead)", role="lead"),
}
"""For local use only: set TOWER_TOKENS in any shared deployment."""

DEFAULT_HOLD_HOURS: dict[str, float] = {
    "communication": 24, "fulfillment": 12, "returns": 72, "money": 48, "irreversible": 24,
}


class ServiceSettings(Settings):
    tokens: dict[str, TokenSpec] = Field(
        default_factory=lambda: dict(DEMO_TOKENS),
        description="bearer token -> holder; hashed (sha256) as soon as it is loaded")
    hold_max_wait_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_HOLD_HOURS),
        description="how long a held action of each class (policy book section 1) may wait for a decision")
    hold_deadlines: bool = Field(
        default=True, description="give held actions a deadline per class and expire them past it")
    planner: str = Field(default="rules", description="rules or llm")
    worker_id: str | None = Field(default=None, description="defaults to host:pid")
    worker_lease_seconds: float = Field(
        default=120, gt=0, description="a claim older than this is taken to belong to a dead worker")
    worker_poll_seconds: float = Field(default=1.0, gt=0, description="idle wait between empty claims")
    sweep_every_seconds: float = Field(default=30, gt=0, description="how often a worker expires held items")
    max_request_bytes: int = Field(
        default=256 * 1024, gt=0,
        description="a request body over this many bytes is refused (413) before it is read")
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    def hold_hours(self, action_class: str) -> float:
        return self.hold_max_wait_hours.get(action_class, DEFAULT_HOLD_HOURS.get(action_class, 24))
