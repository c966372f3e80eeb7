"""Named simulation scenarios: the rates of the disruptions that make exceptions.

A scenario is data. `with_rates` overrides any field by name, so a run can
turn one knob (`delay_rate=0.2`) without a new scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    orders_per_hour: float = 6.0
    method_weights: tuple[float, float, float] = (0.70, 0.25, 0.05)
    """standard, express, same_day"""
    lines_max: int = 3
    stock_scale: float = 1.0
    """Multiplies every location's starting stock; below 1, allocations run short."""
    delay_rate: float = 0.06
    """Share of dispatched parcels whose carrier pushes the ETA back."""
    delay_hours: tuple[float, ...] = (2, 3, 5, 8, 14, 26, 40, 80, 180)
    lost_rate: float = 0.01
    drift_rate: float = 0.01
    """Share of picks where the recorded stock was never there (found none)."""
    mispick_rate: float = 0.01
    """Share of picks that come up one unit short."""
    fraud_rate: float = 0.04
    """Share of orders screened at or above the hold score."""
    return_rate: float = 0.10
    dispute_rate: float = 0.35
    no_reason_rate: float = 0.25
    """Share of returns with only a free-text claim, no reason code."""
    no_scan_rate: float = 0.03
    restock_every_hours: float = 24.0
    """How often every location's shelves are topped up to their starting stock while orders arrive (0: never)."""
    rescore_rate: float = 0.7
    """Share of orders on a fraud hold that payment screening scores again some hours later."""
    rescore_after_hours: tuple[float, float] = (2.0, 36.0)
    rescore_clear_rate: float = 0.6
    """Share of those re-scores that come back below the hold line."""
    late_evidence_rate: float = 0.5
    """Share of disputed returns without evidence whose customer sends it later."""
    hub_region: str | None = None
    hub_start_hours: float = 4.0
    hub_duration_hours: float = 24.0
    hub_delay_hours: tuple[float, float] = (30.0, 48.0)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("baseline", "An ordinary day: a few late parcels, the odd loss, mispick, fraud and dispute."),
    Scenario("hub-disruption", "The central sort hub is down for a day: everything through it is late.",
             hub_region="central"),
    Scenario("peak", "Peak season: five times the orders, half the stock, carriers stretched.",
             orders_per_hour=30.0, stock_scale=0.5, delay_rate=0.12, mispick_rate=0.02),
    Scenario("fraud-wave", "A card-testing wave: a quarter of orders score at or above the hold line.",
             fraud_rate=0.25),
    Scenario("returns-season", "After the holidays: many returns, many disputes, many vague claims.",
             return_rate=0.35, dispute_rate=0.5, no_reason_rate=0.4),
)}


def scenario_named(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") from None


def with_rates(scenario: Scenario, overrides: dict[str, str]) -> Scenario:
    """Override numeric fields by name from strings (`delay_rate=0.2`), refusing unknown names."""
    known = sorted(f.name for f in fields(Scenario) if f.name not in ("name", "description"))
    changes: dict[str, object] = {}
    for key, raw in overrides.items():
        if key not in known:
            raise ValueError(f"unknown rate {key!r}; known: {', '.join(known)}")
        current = getattr(scenario, key)
        if isinstance(current, tuple):
            changes[key] = tuple(float(x) for x in raw.split(","))
        elif key == "hub_region":
            changes[key] = raw or None
        elif isinstance(current, int) and not isinstance(current, bool):
            changes[key] = int(raw)
        else:
            changes[key] = float(raw)
    return replace(scenario, **changes)  # type: ignore[arg-type]
