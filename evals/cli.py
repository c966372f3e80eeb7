"""`tower eval run` replays a suite of recorded cases offline and says which pass; `tower eval compare` diffs two
of its JSON reports.

`run` exits 0 when every case passed (all K runs with `--repeat K`), 1 when some case failed, 2 when nothing was
run (the suite or the `--policy` book could not be loaded, or the agents layer is not importable). `compare`
exits 0 with no regression, 1 with one, 2 when a report cannot be read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evals.compare import ReportError, compare, print_comparison, read_report
from evals.loader import SuiteError, load_suite
from evals.pages import write_pages
from evals.report import print_report, write_report
from evals.runner import CaseResult, PlannerFor, PlannerKind, WorkFn, default_work, planner_factory, run_suite
from policies.book import BOOK, PolicyBook, load_book

PROGRESS_EVERY = 10


class PlannerFactory(Protocol):
    """How the CLI gets a planner per case: `evals.runner.planner_factory`, or a fake in tests."""

    def __call__(self, kind: PlannerKind, cassettes: Path | None, *, book: PolicyBook) -> PlannerFor: ...


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
        report: Annotated[Path | None, typer.Option(
            help="Write the JSON report to this file, and the pages beside it: X.json -> X.html, X.md "
                 "(--html and --markdown choose other paths).")] = None,
        html: Annotated[Path | None, typer.Option(
            "--html", help="Write the HTML report (charts, self-contained, opens offline) to this file.",
            dir_okay=False)] = None,
        markdown: Annotated[Path | None, typer.Option(
            "--markdown", help="Write the Markdown report to this file.", dir_okay=False)] = None,
        policy: Annotated[Path | None, typer.Option(
            help="Run against this policy book variant: a JSON file laid over the default book.")] = None,
        repeat: Annotated[int, typer.Option(
            min=1, help="Run every case K times; a case passes only if all K runs pass (pass^k).")] = 1,
    ) -> None:
        """Run every case under PATH...; exit 0 if all pass, 1 if any fails, 2 if nothing could run."""
        out, err = Console(), Console(stderr=True)
        book = BOOK
        if policy is not None:
            try:
                book = load_book(policy)
            except ValueError as e:
                err.print(f"The policy book cannot be loaded: {e}", markup=False, highlight=False, soft_wrap=True)
                err.print("[red]No case was run.[/]")
                raise typer.Exit(2) from None
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
            planner_for = (planners or planner_factory)(planner.value, cassettes, book=book)
        except ImportError as e:
            err.print(f"[red]The agents layer cannot be imported ({e}); no case was run.[/]")
            raise typer.Exit(2) from None
        started = time.perf_counter()
        with _progress(err, len(suite.cases)) as on_case:
            result = run_suite(suite, work=work_fn, planner_for=planner_for, on_case=on_case, book=book,
                               repeat=repeat, planner=planner.value)
        print_report(result, out)
        err.print(f"{len(suite.cases)} cases in {time.perf_counter() - started:.1f} s", style="dim")
        if report is not None:
            write_report(result, report)
            html, markdown = html or _beside(report, ".html"), markdown or _beside(report, ".md")
        write_pages(result, html_path=html, markdown_path=markdown)
        for path in (report, html, markdown):
            if path is not None:
                err.print(f"Report written to {path.as_posix()}", style="dim", highlight=False)
        raise typer.Exit(0 if result.passed else 1)

    @app.command("compare")
    def compare_reports(
        base: Annotated[Path, typer.Argument(metavar="BASE.json", help="The report to compare against.")],
        candidate: Annotated[Path, typer.Argument(metavar="CANDIDATE.json", help="The report of the change.")],
    ) -> None:
        """What got better and what got worse from BASE to CANDIDATE; exit 1 on any regression, 2 if unreadable."""
        out, err = Console(), Console(stderr=True)
        try:
            reports = read_report(base), read_report(candidate)
        except ReportError as e:
            err.print(str(e), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        result = compare(*reports)
        print_comparison(result, out)
        raise typer.Exit(1 if result.regressions else 0)

    return app


def _beside(report: Path, suffix: str) -> Path:
    """`r.json` -> `r.html`; a report already named `r.html` gets `r.html.html` rather than being overwritten."""
    page = report.with_suffix(suffix)
    return page if page != report else report.with_name(report.name + suffix)


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
