"""Every page of the dashboard under AppTest, widgets by key, against a real API on a free port."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select, update
from streamlit.testing.v1 import AppTest
from ui_helpers import LiveApi, as_

from core.models import ActionRecord, OrderException, Shipment

PAGES = ("overview", "approvals", "exception", "orders", "policy", "simulator", "evals")
OpenApp = Callable[..., AppTest]


def texts(at: AppTest) -> str:
    """Everything the page wrote, as one string to search."""
    parts = [str(e.value) for kind in ("markdown", "caption", "text", "info", "success", "warning", "error", "title",
                                       "subheader") for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def frame(at: AppTest, key: str) -> pd.DataFrame:
    """The table drawn in the container keyed `key`."""
    return at.get_by_key(key).dataframe[0].value  # type: ignore[attr-defined,no-any-return]


def held_keys(api: LiveApi, exc_id: str) -> dict[str, str]:
    return {a["action"]: a["key"] for a in api.get(f"/exceptions/{exc_id}")["actions"] if a["status"] == "held"}


def test_every_page_draws_without_an_exception_for_a_supervisor(api: LiveApi, app: OpenApp) -> None:
    api.held(score=0.45)
    at = app()
    for page in PAGES:
        at.switch_page(f"screens/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title[0].value.lower() == page


def test_nothing_but_the_sign_in_box_shows_before_signing_in(api: LiveApi, app: OpenApp) -> None:
    at = app("approvals", token=None)
    assert "Sign in with an API token" in at.info[0].value
    assert [b.key for b in at.button] == ["sign_in"]


def test_the_sidebar_names_who_signed_in_and_their_role_never_the_token(api: LiveApi, app: OpenApp) -> None:
    at = app("overview")
    sidebar = [str(e.value) for kind in ("text", "caption", "markdown") for e in getattr(at.sidebar, kind)]
    assert any("Signed in as sam (supervisor)" in x and "role supervisor, may decide" in x for x in sidebar), sidebar
    shown = texts(at) + "\n".join(sidebar)
    assert "demo-supervisor" not in shown and "demo-sup" not in shown


def test_an_unknown_token_is_refused_at_sign_in(api: LiveApi, app: OpenApp) -> None:
    at = app(token="not-a-token")
    assert at.session_state["auth"] is None
    assert "unknown token" in [e.value for e in at.error]


def test_the_overview_counts_open_exceptions_and_auto_resolutions(api: LiveApi, app: OpenApp) -> None:
    api.held(score=0.45)
    api.held(score=0.95)  # F4 on a lamp: cancelled, refunded and told without a supervisor
    at = app("overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Open exceptions"] == "1"
    assert metrics["Awaiting approval"] == "1"
    assert metrics["Auto-resolution rate"] == "100%"
    assert metrics["Paid out by agents"] == "$54.99"
    assert at.toggle(key="overview_autorefresh").value is True
    assert {c.key for c in at.get("plotly_chart")} >= {"overview_open_chart", "overview_raised_chart"}


def cases(at: AppTest) -> list[str]:
    """The items on the page, in order, by their whole-case Approve buttons."""
    return [b.key.removeprefix("approve_") for b in at.button if re.fullmatch(r"approve_EX-\d+", b.key)]


def test_the_queue_shows_the_proposal_each_rule_with_its_sentence_and_that_a_lead_is_needed(
        api: LiveApi, app: OpenApp) -> None:
    laptop = api.held(score=0.8, sku="LAPTOP-14")
    at = app("approvals")
    page = texts(at)
    assert f"**{laptop}** · fraud_hold" in page and "needs a lead" in page and "$1,304.00" in page
    assert "refund(order_id=O-000001, amount=$1,304.00, reason=order_cancel)" in page
    assert "M4: $1,304.00 is over $1,000.00: a lead approves" in page
    assert "F3: Score 0.70 to 0.90: the case is held, proposing what F4 would apply." in page
    assert "M4: A single refund, credit or approve_return over $1,000.00 needs a lead (section 2)." in page
    assert "confidence 1.00 (meets its class's 0.95)" in page
    assert "Deadline 2026-03-03 08:00" in page and "routine" not in page
    assert "1** waiting · page 1 of 1" in page


def test_the_queue_puts_the_item_with_more_money_first_and_sorts_by_age_on_request(
        api: LiveApi, app: OpenApp) -> None:
    message_only = api.held(score=0.45)
    with_refund = api.held(score=0.8)
    at = app("approvals")
    assert cases(at) == [with_refund, message_only]
    at.selectbox(key="approvals_sort").select("age").run()
    assert cases(at) == [message_only, with_refund]


def test_pages_hold_a_page_of_cards_and_the_next_page_the_rest(api: LiveApi, app: OpenApp) -> None:
    ids = [api.held(score=0.45, address=f"B-{n}") for n in range(11)]
    at = app("approvals")
    assert len(cases(at)) == 10 and "**11** waiting · page 1 of 2" in texts(at)
    at.number_input(key="approvals_page").set_value(2).run()
    assert cases(at) == [ids[-1]] and "page 2 of 2" in texts(at)
    at.selectbox(key="approvals_page_size").select(20).run()
    assert len(cases(at)) == 11 and "page 1 of 1" in texts(at)  # page 2 no longer exists: the last page shows


def test_approving_a_case_says_what_was_applied(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.45)
    at = app("approvals")
    at.text_input(key=f"note_{exc_id}").input("known customer, new flat")
    at.button(key=f"approve_{exc_id}").click().run()
    d = api.get(f"/exceptions/{exc_id}")
    assert f"{exc_id}: approve by sam (supervisor): 1 applied; the exception is now {d['state']}" in \
        [s.value for s in at.success]
    assert any("notify_customer(order_id=O-000001, topic=verification): applied" in t.value for t in at.text)
    assert d["state"] == "awaiting_approval"  # the verification went out; the order is still on hold
    assert [(a["action"], a["status"], a["decided_by"]) for a in d["actions"]] == [
        ("notify_customer", "applied", "sam (supervisor)")]
    [audit] = [x for x in d["audit"] if x["kind"] == "decision.approve"]
    assert audit["detail"]["note"] == "known customer, new flat"
    assert f"open_{exc_id}" in [b.key for b in at.button]  # still in the queue: its order waits for a release
    assert at.button(key=f"approve_{exc_id}").disabled  # nothing of it is held any more


def test_an_approval_the_book_denies_is_shown_as_denied_with_its_rule_and_why(api: LiveApi, app: OpenApp) -> None:
    """The facts changed while the card was open (the order was refunded in full meanwhile): approving the held
    refund is judged again and denied; the card says so, never "approved"."""
    exc_id = api.held(score=0.8)  # F3 on a lamp: cancel + refund + message, a supervisor's
    at = app("approvals")
    with api.runtime.engine.begin() as conn:
        conn.execute(text("UPDATE orders SET refunded_cents = captured_cents WHERE id = 'O-000001'"))
    at.button(key=f"approve_{exc_id}").click().run()
    d = api.get(f"/exceptions/{exc_id}")
    refund = next(a for a in d["actions"] if a["action"] == "refund")
    assert refund["status"] == "denied"
    [warning] = [w.value for w in at.warning if exc_id in w.value]
    assert "denied" in warning and "approved" not in warning and f"now {d['state']}" in warning
    shown = "\n".join(t.value for t in at.text)
    # denied where the effect happens: the tool's precondition (P7) on the money rule M1, with its reason in dollars
    assert "refund(order_id=O-000001, amount=$54.99, reason=order_cancel): denied (P7, M1: " in shown
    assert "exceeds the refundable $0.00" in shown


def test_one_item_of_a_case_is_rejected_alone_and_the_rest_stays_held(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.8)
    at = app("approvals")
    n = [a["action"] for a in api.get(f"/queue/{exc_id}")["actions"]].index("notify_customer")
    at.button(key=f"reject_{exc_id}_{n}").click().run()
    d = api.get(f"/queue/{exc_id}")
    assert [a["action"] for a in d["actions"]] == ["cancel_order", "refund"] and d["state"] == "awaiting_approval"
    assert any(f"{exc_id}: reject by sam (supervisor): 1 rejected" in s.value for s in at.success)
    assert cases(at) == [exc_id] and len([b for b in at.button if b.key.startswith(f"approve_{exc_id}_")]) == 2


def test_rejecting_with_a_note_shows_the_state_the_api_reports(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.8)
    at = app("approvals")
    at.text_input(key=f"note_{exc_id}").input("customer called, the order is genuine")
    at.button(key=f"reject_{exc_id}").click().run()
    d = api.get(f"/exceptions/{exc_id}")
    assert d["state"] == "awaiting_approval"  # no order left stranded: release or cancel it
    assert {a["status"] for a in d["actions"] if a["action"] != "release_hold"} == {"rejected"}
    assert any(f"3 rejected; the exception is now {d['state']}" in m.value for m in [*at.success, *at.warning])
    assert {x["detail"]["note"] for x in d["audit"] if x["kind"] == "decision.reject"} == {
        "customer called, the order is genuine"}


def test_an_item_decided_by_someone_else_meanwhile_is_news_not_an_error(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.45)
    at = app("approvals")
    assert api.decide(exc_id, "supervisor-2", decision="reject").status_code == 200
    at.button(key=f"approve_{exc_id}").click().run()
    assert not at.error
    [info] = [i.value for i in at.info if exc_id in i.value]
    assert "is no longer waiting for you" in info and "already decided: rejected by sol (supervisor)" in info
    assert api.get(f"/exceptions/{exc_id}")["state"] == "awaiting_approval"  # its order is still on hold
    assert [a["status"] for a in api.get(f"/exceptions/{exc_id}")["actions"]] == ["rejected"]


def test_a_supervisor_approving_what_needs_a_lead_is_told_so_on_the_item(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.8, sku="LAPTOP-14")
    at = app("approvals")
    at.button(key=f"approve_{exc_id}").click().run()
    assert any("a lead must approve" in w.value for w in at.warning)
    assert api.get(f"/exceptions/{exc_id}")["decisions"] == []


def test_an_edit_typed_in_dollars_the_policy_denies_shows_its_rule_and_reason_in_dollars(
        api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.8, sku="LAPTOP-14")
    at = app("approvals", token="demo-lead")
    n = list(held_keys(api, exc_id)).index("refund")
    assert at.number_input(key=f"edit_{exc_id}_{n}_amount").value == 1_304.00
    at.number_input(key=f"edit_{exc_id}_{n}_amount").set_value(9_999.99)
    at.button(key=f"edit_approve_{exc_id}_{n}").click().run()
    [error] = [e.value for e in at.error]
    assert error.startswith("Refused (P7, M1)") and "refund of $9,999.99 exceeds the refundable $1,304.00" in error
    assert api.get(f"/exceptions/{exc_id}")["decisions"] == []


def test_an_edit_in_dollars_is_sent_as_cents_judged_again_and_then_the_rest_approved(
        api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.8)
    at = app("approvals")
    n = list(held_keys(api, exc_id)).index("refund")
    at.number_input(key=f"edit_{exc_id}_{n}_amount").set_value(40.00)
    at.button(key=f"edit_approve_{exc_id}_{n}").click().run()
    assert not at.error, [e.value for e in at.error]
    at.button(key=f"approve_{exc_id}").click().run()
    assert not at.error, [e.value for e in at.error]
    d = api.get(f"/exceptions/{exc_id}")
    assert d["state"] == "resolved"
    refund = next(a for a in d["actions"] if a["action"] == "refund")
    assert refund["status"] == "applied" and refund["args"]["amount_cents"] == 4_000
    assert {x["key"]: x["edited"] for x in d["decisions"]}[refund["key"]] is True
    assert any("refund(order_id=O-000001, amount=$40.00, reason=order_cancel): applied" in t.value for t in at.text)


def test_bulk_approve_decides_only_the_routine_items_shown_and_counts_what_happened(
        api: LiveApi, app: OpenApp) -> None:
    routine = [api.held(score=0.45), api.held(score=0.45, customer="C-2")]
    laptop = api.held(score=0.8, sku="LAPTOP-14")
    at = app("approvals")
    assert at.button(key="bulk_approve").label == "Approve the 2 routine items on this page"
    at.button(key="bulk_approve").click().run()
    assert "Bulk approve of 2 routine items (2 decided): 2 applied." in [s.value for s in at.success]
    for x in routine:  # the verifications went out; the orders are still on hold, so the exceptions wait on
        d = api.get(f"/exceptions/{x}")
        assert d["state"] == "awaiting_approval" and [a["status"] for a in d["actions"]] == ["applied"]
    assert {a["status"] for a in api.get(f"/exceptions/{laptop}")["actions"]} == {"held"}


def test_filters_narrow_the_queue_by_type_lead_rule_and_amount(api: LiveApi, app: OpenApp) -> None:
    small = api.held(score=0.45)
    laptop = api.held(score=0.8, sku="LAPTOP-14")
    at = app("approvals")
    at.selectbox(key="approvals_lead").select("needs a lead").run()
    assert cases(at) == [laptop]
    at.selectbox(key="approvals_lead").select("any")
    at.selectbox(key="approvals_rule").select("F2").run()
    assert cases(at) == [small]
    at.selectbox(key="approvals_rule").select("any")
    at.number_input(key="approvals_min").set_value(1_000.0).run()
    assert cases(at) == [laptop]
    at.number_input(key="approvals_min").set_value(None)
    at.multiselect(key="approvals_types").select("delay").run()
    assert "Nothing is waiting for a decision." in [s.value for s in at.success]


def test_a_supervisor_takes_an_item_and_another_sees_who_holds_it(api: LiveApi, app: OpenApp) -> None:
    mine = api.held(score=0.45)
    other = api.held(score=0.45, address="A-8")
    at = app("approvals")
    at.button(key=f"take_{mine}").click().run()
    assert f"{mine}: taken by sam (supervisor)" in [i.value for i in at.info]
    assert at.button(key=f"take_{mine}").label == "Give back"
    at.selectbox(key="approvals_owner").select("mine").run()
    assert cases(at) == [mine]
    sol = app("approvals", token="demo-supervisor-2")
    assert "held by sam (supervisor)" in texts(sol) and sol.button(key=f"take_{mine}").disabled
    assert not sol.button(key=f"take_{other}").disabled
    at.button(key=f"take_{mine}").click().run()
    assert api.get(f"/queue/{mine}")["owner"] is None


def test_a_viewer_sees_the_queue_but_cannot_decide(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.45)
    at = app("approvals", token="demo-viewer")
    assert "You are signed in as a viewer" in at.info[0].value
    for key in (f"approve_{exc_id}", f"reject_{exc_id}", f"approve_{exc_id}_0", f"reject_{exc_id}_0",
                f"take_{exc_id}", "bulk_approve"):
        assert at.button(key=key).disabled, key
    assert at.toggle(key=f"add_open_{exc_id}").disabled
    at.switch_page("screens/simulator.py").run()
    assert at.button(key="sim_start").disabled


def test_a_reject_that_leaves_the_order_on_hold_says_what_it_waits_for_and_what_can_still_be_done(
        api: LiveApi, app: OpenApp) -> None:
    """Needs the decision response's `waiting_for` and `options` (issue 13 item 3, branch hdec)."""
    exc_id = api.held(score=0.8)
    at = app("approvals")
    at.button(key=f"reject_{exc_id}").click().run()
    d = api.get(f"/queue/{exc_id}")
    assert d["state"] == "awaiting_approval" and d["order_status"] == "on_hold" and d["held"] == 0
    assert any(w.value.startswith("Still waiting: ") and "O-000001 is on hold" in w.value for w in at.warning)
    [options] = [x.value for x in at.caption if x.value.startswith("You can still: ")]
    assert options == "You can still: add release_hold; add cancel_order; add another action"
    assert cases(at) == [exc_id] and at.button(key=f"approve_{exc_id}").disabled


def test_adding_release_hold_after_rejecting_a_fraud_cancellation_releases_the_order(
        api: LiveApi, app: OpenApp) -> None:
    """Needs `add` decisions and the response's `items` (issue 13 items 2 and 3, branch hdec)."""
    exc_id = api.held(score=0.8)
    at = app("approvals")
    at.button(key=f"reject_{exc_id}").click().run()
    at.toggle(key=f"add_open_{exc_id}").set_value(True).run()
    at.selectbox(key=f"add_{exc_id}_action").select("release_hold").run()
    assert at.text_input(key=f"add_{exc_id}_release_hold_order_id").value == "O-000001"
    at.button(key=f"add_go_{exc_id}").click().run()
    assert not at.error, [e.value for e in at.error]
    assert f"{exc_id}: add by sam (supervisor): 1 applied; the exception is now resolved" in \
        [s.value for s in at.success]
    assert any("release_hold(order_id=O-000001): applied" in t.value for t in at.text)
    assert api.get("/orders/O-000001")["status"] != "on_hold"


def test_the_exception_page_shows_the_decision_and_the_audit_trail(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.45)
    assert api.decide(exc_id, "supervisor", decision="approve", note="ok").status_code == 200
    order = api.get(f"/exceptions/{exc_id}")["order_id"]
    assert api.decide(exc_id, "supervisor", decision="add", note="verified",  # the order is released: it closes
                      actions=[{"action": "release_hold", "args": {"order_id": order}}]).status_code == 200
    at = app("approvals")
    at.session_state["exception_id"] = exc_id
    at.switch_page("screens/exception.py").run()
    assert at.subheader[0].value == f"{exc_id} · fraud_hold · resolved"
    decisions = frame(at, "exception_decisions")
    assert list(decisions["decided by"]) == ["sam (supervisor)", "sam (supervisor)"]
    timeline = frame(at, "exception_timeline")
    assert {"exception.raised", "decision.approve", "exception.resolved"} <= set(timeline["what"])
    at.toggle(key="exception_audit_only").set_value(True).run()
    assert set(frame(at, "exception_timeline")["source"]) == {"audit"}


def test_the_exception_page_says_whether_its_audit_trail_verifies(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.45)
    assert api.decide(exc_id, "supervisor", decision="approve").status_code == 200
    at = app("approvals")
    at.session_state["exception_id"] = exc_id
    at.switch_page("screens/exception.py").run()
    assert "Audit trail verifies: 6 entries chained, 1 action records as audited." in [c.value for c in at.caption]
    assert not at.error
    with api.runtime.engine.begin() as conn:  # a lead's approval, forged on the record
        conn.execute(text("UPDATE action_record SET decided_by = 'lia (lead)' WHERE exception_id = :x"), {"x": exc_id})
    at.run()
    [error] = [e.value for e in at.error]
    assert error.startswith("Audit trail does not verify: action record ") and "decided by lia (lead)" in error


def test_the_timeline_button_opens_the_exception_page_on_that_item(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.45)
    at = app("approvals")
    at.button(key=f"open_{exc_id}").click().run()
    assert at.title[0].value == "Exception"
    assert at.text_input(key="exception_id").value == exc_id


def test_the_orders_page_lists_orders_and_inspects_one(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.8)
    at = app("orders")
    assert list(frame(at, "orders_table")["order"]) == ["O-000001"]
    at.text_input(key="order_id").input("O-000001").run()
    assert at.subheader[0].value == "O-000001 · on_hold"
    assert list(frame(at, "order_lines")["sku"]) == ["LAMP-01"]
    assert set(frame(at, "order_stock")["location"]) == {"DC-EAST", "DC-WEST"}
    at.button(key=f"order_exception_{exc_id}").click().run()
    assert at.title[0].value == "Exception" and at.text_input(key="exception_id").value == exc_id


def test_an_unknown_order_is_a_warning_not_a_crash(api: LiveApi, app: OpenApp) -> None:
    at = app("orders")
    at.text_input(key="order_id").input("O-404").run()
    assert not at.exception and "does not exist" in at.warning[0].value


def test_the_policy_page_shows_the_version_and_numbers_by_rule(api: LiveApi, app: OpenApp) -> None:
    book = api.get("/policy")
    at = app("policy")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Version"] == book["version"].split("@")[-1] and metrics["Rules"] == str(len(book["rules"]))
    at.selectbox(key="policy_section").select("money").run()
    numbers = frame(at, "policy_numbers_money")
    assert "goodwill_ceiling_cents.standard" in set(numbers["number"])
    assert {"M1", "M2"} <= set(frame(at, "policy_rules_money")["rule"])


def test_the_simulator_page_starts_a_scenario_and_the_exceptions_arrive(empty_api: LiveApi, app: OpenApp) -> None:
    at = app("simulator")
    at.selectbox(key="sim_scenario").select("fraud-wave")
    at.number_input(key="sim_orders").set_value(20)
    at.number_input(key="sim_pace").set_value(0.0)
    at.button(key="sim_start").click().run()
    assert any("Run 1 started: fraud-wave, 20 orders." in s.value for s in at.success)
    deadline = time.monotonic() + 60
    while empty_api.get("/simulator")["run"]["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    at.run()
    assert "· done · 20/20 orders" in at.get("progress")[0].proto.text
    assert int({m.label: m.value for m in at.metric}["Exceptions in the store"]) > 0
    assert "fraud_hold" in set(frame(at, "sim_latest")["type"])


def test_a_second_start_while_a_run_goes_is_refused_with_the_reason(empty_api: LiveApi, app: OpenApp) -> None:
    at = app("simulator")
    at.number_input(key="sim_orders").set_value(200)
    at.number_input(key="sim_pace").set_value(0.5)
    at.button(key="sim_start").click().run()
    at.button(key="sim_start").click().run()
    assert any("is still running" in w.value for w in at.warning)


def test_the_evals_page_reads_the_report_the_setting_names(api: LiveApi, app: OpenApp, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    report = {"summary": {"cases": 2, "passed": 1, "failed": 1, "policy_violations": 0}, "cases": [
        {"id": "a", "title": "late parcel", "exception_type": "delay", "passed": True, "policy_violation": False,
         "outcome": "auto", "actions": [{"action": "refund", "status": "applied", "rule_ids": ["D3"]}],
         "failures": []},
        {"id": "b", "title": "lost", "exception_type": "delay", "passed": False, "policy_violation": False,
         "outcome": "auto", "actions": [{"action": "notify_customer", "status": "applied", "rule_ids": ["D1"]}],
         "failures": ["expected a reship"]}]}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    monkeypatch.setenv("TOWER_EVAL_REPORT", str(path))
    at = app("evals")
    assert {m.label: m.value for m in at.metric}["Failed"] == "1"
    by_type = frame(at, "evals_by_type")
    assert by_type.to_dict("records") == [{"type": "delay", "cases": 2, "passed": 1, "failed": 1, "violations": 0}]
    assert list(frame(at, "evals_by_rule")["rule"]) == ["D1", "D3"]
    at.toggle(key="evals_failed_only").set_value(True).run()
    assert list(frame(at, "evals_cases")["case"]) == ["b"]


def test_the_evals_page_explains_a_missing_report(api: LiveApi, app: OpenApp, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWER_EVAL_REPORT", str(tmp_path / "none.json"))
    at = app("evals")
    assert "No readable report" in at.warning[0].value and "tower eval run" in at.warning[0].value


def test_the_simulator_endpoint_refuses_viewers_unknown_scenarios_and_foreign_stores(api: LiveApi) -> None:
    def start(role: str, scenario: str) -> httpx.Response:
        return httpx.post(f"{api.url}/simulator/runs", json={"scenario": scenario, "orders": 5},
                          headers=as_(role), timeout=30)

    assert start("viewer", "baseline").status_code == 403
    assert start("supervisor", "monsoon").status_code == 422
    r = start("lead", "baseline")  # the small shop of api.testing is no simulated network
    assert r.status_code == 409 and "no simulation generated" in r.json()["detail"]


def test_a_hold_near_its_deadline_warns_and_one_past_it_cannot_be_decided(api: LiveApi, app: OpenApp) -> None:
    exc_id = api.held(score=0.45)
    api.runtime.clock.advance(timedelta(hours=23))  # type: ignore[attr-defined]
    at = app("approvals")
    assert any("The hold expires in 1h 00m" in w.value for w in at.warning)
    assert not at.button(key=f"approve_{exc_id}").disabled
    api.runtime.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    at.run()
    assert any("deadline passed 1h 00m ago" in e.value for e in at.error)
    assert at.button(key=f"approve_{exc_id}").disabled and at.button(key=f"reject_{exc_id}").disabled
    assert at.button(key="bulk_approve").disabled


HOSTILE = "**urgent** [refund here](https://evil.example) ![x](https://evil.example/p.png) <b>now</b> `x` :red[!]"


def test_claims_bodies_and_rationales_are_drawn_as_text_never_as_markdown(api: LiveApi, app: OpenApp) -> None:
    """A customer's claim, a message body and a planner's rationale are text from outside: they show as
    written, in text elements, and no Markdown element carries them (no link, image or emphasis from them)."""
    exc_id = api.held(score=0.45)
    with Session(api.runtime.engine) as s:
        s.execute(update(OrderException).where(col(OrderException.id) == exc_id).values(note=f"claim: {HOSTILE}"))
        rec = s.exec(select(ActionRecord).where(ActionRecord.exception_id == exc_id)).one()
        s.execute(update(ActionRecord).where(col(ActionRecord.id) == rec.id).values(
            rationale=f"why: {HOSTILE}", args={**rec.args, "body": f"body: {HOSTILE}"}))
        s.commit()
    at = app("approvals")
    at.session_state["exception_id"] = exc_id
    pages = {"approvals": at}
    exc = app("approvals")
    exc.session_state["exception_id"] = exc_id
    exc.switch_page("screens/exception.py").run()
    pages["exception"] = exc
    for name, page in pages.items():
        assert not page.exception, [e.value for e in page.exception]
        marked = [str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "success")
                  for e in getattr(page, kind)]
        assert not [m for m in marked if "evil.example" in m or "refund here" in m], (name, marked)
        plain = "\n".join(str(e.value) for e in page.text)
        wanted = {"approvals": ("why: ", "body: "), "exception": ("claim: ",)}[name]
        for prefix in wanted:
            assert prefix + HOSTILE in plain, (name, prefix, plain)


def _held_delay(api: LiveApi) -> tuple[str, str]:
    """An express order 30 h late in transit for C-2 (standard tier): D1's notice goes, D3's 60.00 fee refund is
    over the 50.00 ceiling and waits. Returns the delay exception and its shipment."""
    from api.testing import T0
    from core.services import CarrierUpdate, carrier_update, dispatch_shipment, pick_shipment

    rt = api.runtime
    promised = T0 + timedelta(days=2)
    body = {"customer_id": "C-2", "ship_region": "US-NE", "ship_address_id": "A-2", "shipping_method": "express",
            "fee_cents": 6_000, "promised_by": promised.isoformat(), "lines": [{"sku": "LAMP-01", "qty": 1}],
            "fraud_score": 0.05}
    r = httpx.post(f"{api.url}/orders", json=body, headers=as_("agent"), timeout=30)
    assert r.status_code == 201, r.text
    with Session(rt.engine) as s:
        [shipment_id] = s.exec(select(Shipment.id)).all()
    assert pick_shipment(rt.engine, shipment_id, at=T0).picked
    dispatch_shipment(rt.engine, shipment_id, at=T0)
    out = carrier_update(rt.engine, shipment_id, CarrierUpdate(status="in_transit", eta=promised + timedelta(hours=30)),
                         at=T0 + timedelta(hours=1), rules=rt.rules)
    [exc_id] = out.exceptions
    from api.worker import Worker

    Worker(rt, worker_id="ui-test-worker").drain()
    statuses = {a["action"]: a["status"] for a in api.get(f"/exceptions/{exc_id}")["actions"]}
    assert statuses == {"notify_customer": "applied", "refund": "held"}, statuses
    return exc_id, shipment_id


def test_a_plan_withdrawn_by_a_delivery_while_the_card_is_open_is_not_approved(api: LiveApi, app: OpenApp) -> None:
    """The card was drawn with the refund held; the parcel is then delivered 14 h late (no D3 any more), the
    consumer plans the case again and withdraws the refund; Approve on the open card gets the 409 and says what
    changed and what is held now, never 'approved'."""
    from api.testing import T0
    from api.worker import Worker
    from core.services import CarrierUpdate, carrier_update

    exc_id, shipment_id = _held_delay(api)
    at = app("approvals")
    assert cases(at) == [exc_id] and "refund(order_id=" in texts(at)
    rt = api.runtime
    delivered = T0 + timedelta(days=2, hours=14)
    rt.clock.set(delivered)  # type: ignore[attr-defined]
    carrier_update(rt.engine, shipment_id, CarrierUpdate(status="delivered"), at=delivered, rules=rt.rules)
    assert Worker(rt, worker_id="ui-test-consumer").consume() > 0
    [refund] = [a for a in api.get(f"/exceptions/{exc_id}")["actions"] if a["action"] == "refund"]
    assert refund["status"] == "withdrawn"
    at.button(key=f"approve_{exc_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    [said] = [i.value for i in at.info if exc_id in i.value]
    assert "was withdrawn by the shipment.delivered event" in said, said
    assert f"shipment {shipment_id} was delivered" in said and "held now: nothing" in said, said
    assert "approved" not in shown.lower().replace("not approved", ""), shown
    assert [s.value for s in at.success] == ["Nothing is waiting for a decision."]  # the queue, not the decision
    after = api.get(f"/exceptions/{exc_id}")  # the click changed nothing: still withdrawn, nothing paid
    assert after["state"] == "resolved"
    assert {a["action"]: a["status"] for a in after["actions"]} == {"notify_customer": "applied", "refund": "withdrawn"}
