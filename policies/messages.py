"""The book's message checks (section 7): what a customer message may never say."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from policies.book import BOOK, PolicyBook

_FORBIDDEN_WORDS = re.compile(r"\b(fraud\w*|risk\w*|scor(?:e|es|ed|ing)\b|fraude\w*|risco\w*|pontua\w*)",
                              re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?")
_AMOUNT = re.compile(r"(?:US\$|R\$|\$|USD\s?|BRL\s?)\s?(\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
                     r"|(\d+(?:[.,]\d{1,2})?)\s?(?:USD|BRL|dollars|reais)", re.IGNORECASE)
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
_ORDER_REF = re.compile(r"\b[A-Z][A-Z0-9]*-[A-Z0-9-]*\d[A-Z0-9-]*\b")


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
    problems: list[str] = []
    if len(body) > book.messages.max_chars:
        problems.append(f"the body is {len(body)} characters, over {book.messages.max_chars}")
    if not body.strip():
        problems.append("the body is empty")
    if m := _FORBIDDEN_WORDS.search(body):
        problems.append(f"the body names fraud, risk or a score ({m.group(0)!r})")
    for email in _EMAIL.findall(body):
        if email.lower() != customer_email.lower():
            problems.append(f"the body holds another person's address ({email})")
    own = set(own_refs)
    for ref in _ORDER_REF.findall(body):
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


def as_date(value: datetime) -> date:
    return value.astimezone(UTC).date()
