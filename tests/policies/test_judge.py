"""The judge holds any planner to the book: more than the book gives is denied, never offered for approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from policy_world import (
    NOW,
    PROMISED,
    Case,
    ScriptedPlanner,
    World_,
    add_return,
    add_shipment,
    delay_case,
    fraud_case,
    hours,
    lane,
    order,
    product,
    proposal,
    return_case,
    set_method,
    set_stock,
    step,
    stockout_case,
)

from core.models import Order
from core.store import UnitOfWork
from policies.actions import Proposal
from policies.judge import Approval


def _p(action: str, **args: object) -> Proposal:
    return Proposal(action=action, args=args, confidence=1.0)


def _recoverable(w: World_) -> Case:
    add_shipment(w, status="created", eta=PROMISED + hours(30))
    set_stock(w, "WH-B")
    set_stock(w, "WH-C")
    w["lanes"] += [lane("WH-B", "express", transit=24, cost=1_000), lane("WH-C", "express", transit=24, cost=1_400)]
    return delay_case(w)


def test_a_reroute_to_a_dearer_option_than_the_cheapest_is_denied(world: World_) -> None:
    case = _recoverable(world)
    assert step(case.plan(), "reroute_shipment").args["to_location"] == "WH-B"
    verdict = case.judge([_p("reroute_shipment", shipment_id="S-1", to_location="WH-C", service="express")])[0]
    assert verdict.decision == "deny"


def test_releasing_a_high_score_hold_is_denied(world: World_) -> None:
    order(world)["status"] = "on_hold"
    order(world)["fraud_score"] = 0.95
    verdict = fraud_case(world).judge([_p("release_hold", order_id="O-1")])[0]
    assert verdict.decision == "deny"


def test_goodwill_the_book_does_not_give_is_denied(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(30))
    verdict = delay_case(world).judge([_p("store_credit", customer_id="C-1", amount_cents=500, reason="delay")])[0]
    assert verdict.decision == "deny"


def test_approving_a_return_for_more_than_the_paid_value_is_denied(world: World_) -> None:
    add_shipment(world, status="delivered", eta=NOW - timedelta(days=3), delivered_at=NOW - timedelta(days=3))
    add_return(world, "changed_mind")
    order(world)["payment"]["captured_cents"] = 20_000
    verdict = return_case(world).judge([_p("approve_return", return_id="R-1", amount_cents=10_001)])[0]
    assert verdict.decision == "deny"


def test_there_is_no_substitute_action(world: World_) -> None:
    set_stock(world, "WH-A", on_hand=0)
    world["products"] = [product("SKU-1")]
    verdict = stockout_case(world).judge([_p("offer_substitute", order_id="O-1", sku="SKU-2")])[0]
    assert verdict.decision == "deny"


def test_a_delay_message_promising_an_earlier_eta_than_the_plans_is_denied(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(30))
    case = delay_case(world)
    notify = step(case.plan(), "notify_customer")
    early = proposal(notify).model_copy(update={"args": {**proposal(notify).args, "eta": PROMISED}})
    assert case.judge([early])[0].decision == "deny"


def test_a_message_alone_from_a_held_case_is_held(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(200))
    case = delay_case(world)
    verdict = case.judge([proposal(step(case.plan(), "notify_customer"))])[0]
    assert verdict.decision == "hold"
    assert "D5" in verdict.rule_ids


def test_a_supervisors_approval_never_lifts_a_denial(world: World_) -> None:
    set_method(world, "express", fee=1_500)
    order(world)["payment"]["refunded_cents"] = 11_000
    add_shipment(world, service="express", eta=PROMISED + hours(30))
    case = delay_case(world)
    refund = proposal(step(case.plan(), "refund"))
    assert case.judge([refund], approval=Approval(role="lead"))[0].decision == "deny"


@pytest.mark.parametrize(("other", "decision"), [("O-1", "applied"), ("O-2", "denied")])
def test_a_message_naming_another_customers_order_is_denied(world: World_, other: str, decision: str) -> None:
    world["customers"].append({**world["customers"][0], "id": "C-2", "email": "lee@example.com", "name": "Lee"})
    world["orders"].append({**order(world), "id": "O-2", "customer": "C-2", "shipments": [], "returns": []})
    add_shipment(world, eta=PROMISED + hours(30))
    run = delay_case(world).work(ScriptedPlanner(body=f"Hi, about your order {other}: it is running late."))
    assert run.one("notify_customer").status == decision


def test_working_an_exception_twice_pays_once(world: World_) -> None:
    set_method(world, "express", fee=1_500)
    add_shipment(world, service="express", eta=PROMISED + hours(30))
    case = delay_case(world)
    first = case.work()
    second = case.work()
    assert [a.key for a in second.result.actions] == [a.key for a in first.result.actions]
    with UnitOfWork(case.engine) as uow:
        paid = uow.session.get(Order, "O-1")
        assert paid is not None
        assert paid.refunded_cents == 1_500


def test_a_supervisors_addition_is_no_n0_denial_but_never_lifts_what_denies(world: World_) -> None:
    """N0 does not apply to supervisors' additions; preconditions do, and goodwill over the ceiling needs a lead."""
    set_method(world, "express", fee=1_500)
    add_shipment(world, service="express", eta=PROMISED + hours(30))
    case = delay_case(world)
    credit = _p("store_credit", customer_id="C-1", amount_cents=800, reason="goodwill")
    assert case.judge([credit])[0].decision == "deny"  # a planner's: not what the book gives (N0)
    [v] = case.judge([credit], approval=Approval(role="supervisor", added=True))
    assert v.decision == "apply" and "N0" not in v.rule_ids
    big = _p("store_credit", customer_id="C-1", amount_cents=90_000, reason="goodwill")
    [v] = case.judge([big], approval=Approval(role="supervisor", added=True))
    assert v.decision == "hold" and v.required_role == "lead" and "M2" in v.rule_ids
    assert case.judge([big], approval=Approval(role="lead", added=True))[0].decision == "apply"
    release = _p("release_hold", order_id="O-1")  # the order is not on hold: a precondition denies it
    [v] = case.judge([release], approval=Approval(role="lead", added=True))
    assert v.decision == "deny" and "P7" in v.rule_ids
