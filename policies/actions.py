"""The eleven actions of the book (section 7): names and argument schemas.

Tools validate their arguments with these models and the judge reads them,
so a planner's proposal means the same thing everywhere.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from core.jsonvalue import iso

Topic = Literal["delay", "backorder", "cancellation", "verification", "info_request", "return_decision"]


class _Args(BaseModel):
    """Arguments as a planner gives them in JSON: numbers and flags are not read out of text (no "1500")."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NotifyCustomer(_Args):
    order_id: str
    topic: Topic
    eta: AwareDatetime | None = None
    body: str


class RerouteShipment(_Args):
    shipment_id: str
    to_location: str
    service: Literal["standard", "express", "same_day"]
    reship: StrictBool = False


class ReallocateLine(_Args):
    order_id: str
    sku: str
    qty: StrictInt = Field(gt=0)
    to_location: str


class BackorderLine(_Args):
    order_id: str
    sku: str
    qty: StrictInt = Field(gt=0)
    expected_at: AwareDatetime


class CancelLine(_Args):
    order_id: str
    sku: str
    qty: StrictInt = Field(gt=0)


class CancelOrder(_Args):
    order_id: str
    reason: str


class Refund(_Args):
    order_id: str
    amount_cents: StrictInt
    reason: Literal["shipping_fee", "goodwill", "line_cancel", "order_cancel", "return"]


class StoreCredit(_Args):
    customer_id: str
    amount_cents: StrictInt
    reason: str


class ReleaseHold(_Args):
    order_id: str


class ApproveReturn(_Args):
    return_id: str
    amount_cents: StrictInt


class DenyReturn(_Args):
    return_id: str
    reason: str


ARGS: dict[str, type[_Args]] = {
    "notify_customer": NotifyCustomer, "reroute_shipment": RerouteShipment,
    "reallocate_line": ReallocateLine, "backorder_line": BackorderLine, "cancel_line": CancelLine,
    "cancel_order": CancelOrder, "refund": Refund, "store_credit": StoreCredit,
    "release_hold": ReleaseHold, "approve_return": ApproveReturn, "deny_return": DenyReturn,
}
ACTIONS: tuple[str, ...] = tuple(ARGS)


class Proposal(BaseModel):
    """One action a planner wants, with how sure it is and why."""

    model_config = ConfigDict(frozen=True)

    action: str
    args: dict[str, Any]
    confidence: float = Field(ge=0, le=1)
    rationale: str = ""
    rule_ids: tuple[str, ...] = ()
    assumed: dict[str, str] = Field(
        default_factory=dict,
        description="readings of missing facts the proposal rests on, e.g. {'reason': 'damaged'}",
    )
    malformed: str | None = Field(
        None, description="why what the planner said cannot be read as a proposal (the judge denies it)")


def parse_args(action: str, args: dict[str, Any], *, strict: bool = False) -> _Args:
    """Validated arguments, or ValueError naming the action and the field.

    `strict` takes the arguments as JSON is read strictly: no `true` as 1, no `"25400"` as 25400
    (what a person's edit must be held to); times are ISO text either way.
    """
    model = ARGS.get(action)
    if model is None:
        raise ValueError(f"{action!r} is not an action of the book (section 7)")
    try:
        if strict:
            return model.model_validate_json(json.dumps(args), strict=True)
        return model.model_validate(args)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(arguments)"
        raise ValueError(f"{action}: {field}: {first['msg']}") from err


def canonical_args(action: str, args: dict[str, Any], *, strict: bool = False) -> dict[str, Any]:
    """Arguments in one JSON form (times as UTC ISO), for idempotency keys and the audit."""
    parsed = parse_args(action, args, strict=strict)
    out: dict[str, Any] = {}
    for key, value in parsed.model_dump().items():
        if value is None and key == "eta":
            continue
        out[key] = iso(value) if isinstance(value, datetime) else value
    return out
