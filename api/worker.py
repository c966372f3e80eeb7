"""The worker: claims exceptions and runs the agent graph for each, with a durable checkpointer.

A claim is `claimed_by`/`claimed_at` on the exception, set in the transaction
that picks it: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`, so many
workers never pick the same row; on SQLite with a conditional UPDATE (one
worker runs there). A claim older than the lease belongs to a dead worker and
may be taken again: the replacement continues the LangGraph thread from its
last checkpoint, and every effect is keyed, so nothing is applied twice.

While a worker works an exception, a heartbeat renews its claim (api.leases),
so only a dead worker's claim goes stale.

Claimable: `open` or `working` exceptions with no live claim, and
`awaiting_approval` ones whose decisions are all in but whose resume never
finished: nothing held, something decided (an exception that waits for a
supervisor with nothing to decide, as after a planner failure, is left to
them: the graph would only wait again, and so is a fraud hold whose order is still on hold with nothing
approved: it waits for a release or a cancel), and no live claim, whoever held it (the API's resume that
died, or a graph that parked before the decisions came).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, or_, update
from sqlmodel import Session, col, select

from agents.replan import REPLANNER_PREFIX, consume_events
from agents.service import resume_exception, work_exception
from api.holds import stamp_deadlines, sweep_expired
from api.leases import Heartbeat
from api.runtime import Runtime
from core.audit import AUDITED_KINDS, AuditLog
from core.models import ActionRecord, ExceptionState, Order, OrderException, OrderStatus

log = logging.getLogger(__name__)

WORKABLE = (ExceptionState.open, ExceptionState.working)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimable(stale: datetime):  # type: ignore[no-untyped-def]
    unclaimed_or_stale = or_(col(OrderException.claimed_by).is_(None), col(OrderException.claimed_at) < stale)
    nothing_held = ~exists().where(ActionRecord.exception_id == OrderException.id, ActionRecord.status == "held")
    decided = exists().where(ActionRecord.exception_id == OrderException.id, col(ActionRecord.decided_by).is_not(None))
    # A fraud hold whose order is still on hold waits for a supervisor's release or cancel (no order left
    # stranded): with nothing approved to take up, resuming it would only wait again.
    stranded = and_(OrderException.type == "fraud_hold",
                    exists().where(Order.id == OrderException.order_id, Order.status == OrderStatus.on_hold),
                    ~exists().where(ActionRecord.exception_id == OrderException.id, ActionRecord.status == "approved"))
    orphaned_resume = and_(OrderException.state == ExceptionState.awaiting_approval, unclaimed_or_stale,
                           nothing_held, decided, ~stranded)
    return or_(and_(col(OrderException.state).in_(WORKABLE), unclaimed_or_stale), orphaned_resume)


@dataclass(frozen=True)
class Claim:
    exception_id: str
    state: str


def claim_next(engine: Engine, worker_id: str, *, now: datetime, lease: timedelta) -> Claim | None:
    """Claim the oldest claimable exception for `worker_id`, or None; the claim is audited."""
    stale = now - lease
    with Session(engine) as s:
        pick = (select(OrderException.id, OrderException.state).where(_claimable(stale))
                .order_by(col(OrderException.raised_at), col(OrderException.id)).limit(1))
        if engine.dialect.name == "postgresql":
            row = s.exec(pick.with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            s.execute(update(OrderException).where(col(OrderException.id) == row[0])
                      .values(claimed_by=worker_id, claimed_at=now))
            claim = Claim(*row)
        else:
            # SQLite: the UPDATE is the first statement, so it takes the write lock before it reads.
            oldest = pick.with_only_columns(OrderException.id).scalar_subquery()
            row = s.execute(update(OrderException).where(col(OrderException.id) == oldest, _claimable(stale))
                            .values(claimed_by=worker_id, claimed_at=now)
                            .returning(OrderException.id, OrderException.state)).first()
            if row is None:
                s.rollback()
                return None
            claim = Claim(*row)
        audit = AuditLog()
        audit.add(now, claim.exception_id, worker_id, "claimed", {"worker": worker_id})
        audit.write(s)
        s.commit()
        return claim


@dataclass
class Worker:
    """One claim → work loop, renewing the claim while it works.

    `after_claim` (runs between the claim and the graph) and `on_renew` (gets each renewal's time) are
    test hooks; `heartbeat_every` defaults to a third of the lease.
    """

    rt: Runtime
    worker_id: str = field(default_factory=default_worker_id)
    after_claim: Callable[[str], None] | None = None
    sweeps: bool = True
    replans: bool = True
    """Whether the loop also consumes the outbox (agents.replan): events that make waiting plans stale."""
    before_replan: Callable[[str], None] | None = None
    heartbeat_every: float | None = None
    on_renew: Callable[[datetime], None] | None = None
    handled: int = 0
    _last_sweep: float = 0.0

    def run_once(self) -> str | None:
        """Claim and work one exception; returns its id, or None when there was nothing to claim."""
        rt = self.rt
        lease = timedelta(seconds=rt.settings.worker_lease_seconds)
        claim = claim_next(rt.engine, self.worker_id, now=rt.clock.now(), lease=lease)
        if claim is None:
            return None
        exc_id = claim.exception_id
        try:
            with Heartbeat(rt.engine, exc_id, self.worker_id, clock=rt.clock, on_renew=self.on_renew,
                           every=self.heartbeat_every or rt.settings.worker_lease_seconds / 3):
                if self.after_claim is not None:
                    self.after_claim(exc_id)
                self.work(claim)
        except Exception:  # the claim stays; after the lease another worker retries from the checkpoint
            log.exception("working %s failed", exc_id)
            with Session(rt.engine) as s:
                audit = AuditLog()
                audit.add(rt.clock.now(), exc_id, self.worker_id, "worker.failed", {"worker": self.worker_id})
                audit.write(s)
                s.commit()
        self.handled += 1
        return exc_id

    def work(self, claim: Claim) -> None:
        rt, exc_id = self.rt, claim.exception_id
        if claim.state == ExceptionState.awaiting_approval:  # an API resume that died: finish it for its decider
            decider = last_decider(rt.engine, exc_id) or self.worker_id
            result = resume_exception(rt.engine, exc_id, clock=rt.clock, checkpointer=rt.checkpointer,
                                      decided_by=decider, planner=rt.planner(), book=rt.book)
        else:
            result = work_exception(rt.engine, exc_id, clock=rt.clock, checkpointer=rt.checkpointer,
                                    planner=rt.planner(), actor=self.worker_id, book=rt.book)
        if any(a.status == "held" for a in result.actions):
            stamp_deadlines(rt.engine, rt.settings, now=rt.clock.now(), book=rt.book, exception_id=exc_id)

    def consume(self) -> int:
        """Read the outbox and re-plan the waiting exceptions whose facts changed, each under its claim."""
        rt = self.rt
        lease = timedelta(seconds=rt.settings.worker_lease_seconds)
        holder = REPLANNER_PREFIX + self.worker_id

        def keep(exception_id: str) -> Heartbeat:
            return Heartbeat(rt.engine, exception_id, holder, clock=rt.clock, on_renew=self.on_renew,
                             every=self.heartbeat_every or rt.settings.worker_lease_seconds / 3)

        consumed = consume_events(rt.engine, clock=rt.clock, planner=rt.planner(), checkpointer=rt.checkpointer,
                                  book=rt.book, holder=holder, lease=lease, keep_claim=keep,
                                  before_replan=self.before_replan)
        stamp_deadlines(rt.engine, rt.settings, now=rt.clock.now(), book=rt.book)  # what a re-plan now holds
        return consumed

    def sweep(self) -> list[str]:
        self._last_sweep = time.monotonic()
        return sweep_expired(self.rt.engine, self.rt.settings, now=self.rt.clock.now(), book=self.rt.book)

    def drain(self, limit: int | None = None) -> int:
        """Work until nothing is claimable (or `limit` done); returns how many were worked."""
        n = 0
        while limit is None or n < limit:
            if self.run_once() is None:
                break
            n += 1
        return n

    def run(self, stop: threading.Event | None = None, *, exit_when_idle: bool = False) -> None:
        """The loop of `tower worker`: work, sweep expiries now and then, wait when idle."""
        stop = stop or threading.Event()
        settings = self.rt.settings
        log.info("worker %s on %s", self.worker_id, self.rt.dialect)
        while not stop.is_set():
            if self.sweeps and time.monotonic() - self._last_sweep >= settings.sweep_every_seconds:
                escalated = self.sweep()
                if escalated:
                    log.info("escalated %d exceptions with expired held actions", len(escalated))
            if self.replans:
                try:
                    self.consume()
                except Exception:  # the cursor and what is due stay as they were: the next pass retries
                    log.exception("consuming the outbox failed")
            if self.run_once() is None:
                if exit_when_idle:
                    return
                stop.wait(settings.worker_poll_seconds)


def last_decider(engine: Engine, exception_id: str) -> str | None:
    with Session(engine) as s:
        return s.exec(select(ActionRecord.decided_by).where(
            ActionRecord.exception_id == exception_id, col(ActionRecord.decided_by).is_not(None))
            .order_by(col(ActionRecord.decided_at).desc(), col(ActionRecord.id).desc()).limit(1)).first()


def install_test_hook(mode: str | None) -> None:
    """Crash tests only (env TOWER_TEST_AFTER_APPLIED): right after the first transaction that applied an
    action commits, and before the graph checkpoints that step, `die` (SIGKILL itself) or `pause` (print
    PAUSED and sleep, for the test to kill)."""
    if not mode:
        return
    import signal
    import sys

    from sqlalchemy import event
    from sqlalchemy.orm import Session as OrmSession

    def after_rollback(session: OrmSession) -> None:
        session.info.pop(AUDITED_KINDS, None)

    def after_commit(session: OrmSession) -> None:
        if "action.applied" not in session.info.pop(AUDITED_KINDS, ()):
            return
        if mode == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        print("PAUSED", flush=True)
        sys.stdout.flush()
        while True:
            time.sleep(60)

    event.listen(OrmSession, "after_rollback", after_rollback)
    event.listen(OrmSession, "after_commit", after_commit)
