"""The runner: a fresh OMS per case, the exception raised at `now`, failures contained per case."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eval_factories import LOOSER_POLICY, FakeAction, FakeResult, FakeWork, make_case, planner_per_case, write_case

from evals.loader import load_suite
from evals.runner import NetworkRefused, no_network, planner_factory, run_suite
from policies.book import BOOK, load_book


def suite_of(tmp_path: Path, *cases: dict[str, Any]) -> Any:
    for case in cases:
        write_case(tmp_path, f"{case['id']}.json", case)
    return load_suite([tmp_path])


def test_the_exception_is_raised_at_the_case_now_with_its_fields(tmp_path: Path, fake_work: FakeWork) -> None:
    case = make_case()
    case["world"]["settings"] = {"carbon_cents_per_kg": 40}
    result = run_suite(suite_of(tmp_path, case), work=fake_work, planner_for=planner_per_case)
    (call,) = fake_work.calls
    exc = call["exception"]
    assert (exc["type"], exc["order_id"], exc["shipment_id"], exc["note"], exc["state"]) == (
        "delay", "O-1", "S-1", "Weather", "open")
    assert call["now"] == datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert call["carbon_cents_per_kg"] == 40
    assert call["planner"] == "delay-express"
    assert result.passed


def test_every_case_gets_a_fresh_world(tmp_path: Path, fake_work: FakeWork) -> None:
    suite = suite_of(tmp_path, make_case("a"), make_case("b"))
    run_suite(suite, work=fake_work, planner_for=planner_per_case)
    assert [c["exception"]["id"] for c in fake_work.calls] == ["EX-000001", "EX-000001"]


def test_a_stockout_is_raised_with_its_line_and_quantity(tmp_path: Path, fake_work: FakeWork) -> None:
    case = make_case(exception={"type": "stockout", "order_id": "O-1", "sku": "LAMP-01",
                                "location": "DC-EAST", "short_qty": 1})
    run_suite(suite_of(tmp_path, case), work=fake_work, planner_for=planner_per_case)
    exc = fake_work.calls[0]["exception"]
    assert (exc["sku"], exc["location"], exc["short_qty"], exc["note"]) == ("LAMP-01", "DC-EAST", 1, None)


def test_a_case_that_raises_fails_without_stopping_the_suite(tmp_path: Path) -> None:
    work = FakeWork(answers={"a": RuntimeError("graph broke\nat node plan")})
    result = run_suite(suite_of(tmp_path, make_case("a"), make_case("b")), work=work,
                       planner_for=planner_per_case)
    first, second = result.cases
    assert first.failures == ["The run raised RuntimeError: graph broke at node plan."]
    assert first.outcome is None and not first.violation
    assert second.passed


def test_a_planner_that_cannot_be_made_fails_only_its_case(tmp_path: Path, fake_work: FakeWork) -> None:
    def planner_for(item: Any) -> str:
        if item.case.id == "a":
            raise FileNotFoundError("no cassette a.yaml")
        return str(item.case.id)

    result = run_suite(suite_of(tmp_path, make_case("a"), make_case("b")), work=fake_work,
                       planner_for=planner_for)
    assert result.cases[0].failures == ["The run raised FileNotFoundError: no cassette a.yaml."]
    assert result.cases[1].passed


def test_an_exception_that_ends_failed_fails_the_case(tmp_path: Path) -> None:
    work = FakeWork(answers={"a": FakeResult("failed", [])})
    case = make_case("a", expect={"outcome": "auto"})
    (result,) = run_suite(suite_of(tmp_path, case), work=work, planner_for=planner_per_case).cases
    assert result.failures == ["The exception ended in state failed."]


def test_produced_actions_keep_status_arguments_and_rule_ids(tmp_path: Path) -> None:
    work = FakeWork(answers={"a": FakeResult("awaiting_approval", [
        FakeAction("notify_customer", "held", {"topic": "verification"}, rule_ids=["F2"], confidence=1.0)])})
    case = make_case("a", expect={"outcome": "approval",
                                  "actions": [{"action": "notify_customer", "topic": "verification"}]})
    (result,) = run_suite(suite_of(tmp_path, case), work=work, planner_for=planner_per_case).cases
    assert result.passed and result.outcome == "approval" and result.state == "awaiting_approval"
    assert result.actions[0].rule_ids == ["F2"]


def test_network_is_refused_while_cases_run() -> None:
    connect, lookup = socket.socket.connect, socket.getaddrinfo
    with no_network():
        with pytest.raises(NetworkRefused):
            socket.create_connection(("example.com", 443), timeout=1)
        with socket.socket() as sock, pytest.raises(NetworkRefused):
            sock.connect(("192.0.2.1", 443))
        left, right = socket.socketpair()  # local sockets keep working
        left.close()
        right.close()
    assert (socket.socket.connect, socket.getaddrinfo) == (connect, lookup)


def test_the_llm_planner_replays_cassettes_next_to_the_case_or_from_the_given_folder(tmp_path: Path) -> None:
    suite = suite_of(tmp_path, make_case("a"))
    asked: list[tuple[Any, ...]] = []

    def get_planner(kind: str, **kwargs: Any) -> str:
        asked.append((kind, kwargs))
        return kind

    planner_factory("llm", None, get_planner=get_planner)(suite.cases[0])
    planner_factory("llm", tmp_path / "recordings", get_planner=get_planner)(suite.cases[0])
    planner_factory("rules", tmp_path / "recordings", get_planner=get_planner)(suite.cases[0])
    assert asked == [
        ("llm", {"cassette_dir": tmp_path / "cassettes", "case_id": "a", "book": BOOK}),
        ("llm", {"cassette_dir": tmp_path / "recordings", "case_id": "a", "book": BOOK}),
        ("rules", {"book": BOOK}),
    ]


def test_the_policy_book_reaches_the_planner_factory_and_every_run(tmp_path: Path, fake_work: FakeWork) -> None:
    suite = suite_of(tmp_path, make_case("a"))
    looser = load_book(LOOSER_POLICY)
    asked: list[Any] = []

    def get_planner(kind: str, **kwargs: Any) -> str:
        asked.append(kwargs["book"])
        return "a"

    result = run_suite(suite, work=fake_work, planner_for=planner_factory("rules", get_planner=get_planner,
                                                                          book=looser), book=looser)
    assert asked == [looser] and fake_work.calls[0]["book"] == looser
    assert (result.book_name, result.book_version) == ("looser", looser.version)


def test_the_suite_runs_against_the_default_book_unless_given_one(tmp_path: Path, fake_work: FakeWork) -> None:
    result = run_suite(suite_of(tmp_path, make_case("a")), work=fake_work, planner_for=planner_per_case)
    assert fake_work.calls[0]["book"] is BOOK and result.book_version == BOOK.version
