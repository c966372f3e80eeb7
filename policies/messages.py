"""The book's message checks (section 7): what a customer message may never say.

Every check reads the body in time linear in its length, and the length check runs first: an
over-long body is refused on its length alone. The patterns are written so that no start position
rescans what an earlier one already read (a branch consumes a run where no match can start, a
look-behind keeps an amount from starting inside a number, an atomic group commits to the first
digit), which the plain forms of `_EMAIL`, `_AMOUNT` and `_ORDER_REF` did not: each went quadratic
on a long run of word characters or digits (2,000 digits took a second, 12,000 took minutes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from policies.book import BOOK, PolicyBook

_FORBIDDEN_WORDS = re.compile(r"\b(fraud\w*|risk\w*|scor(?:e|es|ed|ing)\b|fraude\w*|risco\w*|pontua\w*)",
                              re.IGNORECASE)
_EMAIL = re.compile(r"(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)|[\w.+-]+")
"""An address. Where none starts at a run of address characters, none starts later in that run (the
same `@` and domain follow): the second branch consumes the run, so no run is read twice."""
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?")
_AMOUNT = re.compile(r"(?:US\$|R\$|\$|USD\s?|BRL\s?)\s?(\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
                     r"|(?<!\d)(\d+(?:[.,]\d{1,2})?)\s?(?:USD|BRL|dollars|reais)", re.IGNORECASE)
_MONTHS = {name: i + 1 for i, names in enumerate((
    ("january", "jan", "janeiro"), ("february", "feb", "fevereiro", "fev"), ("march", "mar", "marco", "março"),
    ("april", "apr", "abril", "abr"), ("may", "maio", "mai"), ("june", "jun", "junho"),
    ("july", "jul", "julho"), ("august", "aug", "agosto", "ago"), ("september", "sep", "sept", "setembro", "set"),
    ("october", "oct", "outubro", "out"), ("november", "nov", "novembro"),
    ("december", "dec", "dezembro", "dez"))) for name in names}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WRITTEN_DATES = (
    re.compile(rf"\b(?P<m>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b", re.IGNORECASE),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:de\s+)?(?P<m>{_MONTH})\.?,?\s+(?:de\s+)?(?P<y>\d{{4}})\b",
               re.IGNORECASE),
    re.compile(r"\b(?P<d>\d{1,2})/(?P<mn>\d{1,2})/(?P<y>\d{4})\b"),
)
_ORDER_REF = re.compile(r"\b(?P<ref>[A-Z][A-Z0-9]*+-(?>[A-Z0-9-]*?\d)[A-Z0-9-]*\b)|\b[A-Z][A-Z0-9-]*+")
"""A record id such as O-000123. Where no id starts at a capital, none starts later in the same run of
capitals, digits and dashes: the second branch consumes the run, so no run is read twice."""
_MARKUP = re.compile(r"://|\bwww\.|\b(?:javascript|vbscript|mailto):|\bdata:\w+/|<[a-z/!?]|\]\(|!\[|&#?\w{1,32};",
                     re.IGNORECASE)
"""A link (any scheme, www., javascript: and the like) or markup (an HTML tag, a Markdown link or
image, an HTML entity): a customer message is plain text, shown as written."""


def message_problems(
    body: str,
    *,
    customer_email: str,
    eta: datetime | None,
    amounts_cents: Iterable[int] = (),
    own_refs: Iterable[str] = (),
    is_foreign_ref: Callable[[str], bool] = lambda _ref: False,
    book: PolicyBook = BOOK,
) -> list[str]:
    """Every way this body breaks the book's message checks; empty when it passes."""
    if len(body) > book.messages.max_chars:
        return [f"the body is {len(body)} characters, over {book.messages.max_chars}"]
    problems: list[str] = []
    if not body.strip():
        problems.append("the body is empty")
    if m := _MARKUP.search(body):
        problems.append(f"the body carries a link or markup ({m.group(0)!r}): a customer message is plain text")
    if m := _FORBIDDEN_WORDS.search(body):
        problems.append(f"the body names fraud, risk or a score ({m.group(0)!r})")
    for email in (m["email"] for m in _EMAIL.finditer(body) if m["email"]):
        if email.lower() != customer_email.lower():
            problems.append(f"the body holds another person's address ({email})")
    own = set(own_refs)
    for ref in (m["ref"] for m in _ORDER_REF.finditer(body) if m["ref"]):
        if ref not in own and is_foreign_ref(ref):
            problems.append(f"the body names another customer's record ({ref})")
    for promised in _dates(body):
        if eta is None:
            problems.append(f"the body promises a date ({promised:%Y-%m-%d}) but the action has no ETA")
        elif _earlier(promised, eta):
            problems.append(f"the body promises {promised:%Y-%m-%d %H:%M}, earlier than the ETA {eta:%Y-%m-%d %H:%M}")
    allowed = set(amounts_cents)
    for cents in _amounts(body):
        if cents not in allowed:
            problems.append(f"the body quotes {cents / 100:.2f}, which is not an amount applied")
    return problems


def _dates(body: str) -> list[datetime]:
    """ISO dates (with an optional time), written dates in English or Portuguese, and dd/mm/yyyy."""
    out = []
    for pattern in _WRITTEN_DATES:
        for m in pattern.finditer(body):
            parts = m.groupdict()
            month = int(parts["mn"]) if parts.get("mn") else _MONTHS[parts["m"].lower()]
            try:
                out.append(datetime(int(parts["y"]), month, int(parts["d"]), 23, 59, tzinfo=UTC))
            except ValueError:
                continue
    for y, mo, d, h, mi in _ISO_DATE.findall(body):
        try:
            if h:
                out.append(datetime(int(y), int(mo), int(d), int(h), int(mi), tzinfo=UTC))
            else:
                out.append(datetime(int(y), int(mo), int(d), tzinfo=UTC).replace(hour=23, minute=59))
        except ValueError:
            continue
    return out


def _earlier(promised: datetime, eta: datetime) -> bool:
    """A date alone promises the whole day; a time promises that minute."""
    if promised.hour == 23 and promised.minute == 59:
        return promised.date() < eta.astimezone(UTC).date()
    return promised < eta.astimezone(UTC).replace(second=0, microsecond=0)


def _amounts(body: str) -> list[int]:
    out = []
    for a, b in _AMOUNT.findall(body):
        raw = a or b
        digits = re.sub(r"[.,](?=\d{3}\b)", "", raw).replace(",", ".")
        try:
            out.append(int((Decimal(digits) * 100).to_integral_value()))
        except InvalidOperation:
            continue
    return out
