"""`tower eval compare BASE CANDIDATE`: better, worse, unchanged; exit 1 on a regression, 2 on unreadable input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eval_factories import LOOSER_POLICY, SHARED_CASES, invoke, make_case, over_ceiling_case, write_case

from evals.compare import compare, read_report


def case(case_id: str, passed: bool, outcome: str | None = "auto", violation: bool = False) -> dict[str, Any]:
    return {"id": case_id, "passed": passed, "policy_violation": violation, "outcome": outcome,
            "failures": [] if passed else [f"{case_id} went wrong."]}


def report(tmp_path: Path, name: str, *cases: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"summary": {}, "cases": list(cases)}))
    return path


def standard_10h_case(case_id: str = "delay-standard-10h") -> dict[str, Any]:
    """A standard parcel 10 h late: under D1's 12 h, so nothing to do."""
    c = make_case(case_id, expect={"outcome": "auto", "only": True, "actions": []})
    c["world"]["orders"][0]["shipping"]["method"] = "standard"
    c["world"]["orders"][0]["shipments"][0]["eta"] = "2026-03-10T16:00:00Z"
    return c


def test_a_looser_policy_is_caught_by_compare_naming_each_case_it_broke(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    write_case(suite, "ceiling.json", over_ceiling_case())
    write_case(suite, "quiet.json", standard_10h_case())
    write_case(suite, "gold.json", make_case("delay-express-gold"))
    base, candidate = tmp_path / "base.json", tmp_path / "looser.json"
    assert invoke(None, "run", str(suite), "--report", str(base)).exit_code == 0
    assert invoke(None, "run", str(suite), "--policy", str(LOOSER_POLICY), "--report", str(candidate)).exit_code == 1
    result = invoke(None, "compare", str(base), str(candidate))
    assert result.exit_code == 1, result.stdout
    text = " ".join(result.stdout.split())
    assert "2 regressions: delay-over-ceiling, delay-standard-10h" in text
    changes = compare(read_report(base), read_report(candidate))
    reasons = {c.id: c.reasons for c in changes.regressions}
    assert reasons == {"delay-over-ceiling": ("passed, now fails", "new policy violation"),
                       "delay-standard-10h": ("passed, now fails",)}
    assert changes.still_passing == 1 and changes.base_book != changes.candidate_book


def test_the_shared_suite_under_the_looser_policy_regresses_the_10h_delay(tmp_path: Path) -> None:
    if not SHARED_CASES.is_dir():
        pytest.skip(f"{SHARED_CASES} is not there")
    base, candidate = tmp_path / "base.json", tmp_path / "looser.json"
    invoke(None, "run", str(SHARED_CASES), "--report", str(base))
    invoke(None, "run", str(SHARED_CASES), "--policy", str(LOOSER_POLICY), "--report", str(candidate))
    result = invoke(None, "compare", str(base), str(candidate))
    assert result.exit_code == 1
    assert "regression: delay-standard-10h" in " ".join(result.stdout.split())


def test_compare_exits_0_and_lists_what_got_better_when_nothing_got_worse(tmp_path: Path) -> None:
    base = report(tmp_path, "base.json", case("a", True), case("b", False), case("c", False))
    candidate = report(tmp_path, "cand.json", case("a", True), case("b", True), case("c", False, "approval"),
                       case("d", True))
    result = invoke(None, "compare", str(base), str(candidate))
    assert result.exit_code == 0, result.stdout
    text = " ".join(result.stdout.split())
    assert "better: 1, worse: 0, unchanged: 1 passing and 1 failing, outcome changed: 1, new cases: 1" in text
    assert "No regression." in text
    changes = compare(read_report(base), read_report(candidate))
    assert [(c.id, c.kind) for c in changes.changes] == [("b", "fixed"), ("c", "outcome"), ("d", "added")]


def test_a_case_missing_from_the_candidate_is_a_regression(tmp_path: Path) -> None:
    base = report(tmp_path, "base.json", case("a", True), case("b", False))
    candidate = report(tmp_path, "cand.json", case("a", True))
    result = invoke(None, "compare", str(base), str(candidate))
    assert result.exit_code == 1
    assert "missing from the candidate" in result.stdout and "1 regression: b" in result.stdout


def test_a_new_policy_violation_is_a_regression_even_in_a_case_that_already_failed(tmp_path: Path) -> None:
    base = report(tmp_path, "base.json", case("a", False))
    candidate = report(tmp_path, "cand.json", case("a", False, violation=True), case("new", False, violation=True))
    changes = compare(read_report(base), read_report(candidate))
    assert {c.id: c.reasons for c in changes.regressions} == {
        "a": ("new policy violation",), "new": ("new case with a policy violation",)}
    assert invoke(None, "compare", str(base), str(candidate)).exit_code == 1


def test_a_new_failing_case_without_a_violation_is_not_a_regression(tmp_path: Path) -> None:
    base = report(tmp_path, "base.json", case("a", True))
    candidate = report(tmp_path, "cand.json", case("a", True), case("b", False))
    assert invoke(None, "compare", str(base), str(candidate)).exit_code == 0


def test_unreadable_input_exits_2_naming_the_file_and_the_field(tmp_path: Path) -> None:
    good = report(tmp_path, "good.json", case("a", True))
    broken = tmp_path / "broken.json"
    broken.write_text("{\n")
    bad_field = tmp_path / "bad.json"
    bad_field.write_text(json.dumps({"cases": [case("a", True), {"id": "b", "passed": "yes"}]}))
    twice = report(tmp_path, "twice.json", case("a", True), case("a", False))
    expected = {broken: f"{broken.as_posix()}: line 2 column 1: invalid JSON",
                bad_field: f"{bad_field.as_posix()}: cases[1].passed: Input should be a valid boolean",
                twice: f"{twice.as_posix()}: cases[1].id: case id 'a' appears twice",
                tmp_path / "none.json": f"{(tmp_path / 'none.json').as_posix()}: cannot be read"}
    for path, message in expected.items():
        result = invoke(None, "compare", str(good), str(path))
        assert result.exit_code == 2
        assert message in " ".join(result.stderr.split())
