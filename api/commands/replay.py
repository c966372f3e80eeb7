"""`tower replay olist PATH`: real marketplace history through the OMS and the agents.

A composition root: the policy book's numbers reach the OMS here (`oms_rules`); the replay runs
under the shipped book, as its report says.
The report file is a pure function of the data (byte for byte the same every
run); the replay speed is printed to the terminal only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.runtime import oms_rules
from core.olist.extract import read_extract
from core.olist.mapping import map_extract
from core.olist.ratecard import build_rate_card
from core.store import fresh_memory_engine
from evals.olist.replay import OlistReplay
from evals.olist.report import build_report, dumps
from policies.book import BOOK

replay_app = typer.Typer(no_args_is_help=True, add_completion=False)
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "olist"


@replay_app.command("olist")
def olist(
    path: Annotated[Path, typer.Argument(help="The Olist data root (holds orders-2017-10k/, catalog/, "
                                              "complaints-labelled/).")] = DEFAULT_ROOT,
    limit: Annotated[int | None, typer.Option(min=1, help="Replay only the first N orders by purchase time "
                                                          "(and the complaints bought in their span).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the report here as JSON.")] = None,
) -> None:
    """Replay Olist orders in purchase-time order on a virtual clock, work every exception, report."""
    console = Console(stderr=True)
    if not (path / "orders-2017-10k" / "orders.csv").exists():
        console.print(f"[red]error:[/red] {path} does not hold orders-2017-10k/orders.csv")
        raise typer.Exit(2)
    extract = read_extract(path)
    card = build_rate_card(extract)
    mapped = map_extract(extract, card)
    orders = mapped.orders[:limit] if limit is not None else mapped.orders
    engine = fresh_memory_engine()
    began = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("replaying olist orders", total=len(orders))
        log = OlistReplay(engine, mapped, card, rules=oms_rules(BOOK),
                          on_order=lambda: progress.advance(task)).run(limit=limit)
    seconds = time.perf_counter() - began
    result = build_report(engine, mapped, card, log, orders=orders, complaints=extract.reviews)
    engine.dispose()
    if report is not None:
        report.write_text(dumps(result), encoding="utf-8")
    out = Console()
    out.print(_tables(result))
    out.print(f"replayed {log.orders} orders and {log.reviews} complaints in {seconds:.1f} s: "
              f"[bold]{log.orders / seconds if seconds else 0:.1f} orders/s[/bold] (wall clock; not in the report)")
    if report is not None:
        out.print(f"report: {report}")


def _tables(r: dict[str, Any]) -> Table:
    t = Table(title=f"Olist replay: {r['data']['orders_replayed']} orders, {r['data']['complaints_replayed']} "
                    f"complaints, {r['virtual_clock']['start']} → {r['virtual_clock']['end']}")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in r["exceptions"]["by_type"].items():
        t.add_row(f"exceptions: {k}", str(v))
    for k, v in r["exceptions"]["by_check"].items():
        t.add_row(f"  raised by {k}", str(v))
    for k, v in r["delays"]["vs_late_deliveries"].items():
        t.add_row(f"late deliveries: {k.replace('_', ' ')}", str(v))
    for k, v in r["decisions"]["exceptions_auto_vs_held"]["total"].items():
        t.add_row(f"exceptions {k.replace('_', ' ')}", str(v))
    for k, v in r["decisions"]["by_rule"].items():
        t.add_row(f"rule {k}", ", ".join(f"{s} {n}" for s, n in v.items()))
    money = r["money_cents"]
    t.add_row("paid out (BRL cents)", f"{money['paid_out_total']:,}")
    t.add_row("held for approval (BRL cents)", f"{money['held_for_approval_total']:,}")
    c = r["classifier"]
    for k, v in c["per_label"].items():
        t.add_row(f"classifier: {k}", f"P {v['precision']:.2f} R {v['recall']:.2f} F1 {v['f1']:.2f} (n {v['support']})")
    t.add_row("classifier: macro-F1", f"{c['macro_f1']:.3f}")
    return t
