"""Exceptions, their timelines, and supervisors' decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from api import decisions, queries
from api.deps import Decider, Reader, RuntimeDep, SessionDep
from api.schemas import (
    AUTH_ERRORS,
    INVALID,
    NOT_FOUND,
    UNREADABLE,
    Conflict,
    DecisionIn,
    DecisionOut,
    ExceptionDetail,
    ExceptionSummary,
    IdFilter,
    IdParam,
    Page,
    Problem,
)
from core.models import ExceptionState, ExceptionType

router = APIRouter(tags=["exceptions"], responses=AUTH_ERRORS)


@router.get("/exceptions", response_model=Page[ExceptionSummary], responses={**INVALID})
def list_exceptions(
    rt: RuntimeDep, session: SessionDep, _: Reader,
    type: ExceptionType | None = None,
    status: Annotated[ExceptionState | None, Query(description="the exception's state")] = None,
    order: IdFilter = None, customer: IdFilter = None,
    min_age_hours: Annotated[float | None, Query(ge=0, le=1e6, description="raised at least this long ago")] = None,
    max_age_hours: Annotated[float | None, Query(ge=0, le=1e6, description="raised at most this long ago")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Page[ExceptionSummary]:
    f = queries.ExceptionFilter(type=type, status=status, order=order, customer=customer,
                                min_age_hours=min_age_hours, max_age_hours=max_age_hours)
    return queries.list_exceptions(session, f, now=rt.clock.now(), limit=limit, offset=offset)


@router.get("/exceptions/{exception_id}", response_model=ExceptionDetail, responses={**NOT_FOUND, **INVALID})
def get_exception(exception_id: IdParam, rt: RuntimeDep, session: SessionDep, _: Reader) -> ExceptionDetail:
    out = queries.exception_detail(session, exception_id, now=rt.clock.now())
    if out is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"exception {exception_id!r} does not exist")
    return out


@router.post(
    "/exceptions/{exception_id}/decision", response_model=DecisionOut,
    summary="Approve, edit or reject held actions; resumes the graph once nothing is left undecided",
    responses={
        403: {"model": Problem, "description": "the role may not decide, or the item needs a lead"},
        404: {"model": Problem, "description": "no such exception"},
        409: {"model": Conflict, "description": "an item was already decided or expired, or the exception "
                                                "holds no action of a key given (each named by its field)"},
        **INVALID, **UNREADABLE,
    })
def decide(exception_id: IdParam, body: DecisionIn, rt: RuntimeDep, principal: Decider) -> DecisionOut | JSONResponse:
    try:
        return decisions.decide(rt, exception_id, body, principal)
    except decisions.DecisionRefused as err:
        return JSONResponse({"detail": err.detail}, status_code=err.status)
