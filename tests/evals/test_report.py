"""The report: the JSON of shared/spec/cases.md, byte-identical run to run, and tables for people."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from eval_factories import FakeAction, FakeResult, FakeWork, make_case, planner_per_case, write_case
from rich.console import Console

from core.jsonvalue import jsonable
from evals.loader import load_suite
from evals.report import print_report, report_json
from evals.runner import SuiteResult, run_suite


def run(tmp_path: Path) -> SuiteResult:
    write_case(tmp_path, "a.json", make_case("a"))
    write_case(tmp_path, "b.json", make_case("b", expect={"outcome": "approval"}))
    write_case(tmp_path, "c.json", make_case("c", exception={"type": "fraud_hold", "order_id": "O-1"},
                                             expect={"outcome": "auto"}))
    work = FakeWork(answers={
        "b": FakeResult("resolved", [FakeAction("release_hold", "applied", {"order_id": "O-1"}, ["F1"]),
                                     FakeAction("refund", "denied", {"amount_cents": Decimal(99999)},
                                                ["M1"], reasons=["over refundable"])]),
        "c": RuntimeError("boom"),
    })
    return run_suite(load_suite([tmp_path]), work=work, planner_for=planner_per_case)


def test_report_has_the_summary_and_case_format_of_the_spec(tmp_path: Path) -> None:
    report = json.loads(report_json(run(tmp_path)))
    assert list(report) == ["summary", "run", "pass_hat_k", "aggregates", "cases"]
    assert report["summary"] == {"cases": 3, "passed": 1, "failed": 2, "policy_violations": 1}
    first, second, third = report["cases"]
    assert first == {
        "id": "a", "title": "Express parcel 30 h late", "exception_type": "delay", "passed": True,
        "policy_violation": False, "expected_outcome": ["auto"], "outcome": "auto",
        "runs": {"count": 1, "passed": 1, "outcomes": ["auto"]},
        "actions": [
            {"action": "refund", "status": "applied", "amount_cents": 1500, "order_id": "O-1",
             "reason": "shipping_fee", "rule_ids": ["D3"]},
            {"action": "notify_customer", "status": "applied", "body": "Sorry",
             "eta": "2026-03-11T12:00:00Z", "order_id": "O-1", "topic": "delay", "rule_ids": ["D1"]},
        ],
        "failures": [],
    }
    assert second["passed"] is False and second["policy_violation"] is True
    assert second["actions"][1] == {"action": "refund", "status": "denied", "amount_cents": 99999,
                                    "rule_ids": ["M1"]}
    assert second["failures"] == ["Expected outcome approval, but it came out auto "
                                  "(nothing was held for approval)."]
    assert (third["outcome"], third["actions"], third["failures"]) == (
        None, [], ["The run raised RuntimeError: boom."])


def test_report_is_byte_identical_run_to_run(tmp_path: Path) -> None:
    assert report_json(run(tmp_path / "one")) == report_json(run(tmp_path / "one"))


def test_times_are_written_as_utc_instants() -> None:
    east = timezone(timedelta(hours=-5))
    assert jsonable({"eta": datetime(2026, 3, 10, 7, tzinfo=east), "b": (1, Decimal("2.5"))}) == {
        "b": [1, 2.5], "eta": "2026-03-10T12:00:00Z"}
    assert jsonable(datetime(2026, 3, 10, 12)) == jsonable(datetime(2026, 3, 10, 12, tzinfo=UTC))


def test_terminal_tables_show_each_case_and_the_aggregate_by_type(tmp_path: Path) -> None:
    console = Console(record=True, width=200, color_system=None)
    print_report(run(tmp_path), console)
    text = console.export_text()
    assert "Recorded cases" in text and "By exception type" in text
    assert "FAIL (violation)" in text and "The run raised RuntimeError: boom." in text
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
            for line in text.splitlines() if line.startswith("│")}
    assert rows["delay"] == ["2", "1", "1"]
    assert rows["fraud_hold"] == ["1", "0", "0"]
    assert "1/3 passed, 2 failed, 1 policy violations" in text
