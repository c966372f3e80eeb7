"""Order intake: validate against the store, then capture → screen → allocate through `core.services`.

Going through the service layer is what runs screening, allocation, routing
and the detectors for an order that comes in over HTTP exactly as for one
from the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from api.runtime import Runtime
from api.schemas import OrderIn
from core import services
from core.errors import DomainError, NotFound
from core.models import Customer, Lane, OrderStatus, Product
from core.services import LineRequest, PlaceOrder


@dataclass
class OrderRejected(Exception):
    """The order cannot be placed: each problem names its field, FastAPI-style.

    Answered 409, not 422: the body is valid by the published schema (which cannot know which customers
    and skus exist), it is the shop's current state that refuses it; 422 stays for what breaks the schema."""

    errors: list[dict[str, Any]] = field(default_factory=list)


def _problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


def check_references(session: Session, body: OrderIn) -> list[dict[str, Any]]:
    """What the body's schema cannot know: the customer, the skus and a lane to the region exist."""
    problems = []
    if session.get(Customer, body.customer_id) is None:
        problems.append(_problem(["customer_id"], f"customer {body.customer_id!r} does not exist", "not_found"))
    known = set(session.exec(select(Product.sku).where(col(Product.sku).in_([x.sku for x in body.lines]))).all())
    for i, line in enumerate(body.lines):
        if line.sku not in known:
            problems.append(_problem(["lines", i, "sku"], f"product {line.sku!r} does not exist", "not_found"))
    lane = session.exec(select(Lane.id).where(Lane.to_region == body.ship_region,
                                              Lane.service == body.shipping_method).limit(1)).first()
    if lane is None:
        problems.append(_problem(["ship_region"], f"no {body.shipping_method} lane serves region "
                                                  f"{body.ship_region!r}", "no_lane"))
    return problems


def place(rt: Runtime, body: OrderIn) -> str:
    """Capture, screen and (unless held) allocate; refusals before capture store nothing."""
    with Session(rt.engine) as s:
        problems = check_references(s, body)
    if problems:
        raise OrderRejected(problems)
    now = rt.clock.now()
    cmd = PlaceOrder(customer_id=body.customer_id, ship_region=body.ship_region,
                     ship_address_id=body.ship_address_id, shipping_method=body.shipping_method,
                     fee_cents=body.fee_cents, promised_by=body.promised_by,
                     lines=tuple(LineRequest(x.sku, x.qty) for x in body.lines))
    try:
        order_id = services.place_order(rt.engine, cmd, at=now, rules=rt.rules)
    except NotFound as err:
        loc: list[str | int] = ["customer_id"] if err.entity == "customer" else ["lines"]
        raise OrderRejected([_problem(loc, str(err), "not_found")]) from err
    except DomainError as err:
        raise OrderRejected([_problem([], str(err), "refused")]) from err
    outcome = services.screen_order(rt.engine, order_id, body.fraud_score, at=now, rules=rt.rules)
    if outcome.status != OrderStatus.on_hold:
        services.allocate_order(rt.engine, order_id, at=now, rules=rt.rules)
    return order_id
