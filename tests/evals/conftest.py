"""Fixtures of the evals tests; the factories live in eval_factories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eval_factories import FakeWork, planner_per_case


@pytest.fixture
def fake_work() -> FakeWork:
    return FakeWork()


@pytest.fixture
def planners() -> Callable[[Any, Any], Callable[[Any], str]]:
    return lambda _kind, _cassettes: planner_per_case
