"""Values as JSON, written one way everywhere: an instant is UTC ISO 8601 with a `Z`.

The outbox's event data, the tools' results and read views, canonical action
arguments and the eval reports all go through here, so the same instant is the
same string wherever it is stored, hashed or compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from core.clock import utc

_SCALARS = frozenset({str, int, float, bool, type(None)})


def iso(at: datetime) -> str:
    """An instant as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (naive datetimes are UTC by convention)."""
    if at.tzinfo is not UTC:  # most instants are UTC already: skip the conversion
        at = utc(at)
    return at.isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """`value` as JSON values: instants via `iso`, tuples and sets as lists, whole exact numbers as int.

    The common shapes (scalars, datetimes, dicts, lists) are tested first: the outbox runs this on every event.
    """
    if type(value) in _SCALARS:
        return value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}  # keys as given: JSON writes scalar keys itself
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | Fraction):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    return str(value)
