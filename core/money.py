"""Money is integer cents; every computed amount rounds half up, as the book says (section 8)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction


def round_half_up(value: Fraction | Decimal | int | float) -> int:
    """Round to the nearest whole cent, halves up; exact for Fractions and Decimals."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(cents: int, percent: int | Fraction) -> int:
    return round_half_up(Fraction(cents) * Fraction(percent) / 100)


def carbon_price_cents(co2_grams: int, cents_per_kg: int | Fraction) -> int:
    """co2_grams × price per kg / 1000, halves up."""
    return round_half_up(Fraction(co2_grams) * Fraction(cents_per_kg) / 1000)
