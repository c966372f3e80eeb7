"""The composition root: one place wires the store, the checkpointer, the clock, the policy book and the planner.

The API, the worker and the CLI all build a `Runtime` here, so each behaviour
has one path. The LangGraph checkpointer lives in the same database as the
OMS (SQLite file → SqliteSaver on that file; PostgreSQL → PostgresSaver), which
is what lets a replacement worker continue a thread its predecessor started.

One policy book per run: the shipped book, or the variant `settings.policy`
names. Everything the service does (the OMS's triggers, the planner and its
prompt, the judge at planning and at decision time, the tools' guards, hold
deadlines, `GET /policy`) reads `Runtime.book`, never the global default.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import Engine

from agents.planners import get_planner
from agents.planners.base import Planner
from api.settings import ServiceSettings
from core.clock import Clock, WallClock
from core.detectors import Triggers
from core.extras import needs_extra
from core.services import OmsRules
from core.store import make_engine, migrate
from policies.book import BOOK, PolicyBook, load_book

_SETUP_LOCK_KEY = 0x70_77_72  # pg advisory lock: concurrent workers set the checkpointer tables up one at a time


def oms_rules(book: PolicyBook) -> OmsRules:
    """The numbers the OMS obeys (exception triggers, the carbon price), from the run's policy book."""
    return OmsRules(Triggers(delay_hours=book.triggers.delay_hours, fraud_hold_score=book.triggers.fraud_hold_score),
                    carbon_cents_per_kg=book.carbon.cents_per_kg_default)


def run_book(policy: Path | None) -> PolicyBook:
    """The run's policy book: the variant at `policy` (laid over the shipped book), or the shipped book.

    Raises ValueError naming the file and the field when the variant cannot be loaded.
    """
    return BOOK if policy is None else load_book(policy)


@dataclass
class Runtime:
    settings: ServiceSettings
    engine: Engine
    checkpointer: BaseCheckpointSaver
    clock: Clock
    book: PolicyBook = BOOK
    _closers: list[Any] = field(default_factory=list)

    @property
    def rules(self) -> OmsRules:
        return oms_rules(self.book)

    def planner(self) -> Planner:
        return get_planner(self.settings.planner, book=self.book)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()
        self.engine.dispose()


def open_runtime(settings: ServiceSettings, *, clock: Clock | None = None, upgrade: bool = True,
                 pool_size: int = 4) -> Runtime:
    """Open the store (migrated unless told otherwise), its durable checkpointer and the run's policy book."""
    book = run_book(settings.policy)  # first: a bad variant fails before anything is opened
    engine = make_engine(settings.database_url)
    if upgrade:
        migrate(engine)
    checkpointer, closers = make_checkpointer(engine, pool_size=pool_size)
    return Runtime(settings=settings, engine=engine, checkpointer=checkpointer, clock=clock or WallClock(),
                   book=book, _closers=closers)


def make_checkpointer(engine: Engine, *, pool_size: int = 4) -> tuple[BaseCheckpointSaver, list[Any]]:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return InMemorySaver(), []  # one process, one in-memory store: nothing outlives it anyway
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(url.database, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # The store's own setting: checkpoints and the store share one write-ahead log, so a power loss can
        # only drop the newest transactions of both together, never a plan checkpoint ahead of its records.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        saver = SqliteSaver(conn)
        saver.setup()
        return saver, [conn.close]
    if url.get_backend_name() == "postgresql":
        with needs_extra("postgres", "the PostgreSQL checkpointer"):
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool

        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = ConnectionPool(conninfo, min_size=1, max_size=pool_size, open=True,
                              kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
        with psycopg.connect(conninfo, autocommit=True) as lock_conn:
            lock_conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
            try:
                saver = PostgresSaver(pool)  # type: ignore[arg-type]
                saver.setup()
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
        return saver, [pool.close]
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")
