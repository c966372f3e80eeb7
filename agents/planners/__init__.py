"""Planners: `rules` (the default, deterministic) and `llm` (a model behind the OpenAI API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.planners.base import Plan, Planner, PlannerFailure
from agents.planners.rules import RulesPlanner
from core.extras import needs_extra
from policies.book import BOOK, PolicyBook

__all__ = ["Plan", "Planner", "PlannerFailure", "RulesPlanner", "get_planner"]


def get_planner(name: str = "rules", *, cassette_dir: Path | None = None, case_id: str | None = None,
                book: PolicyBook = BOOK, **options: Any) -> Planner:
    if name == "rules":
        return RulesPlanner(book)
    if name == "llm":
        with needs_extra("llm", "the llm planner"):
            from agents.planners.llm import LLMPlanner  # imported lazily: only QA runs and live use need it

        return LLMPlanner.from_settings(cassette_dir=cassette_dir, case_id=case_id, book=book, **options)
    raise ValueError(f"unknown planner {name!r}: choose rules or llm")
