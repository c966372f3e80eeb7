"""Section 4 of the book at its boundaries: S1 move it, S2 move it late, S3 no stock anywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from policy_world import (
    NOW,
    PROMISED,
    SKU,
    World_,
    actions,
    add_shipment,
    hours,
    lane,
    line,
    product,
    set_lines,
    set_method,
    set_stock,
    step,
    stockout_case,
)


def _short_at_a(w: World_) -> None:
    """O-1's line of SKU-1 is short at WH-A (current lane: WH-A standard, cost 500, promise in 24 h)."""
    set_stock(w, "WH-A", on_hand=0)
    w["lanes"] = [lane("WH-A", transit=20, cost=500)]


# --- S1: move it ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("cost", "rule"), [(2_000, "S1"), (2_001, "S2")])
def test_a_move_costing_exactly_1500_extra_is_made_without_telling_the_customer(
        world: World_, cost: int, rule: str) -> None:
    _short_at_a(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=20, cost=cost))
    plan = stockout_case(world).plan()
    move = step(plan, "reallocate_line")
    assert move.args == {"order_id": "O-1", "sku": SKU, "qty": 1, "to_location": "WH-B"}
    assert rule in move.rule_ids
    assert ("notify_customer" in actions(plan)) is (rule == "S2")


def test_s1_is_applied_automatically_end_to_end(world: World_) -> None:
    _short_at_a(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=20, cost=1_500))
    run = stockout_case(world).work()
    assert run.applied() == ["reallocate_line"]
    assert run.outcome == "auto"


def test_s1_only_considers_other_locations(world: World_) -> None:
    _short_at_a(world)
    set_stock(world, "WH-A", on_hand=10, reserved=10)  # on the shelf at WH-A, but promised to other orders
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=20, cost=1_400))
    assert step(stockout_case(world).plan(), "reallocate_line").args["to_location"] == "WH-B"


def test_a_stockout_whose_own_location_now_has_the_stock_is_resolved_with_nothing_to_do(world: World_) -> None:
    """policy.md section 1, "Plans go stale": stock arrived, the line can be allocated where it is."""
    _short_at_a(world)
    set_stock(world, "WH-A", on_hand=10)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=20, cost=1_400))
    run = stockout_case(world).work()
    assert run.result.actions == [] and run.state == "resolved"


def test_s1_takes_the_cheapest_option_that_meets_the_promise(world: World_) -> None:
    _short_at_a(world)
    set_stock(world, "WH-B")
    set_stock(world, "WH-C")
    world["lanes"] += [lane("WH-B", transit=20, cost=900), lane("WH-C", transit=22, cost=700),
                       lane("WH-C", "express", transit=10, cost=600)]
    assert step(stockout_case(world).plan(), "reallocate_line").args["to_location"] == "WH-C"


def test_s1_needs_the_atp_for_the_short_quantity(world: World_) -> None:
    set_lines(world, line(qty=3))
    _short_at_a(world)
    set_stock(world, "WH-B", on_hand=2)
    set_stock(world, "WH-C", on_hand=5, reserved=2)
    world["lanes"] += [lane("WH-B", transit=20, cost=500), lane("WH-C", transit=20, cost=900)]
    move = step(stockout_case(world, short=3).plan(), "reallocate_line")
    assert move.args == {"order_id": "O-1", "sku": SKU, "qty": 3, "to_location": "WH-C"}


@pytest.mark.parametrize(("transit", "rule"), [(24, "S1"), (24 + 1 / 3600, "S2")])
def test_s1_option_must_arrive_by_promised_by(world: World_, transit: float, rule: str) -> None:
    _short_at_a(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=transit, cost=500))
    assert step(stockout_case(world).plan(), "reallocate_line").rule_ids[0] == rule


def _three_lines(w: World_, third_status: str = "open") -> None:
    """SKU-1 short at WH-A; SKU-2 at WH-B; SKU-3 at WH-C. Only WH-D has SKU-1."""
    set_lines(w, line(SKU), line("SKU-2", price=1_000, at="WH-B"), line("SKU-3", price=1_000, at="WH-C",
                                                                       status=third_status))
    w["locations"].append({"id": "WH-D", "kind": "store", "region": "R", "handling_hours": 0})
    _short_at_a(w)
    set_stock(w, "WH-D")
    w["lanes"].append(lane("WH-D", transit=20, cost=600))


def test_a_move_that_leaves_open_lines_at_3_locations_is_held(world: World_) -> None:
    _three_lines(world)
    run = stockout_case(world).work()
    assert run.held() == ["reallocate_line"]
    assert run.one("reallocate_line").args["to_location"] == "WH-D"
    assert "S1" in run.one("reallocate_line").rule_ids


def test_a_move_that_leaves_open_lines_at_2_locations_is_applied(world: World_) -> None:
    _three_lines(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=20, cost=500))
    run = stockout_case(world).work()
    assert run.applied() == ["reallocate_line"]
    assert run.one("reallocate_line").args["to_location"] == "WH-B"


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled"])
def test_lines_that_are_not_open_do_not_count_as_locations(world: World_, status: str) -> None:
    _three_lines(world, third_status=status)
    run = stockout_case(world).work()
    assert run.applied() == ["reallocate_line"]


def test_a_partial_move_leaves_the_rest_of_the_line_where_it_was(world: World_) -> None:
    set_lines(world, line(SKU, qty=2), line("SKU-2", price=1_000, at="WH-C"))
    _short_at_a(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=20, cost=500))
    run = stockout_case(world, short=1).work()  # open lines at WH-A (1 unit), WH-B (1 unit), WH-C
    assert run.held() == ["reallocate_line"]


# --- S2: move it late ----------------------------------------------------------------------------


def test_s2_moves_to_the_soonest_option_and_tells_the_customer_the_eta(world: World_) -> None:
    _short_at_a(world)
    set_stock(world, "WH-B")
    set_stock(world, "WH-C")
    world["lanes"] += [lane("WH-B", transit=40, cost=5_000), lane("WH-C", transit=60, cost=400)]
    run = stockout_case(world).work()
    assert run.applied() == ["notify_customer", "reallocate_line"]
    assert run.one("reallocate_line").args["to_location"] == "WH-B"
    notify = run.one("notify_customer")
    assert notify.args["topic"] == "delay"
    assert notify.args["eta"] == (NOW + hours(40)).isoformat().replace("+00:00", "Z")


def test_s2_has_no_cost_cap(world: World_) -> None:
    _short_at_a(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", "same_day", transit=8, cost=90_000))
    plan = stockout_case(world).plan()
    assert step(plan, "reallocate_line").args["to_location"] == "WH-B"
    assert "S2" in step(plan, "reallocate_line").rule_ids


@pytest.mark.parametrize(("late", "credited"), [(71.99, False), (72, True)])
def test_s2_gives_d3_goodwill_on_the_new_eta_for_standard_orders(world: World_, late: float, credited: bool) -> None:
    _short_at_a(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", transit=24 + late, cost=500))
    plan = stockout_case(world).plan()
    assert ("store_credit" in actions(plan)) is credited
    if credited:
        assert step(plan, "store_credit").args == {"customer_id": "C-1", "amount_cents": 1_000, "reason": "delay"}


@pytest.mark.parametrize(("late", "refunded"), [(23.99, False), (24, True)])
def test_s2_gives_d3_goodwill_on_the_new_eta_for_express_orders(world: World_, late: float, refunded: bool) -> None:
    set_method(world, "express", fee=1_500)
    _short_at_a(world)
    world["lanes"] = [lane("WH-A", "express", transit=10, cost=1_000)]
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", "express", transit=24 + late, cost=1_000))
    plan = stockout_case(world).plan()
    assert ("refund" in actions(plan)) is refunded
    assert "notify_customer" in actions(plan)


# --- S3: no stock anywhere -----------------------------------------------------------------------


def _nowhere(w: World_, restock: timedelta | None) -> None:
    _short_at_a(w)
    w["products"] = [product(SKU, restock_at=PROMISED + restock if restock is not None else None)]
    w["lanes"].append(lane("WH-B", transit=20, cost=500))


def test_restock_exactly_7_days_after_the_promise_is_backordered(world: World_) -> None:
    _nowhere(world, timedelta(days=7))
    run = stockout_case(world).work()
    assert run.applied() == ["backorder_line", "notify_customer"]
    back = run.one("backorder_line")
    assert back.args["qty"] == 1 and back.args["sku"] == SKU
    assert back.args["expected_at"] == (PROMISED + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    assert run.one("notify_customer").args["topic"] == "backorder"


@pytest.mark.parametrize("restock", [timedelta(days=7, seconds=1), None])
def test_restock_later_than_7_days_after_the_promise_cancels_the_order_when_it_is_the_only_line(
        world: World_, restock: timedelta | None) -> None:
    _nowhere(world, restock)
    run = stockout_case(world).work()
    assert run.applied() == ["cancel_order", "notify_customer", "refund"]
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 10_000, "reason": "order_cancel"}
    assert run.one("notify_customer").args["topic"] == "cancellation"


def test_cancelling_the_whole_order_refunds_the_shipping_fee_too(world: World_) -> None:
    set_method(world, "express", fee=1_500)
    _nowhere(world, None)
    plan = stockout_case(world).plan()
    assert step(plan, "refund").args == {"order_id": "O-1", "amount_cents": 11_500, "reason": "order_cancel"}


def test_no_stock_for_one_of_two_lines_cancels_that_line_with_its_refund(world: World_) -> None:
    set_lines(world, line(SKU, price=10_000), line("SKU-2", price=3_000))
    _nowhere(world, None)
    world["products"].append(product("SKU-2", price=3_000))
    run = stockout_case(world).work()
    assert run.applied() == ["cancel_line", "notify_customer", "refund"]
    assert run.one("cancel_line").args == {"order_id": "O-1", "sku": SKU, "qty": 1}
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 10_000, "reason": "line_cancel"}


def test_a_short_quantity_below_the_line_cancels_only_the_short_units(world: World_) -> None:
    set_lines(world, line(SKU, qty=3, price=2_000))
    _nowhere(world, None)
    set_stock(world, "WH-A", on_hand=0)
    plan = stockout_case(world, short=2).plan()
    assert step(plan, "cancel_line").args == {"order_id": "O-1", "sku": SKU, "qty": 2}
    assert step(plan, "refund").args == {"order_id": "O-1", "amount_cents": 4_000, "reason": "line_cancel"}
    assert "cancel_order" not in actions(plan)


def test_a_delivered_line_elsewhere_means_cancelling_the_short_line_is_not_cancelling_the_order(
        world: World_) -> None:
    set_lines(world, line(SKU, price=10_000), line("SKU-2", price=3_000, at="WH-B"))
    add_shipment(world, status="delivered", at="WH-B", delivered_at=NOW, items=[("SKU-2", 1)])
    _nowhere(world, None)
    world["products"].append(product("SKU-2", price=3_000))
    plan = stockout_case(world).plan()
    assert "cancel_line" in actions(plan)
    assert "cancel_order" not in actions(plan)
