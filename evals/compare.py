"""Compare two JSON reports of `tower eval run`: what got better, what got worse, for CI gates.

A regression is a case that passed in the base and fails in the candidate,
a policy violation the base did not have (a case new in the candidate
counts if it violates), or a case of the base missing from the candidate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError
from rich.console import Console
from rich.table import Table

from evals.loader import field_path


class ReportError(Exception):
    """A report that cannot be read; the message names the file and the field."""


class _CaseIn(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: StrictStr
    passed: StrictBool
    policy_violation: StrictBool = False
    outcome: StrictStr | None = None
    failures: list[StrictStr] = []


class _ReportIn(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    cases: list[_CaseIn]
    run: dict[str, Any] = {}


@dataclass(frozen=True)
class Change:
    """One case that differs between base and candidate (None: not in that report)."""

    id: str
    kind: str  # regressed, fixed, added, outcome
    reasons: tuple[str, ...]
    base: _CaseIn | None
    candidate: _CaseIn | None


@dataclass
class Comparison:
    base_book: str
    candidate_book: str
    changes: list[Change] = field(default_factory=list)
    still_passing: int = 0
    still_failing: int = 0

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def regressions(self) -> list[Change]:
        return self.of_kind("regressed")

    @property
    def changed_outcomes(self) -> list[Change]:
        return [c for c in self.changes if c.base and c.candidate and c.base.outcome != c.candidate.outcome]


def read_report(path: Path) -> _ReportIn:
    """A JSON report, checked for what comparing needs; ReportError names the file and the field."""
    name = path.as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ReportError(f"{name}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ReportError(f"{name}: cannot be read: {e}") from None
    try:
        report = _ReportIn.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise ReportError(f"{name}: {field_path(err['loc'], err['type'])}: {err['msg']}") from None
    seen: set[str] = set()
    for i, case in enumerate(report.cases):
        if case.id in seen:
            raise ReportError(f"{name}: cases[{i}].id: case id {case.id!r} appears twice")
        seen.add(case.id)
    return report


def _book(report: _ReportIn) -> str:
    book = report.run.get("policy_book")
    return str(book.get("version", "?")) if isinstance(book, dict) else "not recorded"


def compare(base: _ReportIn, candidate: _ReportIn) -> Comparison:
    """Every case of either report, in the base's order and then the candidate's new ones."""
    result = Comparison(base_book=_book(base), candidate_book=_book(candidate))
    after = {c.id: c for c in candidate.cases}
    for old in base.cases:
        new = after.pop(old.id, None)
        if new is None:
            result.changes.append(Change(old.id, "regressed", ("missing from the candidate",), old, None))
            continue
        reasons = []
        if old.passed and not new.passed:
            reasons.append("passed, now fails")
        if new.policy_violation and not old.policy_violation:
            reasons.append("new policy violation")
        if reasons:
            result.changes.append(Change(old.id, "regressed", tuple(reasons), old, new))
        elif new.passed and not old.passed:
            result.changes.append(Change(old.id, "fixed", ("failed, now passes",), old, new))
        else:
            if old.outcome != new.outcome:
                result.changes.append(Change(old.id, "outcome", ("outcome changed",), old, new))
            result.still_passing += new.passed
            result.still_failing += not new.passed
    for new in after.values():
        if new.policy_violation:
            result.changes.append(Change(new.id, "regressed", ("new case with a policy violation",), None, new))
        else:
            result.changes.append(Change(new.id, "added", ("new case, " + ("passes" if new.passed else "fails"),),
                                         None, new))
    return result


_STYLE = {"regressed": "bold red", "fixed": "green", "added": "cyan", "outcome": "yellow"}


def _state(case: _CaseIn | None) -> str:
    if case is None:
        return "-"
    verdict = "pass" if case.passed else "FAIL (violation)" if case.policy_violation else "FAIL"
    return f"{verdict}, {case.outcome or 'raised'}"


def print_comparison(result: Comparison, console: Console) -> None:
    """A table of the cases that changed, then the counts and the verdict."""
    table = Table(title="Changes between base and candidate", title_justify="left")
    for name in ("case", "change", "base", "candidate", "first failure (candidate)"):
        table.add_column(name, overflow="fold")
    order = ("regressed", "fixed", "outcome", "added")
    for change in sorted(result.changes, key=lambda c: order.index(c.kind)):
        failure = change.candidate.failures[0] if change.candidate and change.candidate.failures else ""
        table.add_row(change.id, f"[{_STYLE[change.kind]}]{'; '.join(change.reasons)}[/]", _state(change.base),
                      _state(change.candidate), failure)
    if result.changes:
        console.print(table)
    console.print(f"policy book: base {result.base_book}, candidate {result.candidate_book}", style="dim",
                  highlight=False)
    regressions = result.regressions
    console.print(f"better: {len(result.of_kind('fixed'))}, worse: {len(regressions)}, "
                  f"unchanged: {result.still_passing} passing and {result.still_failing} failing, "
                  f"outcome changed: {len(result.changed_outcomes)}, new cases: {len(result.of_kind('added'))}",
                  highlight=False)
    if regressions:
        console.print(f"[bold red]{len(regressions)} regression{'s' if len(regressions) != 1 else ''}: "
                      f"{', '.join(c.id for c in regressions)}[/]", highlight=False)
    else:
        console.print("[green]No regression.[/]")
