"""The service's settings: the core's `Settings` plus what only the API and the worker need.

Everything but the bearer tokens has an embedded default; production overrides through
`TOWER_*` environment variables (JSON for the mappings). The tokens fail closed: the API
takes the tokens of `TOWER_TOKENS` (`'{"<token>": {"name": "ana", "role": "lead"}}'`) and
the public demo tokens only when told to (`demo`: `tower up`, `tower api --demo`); with
neither it does not start. A bad entry is named by its holder, never by its token, and no
error echoes the settings' input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from core.settings import Settings

Role = Literal["viewer", "agent", "supervisor", "lead"]
MIN_TOKEN_CHARS = 16
TOKENS_HELP = ("""set TOWER_TOKENS to a JSON object of token -> holder, e.g. """
               """TOWER_TOKENS='{"<a long random token>": {"name": "ana", "role": "lead"}}' """
               """(roles: viewer, agent, supervisor, lead; a token of at least 16 characters, e.g. from """
               """`python -c 'import secrets; print(secrets.token_urlsafe(24))'`)""")


class TokenSpec(BaseModel):
    """Who holds a bearer token and what they may do."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Role


DEMO_TOKENS: dict[str, TokenSpec] = {
    "demo-viewer": TokenSpec(name="vera (viewer)", role="viewer"),
    "demo-agent": TokenSpec(name="feed (agent)", role="agent"),
    "demo-supervisor": TokenSpec(name="sam (supervisor)", role="supervisor"),
    "demo-supervisor-2": TokenSpec(name="sol (supervisor)", role="supervisor"),
    "demo-lead": TokenSpec(name="lia (lead)", role="lead"),
}
"""Public (they are in the README): taken only with `demo` on, for one machine."""

MIN_LEASE_SECONDS = 10.0
"""The shortest lease a worker accepts. A heartbeat renews a claim every third of the lease from its own
thread (api.leases), so the lease does not bound how long the graph may run; it bounds how long a renewal
may be held up: behind the longest step's transaction that holds the exception's row (PostgreSQL) or the
store's write lock (SQLite), i.e. a judge-and-apply batch or a decision, plus a slow commit. Ten seconds
leaves a renewal held up that long two more tries before another worker may take the claim."""

DEFAULT_HOLD_HOURS: dict[str, float] = {
    "communication": 24, "fulfillment": 12, "returns": 72, "money": 48, "irreversible": 24,
}


class ServiceSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="TOWER_", env_file=".env", extra="ignore",
                                      hide_input_in_errors=True)

    tokens: dict[str, TokenSpec] = Field(
        default_factory=dict,
        description="bearer token -> holder (TOWER_TOKENS); hashed (sha256) as soon as the API loads it")
    demo: bool = Field(
        default=False,
        description="also take the public demo tokens (tower up, tower api --demo): never on a shared machine")
    hold_max_wait_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_HOLD_HOURS),
        description="how long a held action of each class (policy book section 1) may wait for a decision")
    hold_deadlines: bool = Field(
        default=True, description="give held actions a deadline per class and expire them past it")
    planner: str = Field(default="rules", description="rules or llm")
    policy: Path | None = Field(
        default=None, description="a policy book variant (JSON laid over the shipped book); the whole run obeys it")
    worker_id: str | None = Field(default=None, description="defaults to host:pid")
    worker_lease_seconds: float = Field(
        default=120, ge=MIN_LEASE_SECONDS,
        description="a claim not renewed for this long is taken to belong to a dead worker (renewed every third)")
    worker_poll_seconds: float = Field(default=1.0, gt=0, description="idle wait between empty claims")
    sweep_every_seconds: float = Field(default=30, gt=0, description="how often a worker expires held items")
    max_request_bytes: int = Field(
        default=256 * 1024, gt=0,
        description="a request body over this many bytes is refused (413) before it is read")
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    @field_validator("tokens", mode="before")
    @classmethod
    def _each_entry(cls, raw: Any) -> Any:
        """Check every entry, naming it by its holder (or its place), never by its token."""
        if not isinstance(raw, dict):
            raise ValueError(f"TOWER_TOKENS is a JSON object of token -> holder: {TOKENS_HELP}")
        out: dict[str, TokenSpec] = {}
        for n, (token, spec) in enumerate(raw.items(), start=1):
            name = spec.get("name") if isinstance(spec, dict) else getattr(spec, "name", None)
            holder = repr(name) if isinstance(name, str) and name else f"entry {n} (no name)"
            try:
                out[token] = TokenSpec.model_validate(spec)
            except ValidationError as err:
                first = err.errors(include_input=False)[0]
                field = ".".join(str(p) for p in first["loc"]) or "holder"
                raise ValueError(f"TOWER_TOKENS: the token of {holder}: {field}: {first['msg']}") from None
            if token in DEMO_TOKENS:
                raise ValueError(f"TOWER_TOKENS: the token of {holder} is a public demo token: use a secret one")
            if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
                raise ValueError(f"TOWER_TOKENS: the token of {holder} is not a usable secret: at least "
                                 f"{MIN_TOKEN_CHARS} characters, no spaces")
        return out

    def accepted_tokens(self) -> dict[str, TokenSpec]:
        """The tokens the API takes: TOWER_TOKENS, and the demo tokens only when told to."""
        return {**(DEMO_TOKENS if self.demo else {}), **self.tokens}

    def hold_hours(self, action_class: str) -> float:
        return self.hold_max_wait_hours.get(action_class, DEFAULT_HOLD_HOURS.get(action_class, 24))
