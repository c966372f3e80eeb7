"""Section 1, "What a planner may obtain", "Held cases" and "Messages wait with the decision they announce".

The book is the most a planner can obtain (anything else, and any repeat, is denied: N0) and the least it
may leave undone (the exception then waits for a supervisor, saying what). Planners here are scripted, as
a careless or hostile one would be; the verdicts' rule ids are pinned.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from policy_world import (
    BODY,
    NOW,
    PROMISED,
    SKU,
    World_,
    add_return,
    add_shipment,
    customer,
    delay_case,
    fraud_case,
    hours,
    iso,
    lane,
    line,
    order,
    product,
    proposal,
    return_case,
    script,
    set_lines,
    set_method,
    set_stock,
    stockout_case,
)
from sqlmodel import Session

from core.models import Order
from policies.actions import Proposal

ETA = PROMISED + hours(30)


def _express_late(w: World_) -> None:
    """D3 refunds the 1,500 fee, D1 tells the customer the ETA (30 h late)."""
    set_method(w, "express", fee=1_500)
    add_shipment(w, service="express", eta=ETA)


def refund(amount: int = 1_500, reason: str = "shipping_fee", **extra: Any) -> dict[str, Any]:
    return {"action": "refund", "order_id": "O-1", "amount_cents": amount, "reason": reason, **extra}


def notice(topic: str = "delay", eta: Any = ETA, body: str = BODY, **extra: Any) -> dict[str, Any]:
    args = {"action": "notify_customer", "order_id": "O-1", "topic": topic, "body": body, **extra}
    if eta is not None:
        args["eta"] = iso(eta)
    return args


def _p(entry: dict[str, Any], confidence: float = 1.0) -> Proposal:
    args = {k: v for k, v in entry.items() if k != "action"}
    return Proposal(action=entry["action"], args=args, confidence=confidence)


def _refunded(case_engine: Any) -> int:
    with Session(case_engine) as s:
        found = s.get(Order, "O-1")
        assert found is not None
        return found.refunded_cents


# --- N0: what the book does not give -------------------------------------------------------------


def test_a_refund_below_the_books_amount_is_denied_n0_and_the_exception_waits_for_the_refund(world: World_) -> None:
    _express_late(world)
    case = delay_case(world)
    run = case.work(script(refund(1_000), notice()))
    assert run.one("refund").status == "denied"
    assert run.one("refund").rule_ids == ["N0"]
    assert run.one("notify_customer").status == "applied"
    assert (run.state, run.outcome) == ("awaiting_approval", "approval")
    assert case.wait_reason() == ("the plan left undone what the book gives: "
                                  "refund (order_id O-1, amount_cents 1500, reason shipping_fee; D3)")
    assert _refunded(case.engine) == 0


@pytest.mark.parametrize("entry", [
    pytest.param(notice(eta=ETA + hours(1)), id="a later ETA"),
    pytest.param(notice(topic="backorder", eta=None), id="another topic"),
    pytest.param(refund(reason="goodwill"), id="another reason"),
    pytest.param(refund(1_499), id="a lower amount"),
    pytest.param({"action": "store_credit", "customer_id": "C-1", "amount_cents": 500, "reason": "delay"},
                 id="another action"),
])
def test_other_values_than_the_book_computes_are_denied_n0(world: World_, entry: dict[str, Any]) -> None:
    _express_late(world)
    verdict = delay_case(world).judge([_p(entry)])[0]
    assert (verdict.decision, verdict.rule_ids) == ("deny", ("N0",))
    assert verdict.reasons[0].startswith(f"N0: {entry['action']} is not what the book gives")


def test_the_books_own_values_are_applied(world: World_) -> None:
    _express_late(world)
    verdicts = delay_case(world).judge([_p(refund()), _p(notice())])
    assert [(v.decision, v.rule_ids) for v in verdicts] == [("apply", ("D3",)), ("apply", ("D1",))]


def _short_of_three(w: World_) -> None:
    """Three units at WH-A, one short; WH-B has stock and the cheapest lane (S1 moves one unit there)."""
    set_lines(w, line(qty=3))
    set_stock(w, "WH-A", on_hand=0)
    set_stock(w, "WH-B")
    set_stock(w, "WH-C")
    w["lanes"] += [lane("WH-B", transit=20, cost=500), lane("WH-C", transit=20, cost=900)]


@pytest.mark.parametrize(("qty", "to", "rule_ids"), [
    (1, "WH-B", ("S1",)), (2, "WH-B", ("N0",)), (1, "WH-C", ("N0",)),
])
def test_a_move_of_another_quantity_or_to_another_location_is_denied_n0(
        world: World_, qty: int, to: str, rule_ids: tuple[str, ...]) -> None:
    _short_of_three(world)
    move = {"action": "reallocate_line", "order_id": "O-1", "sku": SKU, "qty": qty, "to_location": to}
    assert stockout_case(world).judge([_p(move)])[0].rule_ids == rule_ids


@pytest.mark.parametrize(("days", "rule_ids"), [(3, ("S3",)), (2, ("N0",)), (4, ("N0",))])
def test_a_backorder_for_another_date_than_the_restock_is_denied_n0(
        world: World_, days: int, rule_ids: tuple[str, ...]) -> None:
    set_stock(world, "WH-A", on_hand=0)
    world["products"] = [product(SKU, restock_at=PROMISED + timedelta(days=3))]
    entry = {"action": "backorder_line", "order_id": "O-1", "sku": SKU, "qty": 1,
             "expected_at": iso(PROMISED + timedelta(days=days))}
    assert stockout_case(world).judge([_p(entry)])[0].rule_ids == rule_ids


def test_a_cancellation_reason_is_the_planners_where_the_book_names_none_but_fraud_where_it_does(
        world: World_) -> None:
    set_stock(world, "WH-A", on_hand=0)
    stockout = stockout_case(world).judge([_p({"action": "cancel_order", "order_id": "O-1", "reason": "no stock"})])
    assert (stockout[0].decision, stockout[0].rule_ids) == ("apply", ("S3",))
    fraud = make_fraud_world()
    verdict = fraud_case(fraud).judge([_p({"action": "cancel_order", "order_id": "O-1", "reason": "stockout"})])[0]
    assert (verdict.decision, verdict.rule_ids) == ("deny", ("N0",))


def make_fraud_world() -> World_:
    from policy_world import make_world

    w = make_world()
    order(w)["status"] = "on_hold"
    order(w)["fraud_score"] = 0.95
    return w


# --- repeats -------------------------------------------------------------------------------------


def test_a_duplicated_refund_in_one_batch_is_paid_once(world: World_) -> None:
    _express_late(world)
    case = delay_case(world)
    run = case.work(script(refund(), refund(), notice()))
    assert [(a.status, a.rule_ids) for a in run.result.actions if a.action == "refund"] == [
        ("applied", ["D3"]), ("denied", ["N0"])]
    assert run.result.actions[1].reasons == ["N0: refund repeats an earlier proposal of this batch"]
    assert (run.state, run.outcome) == ("resolved", "auto")
    assert _refunded(case.engine) == 1_500


def test_a_second_notice_with_another_body_is_a_repeat(world: World_) -> None:
    _express_late(world)
    run = delay_case(world).work(script(refund(), notice(), notice(body="Sorry, your parcel is late.")))
    notices = [(a.status, a.rule_ids) for a in run.result.actions if a.action == "notify_customer"]
    assert notices == [("applied", ["D1"]), ("denied", ["N0"])]


def test_what_was_already_applied_for_the_exception_is_a_repeat_and_not_left_undone(world: World_) -> None:
    _express_late(world)
    case = delay_case(world)
    assert case.work().applied() == ["notify_customer", "refund"]
    judged = case.judge_batch([_p(refund()), _p(notice())])
    assert [(v.decision, v.rule_ids) for v in judged.verdicts] == [("deny", ("N0",)), ("deny", ("N0",))]
    assert judged.verdicts[0].reasons == ("N0: refund repeats an action already applied for this exception",)
    assert judged.left_undone == ()


def _two_lost_lines_of_one_price(w: World_, refunded: int = 0) -> None:
    """Two of three lines, 3,000 each, are lost with no stock anywhere: D4 cancels both lines, refunding each."""
    set_lines(w, line(SKU, price=3_000), line("SKU-2", price=3_000), line("SKU-3", price=5_000))
    add_shipment(w, status="lost", eta=NOW, items=[(SKU, 1), ("SKU-2", 1)])
    set_stock(w, "WH-A", on_hand=0)
    order(w)["payment"]["refunded_cents"] = refunded


def test_the_book_giving_two_identical_refunds_pays_both(world: World_) -> None:
    _two_lost_lines_of_one_price(world)
    case = delay_case(world)
    run = case.work()
    assert [(a.status, a.args["amount_cents"]) for a in run.with_status("applied") if a.action == "refund"] == [
        ("applied", 3_000), ("applied", 3_000)]
    assert run.state == "resolved"
    assert _refunded(case.engine) == 6_000


def test_the_second_of_two_refunds_past_the_refundable_is_denied_and_not_left_undone(world: World_) -> None:
    _two_lost_lines_of_one_price(world, refunded=7_000)  # captured 11,000: 4,000 refundable
    case = delay_case(world)
    run = case.work()
    refunds = [(a.status, a.rule_ids) for a in run.result.actions if a.action == "refund"]
    assert refunds == [("applied", ["D4", "M5"]), ("denied", ["P7", "M1"])]
    assert (run.state, run.outcome) == ("resolved", "auto")
    assert _refunded(case.engine) == 10_000


# --- a batch as a whole --------------------------------------------------------------------------


FRAUD_CANCEL = {"action": "cancel_order", "order_id": "O-1", "reason": "fraud"}


def test_a_refund_listed_before_its_cancellation_counts_with_it(world: World_) -> None:
    order(world)["status"] = "on_hold"
    order(world)["fraud_score"] = 0.95
    run = fraud_case(world).work(script(refund(10_000, "order_cancel"), FRAUD_CANCEL,
                                        notice("cancellation", eta=None)))
    assert run.applied() == ["cancel_order", "notify_customer", "refund"]
    assert run.one("refund").rule_ids == ["F4", "M5"]


def test_an_order_cancel_refund_with_no_cancellation_is_denied_and_the_cancellation_is_left_undone(
        world: World_) -> None:
    order(world)["status"] = "on_hold"
    order(world)["fraud_score"] = 0.95
    case = fraud_case(world)
    run = case.work(script(refund(10_000, "order_cancel")))
    assert (run.one("refund").status, run.one("refund").rule_ids) == ("denied", ["P7", "M5"])
    assert run.state == "awaiting_approval"
    reason = case.wait_reason()
    assert reason is not None and "cancel_order (order_id O-1, reason fraud; F4)" in reason
    assert "refund (order_id O-1, amount_cents 10000, reason order_cancel; F4, M5)" in reason


def test_a_line_cancel_refund_goes_with_its_own_cancellation_not_a_line_cancelled_before(world: World_) -> None:
    set_lines(world, line(SKU, price=10_000), line("SKU-2", price=3_000, status="cancelled"),
              line("SKU-3", price=2_000))
    set_stock(world, "WH-A", on_hand=0)
    verdicts = stockout_case(world).judge([_p(refund(10_000, "line_cancel"))])
    assert (verdicts[0].decision, verdicts[0].rule_ids) == ("deny", ("M5",))


def test_a_refund_waits_with_its_held_cancellation_and_so_does_the_notice(world: World_) -> None:
    order(world)["status"] = "on_hold"
    order(world)["fraud_score"] = 0.95
    run = fraud_case(world).work(script({**FRAUD_CANCEL, "confidence": 0.94}, refund(10_000, "order_cancel"),
                                        notice("cancellation", eta=None)))
    assert run.held() == ["cancel_order", "notify_customer", "refund"]
    assert run.one("cancel_order").rule_ids == ["F4", "A1"]
    assert run.one("refund").rule_ids == ["F4", "M5", "A1"]
    assert run.one("notify_customer").rule_ids == ["F4", "A1"]


def test_goodwill_already_applied_for_the_exception_counts_against_the_ceiling(world: World_) -> None:
    _express_late(world)
    set_method(world, "express", fee=4_000)
    case = delay_case(world)
    facts = case.facts()
    from core.facts import PriorAction

    before = facts.model_copy(update={"prior_actions": (PriorAction(
        action="store_credit", status="applied", args={"customer_id": "C-1", "amount_cents": 1_001,
                                                         "reason": "goodwill"}),)})
    assert case.judge_batch([_p(refund(4_000))], facts).verdicts[0].decision == "apply"
    held = case.judge_batch([_p(refund(4_000))], before).verdicts[0]
    assert (held.decision, held.rule_ids) == ("hold", ("D3", "M2"))


# --- left undone ---------------------------------------------------------------------------------


def test_a_message_denied_for_its_body_leaves_it_undone_and_the_exception_waits(world: World_) -> None:
    _express_late(world)
    case = delay_case(world)
    run = case.work(script(refund(), notice(body="Our risk team delayed your parcel.")))
    assert (run.one("notify_customer").status, run.one("notify_customer").rule_ids) == ("denied", ["C7"])
    assert run.one("refund").status == "applied"
    assert run.state == "awaiting_approval"
    assert case.wait_reason() == ("the plan left undone what the book gives: notify_customer "
                                  f"(order_id O-1, topic delay, eta {iso(ETA)}; D1)")


def test_a_plan_proposing_nothing_where_the_book_gives_something_waits(world: World_) -> None:
    _express_late(world)
    run = delay_case(world).work(script())
    assert (run.state, run.outcome, run.result.actions) == ("awaiting_approval", "approval", [])


def test_a_plan_proposing_nothing_where_the_book_gives_nothing_is_resolved(world: World_) -> None:
    add_shipment(world, eta=PROMISED + hours(10))
    run = delay_case(world).work(script())
    assert (run.state, run.outcome) == ("resolved", "auto")


def test_a_held_action_is_not_left_undone(world: World_) -> None:
    _express_late(world)
    run = delay_case(world).work(script({**refund(), "confidence": 0.94}, notice()))
    assert run.held() == ["refund"]
    assert run.one("refund").rule_ids == ["D3", "A1"]
    assert run.applied() == ["notify_customer"]


# --- messages wait with the decision they announce -----------------------------------------------


def _delivered_return(w: World_, reason: str | None = "changed_mind", **kw: Any) -> None:
    add_shipment(w, status="delivered", eta=NOW - timedelta(days=10), delivered_at=NOW - timedelta(days=10))
    add_return(w, reason, **kw)


def test_a_return_decision_message_waits_while_its_decision_is_left_undone(world: World_) -> None:
    _delivered_return(world)
    case = return_case(world)
    run = case.work(script({"action": "approve_return", "return_id": "R-1", "amount_cents": 9_000},
                           notice("return_decision", eta=None)))
    assert (run.one("approve_return").status, run.one("approve_return").rule_ids) == ("denied", ["N0"])
    message = run.one("notify_customer")
    assert (message.status, message.rule_ids) == ("held", ["R5"])
    assert message.reasons[-1] == "held: the approve_return it announces is neither applied nor held"
    assert case.wait_reason() == ("the plan left undone what the book gives: "
                                  "approve_return (return_id R-1, amount_cents 10000; R5)")


def test_a_message_goes_with_the_decision_applied_beside_a_denied_one(world: World_) -> None:
    _delivered_return(world)
    run = return_case(world).work(script({"action": "approve_return", "return_id": "R-1", "amount_cents": 9_000},
                                         {"action": "approve_return", "return_id": "R-1", "amount_cents": 10_000},
                                         notice("return_decision", eta=None)))
    assert [a.status for a in run.result.actions] == ["denied", "applied", "applied"]
    assert run.state == "resolved"


def test_a_delay_notice_beside_held_goodwill_is_not_held(world: World_) -> None:
    _express_late(world)
    run = delay_case(world).work(script({**refund(), "confidence": 0.5}, notice()))
    assert run.one("notify_customer").status == "applied"


# --- R1: each line's window from its own shipment ------------------------------------------------


def _two_parcels(w: World_, first_days: float, second_days: float) -> None:
    """SKU-1 (10,000) came 40-ish days ago in S-1, SKU-2 (3,000) in S-2; both are returned."""
    set_lines(w, line(SKU, price=10_000), line("SKU-2", price=3_000))
    add_shipment(w, id_="S-1", status="delivered", eta=NOW - timedelta(days=first_days),
                 delivered_at=NOW - timedelta(days=first_days), items=[(SKU, 1)])
    add_shipment(w, id_="S-2", status="delivered", eta=NOW - timedelta(days=second_days),
                 delivered_at=NOW - timedelta(days=second_days), items=[("SKU-2", 1)])


def test_a_return_with_lines_on_both_sides_of_the_window_is_held_approving_those_inside(world: World_) -> None:
    _two_parcels(world, 31, 10)
    add_return(world, "changed_mind")
    case = return_case(world)
    plan = case.plan()
    assert plan.case_hold == ("R1",)
    assert [(s.action, s.args, s.rule_ids) for s in plan.steps] == [
        ("approve_return", {"return_id": "R-1", "amount_cents": 3_000}, ("R1",)),
        ("notify_customer", {"order_id": "O-1", "topic": "return_decision"}, ("R1",))]
    run = case.work()
    assert run.held() == ["approve_return", "notify_customer"]
    assert run.one("approve_return").rule_ids == ["R1"]


@pytest.mark.parametrize(("first", "second", "decision"), [
    (31, 40, "deny_return"), (10, 29, "approve_return"), (30, 30, "approve_return"),
])
def test_every_line_on_one_side_of_the_window_decides_as_one(world: World_, first: float, second: float,
                                                             decision: str) -> None:
    _two_parcels(world, first, second)
    add_return(world, "changed_mind")
    plan = return_case(world).plan()
    assert plan.steps[0].action == decision
    assert plan.case_hold == ()


def test_a_returned_lines_window_is_its_own_shipments_not_the_latest_of_the_order(world: World_) -> None:
    _two_parcels(world, 31, 10)
    add_return(world, "changed_mind", items=[(SKU, 1)])
    run = return_case(world).work()
    assert run.applied() == ["deny_return", "notify_customer"]
    assert run.one("deny_return").rule_ids == ["R1"]


def test_a_free_text_return_outside_the_window_is_denied_on_the_facts_alone(world: World_) -> None:
    add_shipment(world, status="delivered", eta=NOW - timedelta(days=31), delivered_at=NOW - timedelta(days=31))
    add_return(world, None, claim="hmm, well, about this thing")
    run = return_case(world).work()
    assert run.applied() == ["deny_return", "notify_customer"]
    assert run.one("deny_return").confidence == 1.0


# --- a scripted planner's malformed entries ------------------------------------------------------


@pytest.mark.parametrize(("entry", "reason"), [
    ("refund", 'malformed proposal: (no action): a proposal is an object, not "refund"'),
    ({"order_id": "O-1"}, "malformed proposal: (no action): the proposal names no action"),
    ({"action": 7}, "malformed proposal: 7: the action name must be text"),
    ({**refund(), "confidence": "high"}, 'malformed proposal: refund: confidence must be a number from 0 to 1, '
                                          'not "high"'),
    ({**refund(), "confidence": 1.5}, "malformed proposal: refund: confidence must be a number from 0 to 1, not 1.5"),
    (refund("1500"), "malformed proposal: refund: amount_cents: Input should be a valid integer"),
    (refund(True), "malformed proposal: refund: amount_cents: Input should be a valid integer"),
    (refund(note="x"), "malformed proposal: refund: note: Extra inputs are not permitted"),
    ({"action": "refund", "order_id": "O-1"}, "malformed proposal: refund: amount_cents: Field required"),
    ({"action": "offer_substitute", "order_id": "O-1"},
     "malformed proposal: 'offer_substitute' is not an action of the book (section 7)"),
])
def test_a_malformed_scripted_entry_is_denied_saying_why(world: World_, entry: Any, reason: str) -> None:
    _express_late(world)
    run = delay_case(world).work(script(entry, refund(), notice()))
    first = run.result.actions[0]
    assert (first.status, first.rule_ids, first.reasons) == ("denied", ["P7"], [reason])
    assert run.applied() == ["notify_customer", "refund"]


def test_a_scripted_entrys_confidence_and_rationale_are_the_planners(world: World_) -> None:
    _express_late(world)
    run = delay_case(world).work(script({**refund(), "confidence": 0.96, "rationale": "D3"}, notice()))
    assert run.one("refund").confidence == 0.96


def test_the_book_plan_as_proposed_is_left_nothing_undone(world: World_) -> None:
    _express_late(world)
    case = delay_case(world)
    judged = case.judge_batch([proposal(s) for s in case.plan().steps])
    assert judged.left_undone == () and judged.wait_reason is None
    customer(world)  # the world is unchanged by judging
