"""One policy book per run: a `--policy` variant reaches every step of the service, none keeps the shipped numbers.

The variant below differs from the shipped book where each step shows it: the fraud trigger and F2's band
(the OMS raises, the planner plans), the class of `notify_customer` (the hold deadline), the message length
(the judge at decision time and the tool's guard), and its name and numbers (the verdicts' policy version, the
LLM planner's prompt, GET /policy).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_helpers import as_, order_body
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from agents.prompts import prompt_id
from api.cli import app as cli
from api.runtime import Runtime, open_runtime
from api.settings import ServiceSettings
from api.testing import seed_shop
from api.worker import Worker
from core.clock import VirtualClock
from core.models import AuditEntry, Notification
from policies.book import BOOK, PolicyBook, load_book

SCORE = 0.25  # under the shipped book's fraud trigger (0.30): the shipped book raises nothing for it
VARIANT: dict[str, Any] = {
    "name": "strict",
    "triggers": {"fraud_hold_score": 0.2},
    "fraud": {"hold_score": 0.2},
    "autonomy": {"classes": [  # notify_customer moves from communication (24 h wait) to returns (72 h)
        {"name": "fulfillment", "actions": ["reroute_shipment", "reallocate_line", "backorder_line"],
         "auto_confidence": 0.9},
        {"name": "returns", "actions": ["approve_return", "deny_return", "notify_customer"], "auto_confidence": 0.9},
        {"name": "money", "actions": ["refund", "store_credit"], "auto_confidence": 0.95},
        {"name": "irreversible", "actions": ["cancel_line", "cancel_order", "release_hold"], "auto_confidence": 0.95},
    ]},
    "messages": {"max_chars": 200},
}


@pytest.fixture
def variant_file(tmp_path: Path) -> Path:
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(VARIANT), encoding="utf-8")
    return path


@pytest.fixture
def variant(variant_file: Path) -> PolicyBook:
    return load_book(variant_file)


@pytest.fixture
def runtime(db_url: str, clock: VirtualClock, variant_file: Path) -> Iterator[Runtime]:
    """The service as `tower api --policy strict.json` / `tower worker --policy strict.json` open it."""
    rt = open_runtime(ServiceSettings(database_url=db_url, policy=variant_file, demo=True), clock=clock)
    seed_shop(rt.engine)
    yield rt
    rt.close()


def place_gray_order(client: TestClient, runtime: Runtime) -> str:
    """Score 0.25 at an address C-1 never received at: F2 under the variant holds a verification message."""
    r = client.post("/orders", json=order_body(fraud_score=SCORE, ship_address_id="A-9"), headers=as_("agent"))
    assert r.status_code == 201, r.text
    [exc] = r.json()["exceptions"]  # raised by the variant's trigger
    Worker(runtime, worker_id="test-worker").drain()
    return str(exc["id"])


def detail(client: TestClient, exc_id: str) -> dict[str, Any]:
    return client.get(f"/exceptions/{exc_id}", headers=as_("viewer")).json()  # type: ignore[no-any-return]


def test_the_api_the_worker_and_the_decisions_all_run_under_the_variant(
        client: TestClient, runtime: Runtime, variant: PolicyBook) -> None:
    assert BOOK.triggers.fraud_hold_score > SCORE and variant.version != BOOK.version
    policy = client.get("/policy", headers=as_("viewer")).json()
    assert (policy["name"], policy["version"]) == ("strict", variant.version)

    exc_id = place_gray_order(client, runtime)
    [held] = detail(client, exc_id)["actions"]
    assert (held["action"], held["status"], held["rule_ids"]) == ("notify_customer", "held", ["F2"])
    assert held["policy_version"] == variant.version
    assert held["expires_at"] == "2026-03-05T08:00:00Z"  # T0 + 72 h: the returns class's wait, in the variant

    long_body = "Hi Dana, before we ship your order we need to confirm a few details. " * 4  # 280 characters
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "edit", "actions": [{"key": held["key"], "args": {"body": long_body}}]})
    assert r.status_code == 422, r.text  # the shipped book allows 1,000 characters; the variant 200
    [err] = r.json()["detail"]
    assert err["ctx"]["rule_ids"] == ["C7"] and "over 200" in err["ctx"]["reasons"][0]

    short_body = "Hi Dana, please confirm your delivery address by replying to this message."
    r = client.post(f"/exceptions/{exc_id}/decision", headers=as_("supervisor"), json={
        "decision": "edit", "actions": [{"key": held["key"], "args": {"body": short_body}}]})
    assert r.status_code == 200, r.text
    [done] = r.json()["actions"]
    # The verification went out; its order is still on hold, so the exception waits for a release or a
    # cancellation (policy.md section 1, "No order left stranded").
    assert done["status"] == "applied" and r.json()["state"] == "awaiting_approval"
    assert "add release_hold" in r.json()["options"]
    assert done["verdict"]["edit"]["policy_version"] == variant.version  # judged at decision time
    assert done["verdict"]["rejudged"]["policy_version"] == variant.version  # judged again on resume
    assert done["policy_version"] == variant.version
    with Session(runtime.engine) as s:
        assert s.exec(select(Notification.body)).one() == short_body


class FakeModel:
    """A Chat Completions endpoint on localhost: keeps each request body, answers every call with `reply`."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.requests: list[dict[str, Any]] = []
        content = json.dumps(reply)
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                requests.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                body = json.dumps({
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content, "refusal": None}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeModel:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


VERIFICATION_REPLY = {"claim_reason": None, "actions": [], "notes": [], "messages": [{
    "topic": "verification", "eta": None, "confidence": 1.0, "rationale": "gray zone at a new address",
    "rule_ids": ["F2"], "body": "Hi Dana, before we ship your order we need to confirm a few details."}]}


def test_the_llm_planner_of_the_service_is_prompted_with_the_variant(
        client: TestClient, runtime: Runtime, variant: PolicyBook, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOWER_LLM_MODEL", "TOWER_LLM_BASE_URL", "TOWER_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    runtime.settings = runtime.settings.model_copy(update={"planner": "llm"})
    with FakeModel(VERIFICATION_REPLY) as model:
        monkeypatch.setenv("OPENAI_BASE_URL", model.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        exc_id = place_gray_order(client, runtime)
    [request] = model.requests
    system = request["messages"][0]["content"]
    assert "# The strict policy book" in system
    assert "score of 0.20 or more are put on hold" in system and "**F2** 0.20 ≤ score < 0.70" in system
    assert "is at most 200 characters" in system and "0.30" not in system
    assert "| returns | `approve_return`, `deny_return`, `notify_customer` | 0.90 |" in system

    [held] = detail(client, exc_id)["actions"]
    assert held["planner"] == f"llm:gpt-4o-mini/{prompt_id(variant)}" != f"llm:gpt-4o-mini/{prompt_id(BOOK)}"
    assert (held["status"], held["policy_version"]) == ("held", variant.version)
    assert held["expires_at"] == "2026-03-05T08:00:00Z"
    with Session(runtime.engine) as s:
        planned = s.exec(select(AuditEntry).where(AuditEntry.kind == "planned")).one()
    assert planned.detail["planner"] == held["planner"]


def test_a_variant_that_cannot_be_loaded_stops_the_command_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fraud": {"hold_score": "high"}}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["sweep", "--db", f"sqlite:///{tmp_path / 't.db'}", "--policy", str(bad)])
    assert result.exit_code == 2
    assert "bad.json" in result.output and "fraud.hold_score" in result.output
    assert not (tmp_path / "t.db").exists()  # nothing was opened
