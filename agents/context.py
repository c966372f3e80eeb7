"""Runtime configuration of the exception graph: what a run needs but never checkpoints."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from agents.planners.base import Planner
from core.clock import Clock
from policies.book import BOOK, PolicyBook


@dataclass(frozen=True)
class GraphContext:
    engine: Engine
    clock: Clock
    planner: Planner
    carbon_cents_per_kg: int
    actor: str = "agent"
    book: PolicyBook = BOOK
