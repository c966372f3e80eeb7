"""Start a named simulator scenario against the running service's store, and watch it run.

One run at a time, in a background thread of the API process. The run places
orders through `core.simulator` into the service's own store, so the worker
claims the exceptions it raises like any others. On an empty store the run
generates its network first; on a store a simulation filled it reuses that
network; any other store is refused. Under `tower up` the service runs on the
simulation's virtual clock: a new run continues on that same clock.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import Session, select

from api.deps import Decider, Reader, RuntimeDep
from api.runtime import Runtime
from api.schemas import AUTH_ERRORS, INVALID, UNREADABLE, Problem, Whole
from core import services
from core.clock import VirtualClock
from core.models import Customer, Event, Inventory, Lane, Location, Product
from core.simulator import SCENARIOS, Network, Simulation, scenario_named

log = logging.getLogger(__name__)
router = APIRouter(prefix="/simulator", tags=["simulator"], responses=AUTH_ERRORS)


class ScenarioOut(BaseModel):
    name: str
    description: str


ScenarioName = Literal[tuple(sorted(SCENARIOS))]  # type: ignore[valid-type]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: ScenarioName = Field(description="a scenario of GET /simulator")
    orders: Whole = Field(default=50, ge=1, le=2_000)
    seed: Whole = Field(default=1, ge=0, le=2**31)
    pace: float = Field(default=0.05, ge=0, le=5, strict=True, description="wall seconds per simulator step")


class RunOut(BaseModel):
    id: int
    scenario: str
    orders: int
    seed: int
    started_by: str
    state: Literal["running", "done", "failed"]
    placed: int = Field(description="orders placed so far")
    steps: int
    started_at: datetime = Field(description="wall time")
    finished_at: datetime | None = None
    virtual_now: datetime | None = Field(default=None, description="the simulation's clock")
    error: str | None = None


class SimulatorOut(BaseModel):
    scenarios: list[ScenarioOut]
    run: RunOut | None = Field(description="the current or last run started through this endpoint")


class _Runs:
    """The runs of one app: at most one running."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: RunOut | None = None
        self.sim: Simulation | None = None
        self.stop = threading.Event()


def _runs(request: Request) -> _Runs:
    app = request.app
    if not hasattr(app.state, "simulator_runs"):
        app.state.simulator_runs = _Runs()
    return app.state.simulator_runs  # type: ignore[no-any-return]


def _stored_network(rt: Runtime) -> Network | str | None:
    """The network a simulation left in the store; None for an empty store; a reason when it is not usable."""
    with Session(rt.engine) as s:
        if s.exec(select(func.count()).select_from(Location)).one() == 0:
            return None
        if s.exec(select(func.count()).select_from(Event).where(Event.type == "simulation.started")).one() == 0:
            return "the store holds a network no simulation generated: the simulator cannot place orders in it"
        net = Network(locations=list(s.exec(select(Location)).all()), lanes=list(s.exec(select(Lane)).all()),
                      products=list(s.exec(select(Product).order_by(Product.sku)).all()),
                      inventory=list(s.exec(select(Inventory)).all()),
                      customers=list(s.exec(select(Customer).order_by(Customer.id)).all()))
        s.expunge_all()
        return net


def _run(rt: Runtime, runs: _Runs, sim: Simulation, body: RunIn, network: Network | None) -> None:
    run = runs.last
    assert run is not None

    def placed() -> None:
        run.placed += 1

    def step() -> None:
        run.steps += 1
        run.virtual_now = sim.clock.now()
        if body.pace:
            runs.stop.wait(body.pace)

    try:
        if network is None:
            sim.build_network(body.orders)
        else:
            sim.network = network
        sim.schedule_orders(body.orders, placed)
        sim.run_until_idle(step)
        services.tick(rt.engine, at=sim.clock.now(), rules=rt.rules)
        run.state = "done"
    except Exception as err:  # reported through GET /simulator
        log.exception("simulator run %d failed", run.id)
        run.state, run.error = "failed", f"{type(err).__name__}: {err}"
    finally:
        run.finished_at = datetime.now(UTC)
        run.virtual_now = sim.clock.now()


@router.get("", response_model=SimulatorOut)
def simulator(request: Request, _: Reader) -> SimulatorOut:
    return SimulatorOut(scenarios=[ScenarioOut(name=s.name, description=s.description) for s in SCENARIOS.values()],
                        run=_runs(request).last)


@router.post("/runs", status_code=status.HTTP_202_ACCEPTED, response_model=RunOut,
             summary="Start a named scenario against this service's store (supervisor or lead)",
             responses={409: {"model": Problem, "description": "a run is going, or the store cannot take one"},
                        **INVALID, **UNREADABLE})
def start_run(body: Annotated[RunIn, Body()], request: Request, rt: RuntimeDep,
              principal: Decider) -> RunOut | JSONResponse:
    scenario = scenario_named(body.scenario)
    runs = _runs(request)
    with runs.lock:
        if runs.last is not None and runs.last.state == "running":
            return JSONResponse({"detail": f"simulator run {runs.last.id} ({runs.last.scenario}) is still running"},
                                status_code=status.HTTP_409_CONFLICT)
        network = _stored_network(rt)
        if isinstance(network, str):
            return JSONResponse({"detail": network}, status_code=status.HTTP_409_CONFLICT)
        sim = Simulation(rt.engine, seed=body.seed, scenario=scenario, rules=rt.rules, start=rt.clock.now())
        if isinstance(rt.clock, VirtualClock):
            sim.clock = rt.clock  # one timeline: the service judges at the moment the simulation is at
        runs.sim = sim
        runs.last = RunOut(id=(runs.last.id + 1) if runs.last else 1, scenario=scenario.name, orders=body.orders,
                           seed=body.seed, started_by=principal.name, state="running", placed=0, steps=0,
                           started_at=datetime.now(UTC), virtual_now=sim.clock.now())
        threading.Thread(target=_run, args=(rt, runs, sim, body, network), name="simulator", daemon=True).start()
        return runs.last
