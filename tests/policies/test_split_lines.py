"""S1 counts locations line by line: after a short pick one sku may sit on two lines at one location."""

from __future__ import annotations

from casekit import build, shared_case
from sqlmodel import Session

from core.facts import load_facts
from policies.rules import book_plan


def test_a_move_that_leaves_found_units_behind_and_spreads_the_order_over_three_locations_is_held() -> None:
    def split(c: dict) -> None:  # type: ignore[type-arg]
        order = c["world"]["orders"][0]
        found = dict(order["lines"][0])
        order["lines"] = [found, dict(found), {"sku": "MUG-SET", "qty": 1, "unit_price_cents": 2400,
                                               "location": "3PL-CENTRAL", "status": "open"}]
        order["payment"]["captured_cents"] = 2 * 4999 + 2400

    built = build(shared_case("stockout-reallocate-store"), split)
    with Session(built.engine) as s:
        plan = book_plan(load_facts(s, built.exception_id, built.now, 10))
    [move] = plan.steps
    assert move.args["to_location"] == "STORE-NYC"
    assert move.hold_rules == ("S1",)  # DC-EAST keeps the found unit; 3PL-CENTRAL; STORE-NYC
