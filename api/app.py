"""The FastAPI application factory: `create_app(settings)` wires the runtime once and mounts the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import errors, openapi_doc
from api.auth import TokenBook
from api.routers import exceptions, orders, overview, queue, simulator
from api.runtime import Runtime, open_runtime
from api.settings import TOKENS_HELP, ServiceSettings
from api.strict_query import known_query_only
from core.clock import Clock


class NoTokens(ValueError):
    """The API has no bearer token to take: it does not start (fail closed)."""


def create_app(settings: ServiceSettings | None = None, *, clock: Clock | None = None,
               runtime: Runtime | None = None) -> FastAPI:
    """Build the app; pass `runtime` to share one with a worker in the same process (or a test)."""
    settings = settings or (runtime.settings if runtime else ServiceSettings())
    tokens = settings.accepted_tokens()
    if not tokens:
        raise NoTokens(f"no bearer tokens: {TOKENS_HELP}; or pass --demo to take the public demo tokens "
                       "on this machine only")
    owned = runtime is None
    rt = runtime or open_runtime(settings, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            rt.close()

    app = FastAPI(title="Exception Control Tower", version="0.1.0", lifespan=lifespan,
                  description="Orders, exceptions, held actions and supervisors' decisions over one OMS.",
                  dependencies=[Depends(known_query_only)])
    errors.install(app, settings.max_request_bytes)
    openapi_doc.install(app)
    app.state.runtime = rt
    app.state.tokens = TokenBook(tokens)
    app.include_router(orders.router)
    app.include_router(exceptions.router)
    app.include_router(overview.router)
    app.include_router(simulator.router)
    app.include_router(queue.router)
    return app
