"""Scratch stores and small worlds for the service's tests and benchmarks (never used at run time).

`scratch_database` gives a migrated store of its own: a SQLite file, or a
uniquely named PostgreSQL database on the server at TOWER_TEST_PG (default
127.0.0.1:5432) that is dropped afterwards. Under CI (CI=true) an unreachable
PostgreSQL is an error, never a reason to skip.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, insert
from sqlmodel import Session

from core.exceptions import raise_exception
from core.models import (
    ActionRecord,
    Customer,
    Inventory,
    Lane,
    Location,
    Order,
    OrderException,
    OrderLine,
    Product,
)
from core.store import UnitOfWork
from policies.book import BOOK

PG_ADMIN = os.environ.get("TOWER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class PostgresUnavailable(RuntimeError):
    pass


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def postgres_reachable() -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        return f"PostgreSQL at {PG_ADMIN} is unreachable: {err}"
    return None


@contextmanager
def postgres_database(prefix: str = "tower") -> Iterator[str]:
    """A fresh database named `<prefix>_<random>`, dropped on exit; yields its SQLAlchemy URL."""
    if (why := postgres_reachable()) is not None:
        raise PostgresUnavailable(why)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{base.removeprefix('postgresql://')}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(kind: str, directory: Path, prefix: str = "tower") -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'{prefix}.db'}"
    elif kind == "postgresql":
        with postgres_database(prefix) as url:
            yield url
    else:
        raise ValueError(kind)


def seed_shop(engine: Engine) -> None:
    """Two warehouses serving US-NE and US-W; a trusted customer C-1 (address A-1) and a new one, C-2."""
    with Session(engine) as s:
        s.add_all([
            Location(id="DC-EAST", kind="warehouse", region="US-NE", handling_hours=24),
            Location(id="DC-WEST", kind="warehouse", region="US-W", handling_hours=24),
            Product(sku="LAMP-01", name="Brass desk lamp", price_cents=4_999),
            Product(sku="LAPTOP-14", name="14-inch laptop", price_cents=129_900),
            Customer(id="C-1", name="Dana Reyes", email="dana@example.com", delivered_orders=6,
                     delivered_addresses=["A-1"]),
            Customer(id="C-2", name="Ola Berg", email="ola@example.com"),
        ])
        s.flush()
        for loc, near in (("DC-EAST", "US-NE"), ("DC-WEST", "US-W")):
            for region in ("US-NE", "US-W"):
                far = region != near
                s.add(Lane(from_location=loc, to_region=region, service="standard",
                           transit_hours=120 if far else 48, cost_cents=1_000 if far else 600,
                           co2_grams=2_500 if far else 800))
                s.add(Lane(from_location=loc, to_region=region, service="express",
                           transit_hours=48 if far else 24, cost_cents=2_200 if far else 1_200,
                           co2_grams=4_000 if far else 1_200))
            for sku in ("LAMP-01", "LAPTOP-14"):
                s.add(Inventory(location=loc, sku=sku, on_hand=50, reserved=0))
        s.commit()


def seed_fraud_holds(engine: Engine, count: int, *, score: float = 0.1, at: datetime = T0,
                     sku: str = "LAMP-01", start: int = 1) -> list[str]:
    """`count` orders on hold, each with an open `fraud_hold` exception; returns the exception ids.

    Score below 0.30 → F1 (release, one effect); 0.90 or more → F4 (cancel, refund, notify: three effects).
    """
    price = 129_900 if sku == "LAPTOP-14" else 4_999
    ids: list[str] = []
    with UnitOfWork(engine) as uow:
        s = uow.session
        for n in range(start, start + count):
            oid = f"O-B{n:06d}"
            s.add(Order(id=oid, customer_id="C-1", placed_at=at, status="on_hold", ship_region="US-NE",
                        ship_address_id="A-1", shipping_method="standard", fee_cents=0,
                        promised_by=at + timedelta(days=5), captured_cents=price, fraud_score=score))
            s.flush()
            s.add(OrderLine(order_id=oid, line_no=1, sku=sku, qty=1, unit_price_cents=price, location="DC-EAST"))
            ids.append(raise_exception(uow, type="fraud_hold", order_id=oid, at=at,
                                       detail={"fraud_score": score}).id)
        uow.commit()
    return ids


WAITING_TYPES = ("delay", "stockout", "fraud_hold", "return_dispute")
"""What `seed_waiting` holds per exception type: actions with their arguments and the rule ids that held them."""
WAITING_ACTIONS: dict[str, list[tuple[str, dict[str, Any], list[str]]]] = {
    "delay": [("notify_customer", {"topic": "delay"}, ["D1", "A1"]),
              ("refund", {"reason": "shipping_fee"}, ["D3", "M2"])],
    "stockout": [("reallocate_line", {"line_no": 1, "to_location": "DC-WEST"}, ["S1", "A1"]),
                 ("cancel_line", {"line_no": 1}, ["S3"])],
    "fraud_hold": [("cancel_order", {}, ["F3"]), ("refund", {"reason": "order_cancel"}, ["F3", "M5"]),
                   ("notify_customer", {"topic": "verification"}, ["F2"])],
    "return_dispute": [("approve_return", {}, ["R3", "A1"]), ("deny_return", {}, ["R1"])],
}


def seed_waiting(engine: Engine, n: int, *, rng: random.Random, at: datetime = T0) -> None:
    """`n` waiting exceptions (raised up to 3 days before `at`) with 1-3 held actions each, shaped as the judge
    writes them, inserted in bulk in one transaction: a queue of thousands in seconds, not through the graph."""
    base = at
    orders, lines, excs, actions = [], [], [], []
    for i in range(n):
        oid, xid, kind = f"O-Q{i:06d}", f"EX-Q{i:06d}", WAITING_TYPES[i % len(WAITING_TYPES)]
        at = base - timedelta(minutes=rng.randrange(0, 72 * 60))
        price = rng.choice((4_999, 12_500, 129_900))
        orders.append({"id": oid, "customer_id": "C-1", "placed_at": at, "status": "on_hold", "ship_region": "US-NE",
                       "ship_address_id": "A-1", "shipping_method": "standard", "fee_cents": 500,
                       "promised_by": at + timedelta(hours=rng.randrange(12, 200)), "captured_cents": price,
                       "refunded_cents": 0, "fraud_score": 0.5, "goodwill_given": False})
        lines.append({"order_id": oid, "line_no": 1, "sku": "LAMP-01", "qty": 1, "unit_price_cents": price,
                      "location": "DC-EAST", "status": "open"})
        excs.append({"id": xid, "type": kind, "state": "awaiting_approval", "order_id": oid, "subject": oid,
                     "detail": {}, "raised_at": at, "updated_at": at, "audit_seq": 0})
        for k, (action, args, rules) in enumerate(WAITING_ACTIONS[kind][:rng.randint(1, len(WAITING_ACTIONS[kind]))]):
            args = dict(args)
            if action in ("refund", "approve_return"):
                args["amount_cents"] = rng.choice((500, 2_500, 9_900, price))
            lead = args.get("amount_cents", 0) > BOOK.money.lead_approval_over_cents
            actions.append({
                "exception_id": xid, "idempotency_key": f"{xid}:{k}:{action}", "action": action, "args": args,
                "status": "held", "planner": "rules", "confidence": rng.choice((0.3, 0.85, 0.97)),
                "rationale": "bench", "policy_version": BOOK.version, "required_role": "lead" if lead else "supervisor",
                "verdict": {"decision": "hold", "rule_ids": rules + (["M4"] if lead else []), "reasons": []},
                "proposed_at": at, "expires_at": base + timedelta(hours=rng.randrange(1, 72))})
    with engine.begin() as conn:
        conn.execute(insert(Order.__table__), orders)
        conn.execute(insert(OrderLine.__table__), lines)
        conn.execute(insert(OrderException.__table__), excs)
        conn.execute(insert(ActionRecord.__table__), actions)


def worker_command(url: str, worker_id: str, *, lease: float | None = None, exit_when_idle: bool = True) -> list[str]:
    """`tower worker` as a subprocess argv (via `python -m api.cli`, so no installed script is needed)."""
    import sys

    argv = [sys.executable, "-m", "api.cli", "worker", "--db", url, "--id", worker_id]
    if lease is not None:
        argv += ["--lease", str(lease)]
    return [*argv, "--exit-when-idle"] if exit_when_idle else argv


def drain_with_processes(url: str, workers: int, *, timeout: float = 300, prefix: str = "w") -> float:
    """Start `workers` worker processes on a seeded store, wait for all to exit; returns wall seconds."""
    import subprocess
    import time

    env = {**os.environ, "TOWER_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    procs = [subprocess.Popen(worker_command(url, f"{prefix}{i}"), env=env) for i in range(workers)]
    try:
        for p in procs:
            p.wait(timeout=max(1.0, timeout - (time.perf_counter() - started)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    if any(p.returncode != 0 for p in procs):
        raise RuntimeError(f"worker exit codes {[p.returncode for p in procs]}")
    return time.perf_counter() - started
