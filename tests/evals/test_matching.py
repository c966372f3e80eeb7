"""The matcher of shared/spec/cases.md: distinct matches, numbers as numbers, times as instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from evals.case import Expect, ExpectedAction
from evals.matching import ProducedAction, action_matches, field_matches, maximum_matching, score


def expect(outcome: Any = "auto", actions: list[dict[str, Any]] | None = None, **rest: Any) -> Expect:
    return Expect.model_validate({"outcome": outcome, "actions": actions or [], **rest})


def did(action: str, status: str = "applied", **args: Any) -> ProducedAction:
    return ProducedAction(action=action, status=status, args=args)  # type: ignore[arg-type]


def wanted(action: str, **fields: Any) -> ExpectedAction:
    return ExpectedAction.model_validate({"action": action, **fields})


def test_full_matching_beats_greedy() -> None:
    expected = [wanted("notify_customer"), wanted("notify_customer", topic="delay")]
    produced = [did("notify_customer", topic="delay"), did("notify_customer", topic="cancellation")]
    assert maximum_matching(expected, produced) == {0: 1, 1: 0}
    assert score(expect(actions=[e.model_dump() for e in expected]), produced).passed


def test_each_expected_action_needs_a_distinct_produced_action() -> None:
    result = score(expect(actions=[{"action": "refund"}, {"action": "refund"}]),
                   [did("refund", amount_cents=1500)])
    assert result.failures == ["Expected refund, but no distinct applied or held action matches it; "
                               "got refund (applied; amount_cents 1500)."]


def test_numbers_compare_as_numbers_but_booleans_are_not_numbers() -> None:
    assert field_matches(1500, 1500.0)
    assert field_matches(1500.0, 1500)
    assert not field_matches(1500, "1500")
    assert not field_matches(1, True)
    assert not field_matches(True, 1)
    assert field_matches(True, True)


def test_ranges_are_closed_and_either_bound_may_be_left_out() -> None:
    both = wanted("refund", amount_cents={"min": 500, "max": 2000}).fields["amount_cents"]
    low = wanted("refund", amount_cents={"min": 500}).fields["amount_cents"]
    high = wanted("refund", amount_cents={"max": 2000}).fields["amount_cents"]
    assert field_matches(both, 500) and field_matches(both, 2000) and field_matches(both, 1250.5)
    assert not field_matches(both, 499) and not field_matches(both, 2001)
    assert field_matches(low, 10**9) and not field_matches(low, 499)
    assert field_matches(high, -5) and not field_matches(high, 2000.01)
    assert not field_matches(both, "1000")


def test_times_compare_as_instants() -> None:
    assert field_matches("2026-03-10T12:00:00Z", "2026-03-10T07:00:00-05:00")
    assert field_matches("2026-03-10T12:00:00Z", datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert field_matches("2026-03-10T12:00:00+01:00", datetime(2026, 3, 10, 11, tzinfo=UTC))
    assert field_matches("2026-03-10T12:00:00Z",
                         datetime(2026, 3, 10, 14, tzinfo=timezone(timedelta(hours=2))))
    assert field_matches("2026-03-10T12:00:00Z", datetime(2026, 3, 10, 12))  # naive from SQLite is UTC
    assert not field_matches("2026-03-10T12:00:00Z", "2026-03-10T12:00:01Z")


def test_strings_compare_exactly() -> None:
    assert field_matches("delay", "delay")
    assert not field_matches("delay", "Delay")
    assert not field_matches("delay", 1)


def test_a_field_the_action_lacks_or_has_as_null_never_matches() -> None:
    expected = wanted("notify_customer", eta="2026-03-10T12:00:00Z")
    assert not action_matches(expected, did("notify_customer", topic="delay"))
    assert not action_matches(expected, did("notify_customer", topic="delay", eta=None))
    assert not action_matches(wanted("refund", reason=None), did("refund", reason=None))


def test_the_action_name_must_be_the_same() -> None:
    assert not action_matches(wanted("refund", amount_cents=500), did("store_credit", amount_cents=500))


def test_denied_actions_never_count() -> None:
    result = score(expect(actions=[{"action": "refund"}], only=True, forbidden=["cancel_order"]),
                   [did("refund", "denied", amount_cents=99999), did("cancel_order", "denied")])
    assert result.outcome == "auto"
    assert not result.violation
    assert result.failures == ["Expected refund, but no distinct applied or held action matches it; "
                               "got refund (denied; amount_cents 99999)."]


def test_held_actions_count_as_matches_and_make_the_outcome_approval() -> None:
    result = score(expect("approval", [{"action": "notify_customer", "topic": "verification"}]),
                   [did("notify_customer", "held", topic="verification")])
    assert result.passed and result.outcome == "approval"


def test_no_action_at_all_is_auto() -> None:
    assert score(expect("auto", only=True), []).passed


def test_only_refuses_actions_that_match_nothing_expected() -> None:
    result = score(expect(actions=[{"action": "notify_customer"}], only=True),
                   [did("notify_customer", topic="delay"), did("notify_customer", topic="delay"),
                    did("store_credit", amount_cents=500, reason="delay")])
    assert result.failures == ["store_credit (applied; amount_cents 500, reason delay) was not expected, "
                               "and the case allows only the expected actions."]
    assert not result.violation


def test_without_only_extra_actions_are_fine() -> None:
    assert score(expect(actions=[{"action": "notify_customer"}]),
                 [did("notify_customer"), did("store_credit", amount_cents=500)]).passed


def test_a_forbidden_action_applied_is_a_violation() -> None:
    result = score(expect(forbidden=["cancel_order"]), [did("cancel_order", order_id="O-1")])
    assert result.violation
    assert result.failures == ["cancel_order (applied; order_id O-1) is forbidden by the case."]


def test_a_forbidden_action_held_fails_without_a_violation() -> None:
    result = score(expect(["auto", "approval"], forbidden=["cancel_order"]),
                   [did("cancel_order", "held", order_id="O-1")])
    assert not result.violation
    assert result.failures == ["cancel_order (held for approval; order_id O-1) is forbidden by the case."]


def test_auto_where_only_approval_is_allowed_is_a_violation() -> None:
    result = score(expect("approval"), [did("release_hold", order_id="O-1")])
    assert result.violation
    assert result.failures == ["Expected outcome approval, but it came out auto "
                               "(nothing was held for approval)."]


def test_approval_where_auto_was_expected_is_a_plain_failure() -> None:
    result = score(expect("auto"), [did("refund", "held", amount_cents=1500)])
    assert not result.violation
    assert result.failures == ["Expected outcome auto, but it came out approval "
                               "(refund held for approval)."]


def test_a_list_of_outcomes_accepts_either() -> None:
    either = expect(["auto", "approval"])
    assert score(either, [did("refund", "held")]).passed
    assert score(either, [did("refund")]).passed
    assert not score(expect(["auto", "approval"]), [did("refund")]).violation


def test_a_case_waiting_for_a_supervisor_with_no_action_held_is_an_approval() -> None:
    from evals.case import Expect
    from evals.matching import score

    scored = score(Expect.model_validate({"outcome": "auto"}), [], waiting=True)
    assert scored.outcome == "approval" and not scored.passed
