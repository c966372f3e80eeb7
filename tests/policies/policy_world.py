"""Tiny worlds for the policy-book tests, and the two ways to run one: the book's plan, or the whole graph.

A world is a plain dict in the case format (shared/spec/cases.md), so a test tweaks exactly the field
its rule reads. The default world: one region `R`, three locations with no handling time (so an
option's ETA is now + transit), one product, one standard customer, one order of one line, no
shipments and no returns. Times are fixed; nothing reads the wall clock.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from agents.planners.base import Plan, Planner
from agents.planners.rules import RulesPlanner
from agents.planners.scripted import ScriptedPlanner as ScriptPlanner
from agents.service import ActionView, WorkResult, work_exception
from core.clock import FixedClock
from core.exceptions import raise_exception
from core.facts import Facts, load_facts
from core.jsonvalue import iso
from core.models import Event
from core.store import UnitOfWork, fresh_memory_engine
from core.world import World, import_world
from policies.actions import Proposal
from policies.book import carbon_cents_per_kg
from policies.judge import Approval, Judgement, Verdict, judge, judge_batch
from policies.rules import BookPlan, Step, book_plan

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PROMISED = NOW + timedelta(hours=24)
REGION = "R"
SKU = "SKU-1"
PRICE = 10_000
BODY = "Hello, this is an update about your order."

World_ = dict[str, Any]


def hours(h: float) -> timedelta:
    """A duration in hours, exact to the second (11.99 h is 11 h 59 min 24 s)."""
    return timedelta(seconds=round(h * 3600))


def lane(frm: str, service: str = "standard", *, transit: float = 48, cost: int = 500, co2: int = 0,
         to: str = REGION) -> dict[str, Any]:
    return {"from": frm, "to_region": to, "service": service, "transit_hours": transit,
            "cost_cents": cost, "co2_grams": co2}


def location(id_: str, *, handling: float = 0, kind: str = "warehouse") -> dict[str, Any]:
    return {"id": id_, "kind": kind, "region": REGION, "handling_hours": handling}


def product(sku: str, *, price: int = PRICE, returnable: bool = True,
            restock_at: datetime | None = None) -> dict[str, Any]:
    return {"sku": sku, "name": f"Product {sku}", "price_cents": price, "returnable": returnable,
            "restock_at": iso(restock_at) if restock_at else None}


def line(sku: str = SKU, *, qty: int = 1, price: int = PRICE, at: str = "WH-A",
         status: str = "open") -> dict[str, Any]:
    return {"sku": sku, "qty": qty, "unit_price_cents": price, "location": at, "status": status}


_BASE: World_ = {
    "locations": [location("WH-A"), location("WH-B"), location("WH-C")],
    "lanes": [lane("WH-A", transit=48, cost=500)],
    "products": [product(SKU)],
    "inventory": [{"location": "WH-A", "sku": SKU, "on_hand": 10, "reserved": 0}],
    "customers": [{
        "id": "C-1", "name": "Dana Reyes", "email": "dana@example.com", "tier": "standard",
        "locale": "en-US", "delivered_orders": 6, "chargebacks": 0, "refunds_90d": 0, "returns_90d": 0,
        "delivered_addresses": ["A-1"],
    }],
    "orders": [{
        "id": "O-1", "customer": "C-1", "placed_at": iso(NOW - timedelta(days=3)), "status": "allocated",
        "ship_to": {"region": REGION, "address_id": "A-1"},
        "shipping": {"method": "standard", "fee_cents": 0, "promised_by": iso(PROMISED)},
        "lines": [line()],
        "payment": {"captured_cents": PRICE, "refunded_cents": 0},
        "fraud_score": 0.02, "goodwill_given": False, "shipments": [], "returns": [],
    }],
}


def make_world() -> World_:
    """A fresh copy of the default world, safe to tweak."""
    return copy.deepcopy(_BASE)


def order(w: World_) -> dict[str, Any]:
    return w["orders"][0]


def customer(w: World_) -> dict[str, Any]:
    return w["customers"][0]


def set_lines(w: World_, *lines: dict[str, Any], fee: int = 0) -> None:
    """Replace the order's lines; captured = merchandise + fee, nothing refunded yet."""
    o = order(w)
    o["lines"] = list(lines)
    o["shipping"]["fee_cents"] = fee
    o["payment"] = {"captured_cents": sum(x["qty"] * x["unit_price_cents"] for x in lines) + fee,
                    "refunded_cents": 0}
    known = {p["sku"] for p in w["products"]}
    w["products"] += [product(x["sku"], price=x["unit_price_cents"]) for x in lines if x["sku"] not in known]


def set_stock(w: World_, loc: str, sku: str = SKU, on_hand: int = 10, reserved: int = 0) -> None:
    w["inventory"] = [x for x in w["inventory"] if (x["location"], x["sku"]) != (loc, sku)]
    w["inventory"].append({"location": loc, "sku": sku, "on_hand": on_hand, "reserved": reserved})


def set_method(w: World_, method: str, fee: int = 0) -> None:
    o = order(w)
    o["shipping"]["method"] = method
    o["shipping"]["fee_cents"] = fee
    o["payment"]["captured_cents"] = sum(x["qty"] * x["unit_price_cents"] for x in o["lines"]) + fee


def add_shipment(w: World_, *, id_: str = "S-1", status: str = "in_transit", eta: datetime = PROMISED,
                 at: str = "WH-A", service: str = "standard", delivered_at: datetime | None = None,
                 scan: bool = False, items: Sequence[tuple[str, int]] | None = None) -> dict[str, Any]:
    o = order(w)
    goods = items if items is not None else [(x["sku"], x["qty"]) for x in o["lines"]]
    shipment = {"id": id_, "location": at, "service": service, "status": status, "eta": iso(eta),
                "lines": [{"sku": s, "qty": q} for s, q in goods],
                "delivered_at": iso(delivered_at) if delivered_at else None, "carrier_delivered_scan": scan}
    o["shipments"].append(shipment)
    line_status = {"delivered": "delivered", "created": "open", "picked": "open"}.get(status, "shipped")
    for x in o["lines"]:
        if x["sku"] in {s for s, _ in goods} and x["status"] == "open":
            x["status"] = line_status
    o["status"] = {"delivered": "delivered", "created": "in_fulfillment", "picked": "in_fulfillment"}.get(
        status, "shipped")
    return shipment


def add_return(w: World_, reason: str | None, *, id_: str = "R-1", evidence: bool = True, claim: str = "",
               items: Sequence[tuple[str, int]] | None = None, status: str = "disputed") -> dict[str, Any]:
    o = order(w)
    goods = items if items is not None else [(x["sku"], x["qty"]) for x in o["lines"]]
    ret = {"id": id_, "lines": [{"sku": s, "qty": q} for s, q in goods], "reason": reason,
           "evidence": evidence, "claim": claim, "status": status}
    o["returns"].append(ret)
    return ret


# --- running a world ---------------------------------------------------------------------------

@dataclass
class Case:
    engine: Engine
    exception_id: str
    now: datetime
    carbon_cents_per_kg: int

    def facts(self) -> Facts:
        with UnitOfWork(self.engine) as uow:
            return load_facts(uow.session, self.exception_id, self.now, self.carbon_cents_per_kg)

    def plan(self, reason: str | None = None) -> BookPlan:
        return book_plan(self.facts(), reason=reason)

    def judge(self, proposals: Sequence[Proposal], approval: Approval | None = None) -> list[Verdict]:
        return judge(proposals, self.facts(), approval=approval)

    def judge_batch(self, proposals: Sequence[Proposal], facts: Facts | None = None) -> Judgement:
        return judge_batch(proposals, facts or self.facts())

    def wait_reason(self) -> str | None:
        """The reason recorded when the exception last moved to awaiting_approval (None if it never did)."""
        with UnitOfWork(self.engine) as uow:
            rows = uow.session.execute(select(Event.data).where(
                Event.aggregate_id == self.exception_id, Event.type == "exception.awaiting_approval")
                .order_by(Event.seq)).scalars().all()
        return rows[-1].get("reason") if rows else None

    def work(self, planner: Planner | None = None) -> Outcome:
        return Outcome(work_exception(self.engine, self.exception_id, clock=FixedClock(self.now),
                                      planner=planner, carbon_cents_per_kg=self.carbon_cents_per_kg))


def open_case(w: World_, type_: str, *, now: datetime = NOW, **exception: Any) -> Case:
    """Import the world into a fresh store and raise one exception on order O-1."""
    world = World.model_validate(w)
    engine = fresh_memory_engine()
    import_world(engine, world)
    with UnitOfWork(engine) as uow:
        exc = raise_exception(uow, type=type_, order_id="O-1", at=now, **exception)
        uow.commit()
        exception_id = exc.id
    return Case(engine, exception_id, now, carbon_cents_per_kg(world.settings.carbon_cents_per_kg))


def delay_case(w: World_, *, now: datetime = NOW) -> Case:
    return open_case(w, "delay", now=now, shipment_id="S-1")


def stockout_case(w: World_, *, short: int = 1, at: str = "WH-A", sku: str = SKU) -> Case:
    return open_case(w, "stockout", sku=sku, location=at, short_qty=short)


def fraud_case(w: World_) -> Case:
    return open_case(w, "fraud_hold")


def return_case(w: World_, *, now: datetime = NOW) -> Case:
    return open_case(w, "return_dispute", now=now, return_id="R-1")


@dataclass
class Outcome:
    """What the graph did, in the shape the book talks about."""

    result: WorkResult

    @property
    def state(self) -> str:
        return self.result.state

    @property
    def outcome(self) -> str:
        return self.result.outcome

    def with_status(self, status: str) -> list[ActionView]:
        return [a for a in self.result.actions if a.status == status]

    def applied(self) -> list[str]:
        return sorted(a.action for a in self.with_status("applied"))

    def held(self) -> list[str]:
        return sorted(a.action for a in self.with_status("held"))

    def denied(self) -> list[str]:
        return sorted(a.action for a in self.with_status("denied"))

    def one(self, action: str, **args: Any) -> ActionView:
        """The single action of this name (applied, held or denied) whose args include these."""
        found = [a for a in self.result.actions
                 if a.action == action and all(a.args.get(k) == v for k, v in args.items())]
        assert len(found) == 1, f"expected one {action} {args}, got {self.describe()}"
        return found[0]

    def describe(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(a.status, a.action, {k: v for k, v in a.args.items() if k != "body"})
                for a in self.result.actions]


# --- reading a plan ----------------------------------------------------------------------------

def actions(plan: BookPlan) -> list[str]:
    return sorted(s.action for s in plan.steps)


def step(plan: BookPlan, action: str) -> Step:
    found = [s for s in plan.steps if s.action == action]
    assert len(found) == 1, f"expected one {action}, got {[(s.action, s.args) for s in plan.steps]}"
    return found[0]


def proposal(s: Step, *, confidence: float = 1.0, body: str = BODY) -> Proposal:
    """The book's step as a planner would propose it (a notify gets a harmless body)."""
    args = dict(s.args)
    if s.action == "notify_customer":
        args["body"] = body
    return Proposal(action=s.action, args=args, confidence=confidence, rule_ids=s.rule_ids)


def script(*entries: Any) -> ScriptPlanner:
    """The scripted planner of recorded cases (`proposals`): exactly these entries for the first plan."""
    return ScriptPlanner(entries, then=RulesPlanner())


class ScriptedPlanner:
    """A planner that proposes the book's plan with a chosen message body, plus any extra proposals."""

    name = "scripted"
    version = "test"

    def __init__(self, body: str = BODY, extra: Sequence[Proposal] = ()) -> None:
        self.body, self.extra = body, tuple(extra)

    def plan(self, facts: Facts) -> Plan:
        proposals = tuple(proposal(s, body=self.body) for s in book_plan(facts).steps)
        return Plan(proposals=self.extra + proposals, planner=self.name, version=self.version)
