"""Allocation planning: which location serves each line, by the book's option rules.

Pure: given the order's needs, the lane quotes to its region for its shipping
method and the ATP snapshot, return one assignment per line. The whole order
goes to one location when one can serve it (the cheapest that meets the
promise, else the cheapest that can); otherwise each line on its own. A line
no location can cover is assigned to the cheapest option anyway and reported
short: reservations are all-or-nothing per line, so it is short by its whole
quantity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.errors import PreconditionFailed
from core.routing import LaneQuote, Option, build_options, cheapest


@dataclass(frozen=True)
class LineNeed:
    line_no: int
    sku: str
    qty: int


@dataclass(frozen=True)
class Assignment:
    line_no: int
    sku: str
    qty: int
    location: str
    service: str
    eta: datetime
    short_qty: int
    """0 when the line is reserved whole at `location`; else its quantity."""


def _prefer(options: Sequence[Option]) -> Option | None:
    return cheapest(o for o in options if o.meets_promise) or cheapest(options)


def plan_allocation(
    needs: Sequence[LineNeed],
    quotes: Sequence[LaneQuote],
    atp: Mapping[tuple[str, str], int],
    *,
    now: datetime,
    promised_by: datetime,
    carbon_cents_per_kg: int,
) -> list[Assignment]:
    if not quotes:
        raise PreconditionFailed("no lane serves this order's region with its shipping method")
    left = dict(atp)

    def options(covers: Sequence[LineNeed]) -> list[Option]:
        def has(loc: str) -> bool:
            wanted: dict[str, int] = {}
            for n in covers:
                wanted[n.sku] = wanted.get(n.sku, 0) + n.qty
            return all(left.get((loc, sku), 0) >= q for sku, q in wanted.items())
        return build_options(quotes, now=now, promised_by=promised_by, current_cost_cents=0,
                             carbon_cents_per_kg=carbon_cents_per_kg, has_atp=has)

    def assign(n: LineNeed, o: Option, short: bool) -> Assignment:
        if not short:
            left[(o.location, n.sku)] = left.get((o.location, n.sku), 0) - n.qty
        return Assignment(n.line_no, n.sku, n.qty, o.location, o.service, o.eta, n.qty if short else 0)

    whole = _prefer([o for o in options(needs) if o.has_atp])
    if whole is not None:
        return [assign(n, whole, False) for n in needs]
    plan = []
    for n in needs:
        opts = options([n])
        best = _prefer([o for o in opts if o.has_atp])
        if best is not None:
            plan.append(assign(n, best, False))
        else:
            fallback = _prefer(opts)
            assert fallback is not None
            plan.append(assign(n, fallback, True))
    return plan
