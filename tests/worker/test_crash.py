"""A worker SIGKILLed mid-graph is replaced: the new one continues the thread from its checkpoint, and
every effect is applied exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from api.runtime import Runtime
from api.testing import seed_fraud_holds, worker_command
from core.audit import verify_store
from core.models import ActionRecord, AuditEntry, Notification, Order, OrderException, Refund


def wait_for_line(proc: subprocess.Popen[str], line: str, timeout: float) -> bool:
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for out in proc.stdout:
            if out.strip() == line:
                seen.set()
                return

    threading.Thread(target=read, daemon=True).start()
    return seen.wait(timeout)


def test_a_worker_killed_after_its_first_apply_is_replaced_and_no_effect_is_applied_twice(
        runtime: Runtime, db_url: str) -> None:
    [exc_id] = seed_fraud_holds(runtime.engine, 1, score=0.95)  # F4: cancel_order, refund, notify_customer
    env = {**os.environ, "TOWER_LOG_LEVEL": "WARNING"}
    first = subprocess.Popen(worker_command(db_url, "w1"), env={**env, "TOWER_TEST_AFTER_APPLIED": "pause"},
                             stdout=subprocess.PIPE, text=True)
    try:
        assert wait_for_line(first, "PAUSED", timeout=60), "the worker never reached its first apply"
        with Session(runtime.engine) as s:
            assert s.get(OrderException, exc_id).state == "working"  # type: ignore[union-attr]
            assert s.exec(select(func.count()).select_from(ActionRecord)
                          .where(ActionRecord.status == "applied")).one() >= 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL

    with Session(runtime.engine) as s:  # w1 is dead: its claim is as old as a lapsed lease would leave it
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.claimed_at is not None
        s.execute(update(OrderException).where(col(OrderException.id) == exc_id)
                  .values(claimed_at=exc.claimed_at - timedelta(hours=1)))
        s.commit()
    second = subprocess.run(worker_command(db_url, "w2"), env=env, timeout=60)
    assert second.returncode == 0

    with Session(runtime.engine) as s:
        exc = s.get(OrderException, exc_id)
        assert exc is not None and exc.state == "resolved" and exc.claimed_by == "w2"
        records = s.exec(select(ActionRecord).where(ActionRecord.exception_id == exc_id)).all()
        assert sorted((r.action, r.status) for r in records) == [
            ("cancel_order", "applied"), ("notify_customer", "applied"), ("refund", "applied")]
        applied = s.exec(select(AuditEntry.detail).where(AuditEntry.kind == "action.applied")).all()
        assert sorted(d["key"] for d in applied) == sorted(r.idempotency_key for r in records)
        assert s.exec(select(func.count()).select_from(Refund)).one() == 1
        assert s.exec(select(func.count()).select_from(Notification)).one() == 1
        assert s.get(Order, exc.order_id).status == "cancelled"  # type: ignore[union-attr]
        assert s.exec(select(AuditEntry.actor).where(AuditEntry.kind == "claimed")
                      .order_by(AuditEntry.id)).all() == ["w1", "w2"]
    assert verify_store(runtime.engine).ok  # the replacement chained onto what the killed worker committed
    history = list(runtime.checkpointer.list({"configurable": {"thread_id": exc_id}}))
    assert [c.metadata.get("source") for c in history].count("input") == 1  # continued, never restarted
