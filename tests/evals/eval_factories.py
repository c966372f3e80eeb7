"""Tiny inline cases and a fake agents layer, so the suite machinery is tested without the agents.

A uniquely named module (not conftest) so tests can import it by name.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from evals.cli import make_eval_app
from evals.loader import load_suite
from evals.runner import run_suite

SHARED_CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOOSER_POLICY = FIXTURES / "looser_policy.json"

_WORLD: dict[str, Any] = {
    "locations": [{"id": "DC-EAST", "kind": "warehouse", "region": "US-NE", "handling_hours": 24}],
    "lanes": [{"from": "DC-EAST", "to_region": "US-NE", "service": "express", "transit_hours": 24,
               "cost_cents": 1200, "co2_grams": 1200}],
    "products": [{"sku": "LAMP-01", "name": "Brass desk lamp", "price_cents": 4999, "returnable": True,
                  "restock_at": None}],
    "inventory": [{"location": "DC-EAST", "sku": "LAMP-01", "on_hand": 5, "reserved": 0}],
    "customers": [{"id": "C-1", "name": "Dana Reyes", "email": "dana@example.com", "tier": "gold",
                   "locale": "en-US", "delivered_orders": 6, "chargebacks": 0, "refunds_90d": 0,
                   "returns_90d": 0, "delivered_addresses": ["A-1"]}],
    "orders": [{
        "id": "O-1", "customer": "C-1", "placed_at": "2026-03-06T06:00:00Z", "status": "shipped",
        "ship_to": {"region": "US-NE", "address_id": "A-1"},
        "shipping": {"method": "express", "fee_cents": 1500, "promised_by": "2026-03-10T06:00:00Z"},
        "lines": [{"sku": "LAMP-01", "qty": 1, "unit_price_cents": 4999, "location": "DC-EAST",
                   "status": "shipped"}],
        "payment": {"captured_cents": 6499, "refunded_cents": 0},
        "fraud_score": 0.03, "goodwill_given": False,
        "shipments": [{"id": "S-1", "location": "DC-EAST", "service": "express", "status": "in_transit",
                       "eta": "2026-03-11T12:00:00Z", "lines": [{"sku": "LAMP-01", "qty": 1}],
                       "delivered_at": None, "carrier_delivered_scan": False}],
        "returns": [{"id": "R-1", "lines": [{"sku": "LAMP-01", "qty": 1}], "reason": "damaged",
                     "evidence": True, "claim": "arrived cracked", "status": "disputed"}],
    }],
}


def make_case(case_id: str = "delay-express", **overrides: Any) -> dict[str, Any]:
    """A valid delay case; keyword arguments replace top-level keys."""
    case: dict[str, Any] = {
        "id": case_id,
        "title": "Express parcel 30 h late",
        "now": "2026-03-10T12:00:00Z",
        "world": copy.deepcopy(_WORLD),
        "exception": {"type": "delay", "order_id": "O-1", "shipment_id": "S-1", "note": "Weather"},
        "expect": {"outcome": "auto", "only": True,
                   "actions": [{"action": "refund", "amount_cents": 1500, "reason": "shipping_fee"},
                               {"action": "notify_customer", "topic": "delay"}]},
    }
    case.update(overrides)
    return case


def over_ceiling_case(case_id: str = "delay-over-ceiling") -> dict[str, Any]:
    """A standard customer's express fee of 6,000 over a 30 h delay: the refund is over the 5,000 ceiling, held."""
    case = make_case(case_id, expect={
        "outcome": "approval", "actions": [{"action": "refund", "amount_cents": 6000, "reason": "shipping_fee"}]})
    case["world"]["customers"][0]["tier"] = "standard"
    case["world"]["orders"][0]["shipping"]["fee_cents"] = 6000
    case["world"]["orders"][0]["payment"]["captured_cents"] = 10999
    return case


def write_case(folder: Path, name: str, case: dict[str, Any] | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(case if isinstance(case, str) else json.dumps(case, indent=2), encoding="utf-8")
    return path


@dataclass
class FakeAction:
    """Shaped like agents.service.ActionView."""

    action: str
    status: str
    args: dict[str, Any]
    rule_ids: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    confidence: float = 1.0
    required_role: str | None = None


@dataclass
class FakeResult:
    state: str
    actions: list[FakeAction]


Answer = FakeResult | Exception


@dataclass
class FakeWork:
    """A stand-in for agents.service.work_exception: answers per case id, records every call.

    A list of answers is one per run, in order (the last repeats): a flaky planner for repeat runs.
    """

    answers: dict[str, Answer | list[Answer]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, engine: Any, exception_id: str, *, clock: Any, planner: Any,
                 carbon_cents_per_kg: int, book: Any = None) -> FakeResult:
        from sqlmodel import Session, select

        from core.models import OrderException

        with Session(engine) as session:
            exc = session.exec(select(OrderException).where(OrderException.id == exception_id)).one()
        self.calls.append({"exception": exc.model_dump(), "now": clock.now(), "planner": planner,
                           "carbon_cents_per_kg": carbon_cents_per_kg, "book": book})
        key = planner if isinstance(planner, str) else ""
        answer = self.answers.get(key, GOLD_DELAY)
        if isinstance(answer, list):
            runs = sum(c["planner"] == key for c in self.calls)
            answer = answer[min(runs, len(answer)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


GOLD_DELAY = FakeResult("resolved", [
    FakeAction("refund", "applied", {"order_id": "O-1", "amount_cents": 1500, "reason": "shipping_fee"},
               rule_ids=["D3"]),
    FakeAction("notify_customer", "applied",
               {"order_id": "O-1", "topic": "delay", "eta": "2026-03-11T12:00:00Z", "body": "Sorry"},
               rule_ids=["D1"]),
])


HELD_OVER_CEILING = FakeResult("awaiting_approval", [
    FakeAction("refund", "held", {"order_id": "O-1", "amount_cents": 6000, "reason": "shipping_fee"},
               rule_ids=["D3", "M2"]),
    FakeAction("notify_customer", "applied", {"order_id": "O-1", "topic": "delay"}, rule_ids=["D1"]),
])
RELEASED_WITH_DENIED_REFUND = FakeResult("resolved", [
    FakeAction("release_hold", "applied", {"order_id": "O-1"}, rule_ids=["F2"]),
    FakeAction("refund", "denied", {"order_id": "O-1", "amount_cents": 99999, "reason": "goodwill"},
               rule_ids=["M1"]),
])
FAILED_DELAY = FakeResult("resolved", [])


def mixed_suite(tmp_path: Path, repeat: int = 1, answers: dict[str, Any] | None = None) -> Any:
    """A run of four cases: a passes auto; b passes held; c came out auto where approval was expected; d raised."""
    write_case(tmp_path, "a.json", make_case("a"))
    write_case(tmp_path, "b.json", over_ceiling_case("b"))
    write_case(tmp_path, "c.json", make_case("c", exception={"type": "fraud_hold", "order_id": "O-1"},
                                             expect={"outcome": "approval", "actions": [
                                                 {"action": "notify_customer", "topic": "verification"}]}))
    write_case(tmp_path, "d.json", make_case("d", expect={"outcome": "auto"}))
    work = FakeWork(answers=answers or {"b": HELD_OVER_CEILING, "c": RELEASED_WITH_DENIED_REFUND,
                                        "d": RuntimeError("boom")})
    return run_suite(load_suite([tmp_path]), work=work, planner_for=planner_per_case, repeat=repeat)


def planner_per_case(item: Any) -> str:
    """The fake planner is the case id, so FakeWork can answer per case."""
    return str(item.case.id)


def fake_planners(_kind: Any, _cassettes: Any, *, book: Any = None) -> Any:
    """A planner factory for make_eval_app: every case's planner is its id."""
    return planner_per_case


def invoke(work: Any, *args: str, planners: Any = None) -> Any:
    """`tower eval ...` with a fake agents layer (`work=None`: the real one); args start with the command."""
    app = make_eval_app(work=work, planners=planners or (None if work is None else fake_planners))
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
