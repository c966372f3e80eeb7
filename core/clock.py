"""Clocks the OMS reads instead of wall time, so a run is a pure function of its inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


def utc(value: datetime) -> datetime:
    """Naive datetimes (SQLite hands them back naive) are UTC by convention."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FixedClock:
    """A clock that stands still: a recorded case's `now`."""

    def __init__(self, at: datetime) -> None:
        self._at = utc(at)

    def now(self) -> datetime:
        return self._at


class VirtualClock:
    """The simulator's clock: moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a virtual clock never runs backwards")
        self._now += delta
        return self._now

    def set(self, at: datetime) -> datetime:
        at = utc(at)
        if at < self._now:
            raise ValueError("a virtual clock never runs backwards")
        self._now = at
        return self._now


class WallClock:
    """Real time, for the service only; never used in core logic or tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def hours_between(later: datetime, earlier: datetime) -> float:
    return (utc(later) - utc(earlier)).total_seconds() / 3600
