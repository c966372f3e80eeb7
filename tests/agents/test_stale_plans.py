"""Stale plans are planned again (policy.md section 1, "Plans go stale"), through the outbox's consumer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from casekit import SHARED_CASES, Built, build, shared_case
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import update
from sqlmodel import Session, col, select

from agents.replan import consume_events, lag
from agents.service import WorkResult, result_of, resume_exception, work_exception
from core.audit import verify_store
from core.clock import FixedClock
from core.models import ActionRecord, AuditEntry, Notification, Order, OrderException, OutboxCursor, StoreCredit
from core.services import CarrierUpdate, OmsRules, carrier_update, receive_stock, rescore_order
from core.world import parse_time


def _statuses(result: WorkResult) -> dict[str, str]:
    return {a.action: a.status for a in result.actions}


def _very_late(case: dict[str, Any]) -> None:
    """Standard parcel 200 h late, in transit: D5 holds the case (the D3 credit and the D1 notice)."""
    case["world"]["orders"][0]["shipments"][0]["eta"] = "2026-03-19T10:00:00Z"


def _waiting(built: Built, saver: InMemorySaver) -> WorkResult:
    first = work_exception(built.engine, built.exception_id, clock=built.clock, checkpointer=saver)
    assert first.state == "awaiting_approval", first
    return first


def _consume(built: Built, saver: InMemorySaver, at: datetime, **kw: Any) -> int:
    return consume_events(built.engine, clock=FixedClock(at), checkpointer=saver, **kw)


def _withdrawn(engine: Any, exception_id: str) -> list[ActionRecord]:
    with Session(engine) as s:
        return list(s.exec(select(ActionRecord).where(ActionRecord.exception_id == exception_id,
                                                      ActionRecord.status == "withdrawn")).all())


def test_a_delay_whose_parcel_is_delivered_while_it_waits_gets_only_d3_on_the_delivery(rules: OmsRules) -> None:
    built = build(shared_case("delay-standard-10h"), _very_late)
    saver = InMemorySaver()
    first = _waiting(built, saver)
    assert _statuses(first) == {"store_credit": "held", "notify_customer": "held"}  # D5 holds the case
    delivered = parse_time("2026-03-14T10:00:00Z")  # 80 h past the promise: D3 (>= 72 h), no notice
    carrier_update(built.engine, "S-1", CarrierUpdate("delivered"), at=delivered, rules=rules)
    assert _consume(built, saver, delivered) >= 1
    after = result_of(built.engine, built.exception_id)
    assert after.state == "resolved"
    assert _statuses(after) == {"store_credit": "applied", "notify_customer": "withdrawn"}
    with Session(built.engine) as s:
        assert [c.amount_cents for c in s.exec(select(StoreCredit)).all()] == [500]
    [gone] = _withdrawn(built.engine, built.exception_id)
    why = gone.verdict["withdrawn"]
    assert why["type"] == "shipment.delivered" and isinstance(why["event_id"], int)
    assert why["at"].startswith("2026-03-14T10:00") and "S-1 was delivered" in why["summary"]
    with Session(built.engine) as s:
        kinds = [e.kind for e in s.exec(select(AuditEntry).where(AuditEntry.exception_id == built.exception_id)
                                        .order_by(col(AuditEntry.seq))).all()]
    assert "action.withdrawn" in kinds
    assert verify_store(built.engine).ok  # every record change is in the audit trail


def _three_locations(case: dict[str, Any]) -> None:
    """Open lines at DC-WEST and 3PL-CENTRAL too: moving the short lamp to the store makes three (S1 holds)."""
    order = case["world"]["orders"][0]
    for sku, where in (("CHAIR-02", "DC-WEST"), ("MUG-SET", "3PL-CENTRAL")):
        order["lines"].append({"sku": sku, "qty": 1, "unit_price_cents": 1000, "location": where, "status": "open"})
    order["payment"]["captured_cents"] += 2000


def test_a_stockout_whose_stock_arrives_while_it_waits_is_resolved_with_nothing_to_do() -> None:
    built = build(shared_case("stockout-reallocate-store"), _three_locations)
    saver = InMemorySaver()
    assert _statuses(_waiting(built, saver)) == {"reallocate_line": "held"}
    arrived = built.now + timedelta(hours=2)
    receive_stock(built.engine, "DC-EAST", "LAMP-01", 5, at=arrived)
    _consume(built, saver, arrived)
    after = result_of(built.engine, built.exception_id)
    assert after.state == "resolved"
    assert _statuses(after) == {"reallocate_line": "withdrawn"}
    with Session(built.engine) as s:
        exc = s.get(OrderException, built.exception_id)
        assert exc is not None and exc.resolution is not None
        assert exc.resolution["actions"].keys() == {"withdrawn"}


def test_a_parcel_lost_while_its_delay_case_waits_is_planned_by_d4(rules: OmsRules) -> None:
    built = build(shared_case("delay-standard-10h"), _very_late)
    saver = InMemorySaver()
    _waiting(built, saver)
    lost = built.now + timedelta(hours=1)
    carrier_update(built.engine, "S-1", CarrierUpdate("lost", remark="presumed lost"), at=lost, rules=rules)
    _consume(built, saver, lost)
    after = result_of(built.engine, built.exception_id)
    reship = [a for a in after.actions if a.action == "reroute_shipment"]
    assert [(a.status, a.args["reship"], a.rule_ids[0]) for a in reship] == [("applied", True, "D4")]
    # the D5 proposals were made on a parcel in transit: both withdrawn, the D4 plan judged on its own
    assert {r.action for r in _withdrawn(built.engine, built.exception_id)} == {"store_credit", "notify_customer"}
    assert all(r.verdict["withdrawn"]["type"] == "shipment.lost"
               for r in _withdrawn(built.engine, built.exception_id))


def _gray_high(case: dict[str, Any]) -> None:
    case["world"]["orders"][0]["fraud_score"] = 0.8  # F3: the F4 cancellation, held for approval


def test_a_waiting_fraud_hold_re_scored_low_is_released_and_its_cancellation_withdrawn() -> None:
    built = build(shared_case("fraud-high-cancel"), _gray_high)
    saver = InMemorySaver()
    first = _waiting(built, saver)
    assert {a.status for a in first.actions} == {"held"} and "cancel_order" in _statuses(first)
    at = built.now + timedelta(hours=3)
    rescore_order(built.engine, "O-1", 0.1, at=at)
    _consume(built, saver, at)
    after = result_of(built.engine, built.exception_id)
    assert after.state == "resolved"
    assert _statuses(after)["release_hold"] == "applied"
    assert {a.status for a in after.actions if a.action != "release_hold"} == {"withdrawn"}
    with Session(built.engine) as s:
        order = s.get(Order, "O-1")
        assert order is not None and order.status != "on_hold"


def test_a_replayed_event_changes_nothing(rules: OmsRules) -> None:
    built = build(shared_case("delay-standard-10h"), _very_late)
    saver = InMemorySaver()
    _waiting(built, saver)
    at = built.now + timedelta(hours=5)
    carrier_update(built.engine, "S-1", CarrierUpdate("in_transit", eta=parse_time("2026-03-19T20:00:00Z")),
                   at=at, rules=rules)
    assert _consume(built, saver, at) >= 1
    once = result_of(built.engine, built.exception_id)
    assert once.state == "awaiting_approval"
    assert {a.status for a in once.actions if a.action == "notify_customer"} == {"held", "withdrawn"}  # new ETA

    def trail() -> list[tuple[str, str]]:
        with Session(built.engine) as s:
            return [(e.kind, e.hash) for e in s.exec(select(AuditEntry).where(
                AuditEntry.exception_id == built.exception_id).order_by(col(AuditEntry.seq))).all()]

    before = trail()
    _consume(built, saver, at)  # what is after the cursor now: the exception's own moves, which change nothing
    assert trail() == before
    with Session(built.engine) as s:  # set the cursor back: the same events are read again
        s.execute(update(OutboxCursor).values(seq=0))
        s.commit()
    assert _consume(built, saver, at + timedelta(hours=1)) >= 1
    assert result_of(built.engine, built.exception_id) == once
    assert trail() == before


def test_two_consumers_racing_on_one_exception_re_plan_it_once(rules: OmsRules) -> None:
    built = build(shared_case("fraud-high-cancel"), _gray_high)
    saver = InMemorySaver()
    _waiting(built, saver)
    at = built.now + timedelta(hours=3)
    rescore_order(built.engine, "O-1", 0.1, at=at)
    seen: list[int] = []

    def other_consumer_meanwhile(exception_id: str) -> None:  # runs while the first holds the claim
        seen.append(_consume(built, saver, at, holder="replan:second"))

    _consume(built, saver, at, holder="replan:first", before_replan=other_consumer_meanwhile)
    assert seen == [0]
    with Session(built.engine) as s:
        planned = [e for e in s.exec(select(AuditEntry).where(AuditEntry.exception_id == built.exception_id,
                                                               AuditEntry.kind == "planned")).all()]
        exc = s.get(OrderException, built.exception_id)
    assert len(planned) == 2 and "replanned_on" in planned[1].detail  # the first plan and one re-plan
    assert exc is not None and exc.state == "resolved" and exc.claimed_by is None
    assert _statuses(result_of(built.engine, built.exception_id))["release_hold"] == "applied"


def test_the_lag_counts_events_not_yet_consumed_and_dates_the_oldest(rules: OmsRules) -> None:
    built = build(shared_case("fraud-high-cancel"), _gray_high)
    saver = InMemorySaver()
    _waiting(built, saver)
    at = built.now + timedelta(hours=3)
    rescore_order(built.engine, "O-1", 0.1, at=at)
    with built.engine.connect() as conn:
        behind = lag(conn)
    assert behind.events >= 1 and behind.oldest_at is not None
    assert behind.oldest_age_seconds(behind.oldest_at + timedelta(minutes=1)) == 60.0
    _consume(built, saver, at)
    _consume(built, saver, at)  # the re-plan's own events (the exception's moves, the release): read, nothing due
    with built.engine.connect() as conn:
        caught_up = lag(conn)
    assert (caught_up.events, caught_up.oldest_at, caught_up.due) == (0, None, 0)


def test_what_a_re_plan_holds_is_decided_as_usual_and_the_withdrawn_is_never_applied(rules: OmsRules) -> None:
    built = build(shared_case("delay-standard-10h"), _very_late)
    saver = InMemorySaver()
    _waiting(built, saver)
    at = built.now + timedelta(hours=5)
    new_eta = parse_time("2026-03-19T20:00:00Z")
    carrier_update(built.engine, "S-1", CarrierUpdate("in_transit", eta=new_eta), at=at, rules=rules)
    _consume(built, saver, at)
    waiting = result_of(built.engine, built.exception_id)
    # the credit is given again with the same arguments: it stays held; the notice carries the new ETA
    assert sorted((a.action, a.status) for a in waiting.actions) == [
        ("notify_customer", "held"), ("notify_customer", "withdrawn"), ("store_credit", "held")]
    with Session(built.engine) as s:
        for rec in s.exec(select(ActionRecord).where(ActionRecord.status == "held")).all():
            rec.status, rec.decided_by = "approved", "sam"
            rec.verdict = {**rec.verdict, "decided_role": "supervisor"}
            s.add(rec)
        s.commit()
    done = resume_exception(built.engine, built.exception_id, clock=FixedClock(at), checkpointer=saver,
                            decided_by="sam")
    assert done.state == "resolved"
    assert sorted((a.action, a.status) for a in done.actions) == [
        ("notify_customer", "applied"), ("notify_customer", "withdrawn"), ("store_credit", "applied")]
    with Session(built.engine) as s:
        [sent] = s.exec(select(Notification)).all()
        assert sent.eta is not None and sent.eta == new_eta


def test_an_event_that_leaves_the_plan_as_it_was_repeats_nothing_and_leaves_nothing_undone(rules: OmsRules) -> None:
    """The D1 notice went out before the wait: planned again, it is found applied, not sent again, not 'undone'."""
    path = SHARED_CASES.parent / "cases-then" / "then-delay-ceiling-lead-approves.json"
    if not path.exists():
        pytest.skip(f"the shared then-cases are not beside the repository ({path})")
    built = build(json.loads(path.read_text()))
    saver = InMemorySaver()
    first = _waiting(built, saver)
    assert _statuses(first) == {"refund": "held", "notify_customer": "applied"}
    at = built.now + timedelta(hours=1)
    receive_stock(built.engine, "DC-EAST", "TV-55", 3, at=at)  # stock of its order's SKU: planned again
    _consume(built, saver, at)
    after = result_of(built.engine, built.exception_id)
    assert after.state == "awaiting_approval"
    assert [(a.action, a.status) for a in after.actions] == [(a.action, a.status) for a in first.actions]
    with Session(built.engine) as s:
        assert len(s.exec(select(Notification)).all()) == 1
        replanned = [e for e in s.exec(select(AuditEntry).where(AuditEntry.kind == "planned")).all()
                     if "replanned_on" in e.detail]
        exc = s.get(OrderException, built.exception_id)
    assert len(replanned) == 1 and replanned[0].detail["left_undone"] is None
    assert replanned[0].detail["replanned_on"]["type"] == "stock.received"
    assert exc is not None and exc.state == "awaiting_approval"


def test_an_exceptions_own_actions_do_not_make_its_plan_stale() -> None:
    path = SHARED_CASES.parent / "cases-then" / "then-delay-ceiling-lead-approves.json"
    if not path.exists():
        pytest.skip(f"the shared then-cases are not beside the repository ({path})")
    built = build(json.loads(path.read_text()))
    saver = InMemorySaver()
    assert _statuses(_waiting(built, saver))["notify_customer"] == "applied"  # its customer.notified event
    assert _consume(built, saver, built.now) >= 1
    with Session(built.engine) as s:
        planned = s.exec(select(AuditEntry).where(AuditEntry.kind == "planned")).all()
    assert [("replanned_on" in e.detail) for e in planned] == [False]
