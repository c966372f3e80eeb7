"""The cursor-level runner writes and reads exactly what `Connection.execute` would, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.exc import IntegrityError

from core.models import Customer, Event, Product
from core.sqlfast import Statements, bind_converter, result_converter
from core.store import fresh_memory_engine, make_engine, migrate

PG_URL = os.environ.get("TOWER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_E, _C, _P = Event.__table__, Customer.__table__, Product.__table__
DB = Statements({
    "event": sa.insert(_E),
    "events": sa.select(_E.c.seq, _E.c.at, _E.c.data, _E.c.published).order_by(_E.c.seq),
    "customer": sa.insert(_C),
    "set_customer": sa.update(_C).where(_C.c.id == bindparam("key")),
    "bump": sa.update(_C).where(_C.c.id == bindparam("key")).values(delivered_orders=_C.c.delivered_orders + 1)
            .returning(_C.c.delivered_addresses, _C.c.delivered_orders),
    "product": sa.insert(_P),
    "prices": sa.select(_P.c.sku, _P.c.price_cents).where(_P.c.sku.in_(bindparam("skus", expanding=True)))
              .order_by(_P.c.sku),
})
AT = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield fresh_memory_engine()
        return
    schema = f"fast_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_rows_written_by_the_runner_read_back_the_same_through_core_and_the_runner(store: Engine) -> None:
    rows = [{"at": AT, "type": "order.placed", "aggregate": "order", "aggregate_id": "O-1",
             "data": {"lines": [{"sku": "A", "qty": 1}], "eta": "2026-03-03T00:00:00Z"}, "published": False},
            {"at": AT, "type": "order.screened", "aggregate": "order", "aggregate_id": "O-1",
             "data": {"previous": "placed"}, "published": True}]
    with store.begin() as conn:
        assert DB.executemany(conn, "event", rows) == 2
    with store.connect() as conn:
        core = [tuple(r) for r in conn.execute(DB.statements["events"])]
        fast = DB.tuples(conn, "events")
    assert fast == core
    assert [r[1:] for r in fast] == [(AT, rows[0]["data"], False), (AT, rows[1]["data"], True)]


def test_json_lists_are_values_not_in_lists_and_returning_comes_back_converted(store: Engine) -> None:
    with store.begin() as conn:
        DB.execute(conn, "customer", {"id": "C-1", "name": "Ada", "email": "ada@example.com"})
        assert DB.execute(conn, "set_customer", {"key": "C-1", "delivered_addresses": ["A-1", "A-2"]}) == 1
        bumped = DB.first(conn, "bump", {"key": "C-1"})
        assert DB.first(conn, "bump", {"key": "nobody"}) is None
    assert bumped is not None and (bumped.delivered_addresses, bumped.delivered_orders) == (["A-1", "A-2"], 1)
    with store.connect() as conn:
        stored = conn.execute(sa.select(_C.c.tier, _C.c.chargebacks)).one()
    assert tuple(stored) == ("standard", 0), "scalar column defaults are filled as Core fills them"


def test_in_lists_of_any_length_each_get_their_own_compiled_form(store: Engine) -> None:
    with store.begin() as conn:
        DB.executemany(conn, "product", [{"sku": f"S{n}", "name": "x", "price_cents": n} for n in range(4)])
        assert DB.tuples(conn, "prices", {"skus": ["S1"]}) == [("S1", 1)]
        assert DB.tuples(conn, "prices", {"skus": ["S3", "S0", "nope"]}) == [("S0", 0), ("S3", 3)]


def test_driver_errors_surface_as_sqlalchemy_errors(store: Engine) -> None:
    with store.connect() as conn:
        DB.execute(conn, "customer", {"id": "C-1", "name": "Ada", "email": "ada@example.com"})
        with pytest.raises(IntegrityError):
            DB.execute(conn, "customer", {"id": "C-1", "name": "Ada", "email": "ada@example.com"})
        conn.rollback()


def test_naive_datetimes_are_refused_as_the_column_type_refuses_them(store: Engine) -> None:
    with store.connect() as conn, pytest.raises(ValueError, match="naive datetime"):
        DB.execute(conn, "event", {"at": datetime(2026, 3, 2), "type": "x.y", "aggregate": "x",
                                   "aggregate_id": "1", "data": {}, "published": False})


@pytest.mark.parametrize("at", [AT, datetime(2026, 3, 2, tzinfo=UTC), datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
                                datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=2)))])
def test_the_explicit_sqlite_datetime_conversion_is_sqlalchemys_own(at: datetime) -> None:
    dialect = fresh_memory_engine().dialect
    column = _E.c.at.type
    theirs_in, theirs_out = column._cached_bind_processor(dialect), column._cached_result_processor(dialect, None)
    ours_in, ours_out = bind_converter(column, dialect), result_converter(column, dialect, None)
    assert ours_in is not None and ours_out is not None
    assert ours_in(at) == theirs_in(at)
    assert ours_out(ours_in(at)) == theirs_out(theirs_in(at)) == at
    assert ours_in(None) is None and ours_out(None) is None


def test_a_none_for_a_json_column_is_stored_as_json_null_as_core_stores_it() -> None:
    engine = fresh_memory_engine()
    row = {"at": AT, "type": "x.y", "aggregate": "x", "aggregate_id": "1", "published": False}
    with engine.begin() as conn:
        conn.execute(sa.insert(_E), {**row, "data": None})
        DB.execute(conn, "event", {**row, "data": None})
        stored = conn.execute(text("SELECT data FROM event ORDER BY seq")).scalars().all()
    assert stored[0] == stored[1]
