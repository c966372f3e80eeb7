"""A feed beside the agents carries their reshipments to the door (`tower up`: lost parcels reshipped by D4)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from agents.service import work_exception
from core.clock import FixedClock
from core.models import ExceptionState, Order, OrderException, Shipment
from core.services import OmsRules
from core.simulator import scenario_named, with_rates
from core.simulator.run import Simulation
from core.store import fresh_memory_engine

START = datetime(2026, 3, 2, tzinfo=UTC)


def test_parcels_the_agents_reship_are_picked_dispatched_and_delivered(rules: OmsRules) -> None:
    engine = fresh_memory_engine()
    losing = with_rates(scenario_named("baseline"), {"lost_rate": "0.5", "delay_rate": "0"})
    sim = Simulation(engine, seed=4, scenario=losing, rules=rules, start=START)
    sim.adopt_every_hours = 2.0

    def agents_work() -> None:  # what the worker does beside the feed: plan the delay cases of lost parcels
        with Session(engine) as s:
            open_ = s.exec(select(OrderException.id).where(OrderException.state == ExceptionState.open)).all()
        for exception_id in open_:
            work_exception(engine, exception_id, clock=FixedClock(sim.clock.now()))

    sim.build_network(30)
    sim.schedule_orders(30)
    sim.run_until_idle(agents_work)
    with Session(engine) as s:
        reships = s.exec(select(Shipment).where(col(Shipment.reship_of).is_not(None))).all()
    assert reships, "no parcel was lost and reshipped: the scenario did not exercise D4"
    assert {r.status for r in reships} == {"delivered"}
    assert all(r.delivered_at is not None and r.delivered_at >= r.created_at for r in reships)
    with Session(engine) as s:
        assert {s.get(Order, r.order_id).status for r in reships} == {"delivered"}  # type: ignore[union-attr]
