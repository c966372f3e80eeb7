"""Loading a suite: everything is checked before anything runs, and every error names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_factories import SHARED_CASES, make_case, write_case

from evals.loader import ACTIONS, SuiteError, load_suite


def errors_of(*paths: Path) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_suite(paths)
    return caught.value.messages


def test_every_shared_case_loads() -> None:
    if not SHARED_CASES.is_dir():
        pytest.skip(f"{SHARED_CASES} is not there")
    suite = load_suite([SHARED_CASES])
    files = sorted(SHARED_CASES.rglob("*.json"))
    assert len(suite.cases) == len(files) > 0
    assert [c.path.name for c in suite.cases] == [f.name for f in files]


def test_the_book_has_eleven_actions() -> None:
    assert len(ACTIONS) == 11


def test_a_valid_case_loads_with_its_fields(tmp_path: Path) -> None:
    write_case(tmp_path, "a.json", make_case())
    (item,) = load_suite([tmp_path]).cases
    assert item.case.id == "delay-express"
    assert item.case.exception.type == "delay"
    assert item.case.expect.outcome == ("auto",)
    assert item.case.expect.actions[0].fields == {"amount_cents": 1500, "reason": "shipping_fee"}
    assert item.case.world.settings.carbon_cents_per_kg is None  # the book's default applies


def test_title_and_settings_are_optional(tmp_path: Path) -> None:
    case = make_case()
    del case["title"]
    case["world"]["settings"] = {"carbon_cents_per_kg": 25}
    write_case(tmp_path, "a.json", case)
    (item,) = load_suite([tmp_path]).cases
    assert item.case.title is None
    assert item.case.world.settings.carbon_cents_per_kg == 25


def test_invalid_json_is_refused_naming_file_line_and_column(tmp_path: Path) -> None:
    path = write_case(tmp_path, "broken.json", '{\n  "id": "x",\n  "now": \n}')
    (message,) = errors_of(path)
    assert message.startswith(f"{path.as_posix()}: line 4 column 1: invalid JSON")


def test_unknown_key_is_refused_naming_the_field(tmp_path: Path) -> None:
    case = make_case()
    case["world"]["orders"][0]["shipments"][0]["carrier"] = "UPS"
    case["expect"]["forbiden"] = ["cancel_order"]
    path = write_case(tmp_path, "typo.json", case)
    unknown = "unknown key (the case format does not name it)"
    assert errors_of(path) == [
        f"{path.as_posix()}: world.orders[0].shipments[0].carrier: {unknown}",
        f"{path.as_posix()}: expect.forbiden: {unknown}",
    ]


def test_unknown_key_of_an_exception_names_the_exception_field(tmp_path: Path) -> None:
    case = make_case(exception={"type": "fraud_hold", "order_id": "O-1", "shipment_id": "S-1"})
    path = write_case(tmp_path, "a.json", case)
    assert errors_of(path) == [
        f"{path.as_posix()}: exception.shipment_id: unknown key (the case format does not name it)"]


def test_missing_required_key_is_refused_naming_the_field(tmp_path: Path) -> None:
    case = make_case()
    del case["now"]
    del case["world"]["lanes"]
    del case["exception"]["shipment_id"]
    path = write_case(tmp_path, "a.json", case)
    assert errors_of(path) == [f"{path.as_posix()}: {field}: required field is missing"
                               for field in ("now", "world.lanes", "exception.shipment_id")]


def test_an_exception_without_a_known_type_names_the_type_field(tmp_path: Path) -> None:
    missing = write_case(tmp_path, "a.json", make_case("a", exception={"order_id": "O-1"}))
    unknown = write_case(tmp_path, "b.json", make_case("b", exception={"type": "late", "order_id": "O-1"}))
    first, second = errors_of(tmp_path)
    assert first.startswith(f"{missing.as_posix()}: exception.type: required field is missing")
    assert second.startswith(f"{unknown.as_posix()}: exception.type: Input tag 'late'")


def test_a_time_without_a_zone_is_refused(tmp_path: Path) -> None:
    path = write_case(tmp_path, "a.json", make_case(now="2026-03-10T12:00:00"))
    (message,) = errors_of(path)
    assert message.startswith(f"{path.as_posix()}: now: ")


def test_bad_outcomes_and_ranges_are_refused(tmp_path: Path) -> None:
    case = make_case()
    case["expect"]["outcome"] = "Auto"
    case["expect"]["actions"][0]["amount_cents"] = {"min": 2000, "max": 1000}
    case["expect"]["actions"][1]["topic"] = ["delay"]
    path = write_case(tmp_path, "a.json", case)
    name = path.as_posix()
    assert errors_of(path) == [
        f"{name}: expect.outcome: 'Auto' is not an outcome; use \"auto\" or \"approval\"",
        f"{name}: expect.actions[0].amount_cents: min 2000 is greater than max 1000",
        f"{name}: expect.actions[1].topic: must be a JSON scalar or {{\"min\": a, \"max\": b}}",
    ]


def test_outcome_may_be_a_list_and_ranges_may_leave_out_a_bound(tmp_path: Path) -> None:
    case = make_case()
    case["expect"]["outcome"] = ["auto", "approval"]
    case["expect"]["actions"][0]["amount_cents"] = {"min": 1000}
    write_case(tmp_path, "a.json", case)
    (item,) = load_suite([tmp_path]).cases
    assert item.case.expect.outcome == ("auto", "approval")


def test_unresolved_world_reference_names_file_and_field(tmp_path: Path) -> None:
    case = make_case()
    case["world"]["orders"][0]["shipments"][0]["location"] = "DC-X"
    case["world"]["orders"][0]["customer"] = "C-9"
    path = write_case(tmp_path, "x.json", case)
    assert errors_of(path) == [
        f"{path.as_posix()}: world.orders[0].customer: customer 'C-9' does not exist",
        f"{path.as_posix()}: world.orders[0].shipments[0].location: location 'DC-X' does not exist",
    ]


def test_exception_references_must_resolve_in_the_world(tmp_path: Path) -> None:
    other_order = make_case()["world"]["orders"][0] | {"id": "O-2", "shipments": [], "returns": []}
    cases = {
        "order.json": {"type": "fraud_hold", "order_id": "O-9"},
        "shipment.json": {"type": "delay", "order_id": "O-1", "shipment_id": "S-9"},
        "foreign.json": {"type": "delay", "order_id": "O-2", "shipment_id": "S-1"},
        "return.json": {"type": "return_dispute", "order_id": "O-1", "return_id": "R-9"},
        "stock.json": {"type": "stockout", "order_id": "O-1", "sku": "MUG", "location": "DC-X",
                       "short_qty": 1},
    }
    for name, exception in cases.items():
        case = make_case(name, exception=exception)
        case["world"]["orders"].append(other_order)
        write_case(tmp_path, name, case)
    at = tmp_path.as_posix()
    assert errors_of(tmp_path) == [
        f"{at}/foreign.json: exception.shipment_id: shipment 'S-1' belongs to order 'O-1', not 'O-2'",
        f"{at}/order.json: exception.order_id: order 'O-9' does not exist",
        f"{at}/return.json: exception.return_id: return 'R-9' does not exist",
        f"{at}/shipment.json: exception.shipment_id: shipment 'S-9' does not exist",
        f"{at}/stock.json: exception.sku: sku 'MUG' is not a line of order 'O-1'",
        f"{at}/stock.json: exception.location: location 'DC-X' does not exist",
    ]


def test_expected_and_forbidden_actions_must_be_actions_of_the_book(tmp_path: Path) -> None:
    case = make_case()
    case["expect"]["actions"][1]["action"] = "notify"
    case["expect"]["forbidden"] = ["cancel_order", "offer_substitute"]
    path = write_case(tmp_path, "a.json", case)
    first, second = errors_of(path)
    assert first.startswith(f"{path.as_posix()}: expect.actions[1].action: 'notify' is not an action")
    assert second.startswith(f"{path.as_posix()}: expect.forbidden[1]: 'offer_substitute' is not an action")


def test_duplicate_case_ids_are_refused_naming_both_files(tmp_path: Path) -> None:
    first = write_case(tmp_path, "a/one.json", make_case("same"))
    second = write_case(tmp_path, "b/two.json", make_case("same"))
    assert errors_of(tmp_path) == [
        f"{second.as_posix()}: id: case id 'same' is also used by {first.as_posix()}"]


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert errors_of(tmp_path / "empty") == [f"no case found in {(tmp_path / 'empty').as_posix()}"]


def test_a_missing_path_is_refused(tmp_path: Path) -> None:
    assert errors_of(tmp_path / "nope") == [f"{(tmp_path / 'nope').as_posix()}: no such file or folder"]


def test_errors_of_every_file_are_reported_together(tmp_path: Path) -> None:
    write_case(tmp_path, "a.json", "[")
    write_case(tmp_path, "b.json", make_case("b", now=None))
    write_case(tmp_path, "c.json", make_case("c"))
    messages = errors_of(tmp_path)
    assert [m.split(": ")[0].rsplit("/", 1)[1] for m in messages] == ["a.json", "b.json"]


def test_cassettes_folders_are_skipped_and_cases_load_sorted_by_path(tmp_path: Path) -> None:
    write_case(tmp_path, "z/late.json", make_case("late"))
    write_case(tmp_path, "a/early.json", make_case("early"))
    write_case(tmp_path, "a/cassettes/early.json", "not a case")
    write_case(tmp_path, "b.json", make_case("middle"))
    suite = load_suite([tmp_path / "z", tmp_path])
    assert [c.case.id for c in suite.cases] == ["early", "middle", "late"]


def test_a_file_given_directly_loads(tmp_path: Path) -> None:
    path = write_case(tmp_path, "one.json", make_case())
    write_case(tmp_path, "other.json", "[")
    assert [c.path for c in load_suite([path]).cases] == [path]


def test_a_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = write_case(tmp_path, "a.json", "[1]")
    assert errors_of(path) == [f"{path.as_posix()}: (the file): a case must be a JSON object"]
