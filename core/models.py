"""The OMS's entities as SQLModel tables.

Names follow the recorded-case format (shared/spec/cases.md) so a world
snapshot maps onto the store field for field. Domain logic lives in
`lifecycle`, `routing` and `detectors`, which take these objects and never
touch a session.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Column, Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import JSONType, UTCDateTime

if TYPE_CHECKING:
    class TableModel(SQLModel):
        """What SQLModel attaches at runtime to a `table=True` class, declared for the type checker."""

        __table__: ClassVar[Table]
else:
    TableModel = SQLModel


def _dt(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class LocationKind(StrEnum):
    warehouse = "warehouse"
    store = "store"
    third_party = "3pl"
    seller = "seller"


class Service(StrEnum):
    standard = "standard"
    express = "express"
    same_day = "same_day"


class Tier(StrEnum):
    standard = "standard"
    gold = "gold"
    platinum = "platinum"


class OrderStatus(StrEnum):
    placed = "placed"
    on_hold = "on_hold"
    allocated = "allocated"
    in_fulfillment = "in_fulfillment"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"


class LineStatus(StrEnum):
    open = "open"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    backordered = "backordered"


class ShipmentStatus(StrEnum):
    created = "created"
    picked = "picked"
    in_transit = "in_transit"
    delivered = "delivered"
    lost = "lost"
    cancelled = "cancelled"


class ReturnStatus(StrEnum):
    open = "open"
    disputed = "disputed"
    approved = "approved"
    denied = "denied"


class ExceptionType(StrEnum):
    delay = "delay"
    stockout = "stockout"
    fraud_hold = "fraud_hold"
    return_dispute = "return_dispute"


class ExceptionState(StrEnum):
    open = "open"
    working = "working"
    awaiting_approval = "awaiting_approval"
    resolved = "resolved"
    rejected = "rejected"
    failed = "failed"
    escalated = "escalated"


class Location(TableModel, table=True):
    id: str = Field(primary_key=True)
    kind: str
    region: str = Field(index=True)
    handling_hours: float


class Lane(TableModel, table=True):
    __table_args__ = (UniqueConstraint("from_location", "to_region", "service"),)
    id: int | None = Field(default=None, primary_key=True)
    from_location: str = Field(foreign_key="location.id", index=True)
    to_region: str
    service: str
    transit_hours: float
    cost_cents: int
    co2_grams: int


class Product(TableModel, table=True):
    sku: str = Field(primary_key=True)
    name: str
    price_cents: int
    returnable: bool = True
    restock_at: datetime | None = _dt(nullable=True)
    category: str | None = None


class Inventory(TableModel, table=True):
    """Stock at one location. ATP = on_hand − reserved; reservations change it atomically."""

    location: str = Field(primary_key=True, foreign_key="location.id")
    sku: str = Field(primary_key=True, foreign_key="product.sku")
    on_hand: int = Field(ge=0)
    reserved: int = Field(ge=0)

    @property
    def atp(self) -> int:
        return max(self.on_hand - self.reserved, 0)


class Customer(TableModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    email: str
    tier: str = Tier.standard
    locale: str = "en-US"
    region: str | None = None
    delivered_orders: int = 0
    chargebacks: int = 0
    refunds_90d: int = 0
    returns_90d: int = 0
    delivered_addresses: list[str] = Field(default_factory=list, sa_column=Column(JSONType))


class Order(TableModel, table=True):
    __tablename__ = "orders"
    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True)
    placed_at: datetime = _dt()
    status: str = Field(default=OrderStatus.placed, index=True)
    ship_region: str
    ship_address_id: str
    shipping_method: str
    fee_cents: int = 0
    promised_by: datetime = _dt()
    captured_cents: int = 0
    refunded_cents: int = 0
    fraud_score: float = 0.0
    goodwill_given: bool = False

    @property
    def refundable_cents(self) -> int:
        return self.captured_cents - self.refunded_cents


class OrderLine(TableModel, table=True):
    __table_args__ = (Index("ix_orderline_order_sku", "order_id", "sku"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id")
    line_no: int
    sku: str = Field(foreign_key="product.sku")
    qty: int = Field(gt=0)
    unit_price_cents: int
    location: str = Field(foreign_key="location.id")
    status: str = LineStatus.open
    reserved: bool = False
    expected_at: datetime | None = _dt(nullable=True)
    shipping_limit_at: datetime | None = _dt(nullable=True)


class Shipment(TableModel, table=True):
    id: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    location: str = Field(foreign_key="location.id")
    service: str
    status: str = Field(default=ShipmentStatus.created, index=True)
    eta: datetime = _dt()
    delivered_at: datetime | None = _dt(nullable=True)
    carrier_delivered_scan: bool = False
    reship_of: str | None = None
    created_at: datetime | None = _dt(nullable=True)
    dispatched_at: datetime | None = _dt(nullable=True)
    dispatch_by: datetime | None = _dt(nullable=True)


class ShipmentLine(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(foreign_key="shipment.id", index=True)
    sku: str
    qty: int = Field(gt=0)


class Return(TableModel, table=True):
    __tablename__ = "returns"
    id: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    reason: str | None = None
    evidence: bool = False
    claim: str = ""
    status: str = ReturnStatus.open
    refund_cents: int | None = None
    decision_reason: str | None = None


class ReturnLine(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    return_id: str = Field(foreign_key="returns.id", index=True)
    sku: str
    qty: int = Field(gt=0)


class OrderException(TableModel, table=True):
    """An exception the OMS raised: the unit of work for the agents and supervisors."""

    __tablename__ = "exceptions"
    __table_args__ = (Index("ix_exceptions_state_raised", "state", "raised_at"),
                      Index("ix_exceptions_state_owner", "state", "owner"))
    id: str = Field(primary_key=True)
    type: str = Field(index=True)
    state: str = Field(default=ExceptionState.open)
    order_id: str = Field(foreign_key="orders.id", index=True)
    subject: str = Field(index=True, description="what it is about: shipment, line or return")
    shipment_id: str | None = None
    sku: str | None = None
    location: str | None = None
    short_qty: int | None = None
    return_id: str | None = None
    note: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    raised_at: datetime = _dt()
    updated_at: datetime = _dt()
    resolved_at: datetime | None = _dt(nullable=True)
    claimed_by: str | None = None
    claimed_at: datetime | None = _dt(nullable=True)
    owner: str | None = Field(default=None, description="the supervisor who took it from the queue (not a worker's "
                                                        "claim): others see who holds it")
    owned_at: datetime | None = _dt(nullable=True)
    queue_held: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                            description="held actions; this and the queue_ columns below are kept by the store's "
                                        "own triggers on action_record (migration 0003), whoever writes it")
    queue_cents: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                             description="the money the held actions would pay out")
    queue_deadline: datetime | None = _dt(nullable=True)
    queue_lead: int = Field(default=0, sa_column_kwargs={"server_default": "0"}, description="1: a held action "
                                                                                             "needs a lead")
    queue_rules: str = Field(default="", sa_column_kwargs={"server_default": ""},
                             description="the held actions' rule_ids arrays as JSON text, comma-joined")
    resolution: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    audit_seq: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                           description="how many entries its audit trail holds (core.audit)")
    audit_head: str | None = Field(default=None, max_length=64, description="the hash of its newest audit entry")


class Event(TableModel, table=True):
    """The outbox: every state change writes its events in the same transaction."""

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = _dt(index=True)
    type: str = Field(index=True)
    aggregate: str
    aggregate_id: str = Field(index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    published: bool = Field(default=False, index=True)


class OutboxCursor(TableModel, table=True):
    """How far a consumer of the outbox has read (`seq` of the last event it consumed), and who reads now.

    `holder`/`leased_at` are a lease like an exception's claim: one consumer reads at a time, in order,
    and a holder that died stops renewing, so another takes over one lease later.
    """

    __tablename__ = "outbox_cursor"
    name: str = Field(primary_key=True)
    seq: int = 0
    holder: str | None = None
    leased_at: datetime | None = _dt(nullable=True)


class ReplanDue(TableModel, table=True):
    """An outbox event that changes the facts of a waiting exception: it is to be planned again on it.

    Written once per (exception, event) in the transaction that moves the cursor past the event (a
    replayed event finds its rows and adds none); `done_at` is set once the exception was re-planned
    (or had stopped waiting).
    """

    __tablename__ = "replan_due"
    exception_id: str = Field(primary_key=True)
    event_seq: int = Field(primary_key=True)
    at: datetime = _dt()
    done_at: datetime | None = _dt(nullable=True, index=True)


class Counter(TableModel, table=True):
    """Named sequences for readable, deterministic ids (EX-000001, S-000042)."""

    name: str = Field(primary_key=True)
    value: int = 0


class ActionRecord(TableModel, table=True):
    """One proposed action of one exception, its verdict, and what came of it."""

    __tablename__ = "action_record"
    __table_args__ = (Index("ix_action_record_status_exception", "status", "exception_id"),)
    id: int | None = Field(default=None, primary_key=True)
    exception_id: str = Field(foreign_key="exceptions.id", index=True)
    idempotency_key: str = Field(unique=True)
    action: str
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    status: str = Field(index=True, description="pending, held, approved, applied, denied, rejected, withdrawn, "
                                                "expired, failed")
    planner: str
    confidence: float
    rationale: str = ""
    verdict: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    policy_version: str
    required_role: str | None = None
    interrupt_id: str | None = Field(default=None, index=True)
    proposed_at: datetime = _dt()
    decided_at: datetime | None = _dt(nullable=True)
    decided_by: str | None = None
    applied_at: datetime | None = _dt(nullable=True)
    expires_at: datetime | None = _dt(nullable=True)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))


class AuditEntry(TableModel, table=True):
    """One entry of an exception's audit trail, chained to the one before it (core.audit writes and checks them)."""

    __table_args__ = (UniqueConstraint("exception_id", "seq", name="uq_auditentry_exception_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _dt(index=True)
    exception_id: str | None = None
    actor: str
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    seq: int = Field(description="its place in the exception's trail, from 1")
    hash: str = Field(max_length=64, description="sha256 of the previous entry's hash and this entry's content")


class Refund(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    amount_cents: int = Field(gt=0)
    reason: str
    exception_id: str | None = None
    at: datetime = _dt()


class StoreCredit(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True)
    amount_cents: int = Field(gt=0)
    reason: str
    exception_id: str | None = None
    at: datetime = _dt()


class Notification(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    customer_id: str
    topic: str
    body: str
    eta: datetime | None = _dt(nullable=True)
    exception_id: str | None = None
    at: datetime = _dt()
