"""A rate card derived from the extract, not invented: per (seller state, customer state) lane.

- **transit_hours**: the median hours from carrier hand-off to delivery;
- **cost_cents**: the median freight Olist charged for that leg;
- **overdue_hours**: the median hours parcels that were still undelivered 4 h past
  their promise took after that moment (the tower's forecast for an overdue parcel);
- **co2_grams**: the great-circle distance between the two states' centroids
  × `GRAMS_CO2_PER_KM` (at least `MIN_KM`, so a same-state leg is not free).

A sample is one delivered order's leg from one seller state (its hand-off and
delivery times, the freight of that seller state's items). Hand-offs recorded
after the delivery are not samples.

**Fallback.** A pair with fewer than `MIN_SAMPLES` samples takes the median over
every leg into the customer's state; a state with fewer takes the national
median. Each figure says which it used (`pair`, `to_state`, `national`). The
forecast of overdue parcels falls back the same way, on its own (smaller) samples.

The card is computed over the whole extract, as a carrier's rate card is
built from past history; the replay uses it for ETAs and routing only, never
to decide whether a detector fires.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from core.money import round_half_up
from core.olist.extract import Extract

MIN_SAMPLES = 5
GRAMS_CO2_PER_KM = 10
"""A stated assumption: 10 g of CO2 per parcel-km (a share of a road freight vehicle's emissions)."""
MIN_KM = 50
OVERDUE_AFTER = timedelta(hours=4)

# Approximate geographic centroids of the 27 federative units (degrees, rounded to 0.1), from public maps.
CENTROIDS: dict[str, tuple[float, float]] = {
    "AC": (-9.0, -70.5), "AL": (-9.6, -36.6), "AM": (-4.2, -64.6), "AP": (1.4, -51.8), "BA": (-12.5, -41.7),
    "CE": (-5.2, -39.5), "DF": (-15.8, -47.8), "ES": (-19.6, -40.7), "GO": (-15.9, -49.6), "MA": (-5.1, -45.3),
    "MG": (-18.5, -44.6), "MS": (-20.5, -54.8), "MT": (-12.9, -55.9), "PA": (-3.8, -52.5), "PB": (-7.1, -36.8),
    "PE": (-8.4, -37.9), "PI": (-7.7, -42.7), "PR": (-24.6, -51.6), "RJ": (-22.2, -42.7), "RN": (-5.8, -36.6),
    "RO": (-10.9, -62.8), "RR": (2.1, -61.4), "RS": (-29.8, -53.3), "SC": (-27.2, -50.3), "SE": (-10.6, -37.4),
    "SP": (-22.2, -48.7), "TO": (-10.2, -48.3),
}


def distance_km(a: str, b: str) -> float:
    """Great-circle distance between two states' centroids (haversine, Earth radius 6,371 km)."""
    (la1, lo1), (la2, lo2) = CENTROIDS[a], CENTROIDS[b]
    p1, p2, dp, dl = map(math.radians, (la1, la2, la2 - la1, lo2 - lo1))
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def co2_grams(a: str, b: str) -> int:
    return round_half_up(max(distance_km(a, b), MIN_KM) * GRAMS_CO2_PER_KM)


@dataclass(frozen=True)
class Rate:
    from_state: str
    to_state: str
    transit_hours: float
    cost_cents: int
    overdue_hours: float
    co2_grams: int
    samples: int
    source: str
    """Where the transit and cost came from: `pair`, `to_state` or `national`."""
    overdue_source: str


@dataclass(frozen=True)
class _Leg:
    from_state: str
    to_state: str
    transit_hours: float
    freight_cents: int


class RateCard:
    """Medians by lane with a stated fallback; `rate(a, b)` always answers for known states."""

    def __init__(self, legs: Iterable[_Leg], overdue: Iterable[tuple[str, str, float]]) -> None:
        self._legs: dict[tuple[str, str], list[_Leg]] = {}
        self._to: dict[str, list[_Leg]] = {}
        self._all: list[_Leg] = []
        for leg in legs:
            self._legs.setdefault((leg.from_state, leg.to_state), []).append(leg)
            self._to.setdefault(leg.to_state, []).append(leg)
            self._all.append(leg)
        self._over: dict[tuple[str, str], list[float]] = {}
        self._over_to: dict[str, list[float]] = {}
        self._over_all: list[float] = []
        for a, b, hours in overdue:
            self._over.setdefault((a, b), []).append(hours)
            self._over_to.setdefault(b, []).append(hours)
            self._over_all.append(hours)
        if not self._all:
            raise ValueError("no delivered order with hand-off and delivery times: no rate card")
        self._cache: dict[tuple[str, str], Rate] = {}

    @property
    def samples(self) -> int:
        return len(self._all)

    def rate(self, from_state: str, to_state: str) -> Rate:
        key = (from_state, to_state)
        if key not in self._cache:
            legs, source = self._legs.get(key, []), "pair"
            if len(legs) < MIN_SAMPLES:
                legs, source = self._to.get(to_state, []), "to_state"
            if len(legs) < MIN_SAMPLES:
                legs, source = self._all, "national"
            over, over_source = self._over.get(key, []), "pair"
            if len(over) < MIN_SAMPLES:
                over, over_source = self._over_to.get(to_state, []), "to_state"
            if len(over) < MIN_SAMPLES:
                over, over_source = self._over_all, "national"
            self._cache[key] = Rate(
                from_state=from_state, to_state=to_state,
                transit_hours=round(statistics.median(x.transit_hours for x in legs), 1),
                cost_cents=round_half_up(statistics.median(x.freight_cents for x in legs)),
                overdue_hours=round(statistics.median(over), 1) if over else 0.0,
                co2_grams=co2_grams(from_state, to_state) if from_state in CENTROIDS and to_state in CENTROIDS else 0,
                samples=len(self._legs.get(key, [])), source=source, overdue_source=over_source)
        return self._cache[key]


def build_rate_card(extract: Extract) -> RateCard:
    """Legs and overdue remainders of every delivered order of the extract."""
    legs: list[_Leg] = []
    overdue: list[tuple[str, str, float]] = []
    for order in extract.orders:
        if order.status != "delivered" or not order.items or order.delivered_at is None:
            continue
        to_state = extract.customers[order.customer_id].state
        freight: dict[str, int] = {}
        for item in order.items:
            state = extract.sellers[item.seller_id].state
            freight[state] = freight.get(state, 0) + item.freight_cents
        late_by = order.delivered_at - (order.estimated_at + OVERDUE_AFTER)
        for state in sorted(freight):
            if order.carrier_at is not None and order.carrier_at <= order.delivered_at:
                hours = (order.delivered_at - order.carrier_at).total_seconds() / 3600
                legs.append(_Leg(state, to_state, hours, freight[state]))
            if late_by >= timedelta(0):
                overdue.append((state, to_state, late_by.total_seconds() / 3600))
    return RateCard(legs, overdue)
