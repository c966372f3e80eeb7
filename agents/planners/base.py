"""The planner interface: (facts) → proposed actions, each with a confidence and a rationale."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from core.facts import Facts
from policies.actions import Proposal


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposals: tuple[Proposal, ...]
    notes: tuple[str, ...] = ()
    planner: str
    version: str
    usage: dict[str, float] = {}


class PlannerFailure(Exception):
    """The planner could not produce a usable plan; the case goes to a supervisor with this reason."""


class Planner(Protocol):
    name: str
    version: str

    def plan(self, facts: Facts) -> Plan: ...
