"""The decision service (agents.decisions): every kind of decision, the lead rules, what a reject takes with it,
each item reported as it ended, and no order left stranded whatever supervisors decide."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from casekit import Built, build, shared_case
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from agents import decisions as D
from agents.planners import get_planner
from agents.planners.base import Plan
from agents.service import WorkResult, work_exception
from agents.waiting import options, waiting_for
from core.facts import Facts
from core.models import ActionRecord, Notification, Order, Refund
from policies.judge import Role


class Unsure:
    """The rules planner's plan at confidence 0.5: below every class threshold, so the judge holds all of it (A1)."""

    name, version = "unsure", "1"

    def __init__(self) -> None:
        self.inner = get_planner("rules")

    def plan(self, facts: Facts) -> Plan:
        plan = self.inner.plan(facts)
        return plan.model_copy(update={"proposals": tuple(p.model_copy(update={"confidence": 0.5})
                                                          for p in plan.proposals)})


@dataclass
class Held:
    built: Built
    saver: InMemorySaver
    first: WorkResult

    @property
    def exception_id(self) -> str:
        return self.built.exception_id

    @property
    def order_id(self) -> str:
        return self.built.world.orders[0].id

    def decide(self, decision: str, *, role: Role = "supervisor", choices: list[D.Choice] | None = None,
               additions: list[D.Addition] | None = None) -> D.DecisionResult:
        request = D.DecisionRequest(decision=decision, choices=choices, additions=additions or [],  # type: ignore[arg-type]
                                    note="test")
        return D.decide(self.built.engine, self.exception_id, request, actor=f"sam ({role})", role=role,
                        clock=self.built.clock, checkpointer=self.saver, planner=Unsure())

    def key(self, action: str, **args: Any) -> str:
        return next(a.key for a in self.first.actions
                    if a.action == action and all(a.args.get(k) == v for k, v in args.items()))

    def order_status(self) -> str:
        with Session(self.built.engine) as s:
            return str(s.get(Order, self.order_id).status)  # type: ignore[union-attr]

    def records(self) -> dict[str, str]:
        with Session(self.built.engine) as s:
            return {r.idempotency_key: r.status for r in s.exec(select(ActionRecord).where(
                ActionRecord.exception_id == self.exception_id)).all()}

    def refunded(self) -> int:
        with Session(self.built.engine) as s:
            return int(s.exec(select(func.coalesce(func.sum(Refund.amount_cents), 0))).one())

    def notices(self) -> list[str]:
        with Session(self.built.engine) as s:
            return list(s.exec(select(Notification.topic)).all())


def held(name: str, tweak: Any = None, planner: Any = None) -> Held:
    built = build(shared_case(name), tweak)
    saver = InMemorySaver()
    first = work_exception(built.engine, built.exception_id, clock=built.clock, checkpointer=saver,
                           planner=planner or Unsure())
    assert first.state == "awaiting_approval", first
    return Held(built, saver, first)


# --------------------------------------------------------------------------- every type x every decision

CASES = {  # one held case per exception type (and per shape of plan), all held by A1
    "delay": "delay-express-gold-30h",  # refund shipping_fee + delay notice
    "delay-reroute": "delay-recover-from-store",
    "stockout": "stockout-reallocate-store",
    "stockout-cancel-line": "stockout-none-anywhere-cancel-line",
    "stockout-backorder": "stockout-backorder",
    "fraud-cancel": "fraud-high-cancel",
    "fraud-verify": "fraud-gray-new-address",
    "return-approve": "return-damaged-with-photos",
    "return-deny": "return-outside-window-standard",
}
KINDS = ("approve", "reject", "edit", "add")
CLEAN_BODY = "Hello, an update on your order: we are looking after it and will write again soon."


def _run(h: Held, kind: str) -> D.DecisionResult:
    """One supervisor's way through the case with `kind` as the decision that matters."""
    fraud = h.first.actions and h.built.world.orders[0].status == "on_hold"
    if kind == "approve":
        return h.decide("approve", role="lead")
    if kind == "reject":
        return h.decide("reject")
    if kind == "edit":
        notice = next((a for a in h.first.actions if a.action == "notify_customer"), None)
        if notice is None:
            pytest.skip("nothing here has a value a supervisor would edit")
        out = h.decide("edit", role="lead", choices=[D.Choice(notice.key, {"body": CLEAN_BODY})])
        assert [(i.action, i.status) for i in out.items] in ([("notify_customer", "approved")],
                                                              [("notify_customer", "applied")])
        if out.state == "awaiting_approval" and any(s == "held" for s in h.records().values()):
            out = h.decide("approve", role="lead")
        return out
    # add: while the items wait, a supervisor adds an action of their own; then rejects what was held
    if fraud:
        out = h.decide("reject")
        assert out.state == "awaiting_approval" and "add release_hold" in out.options
        return h.decide("add", additions=[D.Addition("release_hold", {"order_id": h.order_id})])
    customer = h.built.world.orders[0].customer
    out = h.decide("add", additions=[D.Addition("store_credit", {"customer_id": customer, "amount_cents": 500,
                                                                  "reason": "goodwill"})])
    assert [(i.action, i.status) for i in out.items] == [("store_credit", "approved")]
    return h.decide("reject")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_type_and_decision_leaves_the_order_able_to_move_on(case: str, kind: str) -> None:
    h = held(CASES[case])
    before = h.order_status()
    out = _run(h, kind)
    after = h.order_status()
    records = h.records()
    assert out.resume_error is None
    if out.state in ("resolved", "rejected"):
        assert after != "on_hold", f"{case}: closed {out.state} with its order still on hold"
        assert "held" not in records.values() and "approved" not in records.values()
        assert out.waiting_for is None and out.options == []
    else:
        assert out.state == "awaiting_approval"
        assert out.waiting_for and out.options, "a waiting exception says why and what can be done"
    if out.state == "rejected":
        assert "applied" not in records.values() and after == before
    if kind == "reject":
        assert h.refunded() == 0 and h.notices() == [] and "applied" not in records.values()
        if before == "on_hold":  # the order cannot move on: the exception waits, naming the ways out
            assert out.state == "awaiting_approval" and after == "on_hold"
            assert {"add release_hold", "add cancel_order"} <= set(out.options) and "on hold" in out.waiting_for
        else:
            assert out.state == "rejected" and after == before
    if kind == "approve":
        assert all(i.status == "applied" for i in out.items)
        if case == "fraud-verify":  # the verification went out; the order is still on hold
            assert out.state == "awaiting_approval" and after == "on_hold"
        else:
            assert out.state == "resolved"
    if kind == "add":
        assert out.state == "resolved"
        assert after != "on_hold"


# --------------------------------------------------------------------------- each kind, as it happened


def test_approve_reports_each_item_applied_with_the_rules_of_its_rejudgement() -> None:
    h = held(CASES["delay"])
    out = h.decide("approve")
    assert out.resumed and out.state == "resolved"
    assert sorted((i.action, i.status) for i in out.items) == [("notify_customer", "applied"), ("refund", "applied")]
    refund = next(i for i in out.items if i.action == "refund")
    assert "D3" in refund.rule_ids and any("approved by a supervisor" in r for r in refund.reasons)


def test_an_approval_the_state_now_denies_is_reported_denied_with_its_rule_and_reason() -> None:
    h = held(CASES["delay"])
    with Session(h.built.engine) as s:  # meanwhile everything captured was refunded: nothing left to refund
        order = s.get(Order, h.order_id)
        assert order is not None
        order.refunded_cents = order.captured_cents
        s.add(order)
        s.commit()
    out = h.decide("approve")
    refund = next(i for i in out.items if i.action == "refund")
    assert refund.status == "denied" and "P7" in refund.rule_ids and refund.reasons
    assert h.refunded() == 0
    assert out.state == "resolved"  # the notice went out: something of the case was applied


def test_a_partial_approval_leaves_the_rest_held_and_says_so() -> None:
    h = held(CASES["delay"])
    out = h.decide("approve", choices=[D.Choice(h.key("notify_customer"))])
    assert [(i.action, i.status) for i in out.items] == [("notify_customer", "approved")]
    assert not out.resumed and out.state == "awaiting_approval"
    assert out.waiting_for is not None and "1 held action waits" in out.waiting_for
    assert out.options[:3] == ["approve", "edit", "reject"]


def test_rejecting_a_cancellation_rejects_its_refund_and_notice() -> None:
    h = held(CASES["stockout-cancel-line"])
    out = h.decide("reject", choices=[D.Choice(h.key("cancel_line"))])
    assert sorted((i.action, i.status) for i in out.items) == [
        ("cancel_line", "rejected"), ("notify_customer", "rejected"), ("refund", "rejected")]
    cascaded = next(i for i in out.items if i.action == "refund")
    assert "goes with" in cascaded.reasons[0]
    assert out.state == "rejected" and h.refunded() == 0 and h.notices() == []


def test_rejecting_a_return_decision_rejects_its_message_and_leaves_the_return_as_it_was() -> None:
    h = held(CASES["return-deny"])
    out = h.decide("reject", choices=[D.Choice(h.key("deny_return"))])
    assert sorted((i.action, i.status) for i in out.items) == [("deny_return", "rejected"),
                                                               ("notify_customer", "rejected")]
    assert out.state == "rejected" and h.notices() == []


def test_an_edit_the_policy_allows_is_applied_with_the_new_values() -> None:
    h = held(CASES["delay"])
    out = h.decide("edit", choices=[D.Choice(h.key("refund"), {"amount_cents": 1000})])
    assert [(i.action, i.status, i.args["amount_cents"]) for i in out.items] == [("refund", "approved", 1000)]
    out = h.decide("approve")
    assert out.state == "resolved" and h.refunded() == 1000


def test_a_denied_edit_is_refused_and_leaves_the_original_held() -> None:
    h = held(CASES["delay"])
    key = h.key("refund")
    with pytest.raises(D.DecisionRefused) as err:  # more than was captured: M1/P7 deny, whoever approves
        h.decide("edit", role="lead", choices=[D.Choice(key, {"amount_cents": 10_000_000})])
    assert err.value.status == 422
    [problem] = err.value.detail  # type: ignore[misc]
    assert problem["type"] == "policy_denied" and "P7" in problem["ctx"]["rule_ids"]
    assert h.records()[key] == "held"
    assert h.decide("approve").state == "resolved"  # decided again, as it was


def test_a_supervisor_cannot_approve_a_lead_item_and_an_edit_over_the_lead_line_needs_a_lead() -> None:
    def laptop(c: dict[str, Any]) -> None:
        order = c["world"]["orders"][0]
        order["lines"][0].update(sku="LAPTOP-14", unit_price_cents=129_900)
        order["payment"]["captured_cents"] = 129_900 + order["shipping"]["fee_cents"]

    h = held(CASES["fraud-cancel"], laptop)
    with pytest.raises(D.DecisionRefused) as err:
        h.decide("approve")
    assert err.value.status == 403 and "a lead must approve" in str(err.value.detail)
    assert h.decide("approve", role="lead").state == "resolved"
    assert h.order_status() == "cancelled"


def test_added_goodwill_over_the_ceiling_waits_for_a_lead_and_a_leads_own_addition_is_that_approval() -> None:
    h = held(CASES["delay"])
    customer = h.built.world.orders[0].customer
    big = D.Addition("store_credit", {"customer_id": customer, "amount_cents": 40_000, "reason": "goodwill"})
    out = h.decide("add", additions=[big])
    [item] = out.items
    assert item.status == "held" and "M2" in item.rule_ids
    assert "for a lead" in (out.waiting_for or "")
    out = h.decide("add", role="lead", additions=[big])
    assert [i.status for i in out.items] == ["approved"]  # the planner's items still wait


def test_an_added_payout_over_the_lead_line_needs_a_lead() -> None:
    h = held(CASES["delay"])
    customer = h.built.world.orders[0].customer
    huge = D.Addition("store_credit", {"customer_id": customer, "amount_cents": 150_000, "reason": "goodwill"})
    [item] = h.decide("add", additions=[huge]).items
    assert item.status == "held" and "M4" in item.rule_ids


def test_an_added_action_the_state_denies_is_recorded_denied_with_why() -> None:
    h = held(CASES["delay"])
    out = h.decide("add", additions=[D.Addition("release_hold", {"order_id": h.order_id})])  # not on hold
    [item] = out.items
    assert item.status == "denied" and "P7" in item.rule_ids
    assert out.state == "awaiting_approval"


def test_additions_name_the_field_that_is_wrong() -> None:
    h = held(CASES["delay"])
    cases: list[tuple[D.Addition, list[Any]]] = [
        (D.Addition("pay_everyone", {}), ["body", "actions", 0, "action"]),
        (D.Addition("refund", {"order_id": h.order_id}), ["body", "actions", 0, "args"]),
        (D.Addition("release_hold", {"order_id": "O-999"}), ["body", "actions", 0, "args", "order_id"]),
    ]
    for addition, loc in cases:
        with pytest.raises(D.DecisionRefused) as err:
            h.decide("add", additions=[addition])
        assert err.value.status == 422 and err.value.detail[0]["loc"] == loc  # type: ignore[index]


# --------------------------------------------------------------------------- refusals (409)


def test_a_decided_item_an_exception_not_waiting_and_a_withdrawn_item_are_409s() -> None:
    h = held(CASES["delay"])
    refund, notice = h.key("refund"), h.key("notify_customer")
    h.decide("reject", choices=[D.Choice(refund)])
    with pytest.raises(D.DecisionRefused) as err:
        h.decide("approve", choices=[D.Choice(refund)])
    assert err.value.status == 409 and "already decided" in str(err.value.detail)

    with Session(h.built.engine) as s:
        s.execute(update(ActionRecord).where(col(ActionRecord.idempotency_key) == notice).values(
            status="withdrawn", verdict={"withdrawn": {"event_id": 42, "type": "carrier_update",
                                                       "at": "2026-03-10T15:00:00Z",
                                                       "summary": "the parcel was delivered"}}))
        s.commit()
    with pytest.raises(D.DecisionRefused) as err:
        h.decide("approve", choices=[D.Choice(notice)])
    detail = str(err.value.detail)
    assert err.value.status == 409 and "carrier_update event 42" in detail and "the parcel was delivered" in detail
    assert "held now: nothing" in detail

    done = held(CASES["delay"])
    assert done.decide("approve").state == "resolved"
    with pytest.raises(D.DecisionRefused) as err:
        done.decide("add", additions=[D.Addition("release_hold", {"order_id": done.order_id})])
    assert err.value.status == 409 and "only while it waits" in str(err.value.detail)
    with pytest.raises(D.DecisionRefused) as err:
        done.decide("approve")
    assert err.value.status == 409


def test_a_message_announcing_a_held_return_decision_waits_with_it() -> None:
    def abuser(c: dict[str, Any]) -> None:
        c["world"]["customers"][0]["returns_90d"] = 3

    h = held(CASES["return-approve"], abuser, planner=get_planner("rules"))
    statuses = {a.action: (a.status, a.rule_ids) for a in h.first.actions}
    assert statuses["approve_return"][0] == "held" and "R7" in statuses["approve_return"][1]
    assert statuses["notify_customer"][0] == "held"
    assert h.notices() == []
    out = h.decide("reject", choices=[D.Choice(h.key("approve_return"))])
    assert sorted((i.action, i.status) for i in out.items) == [("approve_return", "rejected"),
                                                               ("notify_customer", "rejected")]
    assert h.notices() == [] and out.state == "rejected"


class Idle:
    """Proposes nothing: what the book gives is left undone, so the exception waits with nothing held."""

    name, version = "idle", "1"

    def plan(self, facts: Facts) -> Plan:
        return Plan(proposals=(), planner=self.name, version=self.version)


def test_an_exception_waiting_with_nothing_held_says_what_was_left_undone_and_a_supervisor_can_add_it() -> None:
    h = held(CASES["stockout"], planner=Idle())
    customer = h.built.world.orders[0].customer
    out = h.decide("add", additions=[D.Addition("store_credit", {"customer_id": customer, "amount_cents": 100,
                                                                  "reason": "goodwill"})])
    assert out.state == "resolved"  # the supervisor's decision answered the wait
    assert [(i.action, i.status) for i in out.items] == [("store_credit", "applied")]


def test_waiting_for_names_what_the_plan_left_undone() -> None:
    h = held(CASES["stockout"], planner=Idle())
    with h.built.engine.connect() as conn:
        why = waiting_for(conn, h.exception_id)
        assert why is not None and "left undone" in why and "reallocate_line" in why
        assert options(conn, h.exception_id) == ["add"]


def test_an_edit_beyond_what_the_book_gives_is_no_n0_denial_but_the_money_rules_still_hold() -> None:
    h = held(CASES["delay"])  # gold: 15,000 ceiling; the book gives the 1,500 fee
    out = h.decide("edit", choices=[D.Choice(h.key("refund"), {"amount_cents": 3000})])
    assert [(i.status, i.args["amount_cents"]) for i in out.items] == [("approved", 3000)]
    assert h.decide("approve").state == "resolved" and h.refunded() == 3000

    h = held(CASES["delay"], lambda c: c["world"]["customers"][0].update(tier="standard"))  # 5,000 ceiling
    with pytest.raises(D.DecisionRefused) as err:  # over the ceiling: a lead's to approve
        h.decide("edit", choices=[D.Choice(h.key("refund"), {"amount_cents": 6_000})])
    assert err.value.status == 403 and "M2" in str(err.value.detail)
    out = h.decide("edit", role="lead", choices=[D.Choice(h.key("refund"), {"amount_cents": 6_000})])
    assert [i.status for i in out.items] == ["approved"]


def test_a_fraud_hold_whose_cancellation_was_rejected_can_still_be_cancelled_with_its_refund() -> None:
    h = held(CASES["fraud-verify"])
    assert h.decide("reject").state == "awaiting_approval"
    cancel = D.Addition("cancel_order", {"order_id": h.order_id, "reason": "fraud"})
    with pytest.raises(D.DecisionRefused) as err:  # alone it would keep the customer's money
        h.decide("add", additions=[cancel])
    assert err.value.status == 422 and err.value.detail[0]["type"] == "goes_with"  # type: ignore[index]
    assert "order_cancel" in err.value.detail[0]["msg"]  # type: ignore[index]
    with Session(h.built.engine) as s:
        order = s.get(Order, h.order_id)
        assert order is not None
        refundable = order.captured_cents - order.refunded_cents
    out = h.decide("add", additions=[cancel, D.Addition("refund", {"order_id": h.order_id, "amount_cents": refundable,
                                                                   "reason": "order_cancel"})])
    assert sorted((i.action, i.status) for i in out.items) == [("cancel_order", "applied"), ("refund", "applied")]
    assert out.state == "resolved" and h.order_status() == "cancelled" and h.refunded() == refundable
