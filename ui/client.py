"""The dashboard's only way into the system: the tower's HTTP API, with a bearer token.

Responses stay plain dicts. A decision's outcome is classified once here
(`Outcome`), so pages render "decided", "someone else decided it first",
"not allowed" and "the policy refused this edit" without reading status codes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEMO_TOKENS = ("demo-viewer", "demo-supervisor", "demo-supervisor-2", "demo-lead")
"""Public: the sign-in box names them only when the API takes them too (TOWER_DEMO, set by `tower up`)."""


def api_url() -> str:
    return os.environ.get("TOWER_API_URL", DEFAULT_API_URL).rstrip("/")


def demo_mode() -> bool:
    return os.environ.get("TOWER_DEMO", "").lower() in ("1", "true", "yes")


class ApiError(Exception):
    """The API refused a request or could not be reached (status 0)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail

    @property
    def message(self) -> str:
        if self.status == 0:
            return f"the API is unreachable: {self.detail}"
        if isinstance(self.detail, list):
            return "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in self.detail)
        return str(self.detail)


OutcomeKind = Literal["decided", "already_decided", "forbidden", "refused_edit", "failed", "noted"]


@dataclass(frozen=True)
class Outcome:
    """What became of a decision: `decided` (200), `already_decided` (409), `forbidden` (403),
    `refused_edit` (422, with the policy's errors), `failed` (anything else); `noted` (not a decision: an item
    taken or given back)."""

    kind: OutcomeKind
    message: str
    result: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


class TowerClient:
    """A thin, typed wrapper over the endpoints the dashboard reads and the one it writes."""

    def __init__(self, token: str, base_url: str | None = None, *, timeout: float = 15.0) -> None:
        self.base_url = (base_url or api_url()).rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"})

    # ---- plumbing

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise ApiError(0, f"{self.base_url}: {err}") from err

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self._request(method, path, **kwargs)
        if r.status_code >= 400:
            raise ApiError(r.status_code, _detail(r))
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        return self._json("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    # ---- who am I

    def check(self) -> None:
        """Raise ApiError unless the token is known (401) and the API answers."""
        self.get("/policy")

    def me(self) -> dict[str, Any]:
        """Who holds this token, their role and what it allows (the API says; the token itself is never shown)."""
        return self.get("/me")  # type: ignore[no-any-return]

    # ---- reads

    def kpis(self) -> dict[str, Any]:
        return self.get("/kpis")  # type: ignore[no-any-return]

    def policy(self) -> dict[str, Any]:
        return self.get("/policy")  # type: ignore[no-any-return]

    def exceptions(self, *, limit: int = 50, offset: int = 0, **filters: Any) -> dict[str, Any]:
        return self.get("/exceptions", limit=limit, offset=offset, **filters)  # type: ignore[no-any-return]

    def all_exceptions(self, *, cap: int = 2_000, **filters: Any) -> list[dict[str, Any]]:
        """Every exception matching the filters, page by page, at most `cap`."""
        return list(self._pages("/exceptions", cap=cap, **filters))

    def exception(self, exception_id: str) -> dict[str, Any]:
        return self.get(f"/exceptions/{exception_id}")  # type: ignore[no-any-return]

    def orders(self, *, limit: int = 50, offset: int = 0, **filters: Any) -> dict[str, Any]:
        return self.get("/orders", limit=limit, offset=offset, **filters)  # type: ignore[no-any-return]

    def order(self, order_id: str) -> dict[str, Any]:
        return self.get(f"/orders/{order_id}")  # type: ignore[no-any-return]

    def inventory(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/inventory", limit=500, **filters)["items"]  # type: ignore[no-any-return]

    def queue(self, *, limit: int = 20, offset: int = 0, **filters: Any) -> dict[str, Any]:
        """One page of the approvals queue, sorted and filtered by the server."""
        return self.get("/queue", limit=limit, offset=offset, **filters)  # type: ignore[no-any-return]

    def card(self, exception_id: str) -> dict[str, Any]:
        return self.get(f"/queue/{exception_id}")  # type: ignore[no-any-return]

    def take(self, exception_id: str) -> dict[str, Any]:
        """Take an item as mine; ApiError 409 names whoever holds it."""
        return self._json("PUT", f"/queue/{exception_id}/owner")  # type: ignore[no-any-return]

    def give_back(self, exception_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"/queue/{exception_id}/owner")  # type: ignore[no-any-return]

    def simulator(self) -> dict[str, Any]:
        return self.get("/simulator")  # type: ignore[no-any-return]

    def _pages(self, path: str, *, cap: int, **filters: Any) -> Iterator[dict[str, Any]]:
        offset = 0
        while offset < cap:
            page = self.get(path, limit=min(500, cap - offset), offset=offset, **filters)
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    # ---- writes

    def start_simulation(self, scenario: str, *, orders: int, seed: int, pace: float) -> dict[str, Any]:
        return self._json("POST", "/simulator/runs",  # type: ignore[no-any-return]
                          json={"scenario": scenario, "orders": orders, "seed": seed, "pace": pace})

    def decide(self, exception_id: str, decision: Literal["approve", "reject", "edit", "add"], *,
               actions: list[str] | list[dict[str, Any]] | None = None, note: str | None = None) -> Outcome:
        body: dict[str, Any] = {"decision": decision}
        if actions is not None:
            body["actions"] = actions
        if note:
            body["note"] = note
        try:
            r = self._request("POST", f"/exceptions/{exception_id}/decision", json=body)
        except ApiError as err:
            return Outcome("failed", err.message)
        detail = _detail(r) if r.status_code >= 400 else None
        if r.status_code == 200:
            out = r.json()
            return Outcome("decided", said(exception_id, out), result=out)
        if r.status_code == 409:
            return Outcome("already_decided", f"{exception_id} is no longer waiting for you: {detail}")
        if r.status_code == 403:
            return Outcome("forbidden", f"{exception_id}: {detail}")
        if r.status_code == 422 and isinstance(detail, list):
            errors = [e for e in detail if isinstance(e, dict)]
            return Outcome("refused_edit", f"{exception_id}: " + "; ".join(str(e.get("msg")) for e in errors),
                           errors=errors)
        return Outcome("failed", f"{exception_id}: {r.status_code} {detail}")


def decided_items(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each item the decision touched with its status after it took effect: the response's `items`, or, from an
    API without them, the decided keys' records among its `actions` (their status after the decision, too)."""
    if isinstance(result.get("items"), list):
        return list(result["items"])
    keys = set(result.get("decided") or [])
    return [a for a in result.get("actions") or [] if a.get("key") in keys]


def tally(items: list[dict[str, Any]]) -> dict[str, int]:
    """How many items ended in each status, in the order statuses first appear."""
    out: dict[str, int] = {}
    for item in items:
        out[str(item.get("status"))] = out.get(str(item.get("status")), 0) + 1
    return out


def said(exception_id: str, result: dict[str, Any]) -> str:
    """One sentence of what happened, never of what was asked: '... 1 applied, 1 denied; the exception is now X'."""
    counts = tally(decided_items(result))
    what = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing changed"
    return (f"{exception_id}: {result.get('decision')} by {result.get('decided_by')}: {what}; "
            f"the exception is now {result.get('state')}")


def _detail(r: httpx.Response) -> Any:
    try:
        return r.json().get("detail", r.text)
    except ValueError:
        return r.text
