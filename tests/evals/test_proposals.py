"""Cases with a scripted planner (`proposals`, shared/spec/cases.md): loaded strictly, run through the same
graph, and an expected action may pin its `status`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eval_factories import SHARED_CASES, invoke, make_case, write_case
from test_loader import errors_of

from evals.case import Expect
from evals.loader import load_suite
from evals.matching import ProducedAction, score
from evals.runner import planner_factory, run_suite

SHARED_PROPOSALS = SHARED_CASES.parent / "cases-proposals"
FEE = {"action": "refund", "order_id": "O-1", "amount_cents": 1500, "reason": "shipping_fee"}
NOTICE = {"action": "notify_customer", "order_id": "O-1", "topic": "delay", "eta": "2026-03-11T12:00:00Z",
          "body": "Your order is running late; we have refunded your shipping fee."}


def scripted(case_id: str, proposals: Any, actions: list[dict[str, Any]], outcome: str = "auto") -> dict[str, Any]:
    return make_case(case_id, proposals=proposals, expect={"outcome": outcome, "only": True, "actions": actions})


def did(action: str, status: str = "applied", **args: Any) -> ProducedAction:
    return ProducedAction(action=action, status=status, args=args)  # type: ignore[arg-type]


# --- loading ---------------------------------------------------------------------------------------


def test_a_case_with_proposals_loads_them_as_given(tmp_path: Path) -> None:
    write_case(tmp_path, "a.json", scripted("a", [FEE, {"action": "x", "odd": [1]}, "not even an object"], []))
    (item,) = load_suite([tmp_path]).cases
    assert item.case.proposals == (FEE, {"action": "x", "odd": [1]}, "not even an object")


def test_a_case_without_proposals_has_none(tmp_path: Path) -> None:
    write_case(tmp_path, "a.json", make_case("a"))
    assert load_suite([tmp_path]).cases[0].case.proposals is None


def test_proposals_that_are_not_a_list_make_the_case_malformed(tmp_path: Path) -> None:
    path = write_case(tmp_path, "a.json", scripted("a", {"action": "refund"}, []))
    assert errors_of(path) == [f"{path.as_posix()}: proposals: Input should be a valid tuple"]


def test_denied_may_be_pinned_only_in_a_case_with_proposals(tmp_path: Path) -> None:
    actions = [{"action": "refund", "status": "denied"}]
    path = write_case(tmp_path, "a.json", make_case("a", expect={"outcome": "auto", "actions": actions}))
    assert errors_of(path) == [f"{path.as_posix()}: expect.actions[0].status: 'denied' cannot be pinned in this "
                               "case (it may pin applied, held; `denied` needs `proposals`)"]
    write_case(tmp_path, "a.json", scripted("a", [], actions))
    assert load_suite([tmp_path]).cases[0].case.expect.actions[0].status == "denied"


def test_an_unknown_status_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = write_case(tmp_path, "a.json", scripted("a", [], [{"action": "refund", "status": "paid"}]))
    (message,) = errors_of(path)
    assert message.startswith(f"{path.as_posix()}: expect.actions[0].status: Input should be 'applied'")


# --- matching by status ----------------------------------------------------------------------------


def _expect(*actions: dict[str, Any], only: bool = True) -> Expect:
    return Expect.model_validate({"outcome": ["auto", "approval"], "only": only, "actions": list(actions)})


def test_a_pinned_status_matches_only_an_action_with_that_status() -> None:
    applied, denied = did("refund", amount_cents=1500), did("refund", "denied", amount_cents=1500)
    both = _expect({"action": "refund", "status": "applied"}, {"action": "refund", "status": "denied"})
    assert score(both, [denied, applied]).passed
    assert score(_expect({"action": "refund", "status": "denied"}), [applied]).failures == [
        "Expected refund (denied), but no distinct denied action matches it; got refund (applied; amount_cents 1500).",
        "refund (applied; amount_cents 1500) was not expected, and the case allows only the expected actions."]


def test_without_status_an_expected_action_never_matches_a_denied_one() -> None:
    result = score(_expect({"action": "refund"}), [did("refund", "denied")])
    assert result.failures == ["Expected refund, but no distinct applied or held action matches it; "
                               "got refund (denied)."]


def test_a_held_action_pinned_held_matches_and_applied_does_not() -> None:
    assert score(_expect({"action": "refund", "status": "held"}), [did("refund", "held")]).passed
    assert not score(_expect({"action": "refund", "status": "applied"}), [did("refund", "held")]).passed


def test_only_and_forbidden_ignore_denied_actions_that_no_expected_action_pins() -> None:
    expect = Expect.model_validate({"outcome": "auto", "only": True, "forbidden": ["cancel_order"]})
    assert score(expect, [did("cancel_order", "denied")]).passed


# --- running through the graph ---------------------------------------------------------------------


def _run(tmp_path: Path, case: dict[str, Any]) -> Any:
    write_case(tmp_path, f"{case['id']}.json", case)
    (result,) = run_suite(load_suite([tmp_path]), planner_for=planner_factory("rules")).cases
    return result


def test_proposals_replace_the_planner_and_each_is_judged(tmp_path: Path) -> None:
    result = _run(tmp_path, scripted("dup", [FEE, FEE, NOTICE], [
        {**FEE, "status": "applied"}, {**FEE, "status": "denied"},
        {"action": "notify_customer", "topic": "delay", "status": "applied"}]))
    assert result.passed, result.failures
    assert [(a.status, a.rule_ids) for a in result.actions] == [
        ("applied", ["D3"]), ("denied", ["N0"]), ("applied", ["D1"])]


def test_a_malformed_proposal_is_denied_and_the_rest_still_runs(tmp_path: Path) -> None:
    result = _run(tmp_path, scripted("bad", ["refund please", {**FEE, "amount_cents": "1500"}, FEE, NOTICE], [
        {"action": "refund", "status": "applied"}, {"action": "notify_customer", "status": "applied"}]))
    assert result.passed, result.failures
    assert [(a.action, a.status) for a in result.actions][:2] == [("(no action)", "denied"), ("refund", "denied")]


def test_what_the_proposals_leave_undone_makes_the_case_wait(tmp_path: Path) -> None:
    result = _run(tmp_path, scripted("undone", [NOTICE], [{"action": "notify_customer", "status": "applied"}],
                                     outcome="approval"))
    assert result.passed, result.failures
    assert (result.outcome, result.state) == ("approval", "awaiting_approval")


def test_the_llm_planner_is_not_called_for_a_scripted_first_plan(tmp_path: Path) -> None:
    case = scripted("no-cassette", [FEE, NOTICE], [FEE, {"action": "notify_customer"}])
    write_case(tmp_path, "a.json", case)
    result = run_suite(load_suite([tmp_path]), planner_for=planner_factory("llm", tmp_path / "nothing-here"))
    assert result.passed, result.cases[0].failures


def test_the_shared_proposals_examples_pass(tmp_path: Path) -> None:
    if not SHARED_PROPOSALS.is_dir():
        pytest.skip(f"{SHARED_PROPOSALS} is not there")
    out = tmp_path / "report.json"
    result = invoke(None, "run", str(SHARED_PROPOSALS), "--report", str(out))
    report = json.loads(out.read_text())
    assert report["summary"]["policy_violations"] == 0
    assert result.exit_code == 0, result.stdout
