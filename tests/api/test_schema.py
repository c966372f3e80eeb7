"""The published OpenAPI schema against the running app, over every schemathesis phase and every check.

Examples, coverage and fuzzing run per operation (`schema.parametrize()` runs the three phases the
project config leaves on, which is all of them); the stateful phase runs the links schemathesis infers
between operations (an order's `id` into `GET /orders/{order_id}`, and so on). No check is excluded:
a generated request never gets a 500, every answer is one the schema documents with the body it
documents, schema-violating input is refused and schema-valid input is not, `Allow` names what the
path takes. The store holds exceptions waiting with held actions, so generated decisions meet items
they can decide. Bounded (60 examples per operation and phase, 15 scenarios of up to 6 steps) so the
file runs in about a minute on two cores.

The app is built at import on an in-memory store, because schemathesis' lazy fixture loader
(`from_fixture`) does not run under pytest 9.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from api_helpers import as_, order_body
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings

from api.app import create_app
from api.runtime import open_runtime
from api.settings import ServiceSettings
from api.testing import T0, seed_shop
from api.worker import Worker
from core.clock import VirtualClock

BOUNDS = {"max_examples": 60, "deadline": None, "suppress_health_check": list(HealthCheck),
          "derandomize": not os.environ.get("TOWER_FUZZ_EXPLORE")}
"""Per operation and phase; fuzzing is the phase that takes max_examples (examples and coverage run theirs).
Derandomized, so CI gives the same answer every run; TOWER_FUZZ_EXPLORE=1 draws new inputs each run."""


HELD = [{"fraud_score": 0.45, "ship_address_id": "A-9"},  # F2 holds a verification message (a supervisor's)
        {"fraud_score": 0.8, "lines": [{"sku": "LAPTOP-14", "qty": 1}]}]  # F3: cancel, a lead's refund, a message
"""Orders whose exceptions wait with held actions, so generated decisions meet items they can decide."""


def _app():  # type: ignore[no-untyped-def]
    rt = open_runtime(ServiceSettings(database_url="sqlite://", demo=True), clock=VirtualClock(T0))
    seed_shop(rt.engine)
    app = create_app(runtime=rt)
    client = TestClient(app)
    for _ in range(3):
        for overrides in HELD:
            r = client.post("/orders", json=order_body(**overrides), headers=as_("agent"))
            assert r.status_code == 201, r.text
    Worker(rt, worker_id="schema-test").drain()
    return app


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.auth()
class LeadToken:
    """A lead's token on every generated request, except where a negative case removes it on purpose
    (schemathesis then leaves it out, and expects the 401): passing headers to the call would put it back."""

    def get(self, case: schemathesis.Case, ctx: Any) -> str:
        return as_("lead")["Authorization"]

    def set(self, case: schemathesis.Case, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schema.parametrize()
@settings(**BOUNDS)
def test_generated_requests_get_documented_answers_and_never_a_500(case: schemathesis.Case) -> None:
    case.call_and_validate()


class Workflows(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of linked calls as a lead would make them: place an order, read it back, find its exceptions."""


TestWorkflows = Workflows.TestCase
TestWorkflows.settings = settings(max_examples=15, stateful_step_count=6, phases=[Phase.generate], **{
    k: v for k, v in BOUNDS.items() if k != "max_examples"})
