"""API fixtures: one migrated store per test, on SQLite and on PostgreSQL, seeded with a small shop."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from api_helpers import as_, order_body
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from api.worker import Worker


@pytest.fixture
def db_prefix() -> str:
    return "tower_api"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime)) as c:
        yield c


@pytest.fixture
def held(client: TestClient, runtime: Runtime) -> Callable[..., str]:
    """Place an order whose screening raises `fraud_hold`, let a worker work it; return the exception id.

    Score 0.45 at a new address: F2 holds a verification message. Score 0.8 on a laptop: F3 holds
    cancel + refund (over 100,000, so a lead's) + message.
    """
    def make(score: float = 0.45, sku: str = "LAMP-01", address: str = "A-9") -> str:
        r = client.post("/orders", json=order_body(fraud_score=score, ship_address_id=address,
                                                   lines=[{"sku": sku, "qty": 1}]), headers=as_("agent"))
        assert r.status_code == 201, r.text
        exc_id: str = r.json()["exceptions"][0]["id"]
        Worker(runtime, worker_id="test-worker").drain()
        return exc_id
    return make
