"""ATP arithmetic: refusals change nothing; over any sequence ATP never goes negative."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import inventory
from core.errors import DomainError, InsufficientStock


@dataclass
class Stock:
    location: str = "WH-E"
    sku: str = "SKU-A"
    on_hand: int = 0
    reserved: int = 0


def test_reserving_more_than_atp_is_refused_and_changes_nothing() -> None:
    s = Stock(on_hand=3, reserved=2)
    with pytest.raises(InsufficientStock) as err:
        inventory.reserve(s, 2)
    assert (s.on_hand, s.reserved) == (3, 2)
    assert (err.value.wanted, err.value.available) == (2, 1)


def test_a_dispatch_takes_reserved_units_off_both_columns() -> None:
    s = Stock(on_hand=3, reserved=2)
    inventory.consume(s, 2)
    assert (s.on_hand, s.reserved) == (1, 0)


def test_reserved_units_cannot_be_counted_away() -> None:
    s = Stock(on_hand=3, reserved=2)
    with pytest.raises(InsufficientStock):
        inventory.shrink(s, 2)
    assert (s.on_hand, s.reserved) == (3, 2)


OPS = {"reserve": inventory.reserve, "release": inventory.release, "consume": inventory.consume,
       "receive": inventory.receive, "shrink": inventory.shrink}
operations = st.lists(st.tuples(st.sampled_from(sorted(OPS)), st.integers(min_value=-2, max_value=8)),
                      max_size=60)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(min_value=0, max_value=10), ops=operations)
def test_atp_never_goes_negative_and_reserved_never_exceeds_on_hand(start: int,
                                                                     ops: list[tuple[str, int]]) -> None:
    s = Stock(on_hand=start)
    for name, qty in ops:
        before = (s.on_hand, s.reserved)
        try:
            OPS[name](s, qty)
        except DomainError:
            assert (s.on_hand, s.reserved) == before
        assert 0 <= s.reserved <= s.on_hand
        assert inventory.atp(s) >= 0
