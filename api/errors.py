"""How the API answers what goes wrong outside a route's own answers.

- 422: FastAPI's validation errors, with every echoed input made encodable (a lone surrogate in a
  note is refused, and the refusal must be able to say so) and cut short.
- 405: `Allow` lists every method the path takes, not only the first route's that matched it.
- 413: a request body over the cap, refused before it is read (`BodyLimit`).
- 500: whatever escapes a route anyway: logged whole, answered bare, with no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi import HTTPException as FastAPIHTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
ECHO_CHARS = 200
INTERNAL = "internal error: the request was not completed"


def _encodable(value: Any) -> Any:
    """The value with lone surrogates replaced (U+FFFD) and long text cut to ECHO_CHARS."""
    if isinstance(value, str):
        text = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    return value


async def validation_problem(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _encodable(jsonable_encoder(exc.errors()))}, status_code=422)


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> list[str]:
    """Every method some route takes fully at this path (routes of included routers too)."""
    return [m for m in METHODS
            if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in request.app.router.routes)]


async def http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                            headers={"Allow": ", ".join(_allowed(request))})
    return await http_exception_handler(request, exc)


async def internal_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": INTERNAL}, status_code=500)


class BodyLimit:
    """Cap the request body before it is read: a declared length over the cap is refused at once, as JSON,
    before the token is looked at or a byte is read; a body with no declared length is cut off at the cap."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, declared: str | None = None) -> str:
        size = f"is {declared} bytes" if declared else "runs"
        return f"the request body {size}, over the limit of {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"detail": self._too_large(declared)}, status_code=413,
                                    headers={"Connection": "close"})
            return await response(scope, receive, send)
        read = 0

        async def capped() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.max_bytes:
                raise FastAPIHTTPException(413, self._too_large())
            return message

        await self.app(scope, capped, send)


def install(app: FastAPI, max_body_bytes: int) -> None:
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(HTTPException, http_problem)
    app.add_exception_handler(Exception, internal_error)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
