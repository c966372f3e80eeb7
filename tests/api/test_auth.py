"""Who may do what: every route against every role, a missing token and a wrong one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import as_, order_body
from fastapi.testclient import TestClient

from api.auth import TokenBook, digest
from api.settings import TokenSpec

EVERYONE = {"viewer", "agent", "supervisor", "lead"}
MATRIX: dict[tuple[str, str], set[str]] = {
    ("POST", "/orders"): {"agent", "supervisor", "lead"},
    ("GET", "/orders"): EVERYONE,
    ("GET", "/orders/{order_id}"): EVERYONE,
    ("GET", "/inventory"): EVERYONE,
    ("GET", "/exceptions"): EVERYONE,
    ("GET", "/exceptions/{exception_id}"): EVERYONE,
    ("POST", "/exceptions/{exception_id}/decision"): {"supervisor", "lead"},
    ("GET", "/kpis"): EVERYONE,
    ("GET", "/me"): EVERYONE,
    ("GET", "/policy"): EVERYONE,
    ("GET", "/simulator"): EVERYONE,
    ("POST", "/simulator/runs"): {"supervisor", "lead"},
}


def test_the_role_matrix_covers_every_route_of_the_app(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {(m.upper(), p) for p, ops in paths.items() for m in ops} == set(MATRIX)


def test_every_route_admits_exactly_its_roles_and_refuses_anonymous_callers(
        client: TestClient, held: Callable[..., str]) -> None:
    exc_id = held(0.45)
    for (method, path), allowed in MATRIX.items():
        url = path.format(order_id="O-000001", exception_id=exc_id)
        body: Any = {"decision": "approve"} if "decision" in path else order_body() if method == "POST" else None
        assert client.request(method, url, json=body).status_code == 401, (method, path)
        r = client.request(method, url, json=body, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        for role in ("viewer", "agent", "supervisor", "lead"):
            r = client.request(method, url, json=body, headers=as_(role))
            if role in allowed:
                assert r.status_code not in (401, 403), (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role)
                assert role in r.json()["detail"]


@pytest.mark.parametrize("token", ["demo-lead", "demo-lea", "demo-leadx", ""])
def test_tokens_are_kept_only_as_digests_and_matched_exactly(token: str) -> None:
    book = TokenBook({"demo-lead": TokenSpec(name="lia", role="lead")})
    assert all(known == digest("demo-lead") for known, _ in book._entries)
    found = book.identify(token)
    assert (found is not None) == (token == "demo-lead")


def test_me_says_who_the_token_is_and_whether_it_may_decide(client: TestClient) -> None:
    viewer = client.get("/me", headers=as_("viewer")).json()
    lead = client.get("/me", headers=as_("lead")).json()
    assert (viewer["role"], viewer["may_decide"]) == ("viewer", False)
    assert (lead["role"], lead["may_decide"]) == ("lead", True)
