"""Cases that go on (`then`): a strict loader, events through the OMS, decisions through the decision service,
and `expect.state` and the statuses of `then` judged."""

from __future__ import annotations

import json
import sys
import types
from datetime import datetime
from pathlib import Path
from typing import Any

import eval_factories
import pytest
from eval_factories import make_case, write_case

from evals.loader import SuiteError, load_suite
from evals.runner import planner_factory, run_suite

CASES_THEN = eval_factories.SHARED_CASES.parent / "cases-then"
CASSETTES = Path(__file__).resolve().parents[2] / "evals" / "cassettes" / "then"


def errors_of(tmp_path: Path, case: dict[str, Any]) -> list[str]:
    path = write_case(tmp_path, "c.json", case)
    with pytest.raises(SuiteError) as caught:
        load_suite([path])
    return [m.removeprefix(f"{path.as_posix()}: ") for m in caught.value.messages]


def with_then(*steps: dict[str, Any], **expect: Any) -> dict[str, Any]:
    case = make_case("then-case")
    case["expect"] = {"outcome": "auto", **expect}
    case["then"] = list(steps)
    return case


def decision(kind: str = "approve", role: str = "supervisor", **fields: Any) -> dict[str, Any]:
    return {"role": role, "decision": kind, **fields}


# --------------------------------------------------------------------------- the loader


def test_the_shared_then_examples_load() -> None:
    if not CASES_THEN.is_dir():
        pytest.skip(f"{CASES_THEN} is not there")
    assert len(load_suite([CASES_THEN]).cases) == 3


def test_a_step_before_now_or_before_the_step_above_it_is_refused(tmp_path: Path) -> None:
    case = with_then({"at": "2026-03-10T11:00:00Z", "decision": decision()},
                     {"at": "2026-03-10T15:00:00Z", "decision": decision()},
                     {"at": "2026-03-10T14:00:00Z", "decision": decision()})
    errors = errors_of(tmp_path, case)
    assert errors[0].startswith("then[0].at: 2026-03-10T11:00:00+00:00 is before the case's now")
    assert errors[1].startswith("then[2].at: 2026-03-10T14:00:00+00:00 is before the step above it")
    assert len(errors) == 2


def test_an_unknown_event_type_or_field_is_refused_naming_it(tmp_path: Path) -> None:
    assert errors_of(tmp_path, with_then({"at": "2026-03-10T13:00:00Z", "event": {"type": "earthquake"}})) == [
        "then[0].event.type: unknown event type (one of carrier_update, rescore, stock_received, return_evidence)"]
    errors = errors_of(tmp_path, with_then({"at": "2026-03-10T13:00:00Z", "event": {
        "type": "carrier_update", "shipment_id": "S-1", "status": "delivered", "colour": "blue"}}))
    assert errors == ["then[0].event.colour: unknown key (the case format does not name it)"]
    errors = errors_of(tmp_path, with_then({"at": "2026-03-10T13:00:00Z", "event": {"type": "rescore"}}))
    assert sorted(errors) == ["then[0].event.fraud_score: required field is missing",
                              "then[0].event.order_id: required field is missing"]


def test_a_reference_that_does_not_resolve_is_refused(tmp_path: Path) -> None:
    case = with_then({"at": "2026-03-10T13:00:00Z", "event": {"type": "carrier_update", "shipment_id": "S-9",
                                                              "status": "delivered"}},
                     {"at": "2026-03-10T13:00:00Z", "event": {"type": "stock_received", "location": "DC-X",
                                                              "sku": "LAMP-01", "qty": 3}},
                     {"at": "2026-03-10T13:00:00Z", "decision": decision(
                         "add", actions=[{"action": "release_hold", "order_id": "O-9"}])})
    assert errors_of(tmp_path, case) == ["then[0].event.shipment_id: shipment 'S-9' does not exist",
                                         "then[1].event.location: location 'DC-X' does not exist",
                                         "then[2].decision.actions[0].order_id: order 'O-9' does not exist"]


def test_a_decision_of_an_unknown_shape_is_refused(tmp_path: Path) -> None:
    case = with_then(
        {"at": "2026-03-10T13:00:00Z", "decision": {**decision(), "why": "x"}},
        {"at": "2026-03-10T13:00:00Z", "decision": decision("approve", role="boss")},
        {"at": "2026-03-10T13:00:00Z"},
    )
    errors = errors_of(tmp_path, case)
    assert "then[0].decision.why: unknown key (the case format does not name it)" in errors
    assert any(e.startswith("then[1].decision.role: ") for e in errors)
    assert any(e.startswith("then[2]: ") and "exactly one of `event` and `decision`" in e for e in errors)


def test_decision_entries_are_read_strictly(tmp_path: Path) -> None:
    case = with_then(
        {"at": "2026-03-10T13:00:00Z", "decision": decision(actions=[{"action": "refund", "amout_cents": 1}])},
        {"at": "2026-03-10T13:00:00Z", "decision": decision("edit", actions=[{"action": "refund"}])},
        {"at": "2026-03-10T13:00:00Z", "decision": decision("add")},
        {"at": "2026-03-10T13:00:00Z", "decision": decision("add", actions=[{"action": "refund", "order_id": "O-1"}])},
        {"at": "2026-03-10T13:00:00Z", "decision": decision("approve", actions=[{"action": "pay_all"}])},
        {"at": "2026-03-10T13:00:00Z", "decision": decision(
            "reject", actions=[{"action": "refund", "set": {"amount_cents": 1}}])},
    )
    errors = errors_of(tmp_path, case)
    assert errors[0].startswith("then[0].decision.actions[0].amout_cents: unknown field: refund has no argument")
    assert errors[1] == "then[1].decision.actions[0].set: an edit gives the new values under `set`"
    assert errors[2] == "then[2].decision.actions: required for add: name the actions"
    assert errors[3].startswith("then[3].decision.actions[0]: ") and "amount_cents" in errors[3]
    assert errors[4].startswith("then[4].decision.actions[0].action: 'pay_all' is not an action")
    assert errors[5] == "then[5].decision.actions[0].set: only an edit has `set`, not reject"
    assert len(errors) == 6


def test_then_lets_a_case_pin_rejected_and_withdrawn_and_a_case_without_it_may_not(tmp_path: Path) -> None:
    case = make_case("plain")
    case["expect"]["actions"][0]["status"] = "rejected"
    assert errors_of(tmp_path, case)[0].startswith("expect.actions[0].status: 'rejected' cannot be pinned")
    case["then"] = []
    write_case(tmp_path, "c.json", case)
    assert load_suite([tmp_path / "c.json"]).cases[0].case.expect.actions[0].status == "rejected"


def test_the_cli_exits_2_naming_the_file_and_the_field(tmp_path: Path) -> None:
    bad = write_case(tmp_path, "bad.json", with_then({"at": "2026-03-10T13:00:00Z", "event": {"type": "nope"}}))
    result = eval_factories.invoke(None, "run", str(tmp_path))
    assert result.exit_code == 2
    assert f"{bad.as_posix()}: then[0].event.type: unknown event type" in result.stderr


# --------------------------------------------------------------------------- running the steps


def shared(name: str) -> dict[str, Any]:
    path = CASES_THEN / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def run(tmp_path: Path, case: dict[str, Any], planner: str = "rules") -> Any:
    write_case(tmp_path, f"{case['id']}.json", case)
    suite = load_suite([tmp_path / f"{case['id']}.json"])
    planners = planner_factory(planner, CASSETTES if planner == "llm" else None)  # type: ignore[arg-type]
    [result] = run_suite(suite, planner_for=planners).cases
    return result


@pytest.mark.parametrize("planner", ["rules", "llm"])
@pytest.mark.parametrize("name", ["then-delay-ceiling-lead-approves", "then-fraud-reject-release",
                                  "then-return-abuse-guard-held"])
def test_the_shared_then_examples_pass_with_both_planners(tmp_path: Path, name: str, planner: str) -> None:
    result = run(tmp_path, shared(name), planner)
    assert result.passed, result.failures
    assert result.outcome == "approval"  # the outcome describes the first plan


def test_the_case_is_judged_on_its_state_and_statuses_after_the_last_step(tmp_path: Path) -> None:
    case = shared("then-fraud-reject-release")
    case["then"] = case["then"][:1]  # rejected, nothing added: the order is still on hold, so it waits
    result = run(tmp_path, case)
    assert result.state == "awaiting_approval"
    assert "Expected the exception to end resolved, but it ended awaiting_approval." in result.failures
    assert any("release_hold" in f for f in result.failures)
    assert sorted(a.status for a in result.actions) == ["rejected"] * 3


def test_a_decision_the_service_refuses_fails_the_case_with_its_reason(tmp_path: Path) -> None:
    case = shared("then-delay-ceiling-lead-approves")
    case["then"].append({"at": "2026-03-10T15:00:00Z", "decision": decision("approve")})  # nothing waits any more
    result = run(tmp_path, case)
    assert not result.passed
    assert result.failures[0].startswith("then[1] (supervisor approve at 2026-03-10T15:00:00+00:00): "
                                         "the decision was refused (409)")


def test_an_entry_naming_no_held_action_fails_the_case(tmp_path: Path) -> None:
    case = shared("then-fraud-reject-release")
    case["then"][0]["decision"]["actions"] = [{"action": "refund", "reason": "goodwill"}]
    result = run(tmp_path, case)
    assert result.failures[0].startswith("then[0] (supervisor reject at")
    assert "names no held action" in result.failures[0] and "held: cancel_order" in result.failures[0]


def test_an_entry_chooses_held_actions_the_way_expect_matches_them(tmp_path: Path) -> None:
    case = shared("then-fraud-reject-release")
    case["then"][0]["decision"]["actions"] = [{"action": "cancel_order", "order_id": "O-1"}]  # refund, notice go too
    assert run(tmp_path, case).passed


def test_an_event_step_goes_through_the_oms_at_its_time_then_to_the_consumer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def consume_events(engine: Any, *, clock: Any, planner: Any = None, checkpointer: Any = None, book: Any = None,
                       limit: int = 500) -> int:
        from sqlmodel import Session

        from core.models import Shipment
        with Session(engine) as s:
            shp = s.get(Shipment, "S-1")
            assert shp is not None
            seen.append((clock.now(), shp.status, shp.delivered_at, checkpointer is not None))
        return 1

    module = types.ModuleType("agents.replan")
    module.consume_events = consume_events  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "agents.replan", module)
    case = shared("then-delay-ceiling-lead-approves")
    case["then"] = [{"at": "2026-03-10T13:00:00Z", "event": {"type": "carrier_update", "shipment_id": "S-1",
                                                             "status": "delivered"}}]
    case["expect"] = {"outcome": "approval"}
    result = run(tmp_path, case)
    at = datetime.fromisoformat("2026-03-10T13:00:00+00:00")
    [(now, status, delivered_at, has_saver)] = seen
    assert now == at and status == "delivered" and has_saver
    assert delivered_at is not None and delivered_at.replace(tzinfo=at.tzinfo) == at
    assert result.passed, result.failures
