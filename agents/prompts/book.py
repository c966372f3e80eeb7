"""The policy book as the model reads it: the prose of the spec, every number filled from the run's PolicyBook.

`policy_book.md` is the text of shared/spec/policy.md with each number,
threshold and list of the book replaced by a placeholder naming a field of
`PolicyBook` (`{{ fraud.cancel_score | score }}`). Rendering it with the run's
book means a `--policy` variant reaches the model exactly as it reaches the
judge and the tools: nothing in the prompt is a copy of the shipped numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from policies.book import PolicyBook

TEMPLATE_PATH = Path(__file__).with_name("policy_book.md")
_COMMENT = re.compile(r"\{#.*?#\}\n?", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*(?:\|\s*([a-z_]+)\s*)?\}\}")


def _number(value: Any) -> str:
    """Money and counts with thousands separators (5,000); hours as written (4, 12.5)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            return value
        raise ValueError(f"{value!r} is not a number or a word: give the placeholder a list format")
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return f"{int(value):,}"


def _series(items: list[Any], word: str | None, code: bool = True) -> str:
    """`a`, `b` or `c` (word "or"), `a`, `b`, `c` (no word)."""
    parts = [f"`{x}`" if code else str(x) for x in items]
    if word is None or len(parts) < 2:
        return ", ".join(parts)
    return f"{', '.join(parts[:-1])} {word} {parts[-1]}"


FORMATS: dict[str, Callable[[Any], str]] = {
    "number": _number,
    "score": lambda v: f"{float(v):.2f}",
    "codes": lambda v: _series(v, None),
    "or": lambda v: _series(v, "or"),
    "and": lambda v: _series(v, "and"),
    "words_and": lambda v: _series(v, "and", code=False),
}


@cache
def template() -> str:
    return _COMMENT.sub("", TEMPLATE_PATH.read_text(encoding="utf-8"))


def render_book(book: PolicyBook) -> str:
    """The whole book in prose, with `book`'s numbers; raises ValueError on a placeholder the book lacks."""
    values = book_values(book)

    def fill(match: re.Match[str]) -> str:
        name, how = match.group(1), match.group(2) or "number"
        if name not in values:
            raise ValueError(f"{TEMPLATE_PATH.name}: the policy book has no value {name!r}")
        if how not in FORMATS:
            raise ValueError(f"{TEMPLATE_PATH.name}: unknown format {how!r} for {name!r}")
        return FORMATS[how](values[name])

    return _PLACEHOLDER.sub(fill, template())


def book_values(book: PolicyBook) -> dict[str, Any]:
    """Every field of the book by dotted path, plus the tables and phrases composed of several fields."""
    data = book.model_dump(mode="json")
    values = dict(_flatten(data))
    returns = book.returns
    tiers = list(returns.window_days.items())
    values.update({
        "autonomy_table": "\n".join([
            "| class | actions | auto-apply confidence |", "|---|---|---|",
            *(f"| {c.name} | {_series(list(c.actions), None)} | {c.auto_confidence:.2f} |"
              for c in book.autonomy.classes)]),
        "ceiling_table": "\n".join([
            "| tier | goodwill ceiling |", "|---|---|",
            *(f"| {tier} | {_number(cents)} |" for tier, cents in book.money.goodwill_ceiling_cents.items())]),
        "r1_windows": ", ".join(f"{tier} {_number(days)}" + (" days" if i == 0 else "")
                                for i, (tier, days) in enumerate(tiers)),
        "r1_denied_tiers": [tier for tier, _ in tiers if tier not in returns.window_held_tiers],
        "f2_chargebacks": _chargebacks(book.fraud.trusted_max_chargebacks),
    })
    return values


def _chargebacks(most: int) -> str:
    if most == 0:
        return "no chargebacks (`chargebacks` = 0)"
    return f"at most {_number(most)} chargebacks (`chargebacks` ≤ {_number(most)})"


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dicts by key and lists of records by index; a list of plain values is one value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}{key}.")
    elif isinstance(value, list) and any(isinstance(x, dict | list) for x in value):
        for i, item in enumerate(value):
            yield from _flatten(item, f"{prefix}{i}.")
    else:
        yield prefix[:-1], value
