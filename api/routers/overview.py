"""KPIs, the policy book and the caller's identity: what the dashboard's header and the policy page show."""

from __future__ import annotations

from fastapi import APIRouter

from api import queries
from api.auth import DECIDERS, ORDER_WRITERS
from api.deps import Reader, RuntimeDep, SessionDep
from api.schemas import AUTH_ERRORS, Kpis, Me, PolicyOut

router = APIRouter(tags=["overview"], responses=AUTH_ERRORS)


@router.get("/kpis", response_model=Kpis)
def kpis(session: SessionDep, rt: RuntimeDep, _: Reader) -> Kpis:
    return queries.kpis(session, now=rt.clock.now())


@router.get("/me", response_model=Me)
def me(principal: Reader) -> Me:
    """Who this token is and what its role may do: the dashboard enables its buttons from it."""
    return Me(name=principal.name, role=principal.role, may_decide=principal.role in DECIDERS,
              may_place_orders=principal.role in ORDER_WRITERS)


@router.get("/policy", response_model=PolicyOut)
def policy(rt: RuntimeDep, _: Reader) -> PolicyOut:
    """The policy book this service runs under (the shipped one, or the `--policy` variant)."""
    return queries.policy(rt.book)
