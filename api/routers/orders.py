"""Orders and stock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from api import orders, queries
from api.deps import OrderWriter, Reader, RuntimeDep, SessionDep
from api.schemas import (
    AUTH_ERRORS,
    INVALID,
    NOT_FOUND,
    UNREADABLE,
    IdFilter,
    IdParam,
    OrderIn,
    OrderOut,
    OrderSummary,
    Page,
    StockOut,
    ValidationProblem,
)
from core.models import OrderStatus

router = APIRouter(tags=["orders"], responses=AUTH_ERRORS)
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderOut,
             responses={**INVALID, **UNREADABLE, 409: {
                 "model": ValidationProblem,
                 "description": "a well-formed order the shop as it stands cannot take: an unknown customer or "
                                "sku, or no lane to the region; each problem names its field"}},
             summary="Place an order: capture, screen, allocate")
def place_order(body: OrderIn, rt: RuntimeDep, session: SessionDep, _: OrderWriter) -> OrderOut | JSONResponse:
    try:
        order_id = orders.place(rt, body)
    except orders.OrderRejected as err:
        return JSONResponse({"detail": err.errors}, status_code=status.HTTP_409_CONFLICT)
    out = queries.get_order(session, order_id)
    assert out is not None
    return out


@router.get("/orders/{order_id}", response_model=OrderOut, responses={**NOT_FOUND, **INVALID})
def get_order(order_id: IdParam, session: SessionDep, _: Reader) -> OrderOut:
    out = queries.get_order(session, order_id)
    if out is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id!r} does not exist")
    return out


@router.get("/orders", response_model=Page[OrderSummary], responses={**INVALID})
def list_orders(session: SessionDep, _: Reader, status: OrderStatus | None = None, customer: IdFilter = None,
                limit: Limit = 50, offset: Offset = 0) -> Page[OrderSummary]:
    return queries.list_orders(session, status=status, customer=customer, limit=limit, offset=offset)


@router.get("/inventory", response_model=Page[StockOut], responses={**INVALID},
            summary="Available to promise by location")
def list_inventory(session: SessionDep, _: Reader, sku: IdFilter = None, location: IdFilter = None,
                   limit: Limit = 100, offset: Offset = 0) -> Page[StockOut]:
    return queries.list_stock(session, sku=sku, location=location, limit=limit, offset=offset)
