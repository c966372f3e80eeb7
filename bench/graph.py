"""Exceptions per second through the exception graph with the rules planner, on a SQLite file.

Builds a synthetic shop (every exception type, the common rules), raises N
exceptions, and works each through the same graph the worker runs with the
durable SQLite checkpointer in the same database file. Prints throughput and
p50/p99 latency beside two baselines: the target of issue 3 (100/s, p99 under
50 ms) and the policy alone (facts → book plan → verdicts, no graph, no writes).

    .venv/bin/python bench/graph.py --exceptions 1000
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from sqlmodel import Session

from agents.service import work_exception
from core.clock import FixedClock
from core.exceptions import raise_exception
from core.facts import load_facts
from core.jsonvalue import iso
from core.store import UnitOfWork, open_store
from core.world import World, import_world
from policies.actions import Proposal
from policies.judge import judge
from policies.rules import book_plan

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
KINDS = ("delay_express", "delay_recover", "stockout", "fraud_release", "fraud_cancel", "return_damaged")


def world(n: int) -> tuple[World, list[dict[str, Any]]]:
    locations = [{"id": "DC-1", "kind": "warehouse", "region": "R1", "handling_hours": 24},
                 {"id": "ST-1", "kind": "store", "region": "R1", "handling_hours": 4},
                 {"id": "DC-2", "kind": "warehouse", "region": "R2", "handling_hours": 24}]
    lanes = [{"from": loc["id"], "to_region": "R1", "service": svc, "transit_hours": hours + (0 if loc["region"] == "R1"
                                                                                             else 48),
              "cost_cents": cost, "co2_grams": co2}
             for loc in locations for svc, hours, cost, co2 in
             (("standard", 48, 600, 800), ("express", 24, 1200, 1200), ("same_day", 8, 2500, 2000))]
    products = [{"sku": "A", "name": "Lamp", "price_cents": 4999, "returnable": True, "restock_at": None}]
    inventory = [{"location": "DC-1", "sku": "A", "on_hand": 0, "reserved": 0},
                 {"location": "ST-1", "sku": "A", "on_hand": 10 * n, "reserved": 0},
                 {"location": "DC-2", "sku": "A", "on_hand": 10 * n, "reserved": 0}]
    customers, orders, exceptions = [], [], []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        oid, cid = f"O-{i}", f"C-{i}"
        customers.append({"id": cid, "name": f"Customer {i}", "email": f"c{i}@example.com", "tier": "gold",
                          "locale": "en-US", "delivered_orders": 5, "chargebacks": 0, "refunds_90d": 0,
                          "returns_90d": 0, "delivered_addresses": [f"A-{i}"]})
        order: dict[str, Any] = {
            "id": oid, "customer": cid, "placed_at": iso(NOW - timedelta(days=3)), "status": "allocated",
            "ship_to": {"region": "R1", "address_id": f"A-{i}"},
            "shipping": {"method": "standard", "fee_cents": 0, "promised_by": iso(NOW + timedelta(hours=60))},
            "lines": [{"sku": "A", "qty": 1, "unit_price_cents": 4999, "location": "DC-1", "status": "open"}],
            "payment": {"captured_cents": 4999, "refunded_cents": 0}, "fraud_score": 0.02,
            "goodwill_given": False, "shipments": [], "returns": []}
        shipment = {"id": f"S-{i}", "location": "DC-1", "service": "standard", "status": "in_transit",
                    "eta": iso(NOW + timedelta(hours=30)), "lines": [{"sku": "A", "qty": 1}],
                    "delivered_at": None, "carrier_delivered_scan": False}
        spec: dict[str, Any] = {"type": "delay", "order_id": oid, "shipment_id": f"S-{i}"}
        if kind == "delay_express":
            order.update(status="shipped", shipping={"method": "express", "fee_cents": 1500,
                                                     "promised_by": iso(NOW)},
                         payment={"captured_cents": 6499, "refunded_cents": 0})
            order["lines"][0]["status"] = "shipped"
            order["shipments"] = [shipment]
        elif kind == "delay_recover":
            order["shipping"]["promised_by"] = iso(NOW + timedelta(hours=40))
            order["shipments"] = [{**shipment, "status": "created", "eta": iso(NOW + timedelta(hours=72))}]
        elif kind == "stockout":
            spec = {"type": "stockout", "order_id": oid, "sku": "A", "location": "DC-1", "short_qty": 1}
        elif kind in ("fraud_release", "fraud_cancel"):
            order.update(status="on_hold", fraud_score=0.45 if kind == "fraud_release" else 0.95)
            spec = {"type": "fraud_hold", "order_id": oid}
        else:
            order.update(status="delivered")
            order["lines"][0]["status"] = "delivered"
            order["shipments"] = [{**shipment, "status": "delivered", "eta": iso(NOW - timedelta(days=5)),
                                   "delivered_at": iso(NOW - timedelta(days=5)), "carrier_delivered_scan": True}]
            order["returns"] = [{"id": f"R-{i}", "lines": [{"sku": "A", "qty": 1}], "reason": "damaged",
                                 "evidence": True, "claim": "Arrived broken.", "status": "disputed"}]
            spec = {"type": "return_dispute", "order_id": oid, "return_id": f"R-{i}"}
        orders.append(order)
        exceptions.append(spec)
    w = World.model_validate({"locations": locations, "lanes": lanes, "products": products, "inventory": inventory,
                              "customers": customers, "orders": orders})
    return w, exceptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exceptions", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        engine = open_store(f"sqlite:///{db}")
        w, specs = world(args.exceptions)
        import_world(engine, w)
        ids = []
        with UnitOfWork(engine) as uow:
            for spec in specs:
                spec = dict(spec)
                ids.append(raise_exception(uow, type=spec.pop("type"), at=NOW, **spec).id)
            uow.commit()

        policy_start = time.perf_counter()
        with Session(engine) as s:
            for xid in ids:
                facts = load_facts(s, xid, NOW, 10)
                plan = book_plan(facts)
                judge([Proposal(action=st.action, args={**st.args, "body": "Hello."}, confidence=1.0)
                       for st in plan.steps], facts)
        policy_rate = len(ids) / (time.perf_counter() - policy_start)

        conn = sqlite3.connect(db, check_same_thread=False)
        conn.execute("PRAGMA synchronous=NORMAL")  # as the service runs it (api/runtime.make_checkpointer)
        saver = SqliteSaver(conn)
        saver.setup()
        clock = FixedClock(NOW)
        latencies, states = [], {}
        start = time.perf_counter()
        for xid in ids:
            t = time.perf_counter()
            result = work_exception(engine, xid, clock=clock, checkpointer=saver)
            latencies.append((time.perf_counter() - t) * 1000)
            states[result.state] = states.get(result.state, 0) + 1
        elapsed = time.perf_counter() - start
    rate = len(ids) / elapsed
    q = statistics.quantiles(latencies, n=100)
    print(f"exceptions:        {len(ids)} ({', '.join(f'{k} {v}' for k, v in sorted(states.items()))})")
    print(f"graph throughput:  {rate:8.1f} exceptions/s   (target: 100/s)")
    print(f"latency p50 / p99: {q[49]:6.1f} / {q[98]:6.1f} ms   (target: p99 < 50 ms)")
    print(f"policy alone:      {policy_rate:8.1f} exceptions/s   (facts + book plan + judge, no graph, no writes)")


if __name__ == "__main__":
    main()
