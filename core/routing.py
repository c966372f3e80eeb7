"""The book's option rules (policy.md, "Options"): ETA, promise, extra cost, carbon, ties.

Pure functions over plain values, so the rules planner, the judge, the
simulator and the read tools all compute the same options the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.money import carbon_price_cents


@dataclass(frozen=True)
class LaneQuote:
    location: str
    handling_hours: float
    service: str
    transit_hours: float
    cost_cents: int
    co2_grams: int


@dataclass(frozen=True)
class Option:
    location: str
    service: str
    eta: datetime
    cost_cents: int
    co2_grams: int
    carbon_cents: int
    extra_cost_cents: int
    meets_promise: bool
    has_atp: bool

    @property
    def weighted_cost_cents(self) -> int:
        """Cost + carbon price: what "cheapest" ranks by."""
        return self.cost_cents + self.carbon_cents


def build_options(
    quotes: Iterable[LaneQuote],
    *,
    now: datetime,
    promised_by: datetime,
    current_cost_cents: int,
    carbon_cents_per_kg: int,
    has_atp: Callable[[str], bool],
) -> list[Option]:
    options = []
    for q in quotes:
        eta = now + timedelta(hours=q.handling_hours + q.transit_hours)
        options.append(Option(
            location=q.location, service=q.service, eta=eta, cost_cents=q.cost_cents,
            co2_grams=q.co2_grams, carbon_cents=carbon_price_cents(q.co2_grams, carbon_cents_per_kg),
            extra_cost_cents=q.cost_cents - current_cost_cents, meets_promise=eta <= promised_by,
            has_atp=has_atp(q.location),
        ))
    return options


def _cheapest_key(o: Option) -> tuple[int, int, datetime, str, str]:
    """Cost + carbon, then the cheaper lane (the book's first tie-break), the sooner, location, service."""
    return (o.weighted_cost_cents, o.cost_cents, o.eta, o.location, o.service)


def _soonest_key(o: Option) -> tuple[datetime, int, int, str, str]:
    return (o.eta, o.weighted_cost_cents, o.cost_cents, o.location, o.service)


def cheapest(options: Iterable[Option]) -> Option | None:
    return min(options, key=_cheapest_key, default=None)


def soonest(options: Iterable[Option]) -> Option | None:
    return min(options, key=_soonest_key, default=None)


def within_extra_cost(options: Iterable[Option], cap_cents: int) -> list[Option]:
    """A rule that caps the extra cost drops the options over the cap first."""
    return [o for o in options if o.extra_cost_cents <= cap_cents]
