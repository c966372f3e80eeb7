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
