"""The suite's report: JSON for machines (byte-identical run to run) and rich tables for people.

Nothing time-dependent goes into the JSON: cases keep their load order
(sorted by file path), an action's arguments are sorted by name, and
times are written as UTC instants.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from core.clock import utc
from evals.matching import ProducedAction
from evals.runner import CaseResult, SuiteResult

RESERVED = ("action", "status", "rule_ids")


def summary(result: SuiteResult) -> dict[str, int]:
    passed = sum(c.passed for c in result.cases)
    return {"cases": len(result.cases), "passed": passed, "failed": len(result.cases) - passed,
            "policy_violations": sum(c.violation for c in result.cases)}


def report_dict(result: SuiteResult) -> dict[str, Any]:
    """The report of shared/spec/cases.md, plus each case's title, exception type and violation flag."""
    return {"summary": summary(result), "cases": [_case(c) for c in result.cases]}


def report_json(result: SuiteResult) -> str:
    return json.dumps(report_dict(result), indent=2, ensure_ascii=False) + "\n"


def write_report(result: SuiteResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_json(result), encoding="utf-8")


def _case(c: CaseResult) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "exception_type": c.exception_type, "passed": c.passed,
            "policy_violation": c.violation, "outcome": c.outcome,
            "actions": [_action(a) for a in c.actions], "failures": list(c.failures)}


def _action(a: ProducedAction) -> dict[str, Any]:
    args = {k: jsonable(v) for k, v in sorted(a.args.items()) if k not in RESERVED}
    return {"action": a.action, "status": a.status, **args, "rule_ids": list(a.rule_ids)}


def jsonable(value: Any) -> Any:
    """An argument as JSON: times as UTC `...Z`, exact numbers as int when whole."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | Fraction):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    return str(value)


def print_report(result: SuiteResult, console: Console) -> None:
    """One row per case, then the aggregate by exception type and the summary line."""
    cases = Table(title="Recorded cases", title_justify="left")
    for name in ("case", "type", "expected", "produced", "result", "first failure"):
        cases.add_column(name, overflow="fold")
    for c in result.cases:
        verdict = "[green]pass[/]" if c.passed else "[bold red]FAIL (violation)[/]" if c.violation \
            else "[red]FAIL[/]"
        cases.add_row(c.id, c.exception_type, " or ".join(c.expected_outcomes), c.outcome or "-", verdict,
                      c.failures[0] if c.failures else "")
    console.print(cases)
    totals: dict[str, list[int]] = {}
    for c in result.cases:
        row = totals.setdefault(c.exception_type, [0, 0, 0])
        row[0] += 1
        row[1] += c.passed
        row[2] += c.violation
    by_type = Table(title="By exception type", title_justify="left")
    for name in ("type", "cases", "passed", "violations"):
        by_type.add_column(name, justify="left" if name == "type" else "right")
    for kind, (n, passed, violations) in sorted(totals.items()):
        by_type.add_row(kind, str(n), str(passed), f"[bold red]{violations}[/]" if violations else "0")
    console.print(by_type)
    s = summary(result)
    colour = "green" if s["failed"] == 0 else "red"
    console.print(f"[{colour}]{s['passed']}/{s['cases']} passed, {s['failed']} failed, "
                  f"{s['policy_violations']} policy violations[/]")
