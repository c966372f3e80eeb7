"""Section 3 of the book, rule by rule at its boundaries: D1-D5 and the option rules they use."""

from __future__ import annotations

import pytest
from policy_world import (
    NOW,
    PROMISED,
    SKU,
    Case,
    World_,
    actions,
    add_shipment,
    customer,
    delay_case,
    hours,
    iso,
    lane,
    line,
    order,
    set_lines,
    set_method,
    set_stock,
    step,
)

from core.exceptions import raise_exception
from core.store import UnitOfWork

# --- D1: tell the customer -----------------------------------------------------------------------


def test_delay_of_11_99_hours_is_resolved_with_no_action(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(11.99))
    run = delay_case(world).work()
    assert run.result.actions == []
    assert run.state == "resolved"


def test_delay_of_exactly_12_hours_notifies_the_customer_with_the_eta(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(12))
    run = delay_case(world).work()
    assert run.applied() == ["notify_customer"]
    notify = run.one("notify_customer")
    assert notify.args["topic"] == "delay"
    assert notify.args["eta"] == iso(PROMISED + hours(12))
    assert run.outcome == "auto"


# --- D2: recover the promise ---------------------------------------------------------------------


def _not_left(w: World_, *, status: str = "created", late: float = 30, service: str = "standard") -> None:
    """S-1 waits at WH-A (current lane: standard, cost 500) and would arrive `late` hours late."""
    add_shipment(w, status=status, eta=PROMISED + hours(late), service=service)
    set_stock(w, "WH-B")
    set_stock(w, "WH-C")


@pytest.mark.parametrize(("cost", "rerouted"), [(2_000, True), (2_001, False)])
def test_reroute_extra_cost_of_15_percent_of_merchandise_is_the_cap(world: World_, cost: int, rerouted: bool) -> None:
    _not_left(world)  # merchandise 10,000: cap max(1,000, 1,500) = 1,500 extra over 500
    world["lanes"].append(lane("WH-B", "express", transit=24, cost=cost))
    plan = delay_case(world).plan()
    assert ("reroute_shipment" in actions(plan)) is rerouted


@pytest.mark.parametrize(("cost", "rerouted"), [(1_500, True), (1_501, False)])
def test_reroute_extra_cost_cap_is_never_below_1000(world: World_, cost: int, rerouted: bool) -> None:
    set_lines(world, line(price=5_000))  # 15% is 750: the cap is 1,000
    _not_left(world)
    world["lanes"].append(lane("WH-B", "express", transit=24, cost=cost))
    plan = delay_case(world).plan()
    assert ("reroute_shipment" in actions(plan)) is rerouted


@pytest.mark.parametrize(("cost", "rerouted"), [(2_002, True), (2_003, False)])
def test_the_15_percent_cap_rounds_half_up_like_every_amount_the_book_computes(
        world: World_, cost: int, rerouted: bool) -> None:
    set_lines(world, line(price=10_010))  # 15% is 1,501.5: the cap is 1,502 extra over 500
    _not_left(world)
    world["lanes"].append(lane("WH-B", "express", transit=24, cost=cost))
    assert ("reroute_shipment" in actions(delay_case(world).plan())) is rerouted


def test_reroute_cap_counts_lane_cost_only_not_the_carbon_price(world: World_) -> None:
    _not_left(world)
    world["lanes"].append(lane("WH-B", "express", transit=24, cost=2_000, co2=100_000))  # carbon 1,000
    plan = delay_case(world).plan()
    assert step(plan, "reroute_shipment").args["to_location"] == "WH-B"


@pytest.mark.parametrize(("transit", "rerouted"), [(24, True), (24 + 1 / 3600, False)])
def test_an_option_arriving_exactly_at_promised_by_meets_the_promise(
        world: World_, transit: float, rerouted: bool) -> None:
    _not_left(world)
    world["lanes"].append(lane("WH-B", "express", transit=transit, cost=1_000))
    plan = delay_case(world).plan()
    assert ("reroute_shipment" in actions(plan)) is rerouted


def test_handling_hours_count_in_an_options_eta(world: World_) -> None:
    _not_left(world)
    world["locations"][1]["handling_hours"] = 1
    world["lanes"].append(lane("WH-B", "express", transit=24, cost=1_000))
    assert "reroute_shipment" not in actions(delay_case(world).plan())


@pytest.mark.parametrize("status", ["created", "picked"])
def test_a_shipment_that_has_not_left_is_rerouted_to_recover_the_promise(world: World_, status: str) -> None:
    _not_left(world, status=status)
    world["lanes"].append(lane("WH-B", "express", transit=24, cost=1_000))
    run = delay_case(world).work()
    assert run.applied() == ["reroute_shipment"]
    assert run.one("reroute_shipment").args == {"shipment_id": "S-1", "to_location": "WH-B",
                                                "service": "express", "reship": False}


def test_a_shipment_in_transit_is_not_rerouted(world: World_) -> None:
    _not_left(world, status="in_transit")
    world["lanes"].append(lane("WH-B", "express", transit=24, cost=1_000))
    assert actions(delay_case(world).plan()) == ["notify_customer"]


def test_a_recovered_promise_needs_no_message_no_goodwill_and_no_approval(world: World_) -> None:
    set_method(world, "express", fee=1_500)
    world["lanes"] = [lane("WH-A", "express", transit=24, cost=1_000), lane("WH-B", "same_day", transit=8, cost=2_000)]
    _not_left(world, late=200, service="express")  # D5 and D3 would apply to the old ETA
    run = delay_case(world).work()
    assert run.describe() == [("applied", "reroute_shipment", {"shipment_id": "S-1", "to_location": "WH-B",
                                                               "service": "same_day", "reship": False})]


def test_the_shipments_own_location_counts_as_having_its_goods(world: World_) -> None:
    add_shipment(world, status="created", eta=PROMISED + hours(30))
    set_stock(world, "WH-A", on_hand=1, reserved=1)  # its goods are reserved for this very shipment
    world["lanes"].append(lane("WH-A", "express", transit=24, cost=1_200))
    plan = delay_case(world).plan()
    assert step(plan, "reroute_shipment").args == {"shipment_id": "S-1", "to_location": "WH-A",
                                                   "service": "express", "reship": False}


def test_a_location_needs_the_atp_for_every_line_of_the_shipment(world: World_) -> None:
    set_lines(world, line(SKU), line("SKU-2", price=2_000))
    _not_left(world)
    set_stock(world, "WH-C", "SKU-2")
    world["lanes"] += [lane("WH-B", "express", transit=24, cost=700), lane("WH-C", "express", transit=24, cost=900)]
    assert step(delay_case(world).plan(), "reroute_shipment").args["to_location"] == "WH-C"


def test_reserved_units_are_not_available_to_promise(world: World_) -> None:
    _not_left(world)
    set_stock(world, "WH-B", on_hand=5, reserved=5)
    world["lanes"] += [lane("WH-B", "express", transit=24, cost=700), lane("WH-C", "express", transit=24, cost=900)]
    assert step(delay_case(world).plan(), "reroute_shipment").args["to_location"] == "WH-C"


# --- the option rules: cheapest, ties, carbon --------------------------------------------------


def _two_options(w: World_, b: dict[str, object], c: dict[str, object]) -> str:
    _not_left(w)
    w["lanes"] += [lane("WH-B", **b), lane("WH-C", **c)]  # type: ignore[arg-type]
    s = step(delay_case(w).plan(), "reroute_shipment")
    return f"{s.args['to_location']} {s.args['service']}"


def test_cheapest_is_lowest_cost_plus_carbon_price(world: World_) -> None:
    # WH-B: 1,000 + 0; WH-C: 900 + 2,000 g x 10 c/kg = 920
    b = {"service": "express", "transit": 24, "cost": 1_000, "co2": 0}
    c = {"service": "express", "transit": 24, "cost": 900, "co2": 2_000}
    assert _two_options(world, b, c) == "WH-C express"


def test_a_tie_on_cost_plus_carbon_goes_to_the_sooner(world: World_) -> None:
    b = {"service": "express", "transit": 24, "cost": 1_000}
    c = {"service": "express", "transit": 20, "cost": 1_000}
    assert _two_options(world, b, c) == "WH-C express"


def test_a_tie_on_cost_and_eta_goes_to_the_location_id(world: World_) -> None:
    b = {"service": "express", "transit": 24, "cost": 1_000}
    c = {"service": "express", "transit": 24, "cost": 1_000}
    assert _two_options(world, c | {"service": "same_day"}, b) == "WH-B same_day"


def test_a_tie_on_cost_eta_and_location_goes_to_the_service_name(world: World_) -> None:
    _not_left(world)
    world["lanes"] += [lane("WH-B", "same_day", transit=24, cost=1_000),
                       lane("WH-B", "express", transit=24, cost=1_000)]
    assert step(delay_case(world).plan(), "reroute_shipment").args["service"] == "express"


def test_carbon_price_rounds_half_up(world: World_) -> None:
    # WH-B: 50 g x 10 c/kg = 0.5 c, rounded up to 1: 1,001 > 1,000 although WH-B is sooner
    b = {"service": "express", "transit": 20, "cost": 1_000, "co2": 50}
    c = {"service": "express", "transit": 24, "cost": 1_000, "co2": 0}
    assert _two_options(world, b, c) == "WH-C express"


def test_carbon_price_below_half_a_cent_rounds_down(world: World_) -> None:
    b = {"service": "express", "transit": 20, "cost": 1_000, "co2": 49}
    c = {"service": "express", "transit": 24, "cost": 1_000, "co2": 0}
    assert _two_options(world, b, c) == "WH-B express"


@pytest.mark.parametrize(("cents_per_kg", "chosen"), [(10, "WH-C"), (100, "WH-B"), (0, "WH-C")])
def test_the_world_carbon_price_setting_changes_the_choice(world: World_, cents_per_kg: int, chosen: str) -> None:
    # WH-B: 1,000 + 0 always; WH-C: 900 + 2,000 g x price/kg = 920 at 10, 1,100 at 100, 900 at 0
    world["settings"] = {"carbon_cents_per_kg": cents_per_kg}
    _not_left(world)
    world["lanes"] += [lane("WH-B", "express", transit=24, cost=1_000),
                       lane("WH-C", "express", transit=24, cost=900, co2=2_000)]
    run = delay_case(world).work()
    assert run.one("reroute_shipment").args["to_location"] == chosen
    assert run.applied() == ["reroute_shipment"]


# --- D3: goodwill ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["express", "same_day"])
@pytest.mark.parametrize(("late", "refunded"), [(23.99, False), (24, True)])
def test_express_delay_of_24_hours_refunds_the_shipping_fee(
        world: World_, method: str, late: float, refunded: bool) -> None:
    set_method(world, method, fee=1_500)
    add_shipment(world, service=method, eta=PROMISED + hours(late))
    plan = delay_case(world).plan()
    if refunded:
        assert step(plan, "refund").args == {"order_id": "O-1", "amount_cents": 1_500, "reason": "shipping_fee"}
        assert actions(plan) == ["notify_customer", "refund"]
    else:
        assert actions(plan) == ["notify_customer"]


def test_express_shipping_fee_refund_is_applied_end_to_end(world: World_) -> None:
    set_method(world, "express", fee=1_500)
    add_shipment(world, service="express", eta=PROMISED + hours(30))
    run = delay_case(world).work()
    assert run.applied() == ["notify_customer", "refund"]
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 1_500, "reason": "shipping_fee"}


@pytest.mark.parametrize(("late", "credited"), [(71.99, False), (72, True)])
def test_standard_delay_of_72_hours_gives_a_store_credit(world: World_, late: float, credited: bool) -> None:
    add_shipment(world, eta=PROMISED + hours(late))
    plan = delay_case(world).plan()
    assert ("store_credit" in actions(plan)) is credited
    assert "refund" not in actions(plan)
    if credited:
        assert step(plan, "store_credit").args == {"customer_id": "C-1", "amount_cents": 1_000, "reason": "delay"}


@pytest.mark.parametrize(("merchandise", "credit"), [
    (4_000, 500),      # 400 is below the floor
    (4_994, 500),      # 499.4 rounds to 499, then the floor
    (5_005, 501),      # 500.5 rounds half up
    (12_344, 1_234),   # 1,234.4 rounds down
    (12_345, 1_235),   # 1,234.5 rounds half up
    (19_995, 2_000),   # 1,999.5 rounds up to the ceiling
    (30_000, 2_000),   # 3,000 is above the ceiling
])
def test_standard_delay_credit_is_10_percent_rounded_half_up_between_500_and_2000(
        world: World_, merchandise: int, credit: int) -> None:
    set_lines(world, line(price=merchandise))
    add_shipment(world, eta=PROMISED + hours(72))
    assert step(delay_case(world).plan(), "store_credit").args["amount_cents"] == credit


def test_standard_delay_credit_ignores_cancelled_lines(world: World_) -> None:
    set_lines(world, line(price=10_000), line("SKU-2", price=50_000, status="cancelled"))
    add_shipment(world, eta=PROMISED + hours(72), items=[(SKU, 1)])
    assert step(delay_case(world).plan(), "store_credit").args["amount_cents"] == 1_000


@pytest.mark.parametrize("method", ["standard", "express"])
def test_an_order_that_already_had_goodwill_gets_none_but_is_still_told(world: World_, method: str) -> None:
    set_method(world, method, fee=1_500)
    order(world)["goodwill_given"] = True
    add_shipment(world, service=method, eta=PROMISED + hours(100))
    run = delay_case(world).work()
    assert run.describe() == [("applied", "notify_customer",
                               {"order_id": "O-1", "topic": "delay", "eta": iso(PROMISED + hours(100))})]


def test_an_express_order_with_no_fee_gets_no_refund_of_zero(world: World_) -> None:
    set_method(world, "express", fee=0)
    add_shipment(world, service="express", eta=PROMISED + hours(48))
    assert actions(delay_case(world).plan()) == ["notify_customer"]


# --- D4: lost parcels ----------------------------------------------------------------------------


def _lost(w: World_) -> None:
    """S-1 (all of O-1) is lost; WH-A has nothing left."""
    add_shipment(w, status="lost", eta=NOW)
    set_stock(w, "WH-A", on_hand=0)


def test_a_lost_parcel_is_reshipped_from_the_soonest_option_with_no_cost_cap(world: World_) -> None:
    _lost(world)
    set_stock(world, "WH-B")
    set_stock(world, "WH-C")
    world["lanes"] += [lane("WH-B", "same_day", transit=10, cost=20_000), lane("WH-C", transit=20, cost=500)]
    run = delay_case(world).work()
    assert run.applied() == ["reroute_shipment"]
    assert run.one("reroute_shipment").args == {"shipment_id": "S-1", "to_location": "WH-B",
                                                "service": "same_day", "reship": True}


def test_a_lost_parcel_is_reshipped_only_from_a_location_with_the_atp(world: World_) -> None:
    _lost(world)
    set_stock(world, "WH-C")
    world["lanes"] += [lane("WH-B", "same_day", transit=10, cost=900), lane("WH-C", transit=20, cost=500)]
    assert step(delay_case(world).plan(), "reroute_shipment").args["to_location"] == "WH-C"


def test_soonest_ties_go_to_the_cheaper(world: World_) -> None:
    _lost(world)
    set_stock(world, "WH-B")
    set_stock(world, "WH-C")
    world["lanes"] += [lane("WH-B", "express", transit=10, cost=900), lane("WH-C", "express", transit=10, cost=800)]
    assert step(delay_case(world).plan(), "reroute_shipment").args["to_location"] == "WH-C"


@pytest.mark.parametrize(("late", "credited"), [(71.99, False), (72, True)])
def test_d1_and_d3_apply_on_the_reship_eta(world: World_, late: float, credited: bool) -> None:
    _lost(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", "express", transit=10, cost=900))
    eta = NOW + hours(10)
    order(world)["shipping"]["promised_by"] = iso(eta - hours(late))
    plan = delay_case(world).plan()
    assert step(plan, "notify_customer").args == {"order_id": "O-1", "topic": "delay", "eta": eta}
    assert ("store_credit" in actions(plan)) is credited


def test_a_lost_parcel_reshipped_very_late_is_not_held(world: World_) -> None:
    _lost(world)
    set_stock(world, "WH-B")
    world["lanes"].append(lane("WH-B", "express", transit=10, cost=900))
    order(world)["shipping"]["promised_by"] = iso(NOW + hours(10) - hours(200))
    run = delay_case(world).work()
    assert run.applied() == ["notify_customer", "reroute_shipment", "store_credit"]
    assert run.outcome == "auto"


def test_a_lost_parcel_with_no_atp_anywhere_cancels_the_whole_order_without_goodwill(world: World_) -> None:
    set_method(world, "express", fee=1_500)
    add_shipment(world, status="lost", service="express", eta=NOW)
    set_stock(world, "WH-A", on_hand=0)
    world["lanes"] += [lane("WH-A", "express", transit=24, cost=1_000), lane("WH-B", "express", transit=10)]
    order(world)["shipping"]["promised_by"] = iso(NOW - hours(100))
    run = delay_case(world).work()
    assert run.applied() == ["cancel_order", "notify_customer", "refund"]
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 11_500, "reason": "order_cancel"}
    assert run.one("notify_customer").args["topic"] == "cancellation"


def test_a_lost_parcel_of_some_lines_with_no_atp_cancels_those_lines(world: World_) -> None:
    set_lines(world, line(SKU, price=10_000), line("SKU-2", price=3_000))
    add_shipment(world, status="lost", eta=NOW, items=[(SKU, 1)])
    set_stock(world, "WH-A", on_hand=0)
    set_stock(world, "WH-A", "SKU-2")
    run = delay_case(world).work()
    assert run.applied() == ["cancel_line", "notify_customer", "refund"]
    assert run.one("cancel_line").args == {"order_id": "O-1", "sku": SKU, "qty": 1}
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 10_000, "reason": "line_cancel"}
    assert run.one("notify_customer").args["topic"] == "cancellation"


# --- D5: very late -------------------------------------------------------------------------------


def test_a_delay_of_167_99_hours_is_applied_automatically(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(167.99))
    run = delay_case(world).work()
    assert run.applied() == ["notify_customer", "store_credit"]
    assert run.outcome == "auto"


def test_a_delay_of_168_hours_holds_the_whole_case_including_the_message(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(168))
    run = delay_case(world).work()
    assert run.applied() == []
    assert run.held() == ["notify_customer", "store_credit"]
    assert all("D5" in a.rule_ids for a in run.with_status("held"))
    assert run.outcome == "approval"
    assert run.state == "awaiting_approval"


def test_d5_proposes_what_d1_and_d3_give_for_an_express_order(world: World_) -> None:
    set_method(world, "express", fee=1_500)
    customer(world)["tier"] = "gold"
    add_shipment(world, service="express", eta=PROMISED + hours(168))
    run = delay_case(world).work()
    assert run.held() == ["notify_customer", "refund"]
    assert run.one("refund").args == {"order_id": "O-1", "amount_cents": 1_500, "reason": "shipping_fee"}


def test_goodwill_is_given_once_per_order_across_its_delay_exceptions(world: World_) -> None:
    set_lines(world, line(SKU), line("SKU-2", price=2_000))
    add_shipment(world, id_="S-1", eta=PROMISED + hours(72), items=[(SKU, 1)])
    add_shipment(world, id_="S-2", eta=PROMISED + hours(80), items=[("SKU-2", 1)])
    first = delay_case(world)
    assert first.work().applied() == ["notify_customer", "store_credit"]
    with UnitOfWork(first.engine) as uow:
        second = raise_exception(uow, type="delay", order_id="O-1", shipment_id="S-2", at=NOW)
        uow.commit()
        second_id = second.id
    again = Case(first.engine, second_id, NOW, first.carbon_cents_per_kg).work()
    assert again.applied() == ["notify_customer"]


def test_a_delay_on_a_delivered_shipment_gets_only_d3_on_its_delivery(world: World_) -> None:
    """policy.md section 1, "Plans go stale": delay_hours = delivered_at - promised_by; nothing to recover,
    no notice (the customer has the parcel), goodwill as D3 gives it."""
    add_shipment(world, status="delivered", eta=PROMISED + hours(300), delivered_at=PROMISED + hours(100))
    run = delay_case(world).work()
    assert run.applied() == ["store_credit"]
    assert run.state == "resolved"


def test_a_delay_on_a_shipment_delivered_in_time_for_goodwill_to_not_apply_is_resolved_with_no_action(
        world: World_) -> None:
    add_shipment(world, status="delivered", eta=PROMISED + hours(300), delivered_at=PROMISED + hours(10))
    run = delay_case(world).work()
    assert run.result.actions == []
    assert run.state == "resolved"
