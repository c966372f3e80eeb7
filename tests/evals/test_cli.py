"""`tower eval run`: exit 0 when all pass, 1 when any fails, 2 when the suite or the policy book cannot load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import eval_factories
import pytest
from eval_factories import (
    FIXTURES,
    LOOSER_POLICY,
    SHARED_CASES,
    FakeResult,
    FakeWork,
    make_case,
    planner_per_case,
    write_case,
)

from policies.book import BOOK, load_book


def invoke(work: FakeWork | None, *args: str, planners: Any = None) -> Any:
    return eval_factories.invoke(work, "run", *args, planners=planners)


def test_exit_status_is_0_when_every_case_passes(tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    result = invoke(fake_work, str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1/1 passed" in result.stdout


def test_exit_status_is_1_when_any_case_fails(tmp_path: Path) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    write_case(tmp_path, "b.json", make_case("b"))
    work = FakeWork(answers={"b": FakeResult("resolved", [])})
    result = invoke(work, str(tmp_path))
    assert result.exit_code == 1
    assert "1/2 passed, 1 failed" in result.stdout


def test_exit_status_is_2_and_nothing_runs_when_the_suite_cannot_load(
        tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path, "good.json", make_case("good"))
    case = make_case("bad")
    case["world"]["orders"][0]["shipments"][0]["location"] = "DC-X"
    bad = write_case(tmp_path, "bad.json", case)
    result = invoke(fake_work, str(tmp_path))
    assert result.exit_code == 2
    assert f"{bad.as_posix()}: world.orders[0].shipments[0].location: location 'DC-X' does not exist" \
        in result.stderr
    assert "no case was run" in result.stderr
    assert fake_work.calls == []


def test_exit_status_is_2_for_an_empty_folder(tmp_path: Path, fake_work: FakeWork) -> None:
    result = invoke(fake_work, str(tmp_path))
    assert result.exit_code == 2
    assert "no case found" in result.stderr


def test_exit_status_is_2_when_the_agents_layer_cannot_be_imported(
        tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path, "a.json", make_case("a"))

    def missing(_kind: Any, _cassettes: Any, **_: Any) -> Any:
        raise ImportError("No module named 'agents.planners'")

    result = invoke(fake_work, str(tmp_path), planners=missing)
    assert result.exit_code == 2
    assert fake_work.calls == []


def test_report_option_writes_the_json_report(tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path / "suite", "a.json", make_case("a"))
    out = tmp_path / "out" / "report.json"
    assert invoke(fake_work, str(tmp_path / "suite"), "--report", str(out)).exit_code == 0
    report = json.loads(out.read_text())
    assert report["summary"] == {"cases": 1, "passed": 1, "failed": 0, "policy_violations": 0}
    first = out.read_bytes()
    invoke(fake_work, str(tmp_path / "suite"), "--report", str(out))
    assert out.read_bytes() == first


def test_progress_is_a_line_per_ten_cases_off_a_terminal(tmp_path: Path, fake_work: FakeWork) -> None:
    for n in range(12):
        write_case(tmp_path, f"c{n:02}.json", make_case(f"c{n:02}"))
    result = invoke(fake_work, str(tmp_path))
    assert result.exit_code == 0
    assert "ran 10/12 cases" in result.stderr and "ran 12/12 cases" in result.stderr


def test_planner_and_cassettes_options_reach_the_planner_factory(tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    asked: list[Any] = []

    def planners(kind: Any, cassettes: Any, *, book: Any) -> Any:
        asked.append((kind, cassettes, book))
        return planner_per_case

    invoke(fake_work, str(tmp_path), "--planner", "llm", "--cassettes", str(tmp_path / "rec"),
           planners=planners)
    invoke(fake_work, str(tmp_path), planners=planners)
    assert asked == [("llm", tmp_path / "rec", BOOK), ("rules", None, BOOK)]


def test_an_unknown_planner_is_a_usage_error(tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    assert invoke(fake_work, str(tmp_path), "--planner", "gpt").exit_code == 2
    assert fake_work.calls == []


def test_the_shared_suite_loads_through_the_cli(fake_work: FakeWork) -> None:
    if not SHARED_CASES.is_dir():
        pytest.skip(f"{SHARED_CASES} is not there")
    result = invoke(fake_work, str(SHARED_CASES))
    assert result.exit_code in (0, 1)
    assert len(fake_work.calls) == len(list(SHARED_CASES.rglob("*.json")))


def test_the_shared_suite_passes_with_the_real_agents_and_the_rules_planner(tmp_path: Path) -> None:
    if not SHARED_CASES.is_dir():
        pytest.skip(f"{SHARED_CASES} is not there")
    out = tmp_path / "report.json"
    result = invoke(None, str(SHARED_CASES), "--report", str(out))
    report = json.loads(out.read_text())
    assert report["summary"]["policy_violations"] == 0
    assert result.exit_code == 0, result.stdout


def test_the_policy_option_reaches_the_agents_and_the_planner_and_the_report_records_its_version(
        tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path / "suite", "a.json", make_case("a"))
    books: list[Any] = []

    def planners(_kind: Any, _cassettes: Any, *, book: Any) -> Any:
        books.append(book)
        return planner_per_case

    out = tmp_path / "report.json"
    result = invoke(fake_work, str(tmp_path / "suite"), "--policy", str(LOOSER_POLICY), "--report", str(out),
                    planners=planners)
    looser = load_book(LOOSER_POLICY)
    assert result.exit_code == 0, result.output
    assert books == [looser] and fake_work.calls[0]["book"] == looser
    assert json.loads(out.read_text())["run"]["policy_book"] == {"name": "looser", "version": looser.version}
    assert looser.version != BOOK.version and looser.version in result.stdout


def test_without_a_policy_option_the_default_book_runs_and_is_recorded(tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path / "suite", "a.json", make_case("a"))
    out = tmp_path / "report.json"
    assert invoke(fake_work, str(tmp_path / "suite"), "--report", str(out)).exit_code == 0
    assert fake_work.calls[0]["book"] == BOOK
    assert json.loads(out.read_text())["run"] == {
        "planner": "rules", "repeat": 1, "policy_book": {"name": "default", "version": BOOK.version}}


@pytest.mark.parametrize(("content", "field"), [
    ('{"delays": {"notify_hours": "soon"}}', "delays.notify_hours"),
    ('{"money": {"goodwill_ceilings": {}}}', "money.goodwill_ceilings"),
])
def test_a_bad_policy_file_exits_2_naming_the_file_and_the_field_and_runs_nothing(
        tmp_path: Path, fake_work: FakeWork, content: str, field: str) -> None:
    write_case(tmp_path / "suite", "a.json", make_case("a"))
    policy = tmp_path / "bad_policy.json"
    policy.write_text(content)
    result = invoke(fake_work, str(tmp_path / "suite"), "--policy", str(policy))
    assert result.exit_code == 2
    assert f"{policy}: {field}:" in " ".join(result.stderr.split())
    assert fake_work.calls == []


def test_a_policy_file_that_is_not_there_or_not_json_exits_2_naming_it(tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path / "suite", "a.json", make_case("a"))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    for policy in (tmp_path / "missing.json", broken):
        result = invoke(fake_work, str(tmp_path / "suite"), "--policy", str(policy))
        assert result.exit_code == 2 and str(policy) in " ".join(result.stderr.split())
    assert fake_work.calls == []


def test_the_looser_test_policy_fixture_loads() -> None:
    assert (FIXTURES / "looser_policy.json").is_file()
    looser = load_book(LOOSER_POLICY)
    assert looser.money.goodwill_ceiling_cents == {"standard": 10_000, "gold": 15_000, "platinum": 30_000}
    assert looser.delays.notify_hours == 8


def test_repeat_below_1_is_a_usage_error(tmp_path: Path, fake_work: FakeWork) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    assert invoke(fake_work, str(tmp_path), "--repeat", "0").exit_code == 2
    assert fake_work.calls == []
