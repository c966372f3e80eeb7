"""Stock in the store: the conditional UPDATEs keep ATP ≥ 0 on SQLite, and on PostgreSQL under a race."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import Session

from core.models import Inventory, Location, Product
from core.services import consume_stock, release_stock, reserve_stock
from core.store import fresh_memory_engine, make_engine, migrate

PG_URL = os.environ.get("TOWER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def seed_stock(engine: Engine, on_hand: int) -> None:
    with Session(engine) as s:
        s.add_all([Location(id="WH", kind="warehouse", region="east", handling_hours=1),
                   Product(sku="SKU", name="Widget", price_cents=100)])
        s.flush()
        s.add(Inventory(location="WH", sku="SKU", on_hand=on_hand, reserved=0))
        s.commit()


def read_stock(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        inv = s.get(Inventory, ("WH", "SKU"))
        assert inv is not None
        return inv.on_hand, inv.reserved


SQL_OPS = {"reserve": reserve_stock, "release": release_stock, "consume": consume_stock}


@settings(max_examples=60, deadline=None)
@given(start=st.integers(min_value=0, max_value=6),
       ops=st.lists(st.tuples(st.sampled_from(sorted(SQL_OPS)), st.integers(min_value=1, max_value=4)),
                    max_size=25))
def test_stored_stock_never_goes_below_zero_atp_over_random_operations(
        start: int, ops: list[tuple[str, int]]) -> None:
    engine = fresh_memory_engine()
    seed_stock(engine, start)
    for name, qty in ops:
        before = read_stock(engine)
        with Session(engine) as s:
            done = SQL_OPS[name](s, "WH", "SKU", qty)
            s.commit()
        on_hand, reserved = read_stock(engine)
        if not done:
            assert (on_hand, reserved) == before
        assert 0 <= reserved <= on_hand


@pytest.mark.postgres
def test_two_sessions_racing_for_the_last_unit_on_postgres_exactly_one_wins() -> None:
    """Real threads, real connections; its own schema, dropped afterwards. No server: this fails."""
    schema = f"race_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_size=4)
    try:
        migrate(engine)
        seed_stock(engine, on_hand=1)
        barrier = threading.Barrier(2)
        results: list[bool] = []
        errors: list[BaseException] = []

        def contend() -> None:
            try:
                with Session(engine) as s:
                    s.execute(text("SELECT 1"))
                    barrier.wait(timeout=10)
                    won = reserve_stock(s, "WH", "SKU", 1)
                    time.sleep(0.2)  # hold the row lock so the loser really waits on it
                    s.commit()
                    results.append(won)
            except BaseException as e:  # surfaced below: a thread's failure must fail the test
                errors.append(e)

        threads = [threading.Thread(target=contend) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        assert sorted(results) == [False, True]
        assert read_stock(engine) == (1, 1)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
