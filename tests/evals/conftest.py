"""Fixtures of the evals tests; the factories live in eval_factories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eval_factories import FakeWork, fake_planners


@pytest.fixture
def fake_work() -> FakeWork:
    return FakeWork()


@pytest.fixture
def planners() -> Callable[..., Callable[[Any], str]]:
    return fake_planners
