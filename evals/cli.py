"""`tower eval run`: replay a suite of recorded cases offline and say which pass.

Exit status: 0 every case passed, 1 some case failed, 2 nothing was run
(the suite could not be loaded, or the agents layer is not importable).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evals.loader import SuiteError, load_suite
from evals.report import print_report, write_report
from evals.runner import CaseResult, PlannerFor, PlannerKind, WorkFn, default_work, planner_factory, run_suite

PROGRESS_EVERY = 10
PlannerFactory = Callable[[PlannerKind, Path | None], PlannerFor]


class PlannerChoice(StrEnum):
    rules = "rules"
    llm = "llm"


def make_eval_app(work: WorkFn | None = None, planners: PlannerFactory | None = None) -> typer.Typer:
    """The `eval` command group; `work` and `planners` default to the agents layer, resolved at run time."""
    app = typer.Typer(no_args_is_help=True, add_completion=False,
                      help="Replay suites of recorded cases offline.")

    @app.callback()
    def _group() -> None:
        """Replay suites of recorded cases offline."""

    @app.command("run")
    def run(
        paths: Annotated[list[Path], typer.Argument(
            metavar="PATH", help="Case files, or folders searched for *.json.")],
        planner: Annotated[PlannerChoice, typer.Option(help="Which planner proposes actions.")]
        = PlannerChoice.rules,
        cassettes: Annotated[Path | None, typer.Option(
            help="Folder of <case id>.yaml recordings for --planner llm "
                 "(default: cassettes/ next to each case file).",
            file_okay=False)] = None,
        report: Annotated[Path | None, typer.Option(help="Write the JSON report to this file.")] = None,
    ) -> None:
        """Run every case under PATH...; exit 0 if all pass, 1 if any fails, 2 if the suite cannot load."""
        out, err = Console(), Console(stderr=True)
        try:
            suite = load_suite(paths)
        except SuiteError as e:
            for message in e.messages:
                err.print(message, markup=False, highlight=False, soft_wrap=True)
            err.print(f"[red]The suite cannot be loaded ({len(e.messages)} problem"
                      f"{'s' if len(e.messages) != 1 else ''}); no case was run.[/]")
            raise typer.Exit(2) from None
        try:
            work_fn = work or default_work()
            planner_for = (planners or planner_factory)(planner.value, cassettes)
        except ImportError as e:
            err.print(f"[red]The agents layer cannot be imported ({e}); no case was run.[/]")
            raise typer.Exit(2) from None
        started = time.perf_counter()
        with _progress(err, len(suite.cases)) as on_case:
            result = run_suite(suite, work=work_fn, planner_for=planner_for, on_case=on_case)
        print_report(result, out)
        err.print(f"{len(suite.cases)} cases in {time.perf_counter() - started:.1f} s", style="dim")
        if report is not None:
            write_report(result, report)
            err.print(f"Report written to {report.as_posix()}", style="dim", highlight=False)
        raise typer.Exit(0 if result.passed else 1)

    return app


class _progress:
    """A rich progress bar on a terminal; otherwise a line every PROGRESS_EVERY cases (logs stay short)."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.done = console, total, 0
        self.bar: Progress | None = None
        if console.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=console, transient=True)
            self.task = self.bar.add_task("cases", total=total)

    def __enter__(self) -> Callable[[CaseResult], None]:
        if self.bar is not None:
            self.bar.start()
        return self.step

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def step(self, result: CaseResult) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=result.id)
        elif self.done % PROGRESS_EVERY == 0 or self.done == self.total:
            self.console.print(f"ran {self.done}/{self.total} cases", highlight=False)


eval_app = make_eval_app()
