"""Bearer tokens: held only as sha256 digests, compared in constant time, each mapped to a role."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from api.settings import Role, TokenSpec

ROLES: tuple[Role, ...] = ("viewer", "agent", "supervisor", "lead")
READERS: frozenset[Role] = frozenset(ROLES)
ORDER_WRITERS: frozenset[Role] = frozenset({"agent", "supervisor", "lead"})
DECIDERS: frozenset[Role] = frozenset({"supervisor", "lead"})


class Principal(BaseModel):
    """Who is calling: a name for the audit and a role for the checks."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenBook:
    """Known tokens by digest; the plain tokens are not kept."""

    def __init__(self, tokens: Mapping[str, TokenSpec]) -> None:
        self._entries = [(digest(t), Principal(name=s.name, role=s.role)) for t, s in tokens.items()]

    def identify(self, token: str) -> Principal | None:
        """Compare against every entry without stopping early, so timing says nothing about near misses."""
        presented = digest(token)
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(presented, known):
                found = principal
        return found
