"""The write tools hold the book's guardrails against current state, whatever was proposed or approved."""

from __future__ import annotations

from casekit import build, shared_case
from sqlmodel import Session, col, select

from core.facts import load_facts
from core.models import ActionRecord, Order, Refund
from policies.actions import ApproveReturn, Proposal
from policies.book import BOOK
from policies.judge import judge
from policies.preconditions import precondition_problem
from tools.records import record_proposals
from tools.runner import apply_record


def _record(built, action: str, args: dict, status: str = "pending") -> int:  # type: ignore[no-untyped-def]
    with Session(built.engine) as s:
        facts = load_facts(s, built.exception_id, built.now, 10)
        p = Proposal(action=action, args=args, confidence=1.0)
        [rec] = record_proposals(s, built.exception_id, [p], judge([p], facts), planner="test", now=built.now,
                                 actor="test")
        stored = s.get(ActionRecord, rec.id)
        assert stored is not None
        stored.status = status
        s.add(stored)
        s.commit()
        return rec.id


def test_refund_over_the_refundable_amount_is_denied_by_the_judge() -> None:
    built = build(shared_case("delay-express-gold-30h"))
    with Session(built.engine) as s:
        facts = load_facts(s, built.exception_id, built.now, 10)
    [v] = judge([Proposal(action="refund", args={"order_id": "O-1", "amount_cents": 6500, "reason": "shipping_fee"},
                          confidence=1.0)], facts)
    assert v.decision == "deny"
    assert "P7" in v.rule_ids and "refundable" in v.reasons[0]


def test_an_approved_refund_over_the_refundable_amount_is_still_refused_by_the_tool() -> None:
    built = build(shared_case("delay-express-gold-30h"))
    record_id = _record(built, "refund", {"order_id": "O-1", "amount_cents": 99_999, "reason": "goodwill"},
                        status="approved")
    rec = apply_record(built.engine, record_id, now=built.now, actor="sup")
    assert rec.status == "denied"
    with Session(built.engine) as s:
        assert s.exec(select(Refund)).all() == []
        assert s.get(Order, "O-1").refunded_cents == 0  # type: ignore[union-attr]


def test_the_same_action_applied_twice_pays_once() -> None:
    built = build(shared_case("delay-express-gold-30h"))
    args = {"order_id": "O-1", "amount_cents": 1500, "reason": "shipping_fee"}
    record_id = _record(built, "refund", args)
    first = apply_record(built.engine, record_id, now=built.now, actor="agent")
    second = apply_record(built.engine, record_id, now=built.now, actor="agent")
    assert (first.status, second.status) == ("applied", "applied")
    again = _record(built, "refund", args)  # a replayed judge step finds the same record
    assert again == record_id
    with Session(built.engine) as s:
        assert [r.amount_cents for r in s.exec(select(Refund)).all()] == [1500]
        assert s.get(Order, "O-1").refunded_cents == 1500  # type: ignore[union-attr]


def test_a_message_naming_fraud_is_denied() -> None:
    built = build(shared_case("fraud-high-cancel"))
    with Session(built.engine) as s:
        facts = load_facts(s, built.exception_id, built.now, 10)
    body = "Your order O-1 was cancelled because our fraud screening flagged it."
    [v] = judge([Proposal(action="notify_customer", args={"order_id": "O-1", "topic": "cancellation", "body": body},
                          confidence=1.0)], facts)
    assert v.decision == "deny" and v.rule_ids == ("C7",)


def test_a_message_promising_a_date_before_the_eta_is_refused_at_apply_time() -> None:
    built = build(shared_case("delay-express-gold-30h"))
    body = "Good news: it arrives on 2026-03-10."
    record_id = _record(built, "notify_customer", {"order_id": "O-1", "topic": "delay",
                                                   "eta": "2026-03-11T12:00:00Z", "body": body}, status="approved")
    assert apply_record(built.engine, record_id, now=built.now, actor="sup").status == "denied"


def test_an_action_on_another_customers_order_is_denied() -> None:
    built = build(shared_case("fraud-rescored-low-release"))
    with Session(built.engine) as s:
        facts = load_facts(s, built.exception_id, built.now, 10)
    [v] = judge([Proposal(action="release_hold", args={"order_id": "O-2"}, confidence=1.0)], facts)
    assert v.decision == "deny"


def test_an_action_that_is_not_in_the_book_is_denied_not_a_crash() -> None:
    built = build(shared_case("fraud-rescored-low-release"))
    with Session(built.engine) as s:
        facts = load_facts(s, built.exception_id, built.now, 10)
    [v] = judge([Proposal(action="wire_money", args={"to": "attacker"}, confidence=1.0)], facts)
    assert v.decision == "deny" and "not an action of the book" in v.reasons[0]


def test_denied_records_are_never_applied() -> None:
    built = build(shared_case("fraud-rescored-low-release"))
    record_id = _record(built, "release_hold", {"order_id": "O-1"}, status="denied")
    assert apply_record(built.engine, record_id, now=built.now, actor="agent").status == "denied"
    with Session(built.engine) as s:
        assert s.get(Order, "O-1").status == "on_hold"  # type: ignore[union-attr]
        assert s.exec(select(ActionRecord).where(col(ActionRecord.status) == "applied")).all() == []


def test_the_tool_checks_preconditions_under_the_run_book_not_the_shipped_one() -> None:
    """A variant where only `open` returns are undecided: the disputed R-1 can no longer be approved."""
    built = build(shared_case("return-damaged-with-photos"))
    strict = BOOK.model_copy(update={"returns": BOOK.returns.model_copy(update={"undecided_statuses": ("open",)})})
    args = {"return_id": "R-1", "amount_cents": 4999}
    assert precondition_problem(ApproveReturn(**args), _facts(built)) is None
    assert precondition_problem(ApproveReturn(**args), _facts(built), book=strict) == "return R-1 is already disputed"
    [verdict] = judge([Proposal(action="approve_return", args=args, confidence=1.0)], _facts(built), book=strict)
    assert (verdict.decision, verdict.rule_ids, verdict.policy_version) == ("deny", ("P7",), strict.version)
    record_id = _record(built, "approve_return", args, status="approved")  # judged under the shipped book: applies
    rec = apply_record(built.engine, record_id, now=built.now, actor="sup", book=strict)
    assert rec.status == "denied"
    with Session(built.engine) as s:
        assert "already disputed" in s.get(ActionRecord, record_id).result["error"]  # type: ignore[union-attr,index]
        assert s.exec(select(Refund)).all() == []


def _facts(built):  # type: ignore[no-untyped-def]
    with Session(built.engine) as s:
        return load_facts(s, built.exception_id, built.now, 10)
