"""Money as people read it: dollars with two decimals, exact from the cents."""

from __future__ import annotations

import pytest

from policies.currency import money_text


@pytest.mark.parametrize(("cents", "text"), [(0, "$0.00"), (5, "$0.05"), (12_345, "$123.45"),
                                             (130_400, "$1,304.00"), (-1, "-$0.01"), (100_000_000, "$1,000,000.00")])
def test_cents_read_as_dollars_with_two_decimals(cents: int, text: str) -> None:
    assert money_text(cents) == text
