"""Helpers of the dashboard's tests: a real API served by uvicorn on a free port, orders that end up held."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.runtime import Runtime
from api.testing import T0
from api.worker import Worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_(role: str) -> dict[str, str]:
    """Headers of a demo token: viewer, agent, supervisor, supervisor-2, lead."""
    return {"Authorization": f"Bearer demo-{role}"}


def order_body(*, score: float, sku: str = "LAMP-01", address: str = "A-9", customer: str = "C-1",
               at: datetime = T0) -> dict[str, Any]:
    """An order of the small shop (api.testing.seed_shop) that payment screening scores `score`."""
    return {"customer_id": customer, "ship_region": "US-NE", "ship_address_id": address,
            "shipping_method": "standard", "fee_cents": 500, "promised_by": (at + timedelta(days=4)).isoformat(),
            "lines": [{"sku": sku, "qty": 1}], "fraud_score": score}


def place(url: str, **order: Any) -> str:
    """Place an order through the API; returns the id of the exception its screening raised."""
    r = httpx.post(f"{url}/orders", json=order_body(**order), headers=as_("agent"), timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["exceptions"][0]["id"])


@dataclass
class LiveApi:
    """The FastAPI app over `runtime`, served by uvicorn in a background thread."""

    runtime: Runtime
    url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def start(self) -> LiveApi:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(create_app(runtime=self.runtime), host="127.0.0.1", port=port,
                                                     log_level="warning", access_log=False, lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, name="ui-test-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def held(self, **order: Any) -> str:
        """Place an order whose fraud hold a worker then works: with score 0.45 at a new address F2 holds a
        verification message; with 0.8 F3 holds cancel + refund + message (a laptop's refund needs a lead)."""
        exc_id = place(self.url, **order)
        Worker(self.runtime, worker_id="ui-test-worker").drain()
        return exc_id

    def get(self, path: str, role: str = "viewer") -> Any:
        r = httpx.get(f"{self.url}{path}", headers=as_(role), timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def decide(self, exc_id: str, role: str, **body: Any) -> httpx.Response:
        return httpx.post(f"{self.url}/exceptions/{exc_id}/decision", json=body, headers=as_(role), timeout=30)
