"""The KPIs count the agents' reroutes and the CO2 of the lanes they chose."""

from __future__ import annotations

from casekit import build, shared_case
from sqlmodel import Session

from agents.service import work_exception
from api.queries import kpis


def test_kpis_count_reroutes_and_the_co2_of_their_lanes() -> None:
    built = build(shared_case("delay-recover-from-store"))
    with Session(built.engine) as s:
        assert (kpis(s).reroutes.count, kpis(s).reroutes.co2_grams) == (0, 0)
    work_exception(built.engine, built.exception_id, clock=built.clock)
    with Session(built.engine) as s:
        k = kpis(s)
    assert (k.reroutes.count, k.reroutes.co2_grams) == (1, 1200)  # STORE-NYC -> US-NE by express
