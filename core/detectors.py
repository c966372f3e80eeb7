"""Detectors: the predicates that turn OMS state into the four exceptions.

Pure functions. The book's numbers are not here: they arrive in `Triggers`,
which the composition root fills from the policy book, so changing the book
changes the detectors without touching core.

Each predicate also names its *trigger*: a fingerprint of the condition that
fired (`lost`, `eta:<instant>`, `pick:<shipment>`). The service layer raises
one exception per (subject, trigger), so a condition that stays true across
ticks raises once, while a new condition on the same subject (an ETA that
slips again after the first delay was resolved, a parcel then lost) raises anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import utc
from core.jsonvalue import iso
from core.lifecycle import ACTIVE_SHIPMENT
from core.models import ReturnStatus, ShipmentStatus


@dataclass(frozen=True)
class Triggers:
    """When the OMS raises an exception; no defaults, so every caller says which book it obeys."""

    delay_hours: float
    fraud_hold_score: float


def delay_hours(eta: datetime, promised_by: datetime) -> float:
    """ETA − promise in hours (negative when early)."""
    return (utc(eta) - utc(promised_by)).total_seconds() / 3600


def detect_delay(status: str, eta: datetime, promised_by: datetime, triggers: Triggers) -> str | None:
    """`lost`, or `eta:<eta>` when the ETA is at least `delay_hours` past the promise, else None.

    Compared as timedeltas, so 3 h 59 min is not a delay and 4 h is, with no float rounding.
    """
    if status == ShipmentStatus.lost:
        return "lost"
    if status not in ACTIVE_SHIPMENT:
        return None
    if utc(eta) - utc(promised_by) >= timedelta(hours=triggers.delay_hours):
        return f"eta:{iso(eta)}"
    return None


def detect_fraud_hold(score: float, triggers: Triggers) -> bool:
    """A score at or above the hold score puts the order on hold."""
    return score >= triggers.fraud_hold_score


def detect_stockout(wanted: int, available: int) -> int:
    """Units short (0 when the stock covers the need)."""
    return max(wanted - max(available, 0), 0)


def detect_return_dispute(status: str) -> bool:
    """A return the customer disputes."""
    return status == ReturnStatus.disputed
