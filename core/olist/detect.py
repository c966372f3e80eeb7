"""The two detectors the replay adds to the book's, as pure predicates over what is known at `now`.

The book raises a `delay` when a shipment's ETA is at least `delay_hours` past
its promise. History gives no carrier ETAs, only events, so the replay turns
two observable facts into ETA revisions, and the book's own detector
(`core.detectors.detect_delay`) decides:

- **missed dispatch**: the seller's shipping limit (`dispatch_by`) has passed
  and the parcel has not been handed over. The tower raises a `delay` on the
  unshipped shipment whatever the new ETA (`now` + the lane's transit) says.
- **overdue**: the promise plus `delay_hours` has passed with no delivery scan.
  The new ETA is the rate card's forecast for overdue parcels on that lane
  (never the recorded delivery, which was not known then).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import utc
from core.detectors import Triggers
from core.models import ShipmentStatus

NOT_LEFT = frozenset({ShipmentStatus.created, ShipmentStatus.picked})
UNDELIVERED = frozenset({ShipmentStatus.created, ShipmentStatus.picked, ShipmentStatus.in_transit})


def missed_dispatch(status: str, dispatch_by: datetime | None, now: datetime) -> bool:
    """At or past its shipping limit and still at the seller."""
    return dispatch_by is not None and status in NOT_LEFT and utc(now) >= utc(dispatch_by)


def overdue(status: str, promised_by: datetime, now: datetime, triggers: Triggers) -> bool:
    """Still undelivered `delay_hours` past the promise."""
    return status in UNDELIVERED and utc(now) - utc(promised_by) >= timedelta(hours=triggers.delay_hours)


def dispatch_eta(now: datetime, transit_hours: float) -> datetime:
    """An unshipped parcel arrives a lane's transit after it leaves, and it has not left yet."""
    return utc(now) + timedelta(hours=transit_hours)


def overdue_eta(status: str, now: datetime, transit_hours: float, overdue_hours: float) -> datetime:
    """The rate card's forecast for an overdue parcel; one still at the seller needs at least the transit."""
    hours = overdue_hours if status == ShipmentStatus.in_transit else max(overdue_hours, transit_hours)
    return utc(now) + timedelta(hours=hours)
