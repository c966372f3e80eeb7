"""Dependencies as `Annotated` aliases: the runtime, a session, and who is calling with which role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.auth import DECIDERS, ORDER_WRITERS, READERS, Principal, TokenBook
from api.runtime import Runtime
from api.settings import Role

bearer = HTTPBearer(auto_error=False, description="a token from TOWER_TOKENS")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    with Session(rt.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(request: Request,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    book: TokenBook = request.app.state.tokens
    principal = book.identify(creds.credentials) if creds is not None else None
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


def require(roles: frozenset[Role], doing: str) -> Callable[..., Principal]:
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.role!r} may not {doing}: needs one of {', '.join(sorted(roles))}")
        return principal
    return check


Reader = Annotated[Principal, Depends(require(READERS, "read"))]
OrderWriter = Annotated[Principal, Depends(require(ORDER_WRITERS, "place orders"))]
Decider = Annotated[Principal, Depends(require(DECIDERS, "decide held actions"))]
