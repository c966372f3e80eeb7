"""The read tools compute what the book defines: options, ATP, delay hours, return value and window."""

from __future__ import annotations

from casekit import build, shared_case
from sqlmodel import Session

from core.facts import Facts, load_facts
from tools import read


def _facts(name: str) -> Facts:
    built = build(shared_case(name))
    with Session(built.engine) as s:
        return load_facts(s, built.exception_id, built.now, 10)


def test_shipment_options_price_carbon_and_the_extra_cost_over_the_current_lane() -> None:
    facts = _facts("delay-recover-from-store")
    opts = read.shipment_options(facts)
    assert opts is not None and opts["current_lane_cost_cents"] == 600
    store = next(r for r in opts["rows"] if (r["location"], r["service"]) == ("STORE-NYC", "express"))
    assert store == {"location": "STORE-NYC", "service": "express", "eta": "2026-03-11T16:00:00Z",
                     "meets_promise": True, "has_atp": True, "cost_cents": 1200, "extra_cost_cents": 600,
                     "carbon_cents": 12, "cost_plus_carbon_cents": 1212}
    assert read.delay_hours(facts) == 32.0


def test_line_options_leave_out_the_short_location() -> None:
    facts = _facts("stockout-reallocate-store")
    opts = read.line_options(facts)
    assert opts is not None and "DC-EAST" not in {r["location"] for r in opts["rows"]}
    assert read.shipment_options(facts) is None


def test_the_return_view_gives_the_paid_value_and_days_since_delivery() -> None:
    view = read.return_view(_facts("return-outside-window-standard"))
    assert view == {"paid_value_cents": 4999, "returnable": {"LAMP-01": True},
                    "delivered_at": "2026-01-24T12:00:00Z", "days_since_delivery": 45.0}
