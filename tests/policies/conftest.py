"""Fixtures of the policy-book tests; the world factory and runners live in policy_world."""

from __future__ import annotations

import pytest
from policy_world import World_, make_world


@pytest.fixture
def world() -> World_:
    """A fresh default world (see policy_world) for the test to tweak."""
    return make_world()
