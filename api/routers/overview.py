"""KPIs and the policy book: what the dashboard's header and the policy page show."""

from __future__ import annotations

from fastapi import APIRouter

from api import queries
from api.deps import Reader, SessionDep
from api.schemas import AUTH_ERRORS, Kpis, PolicyOut

router = APIRouter(tags=["overview"], responses=AUTH_ERRORS)


@router.get("/kpis", response_model=Kpis)
def kpis(session: SessionDep, _: Reader) -> Kpis:
    return queries.kpis(session)


@router.get("/policy", response_model=PolicyOut)
def policy(_: Reader) -> PolicyOut:
    return queries.policy()
