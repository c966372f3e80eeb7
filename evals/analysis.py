"""Aggregates of a suite's result that people read: pass rates by type and rule, outcomes, money, pass^k, diffs.

Pure functions of a SuiteResult; the terminal tables, the Markdown and the
HTML reports all draw from here, so they never disagree. Every list comes
out in a fixed order (type, rule id, action name) so the reports are
byte-identical run to run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from math import comb
from numbers import Real
from typing import Any

from evals.case import OUTCOMES, ExpectedAction, ValueRange
from evals.matching import ProducedAction, describe
from evals.runner import CaseResult, SuiteResult
from policies.book import RULES

NO_ACTION = "(no action)"
RAISED = "raised"
PAYOUT_ACTIONS = ("refund", "store_credit", "approve_return")


@dataclass
class TypeRow:
    """Pass rate of one exception type, and how many expected actions found a match."""

    type: str
    cases: int = 0
    passed: int = 0
    violations: int = 0
    expected_actions: int = 0
    matched: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0


@dataclass
class RuleRow:
    """One rule id: the cases whose produced actions cite it, and its actions, matched to expected or not."""

    rule: str
    description: str
    cases: int = 0
    passed: int = 0
    applied: int = 0
    held: int = 0
    denied: int = 0
    rejected: int = 0
    withdrawn: int = 0
    matched: int = 0
    not_expected: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0


@dataclass
class MoneyRow:
    """Payout of one kind (`refund (shipping_fee)`, `store_credit`, `approve_return`), in cents, by status."""

    kind: str
    applied_cents: int = 0
    held_cents: int = 0
    denied_cents: int = 0
    applied_count: int = 0
    held_count: int = 0


@dataclass
class DiffLine:
    """`-` expected and not produced, `+` produced and not expected (or denied), ` ` matched."""

    sign: str
    text: str


@dataclass
class Analysis:
    types: list[TypeRow]
    rules: list[RuleRow]
    expected_rows: list[str]
    produced_columns: list[str]
    matrix: dict[str, dict[str, int]]
    money: list[MoneyRow]
    pass_hat: dict[int, float]
    failures: list[tuple[CaseResult, list[DiffLine]]] = field(default_factory=list)

    @property
    def money_total(self) -> MoneyRow:
        total = MoneyRow("total")
        for row in self.money:
            total.applied_cents += row.applied_cents
            total.held_cents += row.held_cents
            total.denied_cents += row.denied_cents
            total.applied_count += row.applied_count
            total.held_count += row.held_count
        return total


def analyse(result: SuiteResult) -> Analysis:
    rows, columns, matrix = outcome_matrix(result.cases)
    return Analysis(types=by_type(result.cases), rules=by_rule(result.cases), expected_rows=rows,
                    produced_columns=columns, matrix=matrix, money=money(result.cases),
                    pass_hat=pass_hat_curve(result.cases, result.repeat),
                    failures=[(c, action_diff(c)) for c in result.cases if not c.passed])


def by_type(cases: Sequence[CaseResult]) -> list[TypeRow]:
    rows: dict[str, TypeRow] = {}
    for c in cases:
        row = rows.setdefault(c.exception_type, TypeRow(c.exception_type))
        row.cases += 1
        row.passed += c.passed
        row.violations += c.violation
        row.expected_actions += len(c.expect.actions) if c.expect else 0
        row.matched += len(c.matches)
    return [rows[k] for k in sorted(rows)]


def by_rule(cases: Sequence[CaseResult]) -> list[RuleRow]:
    """A case counts once for every rule id its produced actions cite; a case with no action under NO_ACTION."""
    rows: dict[str, RuleRow] = {}

    def row(rule: str) -> RuleRow:
        return rows.setdefault(rule, RuleRow(rule, RULES.get(rule, "")))

    for c in cases:
        cited = sorted({r for a in c.actions for r in a.rule_ids}) or [NO_ACTION]
        for rule in cited:
            row(rule).cases += 1
            row(rule).passed += c.passed
        matched = set(c.matches.values())
        for i, a in enumerate(c.actions):
            for rule in dict.fromkeys(a.rule_ids):
                r = row(rule)
                if a.status in ("applied", "held", "denied", "rejected", "withdrawn"):
                    setattr(r, a.status, getattr(r, a.status) + 1)
                if i in matched:
                    r.matched += 1
                elif a.status in ("applied", "held"):
                    r.not_expected += 1
    return [rows[k] for k in sorted(rows, key=_rule_key)]


def _rule_key(rule: str) -> tuple[int, str, int, str]:
    """D1 < D2 < ... < D10, letters first; NO_ACTION last."""
    if rule == NO_ACTION:
        return (1, "", 0, "")
    letters = rule.rstrip("0123456789")
    digits = rule[len(letters):]
    return (0, letters, int(digits) if digits else 0, rule)


def outcome_label(outcomes: Sequence[str]) -> str:
    """`auto`, `approval` or `auto or approval`, in the order of OUTCOMES whatever the case's order."""
    return " or ".join(sorted(outcomes, key=lambda o: OUTCOMES.index(o) if o in OUTCOMES else len(OUTCOMES)))


def outcome_matrix(cases: Sequence[CaseResult]) -> tuple[list[str], list[str], dict[str, dict[str, int]]]:
    """Expected outcome (rows) against what happened (columns: auto, approval, raised): case counts."""
    rows = [*OUTCOMES, outcome_label(OUTCOMES)]
    rows += sorted({outcome_label(c.expected_outcomes) for c in cases} - set(rows))
    columns = [*OUTCOMES, RAISED]
    matrix = {r: dict.fromkeys(columns, 0) for r in rows}
    for c in cases:
        matrix[outcome_label(c.expected_outcomes)][c.outcome or RAISED] += 1
    return rows, columns, matrix


def payout_kind(a: ProducedAction) -> str | None:
    """`refund (reason)`, `store_credit` or `approve_return` for an action that pays out money; else None."""
    amount = a.args.get("amount_cents")
    if a.action not in PAYOUT_ACTIONS or isinstance(amount, bool) or not isinstance(amount, Real | Decimal):
        return None
    if a.action == "refund":
        return f"refund ({a.args.get('reason', 'no reason')})"
    return a.action


def money(cases: Sequence[CaseResult]) -> list[MoneyRow]:
    """Money that would have been paid out (applied) and that waits for a supervisor (held), by kind."""
    rows: dict[str, MoneyRow] = {}
    for c in cases:
        for a in c.actions:
            kind = payout_kind(a)
            if kind is None:
                continue
            row = rows.setdefault(kind, MoneyRow(kind))
            cents = int(a.args["amount_cents"])
            if a.status == "applied":
                row.applied_cents += cents
                row.applied_count += 1
            elif a.status == "held":
                row.held_cents += cents
                row.held_count += 1
            else:
                row.denied_cents += cents
    return [rows[k] for k in sorted(rows)]


def pass_hat(runs_and_passes: Sequence[tuple[int, int]], k: int) -> Fraction:
    """pass^k (tau-bench): the chance that k runs drawn from a case's n all pass, C(c, k) / C(n, k), averaged."""
    if not runs_and_passes:
        return Fraction(0)
    total = Fraction(0)
    for n, c in runs_and_passes:
        if not 1 <= k <= n:
            raise ValueError(f"pass^{k} needs 1 <= k <= runs ({n})")
        total += Fraction(comb(c, k), comb(n, k))
    return total / len(runs_and_passes)


def pass_hat_curve(cases: Sequence[CaseResult], repeat: int) -> dict[int, float]:
    """pass^1 .. pass^K, rounded to 4 places; pass^K is the share of cases whose K runs all passed."""
    counts = [(c.runs, c.passes) for c in cases]
    return {k: round(float(pass_hat(counts, k)), 4) for k in range(1, repeat + 1)}


def expected_text(e: ExpectedAction) -> str:
    parts = [f"{k} {v.describe() if isinstance(v, ValueRange) else v}" for k, v in e.fields.items()]
    return e.action + (f" ({', '.join(parts)})" if parts else "")


def action_diff(c: CaseResult) -> list[DiffLine]:
    """Expected against produced: matched pairs first, then what was expected and missing, then the extra."""
    expected = list(c.expect.actions) if c.expect else []
    lines: list[DiffLine] = []
    for e, p in sorted(c.matches.items()):
        lines.append(DiffLine(" ", f"{expected_text(expected[e])}  =  {_produced(c.actions[p])}"))
    lines += [DiffLine("-", f"expected {expected_text(e)}") for i, e in enumerate(expected) if i not in c.matches]
    matched = set(c.matches.values())
    lines += [DiffLine("+", f"produced {_produced(a)}") for i, a in enumerate(c.actions) if i not in matched]
    return lines


def _produced(a: ProducedAction) -> str:
    rules = f" [{', '.join(a.rule_ids)}]" if a.rule_ids else ""
    return describe(a) + rules


def cents(value: int) -> str:
    """12345 -> `$123.45`."""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value) // 100:,}.{abs(value) % 100:02d}"


def percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def as_dict(analysis: Analysis) -> dict[str, Any]:
    """The aggregates as JSON-ready data (part of the JSON report)."""
    total = analysis.money_total
    return {
        "by_type": [{"type": r.type, "cases": r.cases, "passed": r.passed, "violations": r.violations,
                     "expected_actions": r.expected_actions, "matched": r.matched} for r in analysis.types],
        "by_rule": [{"rule": r.rule, "cases": r.cases, "passed": r.passed, "applied": r.applied, "held": r.held,
                     "denied": r.denied, "rejected": r.rejected, "withdrawn": r.withdrawn, "matched": r.matched,
                     "not_expected": r.not_expected}
                    for r in analysis.rules],
        "outcomes": {row: dict(analysis.matrix[row]) for row in analysis.expected_rows},
        "money": {"applied_cents": total.applied_cents, "held_cents": total.held_cents,
                  "denied_cents": total.denied_cents,
                  "by_kind": [{"kind": m.kind, "applied_cents": m.applied_cents, "held_cents": m.held_cents,
                               "denied_cents": m.denied_cents} for m in analysis.money]},
    }
