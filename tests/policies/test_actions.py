"""The action schemas of the book (section 7): parse_args and canonical_args as the tools and the audit read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from policies import actions as a


def test_an_action_outside_the_book_is_refused_by_name() -> None:
    with pytest.raises(ValueError) as err:
        a.parse_args("teleport", {"order_id": "O-1"})
    assert str(err.value) == "'teleport' is not an action of the book (section 7)"


def test_a_bad_argument_is_refused_naming_the_action_the_field_and_why() -> None:
    with pytest.raises(ValueError) as err:
        a.parse_args("cancel_line", {"order_id": "O-1", "sku": "S-1", "qty": 0})
    assert str(err.value) == "cancel_line: qty: Input should be greater than 0"
    assert err.value.__cause__ is not None  # the pydantic detail stays reachable


def test_a_missing_argument_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError) as err:
        a.parse_args("release_hold", {})
    assert str(err.value) == "release_hold: order_id: Field required"


def test_strict_parsing_refuses_a_number_as_a_time_that_lax_parsing_reads_as_unix_seconds() -> None:
    args = {"order_id": "O-1", "sku": "S-1", "qty": 1, "expected_at": 1764900000}
    assert a.parse_args("backorder_line", args).expected_at == datetime(2025, 12, 5, 2, 0, tzinfo=UTC)
    with pytest.raises(ValueError) as err:
        a.parse_args("backorder_line", args, strict=True)
    assert str(err.value) == "backorder_line: expected_at: Input should be a valid datetime"


def test_arguments_that_are_not_an_object_are_named_as_the_arguments() -> None:
    with pytest.raises(ValueError) as err:
        a.parse_args("release_hold", "O-1")  # type: ignore[arg-type]
    assert str(err.value).startswith("release_hold: (arguments): ")
    with pytest.raises(ValueError) as err:
        a.parse_args("release_hold", ["O-1"], strict=True)  # type: ignore[arg-type]
    assert str(err.value).startswith("release_hold: (arguments): ")


def test_lax_parsing_reads_json_numbers_but_strict_parsing_refuses_text_and_flags_as_numbers() -> None:
    args = {"order_id": "O-1", "amount_cents": 1500, "reason": "goodwill"}
    assert a.parse_args("refund", args) == a.Refund(order_id="O-1", amount_cents=1500, reason="goodwill")
    assert a.parse_args("refund", args, strict=True) == a.Refund(order_id="O-1", amount_cents=1500, reason="goodwill")
    with pytest.raises(ValueError, match=r"^refund: amount_cents: "):
        a.parse_args("refund", {**args, "amount_cents": True}, strict=True)
    with pytest.raises(ValueError, match=r"^refund: amount_cents: "):
        a.parse_args("refund", {**args, "amount_cents": "1500"}, strict=True)
    with pytest.raises(ValueError, match=r"^refund: amount_cents: "):
        a.parse_args("refund", {**args, "amount_cents": "1500"})  # StrictInt either way


def test_strict_parsing_still_reads_times_as_iso_text() -> None:
    args = {"order_id": "O-1", "sku": "S-1", "qty": 2, "expected_at": "2026-12-05T10:00:00+01:00"}
    parsed = a.parse_args("backorder_line", args, strict=True)
    assert isinstance(parsed, a.BackorderLine)
    assert parsed.expected_at == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_lax_parsing_accepts_a_datetime_object_that_strict_json_cannot_carry() -> None:
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    args = {"order_id": "O-1", "sku": "S-1", "qty": 2, "expected_at": at}
    assert a.parse_args("backorder_line", args).expected_at == at
    with pytest.raises(TypeError):
        a.parse_args("backorder_line", args, strict=True)  # json.dumps cannot write a datetime


def test_canonical_args_write_times_as_utc_iso_and_keep_other_values() -> None:
    args = {"order_id": "O-1", "sku": "S-1", "qty": 2,
            "expected_at": datetime(2026, 12, 5, 10, 0, tzinfo=timezone(timedelta(hours=1)))}
    assert a.canonical_args("backorder_line", args) == {
        "order_id": "O-1", "sku": "S-1", "qty": 2, "expected_at": "2026-12-05T09:00:00Z"}


def test_canonical_args_leave_out_an_absent_eta_but_keep_a_given_one() -> None:
    base = {"order_id": "O-1", "topic": "delay", "body": "Your parcel is late."}
    assert a.canonical_args("notify_customer", base) == {
        "order_id": "O-1", "topic": "delay", "body": "Your parcel is late."}
    with_eta = a.canonical_args("notify_customer", {**base, "eta": "2026-12-05T09:00:00Z"})
    assert with_eta == {"order_id": "O-1", "topic": "delay", "eta": "2026-12-05T09:00:00Z",
                        "body": "Your parcel is late."}


def test_canonical_args_fill_defaults_and_are_the_same_for_equal_arguments() -> None:
    args = {"shipment_id": "SH-1", "to_location": "L-2", "service": "express"}
    assert a.canonical_args("reroute_shipment", args) == {**args, "reship": False}
    assert a.canonical_args("reroute_shipment", {**args, "reship": False}) == a.canonical_args(
        "reroute_shipment", args)


def test_canonical_args_hold_a_person_edit_to_strict_json() -> None:
    args = {"order_id": "O-1", "amount_cents": "25400", "reason": "goodwill"}
    with pytest.raises(ValueError, match=r"^refund: amount_cents: "):
        a.canonical_args("refund", args, strict=True)
    flag = {"shipment_id": "SH-1", "to_location": "L-2", "service": "express", "reship": 1}
    with pytest.raises(ValueError, match=r"^reroute_shipment: reship: "):
        a.canonical_args("reroute_shipment", flag, strict=True)
    with pytest.raises(ValueError, match=r"^reroute_shipment: reship: "):
        a.canonical_args("reroute_shipment", flag)  # StrictBool either way
    stamp = {"order_id": "O-1", "sku": "S-1", "qty": 1, "expected_at": 1764900000}
    assert a.canonical_args("backorder_line", stamp)["expected_at"] == "2025-12-05T02:00:00Z"
    with pytest.raises(ValueError, match=r"^backorder_line: expected_at: "):
        a.canonical_args("backorder_line", stamp, strict=True)  # a time is ISO text in a person's edit
