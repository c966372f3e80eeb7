"""Orders per second through the whole lifecycle on a SQLite file, beside a raw sqlite3 loop.

Both sides run in the same process on the same machine, each on its own
freshly migrated file with the same pragmas (WAL, synchronous=NORMAL), and
write the same rows with one transaction per transition: place, screen,
allocate, pick, dispatch, deliver (six commits an order, every change with
its outbox events). The raw loop is the floor the service layer's overhead
is measured against; after timing, both stores are compared table by table
(events included) and the run says whether they hold the same rows.

    .venv/bin/python bench/lifecycle.py [--orders 2000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from core import services
from core.detectors import Triggers
from core.jsonvalue import iso
from core.models import Customer, Inventory, Lane, Location, Product
from core.services import CarrierUpdate, LineRequest, OmsRules, PlaceOrder
from core.store import open_store
from policies.book import BOOK

T0 = datetime(2026, 3, 2, tzinfo=UTC)
RULES = OmsRules(Triggers(BOOK.triggers.delay_hours, BOOK.triggers.fraud_hold_score),
                 BOOK.carbon.cents_per_kg_default)
SKUS = [f"SKU-{n:03d}" for n in range(20)]


def seed(engine: Engine, orders: int) -> None:
    with Session(engine) as s:
        s.add_all([Location(id="WH-1", kind="warehouse", region="east", handling_hours=4),
                   Customer(id="C-1", name="Bench", email="bench@example.com"),
                   *[Product(sku=k, name=k, price_cents=1_000) for k in SKUS]])
        s.flush()
        s.add_all([Lane(from_location="WH-1", to_region="east", service="standard", transit_hours=20,
                        cost_cents=600, co2_grams=900),
                   *[Inventory(location="WH-1", sku=k, on_hand=orders * 2, reserved=0) for k in SKUS]])
        s.commit()


def run_services(engine: Engine, orders: int) -> None:
    for n in range(orders):
        at = T0 + timedelta(minutes=n)
        oid = services.place_order(engine, PlaceOrder(
            customer_id="C-1", ship_region="east", ship_address_id="A-1", shipping_method="standard",
            fee_cents=500, promised_by=at + timedelta(hours=48),
            lines=(LineRequest(SKUS[n % len(SKUS)], 1),)), at=at, rules=RULES)
        services.screen_order(engine, oid, 0.05, at=at, rules=RULES)
        (sid,) = services.allocate_order(engine, oid, at=at, rules=RULES).shipments
        services.pick_shipment(engine, sid, at=at + timedelta(hours=2))
        services.dispatch_shipment(engine, sid, at=at + timedelta(hours=4))
        services.carrier_update(engine, sid, CarrierUpdate("delivered"), at=at + timedelta(hours=24),
                                rules=RULES)


def _ts(at: datetime) -> str:
    """A datetime as SQLAlchemy stores it on SQLite, so both sides write the same bytes."""
    return at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def run_raw(path: Path, orders: int) -> None:
    """The same rows as the service layer writes, by hand: one transaction per transition."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")

    def emit(type_: str, ident: str, at: datetime, **data: object) -> None:
        db.execute("INSERT INTO event (at, type, aggregate, aggregate_id, data, published) "
                   "VALUES (?,?,?,?,?,0)", (_ts(at), type_, type_.split(".")[0], ident, json.dumps(data)))

    def tx(fn: Callable[[], None]) -> None:
        db.execute("BEGIN")
        fn()
        db.execute("COMMIT")

    def next_id(name: str, prefix: str) -> str:
        row = db.execute("UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value",
                         (name,)).fetchone()
        if row is None:
            db.execute("INSERT INTO counter (name, value) VALUES (?, 1)", (name,))
            return f"{prefix}000001"
        return f"{prefix}{row[0]:06d}"

    for n in range(orders):
        at = T0 + timedelta(minutes=n)
        sku = SKUS[n % len(SKUS)]
        ids: dict[str, str] = {}

        def place(at: datetime = at, sku: str = sku, ids: dict[str, str] = ids) -> None:
            oid = ids["order"] = next_id("order", "O-")
            db.execute("INSERT INTO orders (id, customer_id, placed_at, status, ship_region, "
                       "ship_address_id, shipping_method, fee_cents, promised_by, captured_cents, "
                       "refunded_cents, fraud_score, goodwill_given) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (oid, "C-1", _ts(at), "placed", "east", "A-1", "standard", 500,
                        _ts(at + timedelta(hours=48)), 1_500, 0, 0.0, 0))
            db.execute("INSERT INTO orderline (order_id, line_no, sku, qty, unit_price_cents, location, "
                       "status, reserved) VALUES (?,?,?,?,?,?,?,?)",
                       (oid, 1, sku, 1, 1_000, "WH-1", "open", 0))
            emit("order.placed", oid, at, customer_id="C-1", shipping_method="standard",
                 promised_by=iso(at + timedelta(hours=48)), captured_cents=1_500, lines=[{"sku": sku, "qty": 1}])

        def screen(at: datetime = at, ids: dict[str, str] = ids) -> None:
            db.execute("UPDATE orders SET fraud_score = ? WHERE id = ?", (0.05, ids["order"]))
            emit("order.screened", ids["order"], at, previous="placed", fraud_score=0.05)

        def allocate(at: datetime = at, sku: str = sku, ids: dict[str, str] = ids) -> None:
            oid = ids["order"]
            db.execute("UPDATE orders SET status = 'allocated' WHERE id = ?", (oid,))
            emit("order.allocated", oid, at, previous="placed")
            cur = db.execute("UPDATE inventory SET reserved = reserved + 1 WHERE location = 'WH-1' "
                             "AND sku = ? AND on_hand - reserved >= 1", (sku,))
            assert cur.rowcount == 1
            db.execute("UPDATE orderline SET location = 'WH-1', reserved = 1 "
                       "WHERE order_id = ? AND line_no = 1", (oid,))
            emit("stock.reserved", f"WH-1/{sku}", at, qty=1, order_id=oid)
            sid = ids["shipment"] = next_id("shipment", "S-")
            db.execute("INSERT INTO shipment (id, order_id, location, service, status, eta, "
                       "carrier_delivered_scan, created_at) VALUES (?,?,?,?,?,?,?,?)",
                       (sid, oid, "WH-1", "standard", "created", _ts(at + timedelta(hours=24)), 0, _ts(at)))
            db.execute("INSERT INTO shipmentline (shipment_id, sku, qty) VALUES (?,?,?)", (sid, sku, 1))
            emit("shipment.created", sid, at, order_id=oid, location="WH-1", service="standard",
                 eta=iso(at + timedelta(hours=24)), lines=[{"sku": sku, "qty": 1}])

        def pick(at: datetime = at, ids: dict[str, str] = ids) -> None:
            db.execute("UPDATE shipment SET status = 'picked' WHERE id = ?", (ids["shipment"],))
            emit("shipment.picked", ids["shipment"], at, previous="created", order_id=ids["order"])
            db.execute("UPDATE orders SET status = 'in_fulfillment' WHERE id = ?", (ids["order"],))
            emit("order.in_fulfillment", ids["order"], at, previous="allocated")

        def dispatch(at: datetime = at, sku: str = sku, ids: dict[str, str] = ids) -> None:
            db.execute("UPDATE shipment SET status = 'in_transit', dispatched_at = ? WHERE id = ?",
                       (_ts(at), ids["shipment"]))
            emit("shipment.dispatched", ids["shipment"], at, previous="picked", order_id=ids["order"],
                 eta=iso(at + timedelta(hours=20)))
            cur = db.execute("UPDATE inventory SET on_hand = on_hand - 1, reserved = reserved - 1 "
                             "WHERE location = 'WH-1' AND sku = ? AND reserved >= 1", (sku,))
            assert cur.rowcount == 1
            db.execute("UPDATE orderline SET status = 'shipped', reserved = 0 "
                       "WHERE order_id = ? AND line_no = 1", (ids["order"],))
            emit("line.shipped", f"{ids['order']}/1", at, previous="open", shipment_id=ids["shipment"])
            db.execute("UPDATE orders SET status = 'shipped' WHERE id = ?", (ids["order"],))
            emit("order.shipped", ids["order"], at, previous="in_fulfillment")

        def deliver(at: datetime = at, ids: dict[str, str] = ids) -> None:
            db.execute("UPDATE shipment SET status = 'delivered', delivered_at = ?, "
                       "carrier_delivered_scan = 1 WHERE id = ?", (_ts(at), ids["shipment"]))
            emit("shipment.delivered", ids["shipment"], at, previous="in_transit", order_id=ids["order"],
                 scan=True)
            db.execute("UPDATE orderline SET status = 'delivered' WHERE order_id = ? AND line_no = 1",
                       (ids["order"],))
            emit("line.delivered", f"{ids['order']}/1", at, previous="shipped", shipment_id=ids["shipment"])
            db.execute("UPDATE orders SET status = 'delivered' WHERE id = ?", (ids["order"],))
            emit("order.delivered", ids["order"], at, previous="shipped")
            (addresses,) = db.execute("UPDATE customer SET delivered_orders = delivered_orders + 1 "
                                      "WHERE id = 'C-1' RETURNING delivered_addresses").fetchone()
            if "A-1" not in json.loads(addresses):
                db.execute("UPDATE customer SET delivered_addresses = ? WHERE id = 'C-1'",
                           (json.dumps([*json.loads(addresses), "A-1"]),))

        tx(place)
        tx(screen)
        tx(allocate)
        tx(lambda at=at + timedelta(hours=2): pick(at))
        tx(lambda at=at + timedelta(hours=4): dispatch(at))
        tx(lambda at=at + timedelta(hours=24): deliver(at))
    db.close()


TABLES = ("orders", "orderline", "shipment", "shipmentline", "inventory", "customer", "counter", "event")


def differing_tables(a: Path, b: Path) -> list[str]:
    """Tables whose rows differ between two stores: the raw loop must write exactly what the services write."""
    with sqlite3.connect(a) as x, sqlite3.connect(b) as y:
        return [t for t in TABLES
                if x.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                != y.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        oms_path, raw_path = Path(tmp) / "oms.db", Path(tmp) / "raw.db"
        oms = open_store(f"sqlite:///{oms_path}")
        seed(oms, args.orders)
        t = time.perf_counter()
        run_services(oms, args.orders)
        oms_rate = args.orders / (time.perf_counter() - t)
        oms.dispose()

        raw = open_store(f"sqlite:///{raw_path}")
        seed(raw, args.orders)
        raw.dispose()
        t = time.perf_counter()
        run_raw(raw_path, args.orders)
        raw_rate = args.orders / (time.perf_counter() - t)
        differ = differing_tables(oms_path, raw_path)

    print(f"orders through the lifecycle (6 transactions each), {args.orders} orders, SQLite file:")
    print(f"  service layer  {oms_rate:10.1f} orders/s")
    print(f"  raw sqlite3    {raw_rate:10.1f} orders/s")
    print(f"  ratio          {oms_rate / raw_rate:10.3f}  (service / raw; aim: >= 0.5)")
    print(f"  same rows      {'yes' if not differ else 'NO: ' + ', '.join(differ)}")


if __name__ == "__main__":
    main()
