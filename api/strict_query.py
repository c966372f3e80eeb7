"""Query strings are read as strictly as bodies: a parameter the operation does not declare, or a declared
one that takes a single value given twice, is a 422 naming it.

FastAPI ignores what it does not declare and keeps the last of repeated values, so `?limt=5` (a typo)
would silently list 50 rows and `?status=open&status=closed` would filter on one of the two. The
published schema declares every operation's parameters; what it does not declare is refused, as an
unknown body field already is (`extra="forbid"`).
"""

from __future__ import annotations

from collections import Counter
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

MAX_NAMED = 10
"""At most this many unknown or repeated names are echoed in one answer."""


def _takes_many(annotation: Any) -> bool:
    """A list-typed parameter (`?type=a&type=b`) is given once per value: its repeats are its values."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_takes_many(a) for a in get_args(annotation) if a is not type(None))
    return origin in (list, set, tuple, frozenset) or annotation in (list, set, tuple, frozenset)


def declared_query(dependant: Dependant) -> dict[str, bool]:
    """The query parameters an operation takes (by the name a client uses), its dependencies' included,
    each with whether it takes several values."""
    names: dict[str, bool] = {}
    stack = [dependant]
    while stack:
        d = stack.pop()
        names.update({f.alias: _takes_many(f.field_info.annotation) for f in d.query_params})
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
               for name, n in counts.items() if name in declared and n > 1 and not declared[name]]
    if errors:
        raise RequestValidationError(errors[:MAX_NAMED])
