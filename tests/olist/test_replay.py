"""The replay on a handful of real rows, outcomes checked by hand.

The fixture's rate card is its own (every pair falls back to the national
median): transit 145.5 h; the one parcel overdue 4 h past its promise arrived
70.3 h later, so that is the overdue forecast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.cli import app
from api.runtime import oms_rules
from core.models import ActionRecord, Order, OrderException, Shipment
from core.olist.extract import read_extract
from core.olist.mapping import map_extract
from core.olist.ratecard import build_rate_card
from core.store import fresh_memory_engine
from evals.olist.replay import OlistReplay, ReplayLog
from evals.olist.report import build_report, dumps
from policies.book import BOOK

LATE = "f3c19ec2622d12aafeb4c32621b951b2"
MISSED_LIMIT = "f70a0aff17df5a6cdd9a7196128bd354"
UNAVAILABLE = "8e24261a7e58791d10cb1bf9da94df5c"
CANCELED = "a39d3db795a5cf4c8b6c9dd050f0d326"
NEVER_DELIVERED = "36530871a5e80138db53bcfd8a104d90"
ON_TIME = "e481f51cbdc54678b7cc49136f2d6af7"


def _replay(root: Path) -> tuple[Engine, ReplayLog, str]:
    extract = read_extract(root)
    card = build_rate_card(extract)
    mapped = map_extract(extract, card)
    engine = fresh_memory_engine()
    log = OlistReplay(engine, mapped, card, rules=oms_rules(BOOK)).run()
    report = dumps(build_report(engine, mapped, card, log, orders=mapped.orders, complaints=extract.reviews))
    return engine, log, report


@pytest.fixture
def replayed(olist_root: Path) -> tuple[Engine, ReplayLog, str]:
    return _replay(olist_root)


def _exceptions(engine: Engine, order_id: str) -> list[OrderException]:
    with Session(engine) as s:
        return list(s.exec(select(OrderException).where(OrderException.order_id == order_id)
                           .order_by(col(OrderException.id))).all())


def _actions(engine: Engine, exception_id: str) -> list[tuple[str, str, object]]:
    with Session(engine) as s:
        rows = s.exec(select(ActionRecord).where(ActionRecord.exception_id == exception_id)
                      .order_by(col(ActionRecord.id))).all()
        return [(r.action, r.status, r.args.get("amount_cents", r.args.get("topic"))) for r in rows]


def test_an_order_three_days_late_raises_one_delay_at_promise_plus_4_h_and_the_customer_is_told_and_credited(
        replayed: tuple[Engine, ReplayLog, str]) -> None:
    engine, log, _ = replayed
    (delay,) = _exceptions(engine, LATE)
    assert delay.type == "delay"
    assert delay.raised_at == datetime(2018, 1, 10, 7, 0, tzinfo=UTC)  # promise 03:00Z + 4 h
    assert delay.detail["delay_hours"] == pytest.approx(74.3)  # forecast: 4 h + 70.3 h overdue median
    assert next(r.check for r in log.raised if r.exception_id == delay.id) == "overdue"
    # D3: a standard order 72 h+ late gets 10% of 119.90 as store credit; D1: told, with the forecast ETA.
    assert _actions(engine, delay.id) == [("store_credit", "applied", 1_199), ("notify_customer", "applied", "delay")]
    assert delay.state == "resolved"
    with Session(engine) as s:
        assert s.exec(select(Order.status).where(Order.id == LATE)).one() == "delivered"


def test_a_seller_past_its_shipping_limit_raises_a_delay_on_the_unshipped_shipment(
        replayed: tuple[Engine, ReplayLog, str]) -> None:
    engine, log, _ = replayed
    (delay,) = _exceptions(engine, MISSED_LIMIT)
    # Limit 2017-08-17 02:45:24 local = 05:45:24Z; the hand-off came at 15:35 local, ten hours too late.
    assert delay.raised_at == datetime(2017, 8, 17, 5, 45, 24, tzinfo=UTC)
    assert next(r.check for r in log.raised if r.exception_id == delay.id) == "missed_dispatch"
    # ETA = now + 145.5 h transit = 4.25 h past the promise: under D1's 12 h, so the book asks for nothing.
    assert delay.detail["delay_hours"] == pytest.approx(4.2567, abs=1e-3)  # 07:15:24Z vs 03:00Z
    assert _actions(engine, delay.id) == []
    assert delay.state == "resolved"


def test_an_unavailable_order_raises_a_stockout_with_no_stock_anywhere_and_is_cancelled(
        replayed: tuple[Engine, ReplayLog, str]) -> None:
    engine, _, _ = replayed
    (stockout,) = _exceptions(engine, UNAVAILABLE)
    assert stockout.type == "stockout"
    assert stockout.raised_at == datetime(2017, 11, 16, 18, 9, 28, tzinfo=UTC)
    # S3, no restock: cancel the whole order; nothing was captured (value unknown), so no refund is proposed.
    assert _actions(engine, stockout.id) == [("cancel_order", "applied", None),
                                             ("notify_customer", "applied", "cancellation")]


def test_cancelled_delivered_on_time_orders_raise_nothing_and_a_lost_in_transit_order_is_caught(
        replayed: tuple[Engine, ReplayLog, str]) -> None:
    engine, _, _ = replayed
    assert _exceptions(engine, CANCELED) == []
    assert _exceptions(engine, ON_TIME) == []
    (delay,) = _exceptions(engine, NEVER_DELIVERED)
    assert delay.raised_at == datetime(2017, 6, 8, 7, 0, tzinfo=UTC)
    # 10% of 36.90 is under the 5.00 floor of D3.
    assert _actions(engine, delay.id) == [("store_credit", "applied", 500), ("notify_customer", "applied", "delay")]
    with Session(engine) as s:
        assert s.exec(select(Order.status).where(Order.id == CANCELED)).one() == "cancelled"
        shp = s.exec(select(Shipment).where(Shipment.order_id == NEVER_DELIVERED)).one()
        assert shp.status == "in_transit"


def test_labelled_complaints_become_return_disputes_read_from_the_portuguese_and_held_when_money_is_unsure(
        replayed: tuple[Engine, ReplayLog, str]) -> None:
    engine, _, _ = replayed
    (partial,) = _exceptions(engine, "RV-1192")
    (wrong,) = _exceptions(engine, "RV-3345")
    assert partial.type == wrong.type == "return_dispute"
    assert partial.raised_at == datetime(2017, 12, 12, 3, 0, tzinfo=UTC)
    # "comprei dois toners e só veio um": not received in part; the carrier scanned a delivery, so R6 holds it.
    assert _actions(engine, partial.id) == [("approve_return", "held", 37_880),
                                            ("notify_customer", "held", "return_decision")]
    assert partial.state == "awaiting_approval"
    # "produto veio com a cor errada": a wrong item without evidence: ask for it (R3), no money.
    assert _actions(engine, wrong.id) == [("notify_customer", "applied", "info_request")]
    assert _exceptions(engine, "RV-1") == []  # a satisfied review is not a complaint


def test_the_report_sets_delays_against_late_deliveries_and_is_the_same_byte_for_byte(olist_root: Path) -> None:
    _, _, first = _replay(olist_root)
    _, _, second = _replay(olist_root)
    assert first == second
    assert "orders/s" not in first
    report = json.loads(first)
    late = report["delays"]["vs_late_deliveries"]
    assert (late["late_deliveries"], late["caught"], late["missed"], late["shipments_raised_more_than_once"]) == (
        1, 1, 0, 0)
    assert late["overdue_delays_on_orders_never_delivered"] == 1
    assert report["exceptions"]["by_type"] == {"delay": 3, "return_dispute": 2, "stockout": 1}
    assert report["money_cents"]["paid_out"] == {"store_credit": 1_699}
    assert report["money_cents"]["held_for_approval"] == {"approve_return": 37_880}


def test_the_cli_replays_a_path_and_writes_the_report_with_speed_only_on_the_terminal(
        olist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["replay", "olist", str(olist_root), "--limit", "3", "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "orders/s" in result.output
    assert '"orders_replayed": 3' in out.read_text(encoding="utf-8")
