"""Detectors at the book's boundaries, with the book's numbers handed in (core knows none of them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.detectors import Triggers, detect_delay, detect_fraud_hold, detect_return_dispute, detect_stockout
from policies.book import BOOK

BOOK_TRIGGERS = Triggers(delay_hours=BOOK.triggers.delay_hours,
                         fraud_hold_score=BOOK.triggers.fraud_hold_score)
PROMISE = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def test_an_eta_3h59_past_the_promise_is_not_a_delay() -> None:
    eta = PROMISE + timedelta(hours=3, minutes=59)
    assert detect_delay("in_transit", eta, PROMISE, BOOK_TRIGGERS) is None


def test_an_eta_exactly_4h_past_the_promise_is_a_delay() -> None:
    eta = PROMISE + timedelta(hours=4)
    assert detect_delay("in_transit", eta, PROMISE, BOOK_TRIGGERS) == "eta:2026-03-05T22:00:00Z"


@pytest.mark.parametrize("status", ["created", "picked", "in_transit"])
def test_a_late_shipment_that_has_not_arrived_is_a_delay(status: str) -> None:
    assert detect_delay(status, PROMISE + timedelta(days=2), PROMISE, BOOK_TRIGGERS) is not None


@pytest.mark.parametrize("status", ["delivered", "cancelled"])
def test_a_finished_shipment_is_never_a_delay(status: str) -> None:
    assert detect_delay(status, PROMISE + timedelta(days=2), PROMISE, BOOK_TRIGGERS) is None


def test_a_lost_parcel_is_a_delay_even_when_on_time() -> None:
    assert detect_delay("lost", PROMISE - timedelta(days=1), PROMISE, BOOK_TRIGGERS) == "lost"


def test_a_score_of_0_29_is_not_held_and_0_30_is() -> None:
    assert not detect_fraud_hold(0.29, BOOK_TRIGGERS)
    assert detect_fraud_hold(0.30, BOOK_TRIGGERS)
    assert detect_fraud_hold(0.95, BOOK_TRIGGERS)


def test_the_triggers_come_from_the_caller_not_from_core() -> None:
    stricter = Triggers(delay_hours=2, fraud_hold_score=0.5)
    assert detect_delay("in_transit", PROMISE + timedelta(hours=2), PROMISE, stricter) is not None
    assert not detect_fraud_hold(0.30, stricter)


def test_a_stockout_counts_the_units_short() -> None:
    assert detect_stockout(3, 5) == 0
    assert detect_stockout(3, 1) == 2
    assert detect_stockout(3, -2) == 3


def test_only_a_disputed_return_is_a_dispute() -> None:
    assert detect_return_dispute("disputed")
    assert not detect_return_dispute("open")
