"""The approvals queue: one page at a time, sorted and filtered by the server; a card; taking an item ("mine")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from api import queue
from api.deps import Decider, Reader, RuntimeDep, SessionDep
from api.schemas import AUTH_ERRORS, INVALID, MAX_ID_CHARS, NO_NUL, NOT_FOUND, IdParam, Problem
from core.models import ExceptionType
from policies.book import RULES

router = APIRouter(tags=["queue"], responses=AUTH_ERRORS)

RuleId = Literal[tuple(sorted(RULES))]  # type: ignore[valid-type]
"""A rule id of the book: anything else is a 422 naming `rule`."""
Cents = Annotated[int | None, Query(ge=0, le=10**12)]
OWNER_HELP = '"me" (the caller), "none" (nobody holds it), or a supervisor\'s name'
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "someone else holds it, or it no longer waits"}}



@router.get("/queue", response_model=queue.QueuePage, response_model_by_alias=True, responses={**INVALID},
            summary="Waiting exceptions, one page, most urgent first (or by money, age, deadline)")
def queue_page(
    rt: RuntimeDep, session: SessionDep, principal: Reader,
    sort: Annotated[queue.Sort, Query(description="urgency: promise at risk, then money, then age")] = "urgency",
    type: Annotated[list[ExceptionType] | None, Query(max_length=len(ExceptionType))] = None,
    rule: Annotated[RuleId | None, Query(description="held actions citing this rule id")] = None,  # type: ignore[valid-type]
    min_cents: Cents = None, max_cents: Cents = None,
    needs_lead: Annotated[bool | None, Query(description="true: only items a lead must decide; false: none")] = None,
    owner: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_CHARS, pattern=NO_NUL,
                                       description=OWNER_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=queue.MAX_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=queue.MAX_OFFSET)] = 0,
) -> queue.QueuePage:
    who = principal.name if owner == "me" else "" if owner == "none" else owner
    f = queue.QueueFilter(types=tuple(type or ()), rule=rule, min_cents=min_cents, max_cents=max_cents,
                          needs_lead=needs_lead, owner=who)
    return queue.queue_page(session, f, book=rt.book, now=rt.clock.now(), sort=sort, limit=limit, offset=offset)


@router.get("/queue/{exception_id}", response_model=queue.QueueCard, response_model_by_alias=True,
            responses={**NOT_FOUND, **INVALID}, summary="the item, its order, the claim, the rules' sentences")
def queue_card(exception_id: IdParam, rt: RuntimeDep, session: SessionDep, _: Reader) -> queue.QueueCard:
    out = queue.queue_card(session, exception_id, book=rt.book, now=rt.clock.now())
    if out is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"exception {exception_id!r} does not exist")
    return out


@router.put("/queue/{exception_id}/owner", response_model=queue.OwnerOut,
            responses={**NOT_FOUND, **CONFLICT, **INVALID}, summary="Take a waiting item as mine")
def take(exception_id: IdParam, rt: RuntimeDep, session: SessionDep,
         principal: Decider) -> queue.OwnerOut | JSONResponse:
    try:
        return queue.take(session, exception_id, principal.name, now=rt.clock.now())
    except queue.HeldByOther as err:
        return JSONResponse({"detail": err.detail}, status_code=status.HTTP_409_CONFLICT)
    except queue.NotWaiting as err:
        return JSONResponse({"detail": err.detail}, status_code=err.status)


@router.delete("/queue/{exception_id}/owner", response_model=queue.OwnerOut,
               responses={**NOT_FOUND, **CONFLICT, **INVALID}, summary="Give an item back")
def give_back(exception_id: IdParam, session: SessionDep, principal: Decider) -> queue.OwnerOut | JSONResponse:
    try:
        return queue.give_back(session, exception_id, principal.name)
    except queue.HeldByOther as err:
        return JSONResponse({"detail": err.detail}, status_code=status.HTTP_409_CONFLICT)
    except queue.NotWaiting as err:
        return JSONResponse({"detail": err.detail}, status_code=err.status)
