"""What crosses the HTTP boundary: validated requests and the response models the OpenAPI schema publishes.

Every string that comes in is capped and may not hold a NUL byte (no store keeps one: PostgreSQL
refuses it); numbers are taken strictly (no `true` as 1, no `"25400"` as 25400). The caps are the
constants below, documented in the schema; a message body (an edit's `body`) is capped by the book.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from agents.decisions import MAX_ADDITIONS, DecisionItem
from policies.book import BOOK

# --------------------------------------------------------------------------- caps

MAX_ID_CHARS = 64
"""An id, a sku, a region or a filter."""
MAX_KEY_CHARS = 200
"""An action's idempotency key."""
MAX_NOTE_CHARS = 2_000
"""A supervisor's note on a decision."""
MAX_EDIT_ARGS = 16
"""Arguments an edit may name (the actions of section 7 have at most five)."""
MAX_ARG_NAME_CHARS = 64
MAX_ARG_CHARS = BOOK.messages.max_chars
"""An edited argument's text: no argument may be longer than a message body (section 7)."""
NO_NUL = r"^[^\x00]*$"


EXACT_FLOAT = 2**53
"""Past this a float no longer holds every whole number exactly: such a float is refused, not rounded."""


def _whole(value: Any) -> Any:
    """A JSON number with no fraction (`2.0`) is a whole number, as JSON Schema's `integer` says (JSON does
    not tell `2` from `2.0`); text and flags stay refused, and so does `2.5`, by the strict check after."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT_FLOAT:
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(_whole), Field(strict=True)]
"""A whole number taken strictly: `25400` or `25400.0`, never `"25400"` or `true`."""


def _text_instant(value: Any) -> Any:
    """Refuse a number before pydantic reads it as seconds since 1970 (`0` is not a promise date)."""
    if not isinstance(value, str | datetime):
        raise ValueError("a date-time is RFC 3339 text with its offset, not a number")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_text_instant)]
"""An RFC 3339 date-time with its offset, as text: never a number of seconds."""

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=NO_NUL)]
IdParam = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, pattern=NO_NUL)]
IdFilter = Annotated[str | None, Query(min_length=1, max_length=MAX_ID_CHARS, pattern=NO_NUL)]
Key = Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS, pattern=NO_NUL)]
ArgName = Annotated[str, Field(min_length=1, max_length=MAX_ARG_NAME_CHARS, pattern=NO_NUL)]
ArgText = Annotated[str, Field(max_length=MAX_ARG_CHARS, pattern=NO_NUL)]
ArgValue = Annotated[bool, Field(strict=True)] | Whole | ArgText | None
"""Arguments are scalars: text, a whole number, a flag (times are ISO text)."""

# --------------------------------------------------------------------------- common


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="rows matching the filters, across all pages")
    limit: int
    offset: int


class Problem(BaseModel):
    """An error a client can act on: 401, 403, 404, 409."""

    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, Any] | None = None


class ValidationProblem(BaseModel):
    """422: every problem names the field it is about (`loc`)."""

    detail: list[FieldError]


class Conflict(BaseModel):
    """409: what the current state refuses; a list when each problem names a field of the request."""

    detail: str | list[FieldError]


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing or unknown bearer token"},
    403: {"model": Problem, "description": "the token's role may not do this"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such entity"}}
INVALID: dict[int | str, dict[str, Any]] = {422: {"model": ValidationProblem, "description": "invalid input"}}
UNREADABLE: dict[int | str, dict[str, Any]] = {400: {"model": Problem, "description": "the body is not JSON"}}

# --------------------------------------------------------------------------- orders and stock

Method = Literal["standard", "express", "same_day"]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Id
    qty: Whole = Field(gt=0, le=1_000)


class OrderIn(BaseModel):
    """A storefront's order; prices come from the catalog, never from the client."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "customer_id": "C-1", "ship_region": "US-NE", "ship_address_id": "A-1", "shipping_method": "standard",
        "fee_cents": 500, "promised_by": "2026-03-06T08:00:00Z", "lines": [{"sku": "LAMP-01", "qty": 1}],
        "fraud_score": 0.05}]})

    customer_id: Id
    ship_region: Id
    ship_address_id: Id
    shipping_method: Method
    fee_cents: Whole = Field(ge=0, le=1_000_000)
    promised_by: Instant
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    fraud_score: float = Field(default=0.0, ge=0, le=1, strict=True,
                               description="the payment screening score in [0, 1]")


class LineOut(BaseModel):
    line_no: int
    sku: str
    qty: int
    unit_price_cents: int
    location: str
    status: str
    expected_at: datetime | None = None


class ShipmentOut(BaseModel):
    id: str
    location: str
    service: str
    status: str
    eta: datetime
    delivered_at: datetime | None = None


class ExceptionRef(BaseModel):
    id: str
    type: str
    state: str


class OrderSummary(BaseModel):
    id: str
    customer_id: str
    status: str
    placed_at: datetime
    promised_by: datetime
    shipping_method: str
    captured_cents: int
    refunded_cents: int
    fraud_score: float


class OrderOut(OrderSummary):
    ship_region: str
    ship_address_id: str
    fee_cents: int
    lines: list[LineOut]
    shipments: list[ShipmentOut]
    exceptions: list[ExceptionRef]


class StockOut(BaseModel):
    location: str
    sku: str
    on_hand: int
    reserved: int
    atp: int = Field(description="available to promise: on hand − reserved")


# --------------------------------------------------------------------------- exceptions


class ExceptionSummary(BaseModel):
    id: str
    type: str
    state: str
    order_id: str
    customer_id: str
    subject: str
    raised_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    age_hours: float
    held: int = Field(description="actions waiting for a supervisor")
    expires_at: datetime | None = Field(description="when the first held action expires, if any is held")
    claimed_by: str | None


class ActionOut(BaseModel):
    key: str = Field(description="the idempotency key: what a decision selects")
    action: str
    args: dict[str, Any]
    status: str
    planner: str
    confidence: float
    rationale: str
    rule_ids: list[str]
    reasons: list[str]
    verdict: dict[str, Any]
    policy_version: str
    required_role: str | None
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    applied_at: datetime | None
    expires_at: datetime | None
    result: dict[str, Any] | None


class EventOut(BaseModel):
    seq: int
    at: datetime
    type: str
    aggregate: str
    aggregate_id: str
    data: dict[str, Any]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]
    seq: int = Field(description="its place in the exception's audit trail, from 1")
    hash: str = Field(description="sha256 over the previous entry's hash and this entry's content")


class AuditTrail(BaseModel):
    """Whether the exception's audit trail verifies (core.audit): the chain, its head, and its action records."""

    verified: bool
    entries: int = Field(description="entries verified, in trail order")
    records: int = Field(description="action records that match their last audited state")
    problem: str | None = Field(description="the first entry or record that does not verify, and why")
    entry_id: int | None = None
    seq: int | None = None


class DecisionRecord(BaseModel):
    key: str
    action: str
    status: str
    decided_by: str
    decided_at: datetime | None
    role: str | None
    edited: bool


class TimelineEntry(BaseModel):
    at: datetime
    source: Literal["event", "audit"]
    kind: str
    actor: str | None
    detail: dict[str, Any]


class ExceptionDetail(ExceptionSummary):
    shipment_id: str | None
    sku: str | None
    location: str | None
    short_qty: int | None
    return_id: str | None
    note: str | None
    detail: dict[str, Any]
    resolution: dict[str, Any] | None
    actions: list[ActionOut]
    decisions: list[DecisionRecord]
    events: list[EventOut]
    audit: list[AuditOut]
    audit_trail: AuditTrail
    timeline: list[TimelineEntry] = Field(description="events and audit entries merged, oldest first")


# --------------------------------------------------------------------------- decisions


def _names_by_pattern(schema: Any) -> None:
    """Publish a map's key pattern as `propertyNames.pattern`, its values as `additionalProperties`.

    Pydantic writes a constrained key as `patternProperties: {PATTERN: VALUE}`, under which a name that
    does not match (one with a NUL) may carry anything at all: the opposite of what validation does."""
    if isinstance(schema, list):
        for sub in schema:
            _names_by_pattern(sub)
    if not isinstance(schema, dict):
        return
    patterns = schema.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1:
        [(pattern, value)] = patterns.items()
        del schema["patternProperties"]
        schema["propertyNames"] = {**schema.get("propertyNames", {}), "pattern": pattern}
        schema["additionalProperties"] = value
    for sub in schema.values():
        _names_by_pattern(sub)


class ActionChoice(BaseModel):
    """A held item by `key` (approve, reject, edit), or for `add` a new `action` with all its `args`."""

    model_config = ConfigDict(extra="forbid")

    key: Key | None = Field(default=None, description="approve/reject/edit: the held item's key")
    action: ArgName | None = Field(
        default=None, description="add: an action of section 7 for the exception's order")
    args: dict[ArgName, ArgValue] | None = Field(
        default=None, max_length=MAX_EDIT_ARGS, json_schema_extra=lambda schema: _names_by_pattern(schema),
        description=f"edit: the arguments to change; add: all the action's arguments (scalars; text at most "
                    f"{MAX_ARG_CHARS} characters)")


def _as_choice(value: Any) -> Any:
    return {"key": value} if isinstance(value, str) else value


Choice = Annotated[ActionChoice, BeforeValidator(_as_choice, json_schema_input_type=ActionChoice | Key)]
"""A key alone or {key, args}: read as one model, so every error names `actions.N.key` or `actions.N.args`."""


_KEY = TypeAdapter(Key).json_schema()
_ARGS = TypeAdapter(dict[ArgName, ArgValue]).json_schema()
_names_by_pattern(_ARGS)
_ACTION = TypeAdapter(ArgName).json_schema()
_KEY_ONLY = {"anyOf": [_KEY, {"type": "object", "required": ["key"], "additionalProperties": False, "properties": {
    "key": _KEY, "args": {"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}]}}}]}


def _when(decision: str | list[str], then: dict[str, Any]) -> dict[str, Any]:
    const = {"const": decision} if isinstance(decision, str) else {"enum": decision}
    return {"if": {"properties": {"decision": const}, "required": ["decision"]}, "then": then}


DECISION_SHAPES: dict[str, Any] = {"allOf": [
    _when("edit", {"required": ["actions"], "properties": {"actions": {"type": "array", "items": {
        "type": "object", "required": ["key", "args"], "additionalProperties": False,
        "properties": {"key": _KEY,
                       "args": {**_ARGS, "minProperties": 1, "maxProperties": MAX_EDIT_ARGS}}}}}}),
    _when("add", {"required": ["actions"], "properties": {"actions": {
        "type": "array", "maxItems": MAX_ADDITIONS, "items": {
        "type": "object", "required": ["action", "args"], "additionalProperties": False,
        "properties": {"action": _ACTION, "args": _ARGS}}}}}),
    _when(["approve", "reject"], {"properties": {"actions": {"items": _KEY_ONLY}}}),
]}
"""What the decision service enforces, published: an edit names each action with the args it changes; an
add gives each new action with its args; approve and reject carry keys alone. Without it the schema would
call `{"decision": "edit"}` valid."""


class DecisionIn(BaseModel):
    """A supervisor's decision on held actions; `actions` omitted = every held action of the exception."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"decision": "approve", "note": "known customer"}], **DECISION_SHAPES})

    decision: Literal["approve", "reject", "edit", "add"]
    actions: list[Choice] | None = Field(
        default=None, min_length=1, max_length=100,
        description="held items by key (a string or {key, args}); omitted = every held item; "
                    "for `add`, 1-20 {action, args}")
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS, pattern=NO_NUL,
                             description=f"why, for the audit: at most {MAX_NOTE_CHARS} characters")


class DecisionOut(BaseModel):
    exception_id: str
    decision: str
    decided: list[str] = Field(description="keys of the actions this decision recorded")
    decided_by: str
    resumed: bool = Field(description="true when nothing was left undecided and the graph ran on")
    state: str = Field(description="the exception's state after the decision (and the resumed graph)")
    actions: list[ActionOut]
    resume_error: str | None = None
    items: list[DecisionItem] = Field(
        default_factory=list, description="every item this decision touched, with its status after it took effect")
    waiting_for: str | None = Field(default=None, description="why the exception still waits, if it does")
    options: list[str] = Field(default_factory=list, description="what a supervisor can still do")


# --------------------------------------------------------------------------- kpis and policy


class Count(BaseModel):
    type: str
    state: str
    count: int


class Money(BaseModel):
    refunds_cents: int
    credits_cents: int
    total_cents: int
    by_agents_cents: int = Field(description="the part paid by actions of exceptions")


class Promises(BaseModel):
    delivered_shipments: int
    kept: int
    rate: float | None


class Kpis(BaseModel):
    open_by_type_and_state: list[Count] = Field(description="exceptions not yet closed")
    closed: int
    auto_resolved: int
    auto_resolution_rate: float | None = Field(description="closed with no supervisor decision / closed")
    mean_hours_to_resolution: float | None
    median_hours_to_resolution: float | None
    paid_out: Money
    promises: Promises
    reroutes: Reroutes
    replan_lag: ReplanLag | None = Field(default=None, description="how far the outbox's consumer is behind "
                                                                   "(re-planning waiting exceptions)")


class ReplanLag(BaseModel):
    """The outbox's consumer (agents.replan): events not yet read, the oldest one's age, re-plans not yet done."""

    events: int
    oldest_age_seconds: float | None
    due: int


class Reroutes(BaseModel):
    """Shipments the agents moved, and the CO2 of the lanes they moved them onto (section 8)."""

    count: int
    co2_grams: int


class RuleOut(BaseModel):
    id: str
    section: str
    description: str


class PolicyOut(BaseModel):
    name: str
    version: str
    sections: dict[str, Any] = Field(description="the book's numbers by section")
    rules: list[RuleOut]


class Me(BaseModel):
    """The caller's identity and what its role allows."""

    name: str
    role: str
    may_decide: bool
    may_place_orders: bool
