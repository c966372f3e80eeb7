"""Aggregates for people: pass rate by type and rule, the outcome matrix, money, diffs, and pass^k."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from eval_factories import (
    FAILED_DELAY,
    GOLD_DELAY,
    HELD_OVER_CEILING,
    FakeAction,
    FakeResult,
    FakeWork,
    make_case,
    mixed_suite,
    over_ceiling_case,
    planner_per_case,
    write_case,
)

from evals.analysis import NO_ACTION, RAISED, action_diff, analyse, cents, pass_hat, pass_hat_curve
from evals.loader import load_suite
from evals.runner import run_suite


def test_pass_rate_by_exception_type_counts_cases_and_matched_expected_actions(tmp_path: Path) -> None:
    rows = {r.type: r for r in analyse(mixed_suite(tmp_path)).types}
    assert list(rows) == ["delay", "fraud_hold"]
    delay, fraud = rows["delay"], rows["fraud_hold"]
    assert (delay.cases, delay.passed, delay.violations, delay.expected_actions, delay.matched) == (3, 2, 0, 3, 3)
    assert delay.rate == pytest.approx(2 / 3)
    assert (fraud.cases, fraud.passed, fraud.violations, fraud.expected_actions, fraud.matched) == (1, 0, 1, 1, 0)


def test_pass_rate_by_rule_id_comes_from_the_produced_actions_rule_ids(tmp_path: Path) -> None:
    rows = {r.rule: r for r in analyse(mixed_suite(tmp_path)).rules}
    assert list(rows) == ["D1", "D3", "F2", "M1", "M2", NO_ACTION]

    def counts(rule: str) -> tuple[int, ...]:
        r = rows[rule]
        return (r.cases, r.passed, r.applied, r.held, r.denied, r.matched, r.not_expected)

    assert counts("D1") == (2, 2, 2, 0, 0, 1, 1)  # b's notice was not among b's expected actions
    assert counts("D3") == (2, 2, 1, 1, 0, 2, 0)
    assert counts("M2") == (1, 1, 0, 1, 0, 1, 0)
    assert counts("F2") == (1, 0, 1, 0, 0, 0, 1)
    assert counts("M1") == (1, 0, 0, 0, 1, 0, 0)
    assert counts(NO_ACTION) == (1, 0, 0, 0, 0, 0, 0)  # the case that raised
    assert rows["D1"].description.startswith("Delay of 12 h")


def test_the_outcome_matrix_puts_expected_outcomes_against_what_happened(tmp_path: Path) -> None:
    a = analyse(mixed_suite(tmp_path))
    assert a.expected_rows == ["auto", "approval", "auto or approval"]
    assert a.produced_columns == ["auto", "approval", RAISED]
    assert a.matrix == {"auto": {"auto": 1, "approval": 0, RAISED: 1},
                        "approval": {"auto": 1, "approval": 1, RAISED: 0},
                        "auto or approval": {"auto": 0, "approval": 0, RAISED: 0}}


def test_money_sums_applied_and_held_payouts_separately_by_kind(tmp_path: Path) -> None:
    a = analyse(mixed_suite(tmp_path))
    rows = {m.kind: (m.applied_cents, m.held_cents, m.denied_cents) for m in a.money}
    assert rows == {"refund (goodwill)": (0, 0, 99999), "refund (shipping_fee)": (1500, 6000, 0)}
    total = a.money_total
    assert (total.applied_cents, total.held_cents, total.applied_count, total.held_count) == (1500, 6000, 1, 1)
    assert cents(123456) == "$1,234.56" and cents(5) == "$0.05"


def test_a_failure_diff_shows_matched_missing_and_unexpected_actions(tmp_path: Path) -> None:
    failed = {c.id: c for c in mixed_suite(tmp_path).cases}["c"]
    assert [(d.sign, d.text) for d in action_diff(failed)] == [
        ("-", "expected notify_customer (topic verification)"),
        ("+", "produced release_hold (applied; order_id O-1) [F2]"),
        ("+", "produced refund (denied; amount_cents 99999, order_id O-1, reason goodwill) [M1]"),
    ]


def test_a_passing_case_diff_pairs_each_expected_action_with_the_one_that_matched(tmp_path: Path) -> None:
    passed = {c.id: c for c in mixed_suite(tmp_path).cases}["a"]
    assert [d.sign for d in action_diff(passed)] == [" ", " "]
    assert action_diff(passed)[0].text.startswith("refund (amount_cents 1500, reason shipping_fee)  =  refund (")


def test_pass_hat_k_is_the_chance_that_k_runs_drawn_from_n_all_pass_averaged_over_cases() -> None:
    counts = [(4, 4), (4, 2), (4, 0)]
    assert pass_hat(counts, 1) == Fraction(1 + Fraction(2, 4), 3)
    assert pass_hat(counts, 2) == Fraction(1 + Fraction(1, 6), 3)
    assert pass_hat(counts, 4) == Fraction(1, 3)
    assert pass_hat([], 1) == 0
    with pytest.raises(ValueError, match="1 <= k <= runs"):
        pass_hat(counts, 5)


def test_repeat_runs_every_case_k_times_and_a_case_passes_only_if_all_runs_pass(tmp_path: Path) -> None:
    write_case(tmp_path, "steady.json", make_case("steady"))
    write_case(tmp_path, "flaky.json", make_case("flaky"))
    work = FakeWork(answers={"flaky": [GOLD_DELAY, FAILED_DELAY, GOLD_DELAY]})
    result = run_suite(load_suite([tmp_path]), work=work, planner_for=planner_per_case, repeat=3)
    assert len(work.calls) == 6 and result.repeat == 3
    flaky, steady = result.cases
    assert (flaky.id, flaky.runs, flaky.passes, flaky.passed) == ("flaky", 3, 2, False)
    assert flaky.failures and flaky.actions == []  # the run shown is the one that failed
    assert (steady.runs, steady.passes, steady.passed) == (3, 3, True)
    assert pass_hat_curve(result.cases, 3) == {1: 0.8333, 2: 0.6667, 3: 0.5}


def test_a_violation_in_any_run_marks_the_case_and_is_the_run_shown(tmp_path: Path) -> None:
    write_case(tmp_path, "b.json", over_ceiling_case("b"))
    auto = FakeResult("resolved", [FakeAction("refund", "applied", {"amount_cents": 6000, "reason": "shipping_fee"})])
    result = run_suite(load_suite([tmp_path]), work=FakeWork(answers={"b": [HELD_OVER_CEILING, auto]}),
                       planner_for=planner_per_case, repeat=3)
    (case,) = result.cases
    assert case.violation and case.outcome == "auto" and case.run_outcomes == ("approval", "auto", "auto")
    assert case.passes == 1


def test_repeat_below_1_is_refused(tmp_path: Path) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    with pytest.raises(ValueError, match="at least 1"):
        run_suite(load_suite([tmp_path]), work=FakeWork(), planner_for=planner_per_case, repeat=0)


def test_the_rules_planner_gives_k_identical_runs(tmp_path: Path) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    write_case(tmp_path, "b.json", over_ceiling_case("b"))
    result = run_suite(load_suite([tmp_path]), repeat=3)
    assert [(c.id, c.passes, c.runs, c.run_outcomes) for c in result.cases] == [
        ("a", 3, 3, ("auto",) * 3), ("b", 3, 3, ("approval",) * 3)]
    assert pass_hat_curve(result.cases, 3) == {1: 1.0, 2: 1.0, 3: 1.0}
