"""`tower simulate`: a seeded day (or month) of orders and disruptions, into a store and an event log.

This is a composition root: it is where the policy book's numbers reach the
OMS (the delay and fraud triggers, the carbon price); core itself knows none.
`--policy` runs it under a variant, as `tower worker --policy` works it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.runtime import oms_rules, run_book
from core.settings import get_settings
from core.simulator import (
    SCENARIOS,
    Summary,
    reset_store,
    scenario_named,
    store_has_orders,
    with_rates,
    write_event_log,
)
from core.simulator import simulate as run_simulation
from core.store import open_store
from core.world import parse_time

DEFAULT_START = "2026-03-02T00:00:00Z"


def simulate(
    seed: Annotated[int, typer.Option(help="Seed of every random choice: the same seed, the same run.")] = 1,
    orders: Annotated[int, typer.Option(min=1, help="How many orders arrive.")] = 100,
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIOS)}.")] = "baseline",
    db: Annotated[str | None, typer.Option(help="Database URL (default: TOWER_DATABASE_URL or sqlite:///tower.db).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Write the event log here as JSON Lines.")] = None,
    rate: Annotated[list[str] | None, typer.Option(
        help="Override a scenario rate, NAME=VALUE (repeatable), e.g. --rate delay_rate=0.2.")] = None,
    reset: Annotated[bool, typer.Option(help="Empty the store's OMS tables first.")] = False,
    start: Annotated[str, typer.Option(help="Virtual start instant (ISO 8601, UTC).")] = DEFAULT_START,
    policy: Annotated[Path | None, typer.Option(
        help="A policy book variant (JSON laid over the shipped book) whose triggers raise the exceptions.",
        dir_okay=False)] = None,
) -> None:
    """Simulate an order stream with disruptions; print a summary, optionally write the event log."""
    console = Console(stderr=True)
    try:
        chosen = with_rates(scenario_named(scenario), _pairs(rate or []))
        began = parse_time(start)
        if began.tzinfo is None:
            raise ValueError(f"--start {start!r} needs a zone, e.g. {DEFAULT_START}")
        rules = oms_rules(run_book(policy))
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    url = db or get_settings().database_url
    engine = open_store(url)
    if reset:
        reset_store(engine)
    elif store_has_orders(engine):
        console.print(f"[red]error:[/red] {url} already holds orders; pass --reset to start from an "
                      "empty OMS or --db for another store")
        raise typer.Exit(2)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[steps]} steps"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        task = progress.add_task(f"simulating {chosen.name}", total=orders, steps=0)
        steps = 0

        def on_step() -> None:
            nonlocal steps
            steps += 1
            if steps % 50 == 0:
                progress.update(task, steps=steps)

        summary = run_simulation(engine, seed=seed, orders=orders, scenario=chosen, rules=rules,
                                 start=began, on_order=lambda: progress.advance(task), on_step=on_step)
        progress.update(task, steps=steps)
    written = write_event_log(engine, out) if out is not None else None
    engine.dispose()
    Console().print(_summary_table(summary, url, out, written))


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--rate {item!r} is not NAME=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


def _summary_table(summary: Summary, url: str, out: Path | None, written: int | None) -> Table:
    table = Table(title=f"seed {summary.seed} · {summary.scenario} · {summary.orders} orders · "
                        f"{summary.events} events · {_span(summary.started, summary.ended)}")
    table.add_column("orders by final state")
    table.add_column("n", justify="right")
    table.add_column("exceptions by type")
    table.add_column("n", justify="right")
    table.add_column("per 100 orders", justify="right")
    states = sorted(summary.orders_by_state.items())
    types = [(t, str(n), f"{summary.per_100_orders(t):.1f}") for t, n in sorted(summary.exceptions_by_type.items())]
    for i in range(max(len(states), len(types), 1)):
        s = states[i] if i < len(states) else ("", "")
        t = types[i] if i < len(types) else ("", "", "")
        table.add_row(str(s[0]), str(s[1]), *t)
    raised = sum(summary.exceptions_by_type.values())
    per_100 = f"{100 * raised / summary.orders:.1f}" if summary.orders else "0.0"
    table.add_row("[bold]total", str(summary.orders), "[bold]total", str(raised), per_100)
    table.caption = f"store: {url}" + (f" · event log: {out} ({written} lines)" if out is not None else "")
    return table


def _span(started: datetime, ended: datetime) -> str:
    hours = (ended - started).total_seconds() / 3600
    return f"{hours / 24:.1f} virtual days"
