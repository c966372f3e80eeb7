"""One recorded case (shared/spec/cases.md) as pydantic models.

Every model forbids unknown keys, so a typo in a suite is refused at load
time instead of passing silently. The world reuses `core.world.World`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from core.world import World

Outcome = Literal["auto", "approval"]
OUTCOMES: tuple[Outcome, ...] = ("auto", "approval")
ActionStatus = Literal["applied", "held", "denied", "rejected", "withdrawn"]
LIVE_STATUSES: tuple[ActionStatus, ...] = ("applied", "held")
"""What an expected action without `status` matches, and all a case without `proposals` may pin."""
THEN_STATUSES: tuple[ActionStatus, ...] = ("applied", "held", "denied", "rejected", "withdrawn")
"""What a case with `then` may pin."""
FinalState = Literal["resolved", "rejected", "awaiting_approval"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Number: TypeAlias = StrictInt | StrictFloat


class ValueRange(_Strict):
    """`{"min": a, "max": b}`: a closed range on numbers; either bound may be left out."""

    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ValueRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"between {self.min} and {self.max}"
        if self.min is not None:
            return f"at least {self.min}"
        if self.max is not None:
            return f"at most {self.max}"
        return "any number"


Scalar: TypeAlias = StrictBool | StrictInt | StrictFloat | StrictStr | None
ArgValue: TypeAlias = Scalar | ValueRange


def _arg_value(value: Any) -> ArgValue:
    """One clear message instead of pydantic's one error per union member."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, ValueRange):
        return value
    if isinstance(value, dict) and set(value) <= {"min", "max"}:
        for bound, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float | None):
                raise ValueError(f"{bound} must be a number")
        return ValueRange(**value)
    raise ValueError('must be a JSON scalar or {"min": a, "max": b}')


class ExpectedAction(BaseModel):
    """An action the agents must apply or hold (or, pinned by `status`, deny): its name plus the arguments
    that must be equal."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Annotated[ArgValue, BeforeValidator(_arg_value)]] = Field(init=False)

    action: StrictStr
    status: ActionStatus | None = None

    @property
    def statuses(self) -> tuple[str, ...]:
        """The statuses a produced action may have to match this one."""
        return LIVE_STATUSES if self.status is None else (self.status,)

    @property
    def fields(self) -> dict[str, ArgValue]:
        """The argument fields, in the order the case gives them."""
        return dict(self.__pydantic_extra__ or {})


def _outcomes(value: Any) -> tuple[Outcome, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not values:
        raise ValueError('must be "auto", "approval" or a non-empty list of them')
    for v in values:
        if v not in OUTCOMES:
            raise ValueError(f'{v!r} is not an outcome; use "auto" or "approval"')
    return tuple(dict.fromkeys(values))


class Expect(_Strict):
    outcome: Annotated[tuple[Outcome, ...], BeforeValidator(_outcomes)]
    actions: tuple[ExpectedAction, ...] = ()
    only: StrictBool = False
    forbidden: tuple[StrictStr, ...] = ()
    state: FinalState | None = None
    """The exception's state at the end (after the last `then` step)."""


class _ExceptionBase(_Strict):
    order_id: StrictStr
    note: StrictStr | None = None


class DelayIn(_ExceptionBase):
    type: Literal["delay"]
    shipment_id: StrictStr


class StockoutIn(_ExceptionBase):
    type: Literal["stockout"]
    sku: StrictStr
    location: StrictStr
    short_qty: PositiveInt


class FraudHoldIn(_ExceptionBase):
    type: Literal["fraud_hold"]


class ReturnDisputeIn(_ExceptionBase):
    type: Literal["return_dispute"]
    return_id: StrictStr


ExceptionIn: TypeAlias = Annotated[
    DelayIn | StockoutIn | FraudHoldIn | ReturnDisputeIn, Field(discriminator="type")
]


# --------------------------------------------------------------------------- `then` steps


class CarrierUpdateEvent(_Strict):
    type: Literal["carrier_update"]
    shipment_id: StrictStr
    status: Literal["in_transit", "delivered", "lost"]
    eta: AwareDatetime | None = None
    carrier_delivered_scan: StrictBool | None = None


class RescoreEvent(_Strict):
    type: Literal["rescore"]
    order_id: StrictStr
    fraud_score: Annotated[Number, Field(ge=0, le=1)]


class StockReceivedEvent(_Strict):
    type: Literal["stock_received"]
    location: StrictStr
    sku: StrictStr
    qty: Annotated[StrictInt, Field(gt=0)]


class ReturnEvidenceEvent(_Strict):
    type: Literal["return_evidence"]
    return_id: StrictStr
    evidence: StrictBool
    claim: StrictStr | None = None


EVENT_TYPES = ("carrier_update", "rescore", "stock_received", "return_evidence")
EventIn: TypeAlias = Annotated[
    CarrierUpdateEvent | RescoreEvent | StockReceivedEvent | ReturnEvidenceEvent, Field(discriminator="type")
]
Decision = Literal["approve", "reject", "edit", "add"]


class DecisionEntry(BaseModel):
    """A held action named the way `expect` matches it (and, for an edit, its new values under `set`), or
    for `add` a new action with all its arguments."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Scalar] = Field(init=False)

    action: StrictStr
    set: dict[str, Scalar] | None = None

    @property
    def fields(self) -> dict[str, Scalar]:
        return dict(self.__pydantic_extra__ or {})


class DecisionIn(_Strict):
    role: Literal["supervisor", "lead"]
    decision: Decision
    actions: tuple[DecisionEntry, ...] | None = None
    note: StrictStr | None = None


class Step(_Strict):
    """One step of `then`: at its time, an OMS event or a supervisor's decision (exactly one)."""

    at: AwareDatetime
    event: EventIn | None = None
    decision: DecisionIn | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        if (self.event is None) == (self.decision is None):
            raise ValueError("a step has exactly one of `event` and `decision`")
        return self


class Case(_Strict):
    """One exception, frozen: the world it happened in, the exception, and what should come of it."""

    id: Annotated[StrictStr, Field(min_length=1)]
    title: StrictStr | None = None
    now: AwareDatetime
    world: World
    exception: ExceptionIn
    proposals: tuple[Any, ...] | None = None
    """A scripted planner's first plan: entries as a planner said them, each judged (a malformed one is
    denied, never a load error)."""
    expect: Expect
    then: tuple[Step, ...] | None = None
    """What happens while the case waits: OMS events and supervisors' decisions, in time order."""
