"""Replay cases: a fresh OMS per case, the exception raised at the case's `now`, the agents' graph run.

The runner goes through the same service function the worker uses
(`agents.service.work_exception`); it is injectable so the suite machinery
can be tested without the agents, and resolved lazily so `evals` imports
without them. A case that raises is a failed case, never a crashed suite.
A suite runs against one policy book (the default unless given), and each
case may run K times: it passes^k when all K runs pass.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from core.clock import FixedClock
from core.exceptions import raise_exception
from core.store import UnitOfWork, fresh_memory_engine
from core.world import import_world
from evals.case import Expect, Outcome
from evals.loader import LoadedCase, Suite
from evals.matching import ProducedAction, maximum_matching, score
from policies.book import BOOK, PolicyBook

PlannerKind = Literal["rules", "llm"]
CASSETTES_FOLDER = "cassettes"


class WorkResultLike(Protocol):
    state: str
    actions: Sequence[Any]


class WorkFn(Protocol):
    """The contract of agents.service.work_exception."""

    def __call__(self, engine: Engine, exception_id: str, *, clock: FixedClock, planner: Any,
                 carbon_cents_per_kg: int | None, book: PolicyBook | None = None) -> WorkResultLike: ...


PlannerFor = Callable[[LoadedCase], Any]


class CaseResult(BaseModel):
    """What one case came to: produced outcome (None when the run raised), actions, failures.

    `matches` maps an expected action's index to the index in `actions` that matched it. After K
    runs, the result shown is the first run with a violation, else the first that failed, else the
    first; `run_outcomes` and `runs_passed` keep every run (the case passes^k when all K pass).
    """

    model_config = ConfigDict(frozen=True)
    id: str
    title: str | None
    file: str
    exception_type: str
    expected_outcomes: tuple[Outcome, ...]
    expect: Expect | None = None
    outcome: Outcome | None
    state: str | None
    actions: list[ProducedAction]
    matches: dict[int, int] = {}
    failures: list[str]
    violation: bool
    run_outcomes: tuple[Outcome | None, ...] = ()
    runs_passed: int | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def runs(self) -> int:
        return len(self.run_outcomes) or 1

    @property
    def passes(self) -> int:
        """How many of the runs passed (0 or 1 for a single run)."""
        return int(self.passed) if self.runs_passed is None else self.runs_passed


class SuiteResult(BaseModel):
    """Every case's result, and what they ran against: the planner, the book's version, the repeat count."""

    model_config = ConfigDict(frozen=True)
    cases: list[CaseResult]
    planner: str = "rules"
    book_name: str = BOOK.name
    book_version: str = BOOK.version
    repeat: int = 1

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)


def default_work() -> WorkFn:
    """agents.service.work_exception, imported only when a suite actually runs."""
    from agents.service import work_exception

    return work_exception  # type: ignore[return-value]


def planner_factory(kind: PlannerKind, cassettes: Path | None = None,
                    get_planner: Callable[..., Any] | None = None, *, book: PolicyBook = BOOK) -> PlannerFor:
    """A planner per case, reading `book`; llm replays `<case id>.yaml` from `cassettes` or the case's folder.

    A case with `proposals` gets a scripted planner for its first plan, standing in for this one.
    """
    if get_planner is None:
        from agents.planners import get_planner
    from agents.planners.scripted import ScriptedPlanner

    def base(item: LoadedCase) -> Any:
        if kind == "rules":
            return get_planner("rules", book=book)
        folder = cassettes if cassettes is not None else item.path.parent / CASSETTES_FOLDER
        return get_planner("llm", cassette_dir=folder, case_id=item.case.id, book=book)

    def for_case(item: LoadedCase) -> Any:
        planner = base(item)
        return planner if item.case.proposals is None else ScriptedPlanner(item.case.proposals, then=planner)

    return for_case


def run_case(item: LoadedCase, *, work: WorkFn, planner_for: PlannerFor, book: PolicyBook = BOOK) -> CaseResult:
    """Build the case's OMS, raise its exception, let the agents work it under `book`, and score what they did."""
    case = item.case
    base: dict[str, Any] = {
        "id": case.id, "title": case.title, "file": item.name, "exception_type": case.exception.type,
        "expected_outcomes": case.expect.outcome, "expect": case.expect,
    }
    steps: list[str] = []
    first: tuple[list[ProducedAction], bool] | None = None
    try:
        engine = fresh_memory_engine()
        try:
            exception_id = _raise(engine, item)
            planner = planner_for(item)
            extra: dict[str, Any] = {}
            if case.then is not None:  # one checkpointer for the first plan and every step after it
                from langgraph.checkpoint.memory import InMemorySaver

                extra["checkpointer"] = InMemorySaver()
            result = work(engine, exception_id, clock=FixedClock(case.now), planner=planner,
                          carbon_cents_per_kg=case.world.settings.carbon_cents_per_kg, book=book, **extra)
            actions = [ProducedAction.model_validate(a, from_attributes=True) for a in result.actions]
            state = str(result.state)
            if case.then is not None:
                from agents.service import result_of
                from evals.then import run_then

                first = (actions, state == "awaiting_approval")
                steps = run_then(engine, exception_id, case, planner=planner, checkpointer=extra["checkpointer"],
                                 book=book)
                final = result_of(engine, exception_id)
                actions = [ProducedAction.model_validate(a, from_attributes=True) for a in final.actions]
                state = str(final.state)
        finally:
            engine.dispose()
    except Exception as e:  # a case that raises fails; the suite goes on
        return CaseResult(**base, outcome=None, state=None, actions=[], violation=False,
                          failures=[_raised(e)])
    scored = score(case.expect, actions, waiting=state == "awaiting_approval", first=first, state=state)
    failures = [*steps, *scored.failures]
    if state == "failed":
        failures.append("The exception ended in state failed.")
    return CaseResult(**base, outcome=scored.outcome, state=state, actions=actions, failures=failures,
                      violation=scored.violation, matches=_matches(case.expect, actions))


def _matches(expect: Expect, actions: list[ProducedAction]) -> dict[int, int]:
    """The scorer's matching, as indexes into all the actions."""
    return dict(sorted(maximum_matching(expect.actions, actions).items()))


def combine_runs(runs: Sequence[CaseResult]) -> CaseResult:
    """K runs of one case as one result: it passes only if every run passed (pass^k)."""
    shown = next((r for r in runs if r.violation), None) or next((r for r in runs if not r.passed), runs[0])
    return shown.model_copy(update={"run_outcomes": tuple(r.outcome for r in runs),
                                    "runs_passed": sum(r.passed for r in runs),
                                    "violation": any(r.violation for r in runs)})


def _raised(error: Exception) -> str:
    detail = " ".join(str(error).split()).rstrip(".")
    return f"The run raised {type(error).__name__}{': ' + detail if detail else ''}."


def _raise(engine: Engine, item: LoadedCase) -> str:
    case, exc = item.case, item.case.exception
    import_world(engine, case.world)
    fields = exc.model_dump(exclude={"type"}, exclude_none=True)
    with UnitOfWork(engine) as uow:
        raised = raise_exception(uow, type=exc.type, at=case.now, **fields)
        exception_id = raised.id
        uow.commit()
    return exception_id


def run_suite(suite: Suite, *, work: WorkFn | None = None, planner_for: PlannerFor | None = None,
              on_case: Callable[[CaseResult], None] | None = None, offline: bool = True,
              book: PolicyBook | None = None, repeat: int = 1, planner: str = "rules") -> SuiteResult:
    """Every case in load order, `repeat` times each, under `book` (the default book unless given).

    `planner` only labels the result; `offline` refuses any network connection while cases run.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    book = book or BOOK
    work = work or default_work()
    planner_for = planner_for or planner_factory("rules", book=book)
    results: list[CaseResult] = []
    with no_network() if offline else _nothing():
        for item in suite.cases:
            runs = [run_case(item, work=work, planner_for=planner_for, book=book) for _ in range(repeat)]
            result = combine_runs(runs)
            results.append(result)
            if on_case is not None:
                on_case(result)
    return SuiteResult(cases=results, planner=planner, book_name=book.name, book_version=book.version,
                       repeat=repeat)


class NetworkRefused(OSError):
    """A replay tried to reach the network; recorded cases never may."""


@contextmanager
def no_network() -> Iterator[None]:
    """Refuse internet connections and name lookups (Unix sockets still work) for the duration."""
    connect, connect_ex, lookup = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guard(sock: socket.socket, address: Any, original: Callable[..., Any]) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkRefused(f"network access to {address!r} refused: evals run offline")
        return original(sock, address)

    def refused_lookup(*args: Any, **kwargs: Any) -> Any:
        raise NetworkRefused(f"name lookup of {args[0]!r} refused: evals run offline")

    socket.socket.connect = lambda self, address: guard(self, address, connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = lambda self, address: guard(self, address, connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = refused_lookup
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = lookup


@contextmanager
def _nothing() -> Iterator[None]:
    yield
