"""Domain events: frozen, past-tense facts that the outbox stores and detectors read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    """`type` is `<aggregate>.<past-tense verb>`, e.g. `shipment.delayed`, `stock.short`."""

    type: str
    aggregate: str
    aggregate_id: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def event(type_: str, aggregate_id: str, at: datetime, **data: Any) -> DomainEvent:
    return DomainEvent(type_, type_.split(".", 1)[0], aggregate_id, at, data)
