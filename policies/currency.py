"""Money as people read it: the shop's currency with two decimals, from whole cents.

The book and the store count cents (integers, no rounding drift); everything a
person reads (a reason, an error, a card) says dollars, so a supervisor who
types dollars is never told about "50000".
"""

from __future__ import annotations

CURRENCY_SYMBOL = "$"
"""The shop's currency (the simulated shop sells in US dollars)."""


def money_text(cents: int) -> str:
    """`12345` -> `$123.45`, `-5` -> `-$0.05`, thousands grouped: exact, from the integer."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{CURRENCY_SYMBOL}{whole:,}.{part:02d}"
