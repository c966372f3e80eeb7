"""The policy book (shared/spec/policy.md) as data: every number an agent obeys, once, by rule id.

Nothing else in the code base hard-codes one of these numbers. The version
is a hash of this data, recorded on every verdict, so an audit can say
exactly which book decided.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from policies.currency import money_text


class _Book(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionClass(_Book):
    name: str
    actions: tuple[str, ...]
    auto_confidence: float


class Autonomy(_Book):
    """Section 1: an action is applied automatically only at or above its class threshold."""

    classes: tuple[ActionClass, ...] = (
        ActionClass(name="communication", actions=("notify_customer",), auto_confidence=0.80),
        ActionClass(name="fulfillment",
                    actions=("reroute_shipment", "reallocate_line", "backorder_line"),
                    auto_confidence=0.90),
        ActionClass(name="returns", actions=("approve_return", "deny_return"), auto_confidence=0.90),
        ActionClass(name="money", actions=("refund", "store_credit"), auto_confidence=0.95),
        ActionClass(name="irreversible", actions=("cancel_line", "cancel_order", "release_hold"),
                    auto_confidence=0.95),
    )

    def class_of(self, action: str) -> ActionClass:
        return next(c for c in self.classes if action in c.actions)


class Money(_Book):
    """Section 2."""

    goodwill_ceiling_cents: dict[str, int] = {"standard": 5_000, "gold": 15_000, "platinum": 30_000}
    goodwill_refund_reasons: tuple[str, ...] = ("shipping_fee", "goodwill")
    own_money_refund_reasons: tuple[str, ...] = ("line_cancel", "order_cancel", "return")
    abuse_refunds_90d: int = 3
    abuse_returns_90d: int = 3
    lead_approval_over_cents: int = 100_000


class Triggers(_Book):
    """When the OMS raises an exception (sections 3 and 5)."""

    delay_hours: float = 4
    fraud_hold_score: float = 0.30


class Delays(_Book):
    """Section 3, rules D1-D5."""

    notify_hours: float = 12  # D1
    reroute_extra_cost_floor_cents: int = 1_000  # D2
    reroute_extra_cost_percent: int = 15  # D2, of merchandise value
    express_goodwill_hours: float = 24  # D3
    express_methods: tuple[str, ...] = ("express", "same_day")  # D3
    standard_goodwill_hours: float = 72  # D3
    standard_credit_percent: int = 10  # D3
    standard_credit_min_cents: int = 500  # D3
    standard_credit_max_cents: int = 2_000  # D3
    very_late_hours: float = 168  # D5


class Stockouts(_Book):
    """Section 4, rules S1-S3."""

    move_extra_cost_cap_cents: int = 1_500  # S1
    max_open_line_locations: int = 2  # S1
    backorder_grace_days: int = 7  # S3


class Fraud(_Book):
    """Section 5, rules F1-F4."""

    hold_score: float = 0.30  # F1 below it: release
    gray_upper: float = 0.70  # F2 band [0.30, 0.70)
    cancel_score: float = 0.90  # F3 band [0.70, 0.90), F4 at or above
    trusted_delivered_orders: int = 3  # F2
    trusted_max_chargebacks: int = 0  # F2
    cancel_review_over_cents: int = 100_000  # F4 merchandise value
    left_statuses: tuple[str, ...] = ("in_transit", "delivered", "lost")  # F4


class Returns(_Book):
    """Section 6, rules R1-R8."""

    window_days: dict[str, int] = {"standard": 30, "gold": 60, "platinum": 90}  # R1
    window_held_tiers: tuple[str, ...] = ("platinum",)  # R1
    final_sale_denied_reasons: tuple[str, ...] = ("changed_mind", "not_as_described")  # R2
    final_sale_held_reasons: tuple[str, ...] = ("damaged", "wrong_item")  # R2
    undecided_statuses: tuple[str, ...] = ("open", "disputed")


class Messages(_Book):
    """Section 7, message checks."""

    max_chars: int = 1_000
    topics: tuple[str, ...] = ("delay", "backorder", "cancellation", "verification",
                               "info_request", "return_decision")


class Carbon(_Book):
    """Section 8."""

    cents_per_kg_default: int = 10


class PolicyBook(_Book):
    name: str = "default"
    autonomy: Autonomy = Autonomy()
    money: Money = Money()
    triggers: Triggers = Triggers()
    delays: Delays = Delays()
    stockouts: Stockouts = Stockouts()
    fraud: Fraud = Fraud()
    returns: Returns = Returns()
    messages: Messages = Messages()
    carbon: Carbon = Carbon()

    @property
    def version(self) -> str:
        """A short hash of the book's data: the same numbers, the same version."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return f"{self.name}@{hashlib.sha256(blob).hexdigest()[:12]}"

    def percent(self, value: int) -> Fraction:
        return Fraction(value, 100)


BOOK = PolicyBook()


def load_book(path: Path) -> PolicyBook:
    """A book from a JSON file: the default book with the file's values laid over it (a partial file is fine).

    The file's `name` names the variant; the version hash changes with any number.
    """
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the policy book: {err}") from err
    if not isinstance(overrides, dict):
        raise ValueError(f"{path}: a policy book is a JSON object")
    try:
        return PolicyBook.model_validate(_merge(BOOK.model_dump(mode="json"), overrides))
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{path}: {field}: {first['msg']}") from err


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


RULES: dict[str, str] = {
    "A1": "Autonomy: an action below its class's confidence threshold is held (section 1).",
    "M1": "Refundable = captured - refunded; no refund may exceed it (section 2).",
    "M2": "Goodwill ceiling per exception by tier; over it is held, not cut (section 2).",
    "M3": "Abuse guard: 3+ refunds or returns in 90 days holds goodwill and approve_return (section 2).",
    "M4": f"A single refund, credit or approve_return over {money_text(Money().lead_approval_over_cents)} needs a lead "
          "(section 2).",
    "M5": "Cancelling refunds the customer's own money: the order's refundable, or the line's value.",
    "D1": "Delay of 12 h or more: tell the customer, with the ETA of the applied plan.",
    "D2": "Not yet left: reroute to the cheapest option that has the ATP, meets the promise, within cap.",
    "D3": "Goodwill once per order: express/same_day 24 h+ fee refund; standard 72 h+ 10% credit.",
    "D4": "Lost parcel: reship from the soonest option with ATP, else cancel and refund.",
    "D5": "168 h or more late and not lost: the case is held for approval.",
    "S1": "Move the short units to the cheapest other location that meets the promise within cap.",
    "S2": "Stock elsewhere but no S1 option: move to the soonest, tell the customer, D3 on its ETA.",
    "S3": "No stock anywhere: backorder if restock is within 7 days of the promise, else cancel.",
    "F1": "Fraud score below 0.30: release the hold.",
    "F2": "Gray zone: release for trusted customers at a known address, else held, ask to verify.",
    "F3": "Score 0.70 to 0.90: the case is held, proposing what F4 would apply.",
    "F4": "Score 0.90 or more: cancel and refund; held if over 100,000 or a shipment has left.",
    "R1": "Outside the return window: deny (platinum: held).",
    "R2": "Final sale items: deny changed_mind/not_as_described; hold damaged/wrong_item.",
    "R3": "Damaged or wrong item: approve with evidence, else ask for information.",
    "R4": "Not as described inside the window: approve for the paid value.",
    "R5": "Changed mind inside the window: approve for the paid value.",
    "R6": "Not received: approve without a delivery scan; held with one.",
    "R7": "The abuse guard holds any approve_return.",
    "R8": "An approved amount never exceeds the refundable amount.",
    "P7": "Preconditions of section 7, checked against current state.",
    "C7": "Message checks of section 7.",
    "N0": "What the book does not give for the facts (another action, other values, a repeat) is denied (section 1).",
}


def carbon_cents_per_kg(setting: int | None, book: PolicyBook = BOOK) -> int:
    """A world's own carbon price, or the book's default (section 8) where it sets none."""
    return book.carbon.cents_per_kg_default if setting is None else setting
