"""Read tools: what a planner may look at for one exception, computed the book's way.

Each is a typed function of the facts snapshot; the docstring is the contract
a model reads. They never write, so they need no guard.
"""

from __future__ import annotations

from typing import Any

from core.clock import hours_between
from core.facts import Facts, ItemFacts
from core.jsonvalue import iso
from policies.rules import lane_cost, options


def atp_by_location(facts: Facts) -> list[dict[str, Any]]:
    """Units available to promise (on hand − reserved, never below 0) of the order's skus, per location."""
    return [{"location": s.location, "sku": s.sku, "atp": s.atp} for s in facts.stock]


def routing_options(facts: Facts, *, location: str, service: str, items: tuple[ItemFacts, ...],
                    own: str | None = None, exclude_location: str | None = None) -> dict[str, Any]:
    """Every (location, service) to the order's region: ETA, whether it meets the promise and has the ATP for
    `items`, cost, extra cost over the current lane (`location` by `service`), carbon price and cost + carbon.

    `own` is a shipment's own location (it counts as having its goods); `exclude_location` is left out.
    """
    found = options(facts, current_cost=lane_cost(facts, location, service), items=items, counts_as_stocked=own,
                    locations={x for x in facts.locations if x != exclude_location})
    rows = [{"location": x.location, "service": x.service, "eta": iso(x.eta), "meets_promise": x.meets_promise,
             "has_atp": x.has_atp, "cost_cents": x.cost_cents, "extra_cost_cents": x.extra_cost_cents,
             "carbon_cents": x.carbon_cents, "cost_plus_carbon_cents": x.weighted_cost_cents} for x in found]
    return {"current_location": location, "current_service": service,
            "current_lane_cost_cents": lane_cost(facts, location, service),
            "rows": sorted(rows, key=lambda r: (r["location"], r["service"]))}


def shipment_options(facts: Facts) -> dict[str, Any] | None:
    """Options for the delayed shipment's goods, from its current lane (None when it is not a delay)."""
    s = facts.order.shipment(facts.exception.shipment_id)
    if facts.exception.type != "delay" or s is None:
        return None
    return routing_options(facts, location=s.location, service=s.service, items=s.lines, own=s.location)


def line_options(facts: Facts) -> dict[str, Any] | None:
    """Options for a stockout's short units at other locations, from the line's lane (None when not a stockout)."""
    exc, o = facts.exception, facts.order
    if exc.type != "stockout" or not exc.sku or not exc.short_qty:
        return None
    line = next((x for x in o.lines if x.sku == exc.sku), None)
    here = line.location if line is not None else (exc.location or "")
    return routing_options(facts, location=here, service=o.shipping_method,
                           items=(ItemFacts(sku=exc.sku, qty=exc.short_qty),), exclude_location=exc.location)


def delay_hours(facts: Facts) -> float | None:
    """How late the delayed shipment's ETA is against the promise, in hours."""
    s = facts.order.shipment(facts.exception.shipment_id)
    return None if s is None else round(hours_between(s.eta, facts.order.promised_by), 2)


def return_view(facts: Facts) -> dict[str, Any] | None:
    """The disputed return's paid value, which items are returnable, and days since delivery."""
    o = facts.order
    r = o.return_(facts.exception.return_id)
    if facts.exception.type != "return_dispute" or r is None:
        return None
    skus = {i.sku for i in r.lines}
    times = [s.delivered_at or s.eta for s in o.shipments if any(i.sku in skus for i in s.lines)]
    out: dict[str, Any] = {
        "paid_value_cents": sum(i.qty * o.unit_price(i.sku) for i in r.lines),
        "returnable": {sku: facts.products[sku].returnable for sku in sorted(skus) if sku in facts.products},
    }
    if times:
        delivered = max(times)
        out["delivered_at"] = iso(delivered)
        out["days_since_delivery"] = round(hours_between(facts.now, delivered) / 24, 2)
    return out
