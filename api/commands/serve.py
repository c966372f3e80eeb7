"""`tower api`, `tower worker` and `tower up`: the service's processes.

`up` is the one-machine demo: on SQLite, the API, one worker and a paced
simulator feed share one store and one clock (the simulation's virtual clock,
so the agents judge every exception at the moment the simulator raised it).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.app import NoTokens, create_app
from api.commands.simulate import DEFAULT_START
from api.holds import sweep_expired
from api.runtime import Runtime, open_runtime, run_book
from api.settings import DEMO_TOKENS, MIN_LEASE_SECONDS, ServiceSettings
from api.worker import Worker, default_worker_id, install_test_hook
from core import services
from core.clock import Clock, VirtualClock, WallClock
from core.models import Event
from core.simulator import Simulation, scenario_named, store_has_orders
from core.world import parse_time

log = logging.getLogger("tower")

DbOption = Annotated[str | None, typer.Option(help="Database URL (default: TOWER_DATABASE_URL or sqlite:///tower.db).")]
PolicyOption = Annotated[Path | None, typer.Option(
    help="A policy book variant (JSON laid over the shipped book) that the whole run obeys (default: TOWER_POLICY).",
    dir_okay=False)]


def _settings(db: str | None, **overrides: object) -> ServiceSettings:
    """The settings from the environment with the command's options over them; a bad setting ends the
    command (exit 2) with its field and why, never with its value (a token must not be echoed)."""
    try:
        settings = ServiceSettings()
    except ValidationError as err:
        for e in err.errors(include_input=False, include_url=False):
            msg = e["msg"].removeprefix("Value error, ")
            field = "TOWER_" + ".".join(str(p) for p in e["loc"]).upper()
            typer.echo(msg if msg.startswith(field) else f"{field}: {msg}", err=True)
        raise typer.Exit(2) from None
    except SettingsError as err:
        typer.echo(f"{err}: it must be valid JSON", err=True)
        raise typer.Exit(2) from None
    updates = {k: v for k, v in {"database_url": db, **overrides}.items() if v is not None}
    settings = settings.model_copy(update=updates) if updates else settings
    try:
        run_book(settings.policy)
    except ValueError as err:
        typer.echo(f"error: the policy book cannot be loaded: {err}", err=True)
        raise typer.Exit(2) from None
    return settings


def _app(settings: ServiceSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    try:
        return create_app(settings, runtime=runtime)
    except NoTokens as err:
        typer.echo(f"tower: {err}", err=True)
        raise typer.Exit(2) from None


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("TOWER_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def api(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default TOWER_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TOWER_API_PORT).")] = None,
    policy: PolicyOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="Also take the public demo tokens (this machine only).")]
    = False,
) -> None:
    """Serve the HTTP API (uvicorn). It takes the tokens of TOWER_TOKENS, and refuses to start without any."""
    _logging()
    settings = _settings(db, api_host=host, api_port=port, policy=policy, demo=demo or None)
    uvicorn.run(_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")


def worker(
    db: DbOption = None,
    worker_id: Annotated[str | None, typer.Option("--id", help="Name in claims and the audit (default host:pid).")]
    = None,
    lease: Annotated[float | None, typer.Option(
        help=f"Seconds a claim lives without renewal (renewed every third while its graph runs); "
             f"at least {MIN_LEASE_SECONDS:g}.")] = None,
    exit_when_idle: Annotated[bool, typer.Option(help="Stop when nothing is left to claim.")] = False,
    policy: PolicyOption = None,
) -> None:
    """Claim exceptions and run the agent graph for each, with the checkpointer in the same database."""
    if lease is not None and lease < MIN_LEASE_SECONDS:
        raise typer.BadParameter(
            f"{lease:g} s is shorter than the minimum lease, {MIN_LEASE_SECONDS:g} s: a claim must outlast a "
            "renewal held up behind the longest step, or a live worker's exception is worked twice",
            param_hint="--lease")
    _logging()
    settings = _settings(db, worker_lease_seconds=lease, policy=policy)
    rt = open_runtime(settings)
    install_test_hook(os.environ.get("TOWER_TEST_AFTER_APPLIED"))
    w = Worker(rt, worker_id=worker_id or settings.worker_id or default_worker_id())
    try:
        w.run(exit_when_idle=exit_when_idle)
    except KeyboardInterrupt:
        pass
    finally:
        log.info("worker %s handled %d exceptions", w.worker_id, w.handled)
        rt.close()


def sweep(db: DbOption = None, policy: PolicyOption = None) -> None:
    """Expire held actions past their deadline and escalate their exceptions (the worker also does this)."""
    settings = _settings(db, policy=policy)
    rt = open_runtime(settings)
    try:
        escalated = sweep_expired(rt.engine, settings, now=rt.clock.now(), book=rt.book)
    finally:
        rt.close()
    typer.echo(f"escalated {len(escalated)}" + (f": {', '.join(escalated)}" if escalated else ""))


def up(
    db: Annotated[str, typer.Option(help="A SQLite file URL: `up` is the one-machine setup.")] = "sqlite:///tower.db",
    orders: Annotated[int, typer.Option(min=0, help="Orders the simulator feeds in (0: no feed).")] = 200,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 1,
    scenario: Annotated[str, typer.Option(help="Simulator scenario.")] = "baseline",
    pace: Annotated[float, typer.Option(help="Wall seconds per simulator step (0: as fast as it goes).")] = 0.05,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    expire: Annotated[bool, typer.Option(
        help="Expire held actions past their deadline. Off by default: the simulation's virtual time runs "
             "days ahead in seconds, so every hold would expire before a supervisor could look.")] = False,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Also serve the dashboard (Streamlit).")] = True,
    ui_port: Annotated[int, typer.Option(help="The dashboard's port.")] = 8501,
    policy: PolicyOption = None,
) -> None:
    """API + worker + simulator feed on one SQLite store, and the dashboard, on one machine."""
    _logging()
    if not db.startswith("sqlite"):
        raise typer.BadParameter("`tower up` runs on SQLite; start `tower api` and `tower worker`s for PostgreSQL",
                                 param_hint="--db")
    settings = _settings(db, api_host=host, api_port=port, hold_deadlines=expire, policy=policy, demo=True)
    rt = open_runtime(settings)
    stop = threading.Event()
    threads = []
    if orders and not store_has_orders(rt.engine):
        sim = Simulation(rt.engine, seed=seed, scenario=scenario_named(scenario), rules=rt.rules,
                         start=parse_time(DEFAULT_START))
        rt.clock = sim.clock
        sim.adopt_every_hours = 1.0  # the worker reships lost parcels beside the feed: the feed carries them too

        def feed() -> None:
            sim.build_network(orders)
            sim.schedule_orders(orders)
            sim.run_until_idle(lambda: stop.wait(pace) if pace else None)
            services.tick(rt.engine, at=sim.clock.now(), rules=rt.rules)
            log.info("simulator feed done: %d orders", orders)

        threads.append(threading.Thread(target=feed, name="feed", daemon=True))
    else:
        rt.clock = _store_clock(rt.engine)
    w = Worker(rt, worker_id=f"up:{default_worker_id()}", sweeps=expire)
    threads.append(threading.Thread(target=w.run, args=(stop,), name="worker", daemon=True))
    for t in threads:
        t.start()
    dashboard = _start_ui(host, port, ui_port) if ui else None
    _banner(settings, host, port, ui_port if ui else None)
    try:
        uvicorn.run(_app(runtime=rt), host=settings.api_host, port=settings.api_port, log_level="info")
    finally:
        if dashboard is not None:
            _stop(dashboard)
        stop.set()
        for t in threads:
            t.join(timeout=5)
        rt.close()


def _start_ui(host: str, port: int, ui_port: int) -> subprocess.Popen[bytes]:
    """Streamlit on ui/app.py, pointed at this API (found by location: api imports nothing from ui)."""
    spec = importlib.util.find_spec("ui")
    if spec is None or spec.origin is None:
        raise typer.BadParameter("the ui package is not installed", param_hint="--ui")
    app = Path(spec.origin).parent / "app.py"
    if importlib.util.find_spec("streamlit") is None:
        raise typer.BadParameter("the dashboard needs the `ui` extra (streamlit is not installed): run "
                                 "`bash scripts/setup.sh`, or pass --no-ui", param_hint="--ui")
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", host, "--server.port",
         str(ui_port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env={**os.environ, "TOWER_API_URL": f"http://{host}:{port}", "TOWER_DEMO": "1"})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _banner(settings: ServiceSettings, host: str, port: int, ui_port: int | None) -> None:
    lines = [f"API        http://{host}:{port}  (docs: /docs)"]
    if ui_port is not None:
        lines.append(f"Dashboard  http://{host}:{ui_port}")
    if settings.demo:  # public values (they are in the README); a TOWER_TOKENS token is never shown
        lines.append("Demo tokens (this machine only): " + ", ".join(f"{t} ({s.role})" for t, s in DEMO_TOKENS.items()))
    if settings.tokens:
        lines.append("TOWER_TOKENS holders: " + ", ".join(s.name for s in settings.tokens.values()))
    typer.echo("\n".join(lines) + "\nCtrl-C stops everything.", err=True)


def _store_clock(engine: Engine) -> Clock:
    """A store a simulation filled lives in virtual time: stand at its last event, or at wall time if empty."""
    with Session(engine) as s:
        last = s.exec(select(func.max(Event.at))).one()
    if last is None:
        return WallClock()
    return VirtualClock(last if isinstance(last, datetime) else datetime.fromisoformat(str(last)))
