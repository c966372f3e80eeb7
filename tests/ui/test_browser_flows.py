"""Issue 13's decision flows in a real browser, as a supervisor drives them: Chromium against the whole stack.

The stack and its helpers are test_browser's (`tower api`, `tower worker` and `streamlit run` as subprocesses
over one SQLite file). Each test seeds only the exceptions it needs, changes the shop's facts behind the open
page the way the shop would (straight in the store, or through the OMS services, whose events the live worker
consumes), clicks the card's buttons, waits for the text the card draws, then asks the API what happened.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import text
from sqlmodel import Session, col, select
from test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, WAIT_MS, Stack, _stack, one
from ui_helpers import as_, place

from api.runtime import Runtime, open_runtime
from api.settings import ServiceSettings
from core.models import Shipment

REFRESH_SECONDS = 15
"""ui/screens/approvals.py's queue timer (that module is a Streamlit page: importing it would draw it)."""

pytestmark = pytest.mark.browser


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _stack(tmp_path_factory.mktemp("flows"), waiting=0)


@pytest.fixture
def store(stack: Stack) -> Iterator[Runtime]:
    """The stack's store, opened beside the running services: the shop's side of the world."""
    rt = open_runtime(ServiceSettings(database_url=f"sqlite:///{stack.logs / 'tower.db'}", demo=True))
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def approvals(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """Opens Chromium signed in as sam (supervisor) on the approvals page; a failure leaves a screenshot."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 2000})
        page.set_default_timeout(WAIT_MS)

        def open_() -> Page:
            page.goto(stack.ui)
            token = page.locator('input[aria-label="API token"]')
            token.fill("demo-supervisor")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Signed in as sam (supervisor)")).to_be_visible()
            page.get_by_role("link", name="Approvals").click()
            expect(page.get_by_text("waiting · page 1 of")).to_be_visible()
            return page

        try:
            yield open_
        finally:  # what the page showed last, pass or fail (never masking the failure itself)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Exception):
                page.screenshot(path=SCREENSHOTS / f"flow-{request.node.name.removeprefix('test_')[:60]}.png",
                                full_page=True)
            browser.close()


def until(what: str, check: Callable[[], bool], stack: Stack) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen\n" + stack.tails()
        time.sleep(0.2)


def held(stack: Stack, **order: Any) -> str:
    """An order screening flags, worked by the live worker until it waits for a supervisor."""
    exc_id = place(stack.api, at=datetime.now(UTC), **order)
    until(f"{exc_id} waiting", lambda: stack.get(f"/exceptions/{exc_id}")["state"] == "awaiting_approval", stack)
    return exc_id


def statuses(stack: Stack, exc_id: str) -> dict[str, str]:
    return {a["action"]: a["status"] for a in stack.get(f"/exceptions/{exc_id}")["actions"]}


def test_an_approval_the_book_denies_is_shown_as_denied_in_the_browser(
        stack: Stack, store: Runtime, approvals: Callable[[], Page]) -> None:
    exc_id = held(stack, score=0.8)  # F3 on a lamp: cancel + refund + message, held for a supervisor
    order = stack.get(f"/exceptions/{exc_id}")["order_id"]
    page = approvals()
    card = page.locator(f".st-key-item_{exc_id}")
    expect(card).to_contain_text("refund(order_id=")
    with store.engine.begin() as conn:  # refunded in full elsewhere while the card is open
        conn.execute(text("UPDATE orders SET refunded_cents = captured_cents WHERE id = :o"), {"o": order})
    one(page, f".st-key-approve_{exc_id} button").click()
    expect(card).to_contain_text(f"refund(order_id={order}, amount=$54.99, reason=order_cancel): denied (P7, M1: ")
    expect(card).to_contain_text("exceeds the refundable $0.00")
    d = stack.get(f"/exceptions/{exc_id}")
    said = card.get_by_text(f"{exc_id}: approve by sam (supervisor)")
    expect(said).to_contain_text("denied")
    expect(said).to_contain_text(f"now {d['state']}")
    expect(said).not_to_contain_text("approved")
    assert d["state"] == "resolved"  # the order was cancelled; the money had already gone back
    assert statuses(stack, exc_id) == {"cancel_order": "applied", "refund": "denied", "notify_customer": "applied"}
    assert stack.get(f"/orders/{order}")["refunded_cents"] == stack.get(f"/orders/{order}")["captured_cents"]


def test_bulk_approve_reports_its_true_counts_in_the_browser(stack: Stack, approvals: Callable[[], Page]) -> None:
    """Three routine items shown; one is rejected by another supervisor before the click: the page says 3 shown,
    2 decided, 2 applied, and names the one decided meanwhile."""
    routine = [held(stack, score=0.45), held(stack, score=0.45, customer="C-2"),
               held(stack, score=0.45, address="A-8")]
    laptop = held(stack, score=0.8, sku="LAPTOP-14")
    page = approvals()
    bulk = one(page, ".st-key-bulk_approve button")
    expect(bulk).to_have_text("Approve the 3 routine items on this page")
    late = routine[2]
    r = httpx.post(f"{stack.api}/exceptions/{late}/decision", json={"decision": "reject"},
                   headers=as_("supervisor-2"), timeout=30)
    assert r.status_code == 200, r.text
    bulk.click()
    expect(page.get_by_text("Bulk approve of 3 routine items (2 decided): 2 applied.")).to_be_visible()
    expect(page.get_by_text(f"Decided by someone else meanwhile: {late}")).to_be_visible()
    for x in routine[:2]:  # each card says what became of its item, from the response
        expect(one(page, f".st-key-item_{x}")).to_contain_text("topic=verification): applied")
    expect(one(page, f".st-key-item_{late}")).to_contain_text("already decided: rejected by sol (supervisor)")
    for x in routine[:2]:  # the verifications went out; the orders stay on hold, so the exceptions wait on
        d = stack.get(f"/exceptions/{x}")
        assert d["state"] == "awaiting_approval" and [a["status"] for a in d["actions"]] == ["applied"]
    assert [(a["status"], a["decided_by"]) for a in stack.get(f"/exceptions/{late}")["actions"]] == [
        ("rejected", "sol (supervisor)")]
    assert set(statuses(stack, laptop).values()) == {"held"}


def test_adding_release_hold_after_rejecting_a_fraud_cancellation_in_the_browser(
        stack: Stack, approvals: Callable[[], Page]) -> None:
    exc_id = held(stack, score=0.8)
    order = stack.get(f"/exceptions/{exc_id}")["order_id"]
    page = approvals()
    card = page.locator(f".st-key-item_{exc_id}")
    one(page, f".st-key-reject_{exc_id} button").click()
    expect(card).to_contain_text(f"{exc_id}: reject by sam (supervisor): 3 rejected")
    expect(card).to_contain_text("Still waiting: ")
    expect(card).to_contain_text("add release_hold")
    assert stack.get(f"/orders/{order}")["status"] == "on_hold"

    one(page, f".st-key-add_open_{exc_id} label").click()
    chooser = one(page, f".st-key-add_{exc_id}_action")
    chooser.locator("input").click()
    page.get_by_role("option", name="release_hold", exact=True).click()
    box = one(page, f".st-key-add_{exc_id}_release_hold_order_id input")
    expect(box).to_have_value(order)
    one(page, f".st-key-add_go_{exc_id} button").click()
    expect(card).to_contain_text(f"{exc_id}: add by sam (supervisor): 1 applied; the exception is now resolved")
    expect(card).to_contain_text(f"release_hold(order_id={order}): applied")

    d = stack.get(f"/exceptions/{exc_id}")
    assert d["state"] == "resolved"
    assert statuses(stack, exc_id) == {"cancel_order": "rejected", "refund": "rejected",
                                       "notify_customer": "rejected", "release_hold": "applied"}
    assert stack.get(f"/orders/{order}")["status"] != "on_hold"


def _held_delay(stack: Stack, store: Runtime, promised: datetime) -> tuple[str, str]:
    """An express order 30 h late in transit for C-2 (standard tier): D1's notice goes, D3's 60.00 fee refund is
    over the ceiling and waits. Returns the delay exception and its shipment."""
    from core.services import CarrierUpdate, carrier_update, dispatch_shipment, pick_shipment

    now = datetime.now(UTC)
    body = {"customer_id": "C-2", "ship_region": "US-NE", "ship_address_id": "A-2", "shipping_method": "express",
            "fee_cents": 6_000, "promised_by": promised.isoformat(), "lines": [{"sku": "LAMP-01", "qty": 1}],
            "fraud_score": 0.05}
    r = httpx.post(f"{stack.api}/orders", json=body, headers=as_("agent"), timeout=30)
    assert r.status_code == 201, r.text
    with Session(store.engine) as s:
        [shipment_id] = s.exec(select(Shipment.id).where(col(Shipment.order_id) == r.json()["id"])).all()
    assert pick_shipment(store.engine, shipment_id, at=now).picked
    dispatch_shipment(store.engine, shipment_id, at=now)
    out = carrier_update(store.engine, shipment_id,
                         CarrierUpdate(status="in_transit", eta=promised + timedelta(hours=30)),
                         at=now + timedelta(minutes=1), rules=store.rules)
    [exc_id] = out.exceptions
    until(f"{exc_id} held", lambda: statuses(stack, exc_id) == {"notify_customer": "applied", "refund": "held"},
          stack)
    return exc_id, shipment_id


def test_a_plan_withdrawn_by_a_delivery_while_the_card_is_open_is_not_approved_in_the_browser(
        stack: Stack, store: Runtime, approvals: Callable[[], Page]) -> None:
    """The card is drawn with the refund held; the parcel is delivered 14 h late (no D3 any more), the live
    worker consumes the event and withdraws the refund; Approve on the still-open card says what changed and
    what is held now, never 'approved'. (The queue's 15 s timer would redraw the card: the click comes well
    before it.)"""
    from core.services import CarrierUpdate, carrier_update

    promised = datetime.now(UTC) + timedelta(days=2)
    exc_id, shipment_id = _held_delay(stack, store, promised)
    page = approvals()
    card = page.locator(f".st-key-item_{exc_id}")
    expect(card).to_contain_text("refund(order_id=")
    drawn = time.monotonic()
    carrier_update(store.engine, shipment_id, CarrierUpdate(status="delivered"),
                   at=promised + timedelta(hours=14), rules=store.rules)
    until(f"{exc_id}'s refund withdrawn", lambda: statuses(stack, exc_id).get("refund") == "withdrawn", stack)
    assert time.monotonic() - drawn < REFRESH_SECONDS, "the queue's timer may have redrawn the card before the click"
    one(page, f".st-key-approve_{exc_id} button").click()
    said = card.get_by_text(f"{exc_id} is no longer waiting for you")
    expect(said).to_contain_text("was withdrawn by the shipment.delivered event")
    expect(said).to_contain_text(f"shipment {shipment_id} was delivered")
    expect(said).to_contain_text("held now: nothing")
    expect(card).not_to_contain_text("approved")
    after = stack.get(f"/exceptions/{exc_id}")  # the click changed nothing: still withdrawn, nothing paid
    assert after["state"] == "resolved"
    assert statuses(stack, exc_id) == {"notify_customer": "applied", "refund": "withdrawn"}
    order = stack.get(f"/orders/{after['order_id']}")
    assert order["refunded_cents"] == 0
