"""The refund ledger reconciles: every cent an order's `refunded_cents` counts is a refund row, whoever paid it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from servicekit import ledger_mismatches
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from api.cli import app
from api.queries import kpis
from api.runtime import open_runtime
from api.settings import ServiceSettings
from api.worker import Worker
from core.clock import VirtualClock
from core.models import Event, Order, OrderException, Return


def test_after_a_simulated_run_and_a_drain_every_order_reconciles_with_its_refund_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    ran = CliRunner().invoke(app, ["simulate", "--db", url, "--orders", "120", "--seed", "7",
                                   "--rate", "return_rate=0.5", "--rate", "dispute_rate=0.3"])
    assert ran.exit_code == 0, ran.output
    rt = open_runtime(ServiceSettings(database_url=url))
    with Session(rt.engine) as s:
        last = s.exec(select(func.max(Event.at))).one()
        settled = s.exec(select(func.count()).select_from(Return).where(
            Return.status == "approved", col(Return.refund_cents) > 0)).one()
    assert settled > 0, "the run settled no return by routine: the test would prove nothing"
    rt.clock = VirtualClock(last if isinstance(last, datetime) else datetime.fromisoformat(str(last)))
    try:
        Worker(rt, worker_id="w1", sweeps=False).drain()
        with Session(rt.engine) as s:
            assert s.exec(select(func.count()).select_from(OrderException)).one() > 0
            assert s.exec(select(func.count()).select_from(Order)
                          .where(col(Order.refunded_cents) > col(Order.captured_cents))).one() == 0
            total = s.exec(select(func.coalesce(func.sum(Order.refunded_cents), 0))).one()
            assert kpis(s).paid_out.refunds_cents == total > 0
        assert ledger_mismatches(rt.engine) == []
    finally:
        rt.close()
