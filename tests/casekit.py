"""Recorded cases as test fixtures: load one from the shared suite, tweak it, build its OMS."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.exceptions import raise_exception
from core.store import UnitOfWork, fresh_memory_engine
from core.world import World, import_world, parse_time

SHARED_CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"


def shared_case(name: str) -> dict[str, Any]:
    path = SHARED_CASES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"the shared example suite is not beside the repository ({path})")
    return json.loads(path.read_text())


@dataclass
class Built:
    engine: Engine
    exception_id: str
    now: datetime
    world: World

    @property
    def clock(self) -> FixedClock:
        return FixedClock(self.now)


def build(case: dict[str, Any], tweak: Callable[[dict[str, Any]], None] | None = None,
          engine: Engine | None = None) -> Built:
    case = copy.deepcopy(case)
    if tweak is not None:
        tweak(case)
    world = World.model_validate(case["world"])
    engine = engine or fresh_memory_engine()
    import_world(engine, world)
    now = parse_time(case["now"])
    spec = dict(case["exception"])
    kind = spec.pop("type")
    with UnitOfWork(engine) as uow:
        exc = raise_exception(uow, type=kind, at=now, **spec)
        uow.commit()
        return Built(engine, exc.id, now, world)
