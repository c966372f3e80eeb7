"""The suite's report: JSON for machines (byte-identical run to run) and rich tables for people.

Nothing time-dependent goes into the JSON: cases keep their load order
(sorted by file path), an action's arguments are sorted by name, and
times are written as UTC instants. Besides the spec's `summary` and
`cases`, it records what ran (planner, policy book, repeat count), pass^k
and the aggregates of evals.analysis. The Markdown and HTML pages for
people are in evals.pages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.jsonvalue import jsonable
from evals.analysis import analyse, as_dict, outcome_label
from evals.matching import ProducedAction
from evals.runner import CaseResult, SuiteResult

RESERVED = ("action", "status", "rule_ids")


def summary(result: SuiteResult) -> dict[str, int]:
    passed = sum(c.passed for c in result.cases)
    return {"cases": len(result.cases), "passed": passed, "failed": len(result.cases) - passed,
            "policy_violations": sum(c.violation for c in result.cases)}


def report_dict(result: SuiteResult) -> dict[str, Any]:
    """The report of shared/spec/cases.md, plus what ran, pass^k, the aggregates and more per case."""
    analysis = analyse(result)
    return {"summary": summary(result),
            "run": {"planner": result.planner, "repeat": result.repeat,
                    "policy_book": {"name": result.book_name, "version": result.book_version}},
            "pass_hat_k": {str(k): v for k, v in analysis.pass_hat.items()},
            "aggregates": as_dict(analysis),
            "cases": [_case(c) for c in result.cases]}


def report_json(result: SuiteResult) -> str:
    return json.dumps(report_dict(result), indent=2, ensure_ascii=False) + "\n"


def write_report(result: SuiteResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_json(result), encoding="utf-8")


def _case(c: CaseResult) -> dict[str, Any]:
    """`passed` is pass^k over the case's runs; `outcome`, `actions` and `failures` are of the run shown."""
    return {"id": c.id, "title": c.title, "exception_type": c.exception_type, "passed": c.passed,
            "policy_violation": c.violation, "expected_outcome": list(c.expected_outcomes), "outcome": c.outcome,
            **({"state": c.state, "expected_state": c.expect.state} if c.expect and c.expect.state else {}),
            "runs": {"count": c.runs, "passed": c.passes, "outcomes": list(c.run_outcomes) or [c.outcome]},
            "actions": [_action(a) for a in c.actions], "failures": list(c.failures)}


def _action(a: ProducedAction) -> dict[str, Any]:
    args = {k: jsonable(v) for k, v in sorted(a.args.items()) if k not in RESERVED}
    return {"action": a.action, "status": a.status, **args, "rule_ids": list(a.rule_ids)}


def print_report(result: SuiteResult, console: Console) -> None:
    """One row per case, then the aggregate by exception type and the summary line."""
    repeated = result.repeat > 1
    cases = Table(title="Recorded cases", title_justify="left")
    for name in ("case", "type", "expected", "produced", *(["runs passed"] if repeated else []), "result",
                 "first failure"):
        cases.add_column(name, overflow="fold")
    for c in result.cases:
        verdict = "[green]pass[/]" if c.passed else "[bold red]FAIL (violation)[/]" if c.violation \
            else "[red]FAIL[/]"
        runs = [f"{c.passes}/{c.runs}"] if repeated else []
        cases.add_row(c.id, c.exception_type, outcome_label(c.expected_outcomes), c.outcome or "-", *runs, verdict,
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
    console.print(f"planner {result.planner}, policy book {result.book_version}", style="dim", highlight=False)
    s = summary(result)
    colour = "green" if s["failed"] == 0 else "red"
    if repeated:
        curve = ", ".join(f"pass^{k} {v:.2f}" for k, v in analyse(result).pass_hat.items())
        console.print(f"{result.repeat} runs per case: {curve}", highlight=False)
    console.print(f"[{colour}]{s['passed']}/{s['cases']} passed{f' all {result.repeat} runs' if repeated else ''}, "
                  f"{s['failed']} failed, {s['policy_violations']} policy violations[/]")
    print(f"eval: {s['passed']} passed, {s['failed']} failed", flush=True)  # plain, alone: the count CI reads
