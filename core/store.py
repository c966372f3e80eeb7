"""Engines, migrations and the unit of work.

The schema is created and upgraded by Alembic migrations, never by
`create_all` at run time. Fresh in-memory stores (one per recorded case)
are copied from a migrated template with SQLite's backup API, which is
what makes replaying a suite cheap.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, bindparam, event, insert, update
from sqlalchemy.pool import PoolProxiedConnection, StaticPool
from sqlmodel import Session, create_engine

from core.events import DomainEvent
from core.extras import needs_extra
from core.jsonvalue import jsonable
from core.models import Counter, Event
from core.sqlfast import Link, Statements

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        if in_memory:
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_pre_ping", True)
    with needs_extra("postgres", "a PostgreSQL store"):
        return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@cache
def _template() -> sqlite3.Connection:
    engine = make_engine("sqlite://")
    migrate(engine)
    raw = engine.raw_connection()
    template = sqlite3.connect(":memory:", check_same_thread=False)
    source = raw.driver_connection
    assert isinstance(source, sqlite3.Connection)  # make_engine("sqlite://") runs on the stdlib driver
    source.backup(template)
    raw.close()
    engine.dispose()
    return template


def fresh_memory_engine() -> Engine:
    """A migrated, empty in-memory SQLite store, copied from a template in about a millisecond."""
    template = _template()

    def creator() -> sqlite3.Connection:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        template.backup(conn)
        return conn

    engine = create_engine("sqlite://", creator=creator, poolclass=StaticPool)
    event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA foreign_keys=ON"))
    return engine


def open_store(url: str, *, upgrade: bool = True) -> Engine:
    engine = make_engine(url)
    if upgrade:
        migrate(engine)
    return engine


_COUNTER = Counter.__table__
_NEXT = (update(_COUNTER).where(_COUNTER.c.name == bindparam("n")).values(value=_COUNTER.c.value + 1)
         .returning(_COUNTER.c.value))
_DB = Statements({"outbox": insert(Event.__table__), "next": _NEXT, "new_counter": insert(_COUNTER)})
"""Run on the driver cursor (`core.sqlfast`): every command writes the outbox and most take an id."""


class UnitOfWork:
    """One transaction: entities change and their events land in the outbox together, or neither.

    Events are buffered and written by one executemany at commit (in emit order, so
    `seq` order is unchanged): an ORM object per event cost more than the change it records.

    The unit holds one pooled driver connection and its transaction. Hot commands run
    prepared statements on it (`link`, see `core.sqlfast`); a SQLAlchemy `conn` over that
    same driver connection, and an ORM `session` on `conn` in control of its transaction
    (`join_transaction_mode="control_fully"`), are made only when a command asks for
    them: their begin, commit and close cost more than the statements of a small command.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._outbox: list[dict[str, Any]] = []
        self._raw: PoolProxiedConnection | None = None
        self._link: Link | None = None
        self._conn: Connection | None = None
        self._session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        self._outbox, self._raw, self._link, self._conn, self._session = [], None, None, None, None
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is not None:
                self.rollback()
        finally:
            session, conn, raw = self._session, self._conn, self._raw
            self._raw, self._link, self._conn, self._session = None, None, None, None
            if session is not None:
                session.close()
            if conn is not None:
                conn.close()  # gives the driver connection back to the pool
            elif raw is not None:
                raw.close()

    @property
    def link(self) -> Link:
        """The unit's driver connection and dialect, for prepared statements on hot paths.

        Pending ORM changes are flushed first (as `Session.execute` autoflushes), so a
        statement sees what the command's ORM code did before it.
        """
        link = self._link or self._checkout()
        if self._session is not None:
            self._session.flush()
        return link

    def _checkout(self) -> Link:
        self._raw = self.engine.raw_connection()
        self._link = Link(self.engine.dialect, self._raw.driver_connection)
        return self._link

    @property
    def conn(self) -> Connection:
        """A SQLAlchemy connection over the unit's driver connection, in its transaction."""
        if self._conn is None:
            if self._raw is None:
                self._checkout()
            self._conn = Connection(self.engine, connection=self._raw)
        elif self._session is not None:
            self._session.flush()
        if not self._conn.in_transaction():
            self._conn.begin()
        return self._conn

    @property
    def session(self) -> Session:
        """An ORM session on the unit's connection and transaction, made on first use."""
        if self._session is None:
            conn = self.conn
            self._session = Session(conn, expire_on_commit=False, join_transaction_mode="control_fully")
        return self._session

    def emit(self, *events: DomainEvent) -> None:
        self._outbox.extend(
            {"at": e.at, "type": e.type, "aggregate": e.aggregate, "aggregate_id": e.aggregate_id,
             "data": jsonable(e.data), "published": False}
            for e in events
        )

    def next_id(self, name: str, prefix: str, width: int = 6) -> str:
        return f"{prefix}{_next_value(self.link, name):0{width}d}"

    def commit(self) -> None:
        if self._outbox:
            _DB.executemany(self.link, "outbox", self._outbox)
            self._outbox = []
        if self._session is not None:
            self._session.commit()  # flushes what the ORM holds; commits the connection's transaction
        if self._conn is not None and self._conn.in_transaction():
            self._conn.commit()
        if self._link is not None:
            self._link.driver.commit()  # what ran on the link outside a SQLAlchemy transaction

    def rollback(self) -> None:
        self._outbox = []
        if self._session is not None:
            self._session.rollback()
        if self._conn is not None and self._conn.in_transaction():
            self._conn.rollback()
        if self._link is not None:
            self._link.driver.rollback()


def _next_value(conn: Connection | Link, name: str) -> int:
    row = _DB.first(conn, "next", {"n": name})
    if row is not None:
        return int(row.value)
    _DB.execute(conn, "new_counter", {"name": name, "value": 1})
    return 1


