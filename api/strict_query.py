"""Query strings are read as strictly as bodies: a parameter the operation does not declare, or a declared
one given twice, is a 422 naming it.

FastAPI ignores what it does not declare and keeps the last of repeated values, so `?limt=5` (a typo)
would silently list 50 rows and `?status=open&status=closed` would filter on one of the two. The
published schema declares every operation's parameters; what it does not declare is refused, as an
unknown body field already is (`extra="forbid"`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

MAX_NAMED = 10
"""At most this many unknown or repeated names are echoed in one answer."""


def declared_query(dependant: Dependant) -> set[str]:
    """The query parameters an operation takes, its dependencies' included (by the name a client uses)."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        d = stack.pop()
        names.update(f.alias for f in d.query_params)
        stack.extend(d.dependencies)
    return names


def _error(name: str, msg: str, kind: str, value: str) -> dict[str, Any]:
    return {"loc": ["query", name], "msg": msg, "type": kind, "input": value}


async def known_query_only(request: Request) -> None:
    """Installed as an app-wide dependency: it runs before the route's own parameters are read."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = declared_query(route.dependant)
    counts = Counter(name for name, _ in request.query_params.multi_items())
    errors = [_error(name, "unknown query parameter: the operation does not take it", "extra_forbidden",
                     request.query_params[name])
              for name in counts if name not in declared]
    errors += [_error(name, f"given {n} times: the parameter takes one value", "repeated",
                      request.query_params[name])
               for name, n in counts.items() if name in declared and n > 1]
    if errors:
        raise RequestValidationError(errors[:MAX_NAMED])
