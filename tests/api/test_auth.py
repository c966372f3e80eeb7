"""Who may do what: every route against every role, a missing token and a wrong one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_helpers import as_, order_body
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from api import cli
from api.app import NoTokens, create_app
from api.auth import TokenBook, digest
from api.commands import serve
from api.settings import ServiceSettings, TokenSpec

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
    ("GET", "/queue"): EVERYONE,
    ("GET", "/queue/{exception_id}"): EVERYONE,
    ("PUT", "/queue/{exception_id}/owner"): {"supervisor", "lead"},
    ("DELETE", "/queue/{exception_id}/owner"): {"supervisor", "lead"},
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


# --- fail closed: no tokens, no service; no token ever shown --------------------------------------------

REAL = "k3v9-Qm2x-Lp7w-Zr4t-Hs8y"  # a token of an operator's TOWER_TOKENS


def test_the_app_refuses_to_start_without_tokens_unless_told_to_take_the_demo_ones() -> None:
    with pytest.raises(NoTokens, match="TOWER_TOKENS") as refused:
        create_app(ServiceSettings(database_url="sqlite://"))
    assert "--demo" in str(refused.value)
    with TestClient(create_app(ServiceSettings(database_url="sqlite://", demo=True))) as c:
        assert c.get("/me", headers=as_("lead")).json()["name"] == "lia (lead)"


def test_configured_tokens_alone_do_not_admit_the_demo_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWER_TOKENS", json.dumps({REAL: {"name": "ana", "role": "lead"}}))
    with TestClient(create_app(ServiceSettings(database_url="sqlite://"))) as c:
        assert c.get("/me", headers=as_("lead")).status_code == 401
        assert c.get("/me", headers={"Authorization": f"Bearer {REAL}"}).json()["name"] == "ana"


@pytest.mark.parametrize(("entries", "holder"), [
    ({REAL: {"name": "ana", "role": "boss"}}, "'ana'"),
    ({REAL: {"role": "lead"}}, "entry 1"),
    ({"short-one": {"name": "bo", "role": "lead"}}, "'bo'"),
    ({"demo-lead": {"name": "cy", "role": "lead"}}, "'cy'"),
    ({REAL: {"name": "ana", "role": "lead"}, REAL + " x": {"name": "dee", "role": "viewer"}}, "'dee'"),
])
def test_a_bad_tokens_entry_is_named_by_its_holder_never_by_its_token(
        monkeypatch: pytest.MonkeyPatch, entries: dict[str, Any], holder: str) -> None:
    monkeypatch.setenv("TOWER_TOKENS", json.dumps(entries))
    with pytest.raises(ValidationError) as refused:
        ServiceSettings()
    text = str(refused.value)
    assert "TOWER_TOKENS" in text and holder in text
    assert not any(token in text for token in entries), text


def test_tower_api_without_tokens_refuses_to_start_and_says_how_to_set_them(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served: list[Any] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **_kw: served.append(app))
    monkeypatch.delenv("TOWER_TOKENS", raising=False)
    db = f"sqlite:///{tmp_path / 't.db'}"
    result = CliRunner().invoke(cli.app, ["api", "--db", db])
    assert result.exit_code == 2 and served == []
    assert "TOWER_TOKENS=" in result.output and "--demo" in result.output

    monkeypatch.setenv("TOWER_TOKENS", json.dumps({REAL: {"name": "ana", "role": "boss"}}))
    result = CliRunner().invoke(cli.app, ["api", "--db", db])
    assert result.exit_code == 2 and served == []
    assert "'ana'" in result.output and REAL not in result.output

    monkeypatch.delenv("TOWER_TOKENS")
    result = CliRunner().invoke(cli.app, ["api", "--db", db, "--demo"])
    assert result.exit_code == 0, result.output
    [app] = served
    with TestClient(app) as c:
        assert c.get("/me", headers=as_("lead")).status_code == 200
