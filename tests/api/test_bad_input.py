"""Bad input gets a 4xx naming the field, never a 500, on SQLite and on PostgreSQL; every input is capped,
the request body before it is read; what escapes a route anyway is a bare 500 with no internals."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from api_helpers import as_, order_body
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from core.simulator import SCENARIOS

HUGE = 200 * 1024 * 1024


def locs(r: Any) -> list[list[str | int]]:
    return [e["loc"] for e in r.json()["detail"]]


def decide(client: TestClient, exc_id: str, body: Any, role: str = "lead") -> Any:
    return client.post(f"/exceptions/{exc_id}/decision", json=body, headers=as_(role))


def held_key(client: TestClient, exc_id: str) -> str:
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    return str(next(a["key"] for a in d["actions"] if a["status"] == "held"))


# --- NUL bytes and over-long strings in filters, path ids and bodies ----------------------------------


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/orders", {"customer": "C-1\x00"}, "customer"),
    ("/orders", {"status": "on_hold\x00"}, "status"),
    ("/inventory", {"sku": "LAMP\x00"}, "sku"),
    ("/inventory", {"location": "\x00"}, "location"),
    ("/exceptions", {"order": "O-1\x00"}, "order"),
    ("/exceptions", {"customer": "\x00C"}, "customer"),
    ("/orders", {"customer": "C" * 65}, "customer"),
    ("/exceptions", {"order": "O" * 10_000}, "order"),
])
def test_a_nul_byte_or_an_over_long_filter_is_a_422_naming_it(client: TestClient, path: str,
                                                                params: dict[str, str], field: str) -> None:
    r = client.get(path, params=params, headers=as_("viewer"))
    assert r.status_code == 422, r.text
    assert ["query", field] in locs(r)


@pytest.mark.parametrize("path", ["/orders/O-1%00", "/exceptions/EX-1%00", "/orders/" + "O" * 65])
def test_a_nul_byte_or_an_over_long_path_id_is_a_422_naming_it(client: TestClient, path: str) -> None:
    r = client.get(path, headers=as_("viewer"))
    assert r.status_code == 422, r.text
    assert locs(r)[0][0] == "path"


def test_a_nul_byte_in_a_decisions_path_id_is_a_422(client: TestClient) -> None:
    r = client.post("/exceptions/EX%00/decision", json={"decision": "approve"}, headers=as_("lead"))
    assert r.status_code == 422 and locs(r)[0] == ["path", "exception_id"]


@pytest.mark.parametrize(("overrides", "loc"), [
    ({"customer_id": "C-1\x00"}, ["body", "customer_id"]),
    ({"ship_region": "US\x00NE"}, ["body", "ship_region"]),
    ({"ship_address_id": "\x00"}, ["body", "ship_address_id"]),
    ({"lines": [{"sku": "LAMP-01\x00", "qty": 1}]}, ["body", "lines", 0, "sku"]),
])
def test_a_nul_byte_in_an_order_is_a_422_naming_the_field_and_stores_nothing(
        client: TestClient, overrides: dict[str, Any], loc: list[Any]) -> None:
    r = client.post("/orders", json=order_body(**overrides), headers=as_("agent"))
    assert r.status_code == 422, r.text
    assert loc in locs(r)
    assert client.get("/orders", headers=as_("viewer")).json()["total"] == 0


@pytest.mark.parametrize(("overrides", "loc"), [
    ({"customer_id": "C-404"}, ["body", "customer_id"]),
    ({"lines": [{"sku": "NOPE", "qty": 1}]}, ["body", "lines", 0, "sku"]),
])
def test_an_unknown_customer_or_sku_is_a_409_naming_the_field(client: TestClient, overrides: dict[str, Any],
                                                               loc: list[Any]) -> None:
    """Valid by the schema (which cannot know the catalog), refused by the shop as it stands."""
    r = client.post("/orders", json=order_body(**overrides), headers=as_("agent"))
    assert r.status_code == 409 and loc in locs(r)
    assert r.json()["detail"][0]["type"] == "not_found"


# --- strict types: no coercion at the boundary --------------------------------------------------------


@pytest.mark.parametrize(("overrides", "loc"), [
    ({"fee_cents": "500"}, ["body", "fee_cents"]),
    ({"fee_cents": True}, ["body", "fee_cents"]),
    ({"fee_cents": 500.5}, ["body", "fee_cents"]),
    ({"fraud_score": "0.5"}, ["body", "fraud_score"]),
    ({"lines": [{"sku": "LAMP-01", "qty": "1"}]}, ["body", "lines", 0, "qty"]),
    ({"lines": [{"sku": "LAMP-01", "qty": 1.5}]}, ["body", "lines", 0, "qty"]),
    ({"lines": [{"sku": "LAMP-01", "qty": True}]}, ["body", "lines", 0, "qty"]),
])
def test_an_order_takes_numbers_as_numbers_only(client: TestClient, overrides: dict[str, Any],
                                                loc: list[Any]) -> None:
    r = client.post("/orders", json=order_body(**overrides), headers=as_("agent"))
    assert r.status_code == 422, r.text
    assert loc in locs(r)


def test_a_whole_number_written_with_a_zero_fraction_is_that_number(client: TestClient) -> None:
    """JSON (and the schema's `integer`) does not tell 1 from 1.0: both are one lamp, 500.0 is 500 cents."""
    r = client.post("/orders", json=order_body(fee_cents=500.0, lines=[{"sku": "LAMP-01", "qty": 1.0}]),
                    headers=as_("agent"))
    assert r.status_code == 201, r.text
    assert r.json()["fee_cents"] == 500 and r.json()["lines"][0]["qty"] == 1
    r = client.post("/orders", json=order_body(fee_cents=float(2**60)), headers=as_("agent"))
    assert r.status_code == 422 and ["body", "fee_cents"] in locs(r)


@pytest.mark.parametrize("amount", [True, "25400", 25400.5])
def test_an_edit_takes_an_amount_as_an_integer_only(client: TestClient, held: Callable[..., str],
                                                    amount: Any) -> None:
    exc_id = held(0.8)
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    refund = next(a["key"] for a in d["actions"] if a["action"] == "refund")
    r = decide(client, exc_id, {"decision": "edit", "actions": [{"key": refund, "args": {"amount_cents": amount}}]})
    assert r.status_code == 422, r.text
    assert locs(r)[0][:4] == ["body", "actions", 0, "args"]
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert d["decisions"] == [] and {a["status"] for a in d["actions"]} == {"held"}


@pytest.mark.parametrize("body", [{"orders": "5"}, {"orders": 5.5}, {"seed": True}, {"pace": "0.1"}])
def test_a_simulator_run_takes_numbers_as_numbers_only(client: TestClient, body: dict[str, Any]) -> None:
    r = client.post("/simulator/runs", json={"scenario": "baseline", **body}, headers=as_("lead"))
    assert r.status_code == 422, r.text
    assert locs(r)[0][0] == "body"


def test_the_scenario_is_an_enum_of_the_known_scenarios(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["RunIn"]["properties"]["scenario"]["enum"] == sorted(SCENARIOS)
    r = client.post("/simulator/runs", json={"scenario": ""}, headers=as_("lead"))
    assert r.status_code == 422 and locs(r) == [["body", "scenario"]]


# --- decisions: keys, args and notes ------------------------------------------------------------------


@pytest.mark.parametrize(("actions", "loc"), [
    ([""], ["body", "actions", 0]),
    (["k" * 201], ["body", "actions", 0]),
    (["k\x00"], ["body", "actions", 0]),
    ([{"key": ""}], ["body", "actions", 0]),
    ([{"key": "k" * 10_000}], ["body", "actions", 0]),
])
def test_an_empty_over_long_or_nul_key_is_a_422(client: TestClient, held: Callable[..., str],
                                                 actions: list[Any], loc: list[Any]) -> None:
    exc_id = held(0.45)
    r = decide(client, exc_id, {"decision": "approve", "actions": actions})
    assert r.status_code == 422, r.text
    assert all(x[:3] == loc for x in locs(r)), locs(r)


@pytest.mark.parametrize("args", [
    {f"k{i}": 1 for i in range(100)},  # too many arguments
    {"b" * 65: "x"},  # an over-long argument name
    {"body": "x" * 1_001},  # longer than any message may be
    {"body": "Hello\x00"},
    {"body": {"nested": ["deep"]}},  # arguments are scalars
])
def test_edit_arguments_are_capped_and_scalar(client: TestClient, held: Callable[..., str],
                                              args: dict[str, Any]) -> None:
    exc_id = held(0.45)
    r = decide(client, exc_id, {"decision": "edit", "actions": [{"key": held_key(client, exc_id), "args": args}]})
    assert r.status_code == 422, r.text
    assert all(x[:4] == ["body", "actions", 0, "args"] for x in locs(r)), locs(r)


@pytest.mark.parametrize("note", ["\ud800", "fine \udfff then", "x" * 2_001, "nul\x00"])
def test_a_bad_note_is_a_422_that_can_say_so(client: TestClient, held: Callable[..., str], note: str) -> None:
    exc_id = held(0.45)
    raw = json.dumps({"decision": "approve", "note": note}).encode()  # ASCII: the surrogate travels escaped
    r = client.post(f"/exceptions/{exc_id}/decision", content=raw,
                    headers={**as_("lead"), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert locs(r) == [["body", "note"]]
    r.content.decode("utf-8")  # the echo is valid UTF-8
    d = client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()
    assert d["decisions"] == []


# --- methods ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("OPTIONS", "/orders", {"GET", "POST"}),
    ("DELETE", "/orders", {"GET", "POST"}),
    ("OPTIONS", "/exceptions/EX-1/decision", {"POST"}),
    ("PUT", "/me", {"GET"}),
])
def test_a_method_a_path_does_not_take_is_a_405_allowing_every_method_it_does(
        client: TestClient, method: str, path: str, allow: set[str]) -> None:
    r = client.request(method, path, headers=as_("lead"))
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == allow
    assert r.json() == {"detail": "Method Not Allowed"}


# --- the request body is capped before it is read -------------------------------------------------------


def _call(app: FastAPI, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes],
          path: str = "/orders") -> tuple[int, bytes, int]:
    """Call the ASGI app directly; returns the status, the body, and how many body bytes the app read."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        chunk = next(chunks, b"")
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), read


def _stream(total: int = 16 * 1024 * 1024) -> Iterator[bytes]:
    """A body of `total` bytes in 64 KiB chunks (bounded, so an app with no cap reads it all instead of hanging)."""
    for _ in range(total // 65_536):
        yield b"x" * 65_536


def test_a_body_declared_over_the_cap_is_a_413_without_a_byte_read_and_before_the_token(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    status, body, read = _call(app, [(b"content-type", b"application/json"),
                                     (b"content-length", str(HUGE).encode())], _stream())
    assert status == 413 and read == 0
    assert "detail" in json.loads(body)


def test_a_streamed_body_is_cut_off_at_the_cap(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    status, _body, read = _call(app, [(b"content-type", b"application/json")], _stream())
    assert status == 413
    assert read <= runtime.settings.max_request_bytes + 65_536


def test_the_served_api_answers_a_huge_body_without_a_token_at_once_with_413(runtime: Runtime) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST /orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(HUGE).encode() + b"\r\n\r\n" + b"{" * 1024)
            answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert time.perf_counter() - started < 5
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- what escapes a route -------------------------------------------------------------------------------


def test_an_error_that_escapes_a_route_is_a_bare_500_with_no_internals(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("postgresql://postgres:secret@db/prod is down")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error: the request was not completed"}
    assert "secret" not in r.text and "RuntimeError" not in r.text


# --- query strings: only what the operation declares, once ------------------------------------------


@pytest.mark.parametrize(("query", "name", "kind"), [
    ("limt=5", "limt", "extra_forbidden"),
    ("=x", "", "extra_forbidden"),
    ("status=open&status=open", "status", "repeated"),
])
def test_an_undeclared_or_repeated_query_parameter_is_a_422_naming_it(client: TestClient, query: str, name: str,
                                                                      kind: str) -> None:
    r = client.get(f"/exceptions?{query}", headers=as_("viewer"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", name] and r.json()["detail"][0]["type"] == kind


def test_the_schema_publishes_query_filters_without_a_null_a_query_string_cannot_carry(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    params = [p for ops in schema["paths"].values() for op in ops.values() for p in op.get("parameters", [])
              if p["in"] == "query"]
    assert params and all({"type": "null"} not in p["schema"].get("anyOf", []) for p in params)
    sku = next(p for p in schema["paths"]["/inventory"]["get"]["parameters"] if p["name"] == "sku")
    assert sku["schema"]["type"] == "string" and sku["schema"]["maxLength"] == 64 and not sku["required"]
