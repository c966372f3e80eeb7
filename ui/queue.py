"""The approvals queue's pure helpers: money in dollars both ways, one line per action, deadlines, the add form's
fields, and what a decision did. Plain functions over the API's JSON, tested without Streamlit.

The server ranks, filters and pages the queue (GET /queue) and says which items are routine; nothing here
re-sorts or second-guesses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

MONEY_ARGS = ("amount_cents",)
EDITABLE_ARGS = ("amount_cents", "topic", "to_location")
EXPIRY_WARNING = timedelta(hours=2)
AT_RISK_TYPES = ("delay", "stockout")
CURRENCY = "$"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def money(cents: int | float | None) -> str:
    """Whole cents as the shop's currency with two decimals: 130400 -> $1,304.00 (exact, from the integer)."""
    if cents is None:
        return "–"
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{CURRENCY}{whole:,}.{part:02d}"


def dollars(cents: int) -> float:
    """The value a dollar input starts at."""
    return int(cents) / 100


def cents(value: float | int | str | None) -> int | None:
    """Dollars a supervisor typed, as whole cents (rounded half up at the cent); None when it is not a number."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).strip().removeprefix(CURRENCY).replace(",", ""))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def describe(action: dict[str, Any]) -> str:
    """One line for a proposed action: its name and arguments, money as dollars, the message body left out."""
    parts = []
    for key, value in (action.get("args") or {}).items():
        if key == "body":
            continue
        parts.append(f"{key.removesuffix('_cents')}={money(value)}" if key in MONEY_ARGS else f"{key}={value}")
    return f"{action['action']}({', '.join(parts)})"


def edits(action: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The arguments a supervisor changed, in the API's terms: an amount typed in dollars goes out as cents."""
    out: dict[str, Any] = {}
    args = action.get("args") or {}
    for key, value in new.items():
        if key == "amount" and "amount_cents" in args:
            typed = cents(value)
            if typed is not None and typed != args["amount_cents"]:
                out["amount_cents"] = typed
        elif key in EDITABLE_ARGS and key in args and value != args[key]:
            out[key] = value
    return out


def humanize(delta: timedelta | None) -> str:
    if delta is None:
        return "–"
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    if minutes >= 48 * 60:
        return f"{sign}{minutes // (24 * 60)}d {minutes % (24 * 60) // 60}h"
    return f"{sign}{minutes // 60}h {minutes % 60:02d}m"


def humanize_hours(h: float) -> str:
    return f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} d"


# --------------------------------------------------------------------------- an item's clock


DeadlineState = Literal["none", "ok", "soon", "overdue"]


@dataclass(frozen=True)
class Deadline:
    at: datetime | None
    left: timedelta | None

    @property
    def state(self) -> DeadlineState:
        if self.left is None:
            return "none"
        if self.left <= timedelta(0):
            return "overdue"
        return "soon" if self.left <= EXPIRY_WARNING else "ok"


def deadline_of(item: dict[str, Any]) -> Deadline:
    """How long until the item's first held action expires, on the API's clock (raised_at + age: virtual under a
    simulation, so never the browser's wall time)."""
    at = parse_time(item.get("deadline"))
    raised = parse_time(item.get("raised_at"))
    if at is None or raised is None:
        return Deadline(at, None)
    now = raised + timedelta(hours=float(item.get("age_hours") or 0))
    return Deadline(at, at - now)


# --------------------------------------------------------------------------- what a decision did


def outcome_lines(items: list[dict[str, Any]]) -> list[str]:
    """One line per item the decision touched: the action, its final status, and for a denial its rules and why."""
    lines = []
    for item in items:
        line = f"{describe(item)}: {item.get('status')}"
        if item.get("status") in ("denied", "held", "withdrawn"):
            rules = ", ".join(item.get("rule_ids") or [])
            reasons = "; ".join(str(r) for r in item.get("reasons") or [])
            if rules or reasons:
                line += f" ({rules}{': ' if rules and reasons else ''}{reasons})"
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- the add form


ArgKind = Literal["text", "int", "money", "bool", "choice", "time"]


@dataclass(frozen=True)
class ArgField:
    name: str
    kind: ArgKind
    choices: tuple[str, ...] = ()
    prefill: str | None = None
    """Which fact of the item fills it: order_id, customer_id, return_id, shipment_id, sku."""


TOPICS = ("delay", "backorder", "cancellation", "verification", "info_request", "return_decision")
SERVICES = ("standard", "express", "same_day")
REFUND_REASONS = ("shipping_fee", "goodwill", "line_cancel", "order_cancel", "return")
ADD_FIELDS: dict[str, tuple[ArgField, ...]] = {
    "release_hold": (ArgField("order_id", "text", prefill="order_id"),),
    "cancel_order": (ArgField("order_id", "text", prefill="order_id"), ArgField("reason", "text")),
    "refund": (ArgField("order_id", "text", prefill="order_id"), ArgField("amount_cents", "money"),
               ArgField("reason", "choice", REFUND_REASONS)),
    "store_credit": (ArgField("customer_id", "text", prefill="customer_id"), ArgField("amount_cents", "money"),
                     ArgField("reason", "text")),
    "notify_customer": (ArgField("order_id", "text", prefill="order_id"), ArgField("topic", "choice", TOPICS),
                        ArgField("body", "text")),
    "reroute_shipment": (ArgField("shipment_id", "text", prefill="shipment_id"), ArgField("to_location", "text"),
                         ArgField("service", "choice", SERVICES), ArgField("reship", "bool")),
    "reallocate_line": (ArgField("order_id", "text", prefill="order_id"), ArgField("sku", "text", prefill="sku"),
                        ArgField("qty", "int"), ArgField("to_location", "text")),
    "backorder_line": (ArgField("order_id", "text", prefill="order_id"), ArgField("sku", "text", prefill="sku"),
                       ArgField("qty", "int"), ArgField("expected_at", "time")),
    "cancel_line": (ArgField("order_id", "text", prefill="order_id"), ArgField("sku", "text", prefill="sku"),
                    ArgField("qty", "int")),
    "approve_return": (ArgField("return_id", "text", prefill="return_id"), ArgField("amount_cents", "money")),
    "deny_return": (ArgField("return_id", "text", prefill="return_id"), ArgField("reason", "text")),
}
"""The actions of section 7 and their arguments, as the add form asks for them (money in dollars)."""


def prefill(item: dict[str, Any], fact: str | None) -> str:
    if fact is None:
        return ""
    if fact == "return_id":
        ret = item.get("return") or {}
        return str(ret.get("id") or "")
    if fact in ("shipment_id", "sku"):
        return str((item.get("detail") or {}).get(fact) or item.get(fact) or "")
    return str(item.get(fact) or "")


def add_args(action: str, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The add form's values as the action's arguments (dollars to cents, whole numbers, flags); and what is wrong,
    naming each argument, so nothing malformed is sent."""
    args: dict[str, Any] = {}
    problems: list[str] = []
    for f in ADD_FIELDS[action]:
        value = values.get(f.name)
        if f.kind == "money":
            amount = cents(value)
            if amount is None:
                problems.append(f"{f.name.removesuffix('_cents')}: type an amount in dollars, like 25.00")
            else:
                args[f.name] = amount
        elif f.kind == "int":
            try:
                args[f.name] = int(str(value).strip())
            except ValueError:
                problems.append(f"{f.name}: a whole number")
        elif f.kind == "bool":
            args[f.name] = bool(value)
        else:
            text = str(value or "").strip()
            if not text:
                problems.append(f"{f.name}: required")
            else:
                args[f.name] = text
    return args, problems
